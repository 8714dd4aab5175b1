"""What a compiled circuit records about how it was made (CompiledCircuit.meta).

One dataclass, CircuitMeta: the fields every lowering fills, the fields some
lowerings fill (None or empty elsewhere), and `figures`, the numbers a
lowering measured for its own construction. It is written into the
artifact's header as a JSON object with its schema version, and read back
through `CircuitMeta.from_json`, which refuses anything else.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

META_SCHEMA = 1  # raise when a field changes meaning or type


@dataclass
class CircuitMeta:
    """How a circuit was compiled.

    Every lowering:
      lowering         "exact", "superposed" (strategies hub and paper-uand), "chained", "deep" or "cis"
      strategy         the strategy's name (compiler/strategies.py)
      sparsity         at most this many inputs are on at once; None: every input is allowed
    Set by compile_circuit:
      seed             the seed of every random choice
      sparsity_levels  with a sparsity: compiler.sparsity.SparsityReport.rows(), one dict per level
                       (level, wires, dense_wires, unenumerated, max_on, share, too_dense)
      constant_gates   with a sparsity: the gates constant under it, one dict per gate (gate,
                       value, where: file:line:column or None), compiler/constant_gates.py
    Some lowerings:
      target_error     the per-gate error aimed at (hub, chained, deep)
      features_per_dim input features per input dimension: 1, or more through an embedding
      control          chained: threshold resets between levels (False: naive chaining); deep: margins,
                       on-indicators and repairs (False: the naive baseline)
      depth            chained, deep, cis: levels of gates
      layer_of_gate    chained, deep, cis: (n_gates,) the activation each gate is read from (0: an input alias)
      levels           chained, deep: one dict per level, its plan and costs (lower_chained.py, lower_deep.py);
                       cis: its neurons and CiS2's predicted error (lower_cis.py)
      neurons          every lowering: the neuron table, one list per layer of one row per neuron
                       (superpose.neurons: what each neuron serves, recorded as the layer is built)
      figures          numbers a lowering measured: hub (pair_monomials, dedicated_monomials,
                       danger_limit, leaf_cap_scale, predicted_max_error, pairs_predicted_over_target,
                       confirmed, and when confirmed: gates_confirmed, repaired_pairs, repair_share,
                       pairs_on_exact_neurons, confirmed_max_error; compiler/hub_confirm.py), light-hub (features_per_neuron,
                       predicted_max_error, leak_std_per_fill, leak_predicted, and the hub's confirmation
                       figures; compiler/lower_light_hub.py), paper-uand (p, uncovered_pairs), an
                       embedding (embed_dim, embedding, coherence, welch_bound, embedding_noise_std),
                       one-layer lowerings (gates_linear, gates_superposed, gates_dedicated, gates_dense),
                       deep (copies, slope, regions, probed_regions, superposed_levels, repair_share,
                       owned_neuron_share), compile_circuit's default plan (plan: which and why),
                       cis (spread, width, circuits, small_neurons_per_circuit, max_active_circuits, small_bias)
    """
    lowering: str
    strategy: str
    sparsity: int | None
    seed: int | None = None
    sparsity_levels: list[dict[str, Any]] = field(default_factory=list)
    constant_gates: list[dict[str, Any]] = field(default_factory=list)
    target_error: float | None = None
    features_per_dim: float = 1.0
    control: bool | None = None
    depth: int | None = None
    layer_of_gate: list[int] | None = None
    levels: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    neurons: list[list[list[Any]]] = field(default_factory=list)
    schema: int = META_SCHEMA

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in an artifact's header."""
        return asdict(self)

    def scalars(self) -> dict[str, Any]:
        """Every single-valued fact, fields and figures together (for a one-line summary)."""
        facts = {f.name: getattr(self, f.name) for f in fields(self)
                 if not isinstance(getattr(self, f.name), (list, dict)) and getattr(self, f.name) is not None}
        return {**facts, **{k: v for k, v in self.figures.items() if not isinstance(v, (list, dict))}}

    @classmethod
    def from_json(cls, data: object) -> CircuitMeta:
        """The CircuitMeta stored as `data`; ValueError saying what is wrong
        when it is not one of this schema."""
        if not isinstance(data, dict):
            raise ValueError(f"metadata must be a JSON object, not {type(data).__name__}")
        if data.get("schema") != META_SCHEMA:
            raise ValueError(f"metadata schema {data.get('schema')!r}: this superpose reads schema {META_SCHEMA}")
        known = {f.name for f in fields(cls)}
        if set(data) - known:
            raise ValueError(f"unknown metadata fields: {', '.join(sorted(set(data) - known))}")
        missing = [name for name in ("lowering", "strategy", "sparsity") if name not in data]
        if missing:
            raise ValueError(f"metadata lacks {', '.join(missing)}")
        for name, value in data.items():
            if not _FIELD_CHECKS[name](value):
                raise ValueError(f"metadata field {name} has the wrong type: {value!r}"[:200])
        return cls(**data)


def _optional(check):
    return lambda value: value is None or check(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or (isinstance(value, float) and not math.isinf(value))


def _is_dicts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


_FIELD_CHECKS = {
    "lowering": lambda v: isinstance(v, str), "strategy": lambda v: isinstance(v, str),
    "sparsity": _optional(_is_int), "seed": _optional(_is_int), "sparsity_levels": _is_dicts,
    "constant_gates": _is_dicts,
    "target_error": _optional(_is_number), "features_per_dim": _is_number,
    "control": _optional(lambda v: isinstance(v, bool)), "depth": _optional(_is_int),
    "layer_of_gate": _optional(lambda v: isinstance(v, list) and all(map(_is_int, v))),
    "levels": _is_dicts, "figures": lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
    "neurons": lambda v: isinstance(v, list) and all(isinstance(layer, list) and all(isinstance(row, list)
                                                                                     for row in layer) for layer in v),
    "schema": _is_int,
}
