"""The neuron table: what every neuron of a compiled circuit serves.

The lowerings record one NeuronRole per neuron while they build each layer
(the roles are facts of the construction, never guessed from the weights
afterwards) and keep the table in `meta.neurons`, so it travels in the
artifact. A role says

- kind: what the neuron is for (KINDS);
- part: which piece of a multi-neuron construction it is ("and", "nor",
  "xor.2", "atleast.upper", "reset.low", ...), "" when it is the whole thing;
- serves: the program signals whose values the neuron computes directly (a
  gate, a carried or cleaned wire, the gates reading a shared neuron's pairs);
- reads / bias: its pre-activation in *wire coordinates*,
  sum(weight * value(signal)) + bias over the clean 0/1 values of the
  signals the layer reads (inputs for the first layer, earlier wires deeper).
  For a layer that reads the inputs this is its weight row; deeper it is the
  weights composed with the readouts of the wires the layer reads;
- hubs / pairs: for shared hub neurons, the features with hub weight and the
  pairs hosted by design (its other hub x leaf pairs are computed too: the
  extra conjunctions runtime.dictionary lists).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

KINDS = {
    "gate": "one neuron (or one piece) of a gate computed exactly",
    "product": "an exact AND of several wires that gates read as a monomial",
    "hub": "a shared neuron: ReLU(W * hubs on + leaves on - W) hosts many pairs",
    "uand": "a neuron of the published U-AND construction (random feature reads)",
    "carry": "carries a wire a later layer reads, ReLU(v) = v",
    "reset": "half of a threshold reset ReLU(3g - 1) - ReLU(3g - 2) cleaning a noisy wire",
    "copy": "copies a clean wire through a reset layer",
    "code": "one dimension of the linear input embedding",
    "shared": "a deep-lowering large neuron hosting copies of small clip neurons of different regions "
              "(same bias), lifted by their regions' on-indicators (reads leave those lifts out)",
    "clip": "a deep-lowering small clip neuron on a neuron of its own (a repair, or an exact level)",
    "indicator": "a region's on-indicator (OR of its inputs) in the deep lowering (reads: the layer-1 count)",
}


@dataclass(frozen=True)
class NeuronRole:
    """What one neuron computes; see the module docstring."""
    kind: str
    serves: tuple[int, ...]
    reads: tuple[tuple[int, float], ...]
    bias: float
    part: str = ""
    hubs: tuple[int, ...] = ()
    pairs: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> list:
        """[kind, part, serves, read signals, read weights, bias, hubs, pairs]: compact in the header."""
        return [self.kind, self.part, list(self.serves), [s for s, _ in self.reads],
                [w for _, w in self.reads], self.bias, list(self.hubs), [list(p) for p in self.pairs]]

    @classmethod
    def from_json(cls, row: list) -> "NeuronRole":
        kind, part, serves, signals, weights, bias, hubs, pairs = row
        if kind not in KINDS:
            raise ValueError(f"unknown neuron kind {kind!r}")
        return cls(kind, tuple(int(s) for s in serves), tuple(zip(map(int, signals), map(float, weights))),
                   float(bias), str(part), tuple(int(h) for h in hubs), tuple((int(a), int(b)) for a, b in pairs))


def literal_reads(lits: Iterable[Any], scale: float, offset: float) -> tuple[tuple[tuple[int, float], ...], float]:
    """scale * (sum of the literals) + offset in wire coordinates: a negated
    literal !v is 1 - v. lits: compiler.ir.Lit. Returns (reads, bias)."""
    reads: dict[int, float] = {}
    bias = offset
    for lit in lits:
        sign = -1.0 if lit.negated else 1.0
        reads[lit.signal] = reads.get(lit.signal, 0.0) + scale * sign
        bias += scale * float(lit.negated)
    return tuple(sorted((s, w) for s, w in reads.items() if w != 0.0)), bias


def table_to_json(table: list[list[NeuronRole]]) -> list[list[list]]:
    """The table as meta.neurons (superpose.metadata): one list of neuron rows per layer."""
    return [[role.to_json() for role in layer] for layer in table]


def neuron_table(circuit) -> list[list[NeuronRole]]:
    """The roles of every neuron, layer by layer: (n_layers,) lists of (width_l,)
    roles. circuit: runtime.CompiledCircuit. ValueError when the artifact
    predates the table or it does not match the layers."""
    table = [[NeuronRole.from_json(row) for row in layer] for layer in circuit.meta.neurons]
    widths = [layer.width for layer in circuit.layers]
    if not table and widths:
        raise ValueError(f"{circuit.name} has no neuron table (compiled before superpose recorded one: recompile it)")
    if [len(layer) for layer in table] != widths:
        raise ValueError(f"the neuron table has {[len(l) for l in table]} neurons per layer, the layers {widths}")
    return table


def wire_weights(roles: list[NeuronRole], n_signals: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """The layer in wire coordinates: (width, n_signals) CSR float64 weights
    and (width,) biases, pre-activation = weights @ values + biases."""
    indptr = np.cumsum([0] + [len(r.reads) for r in roles])
    columns = np.fromiter((s for r in roles for s, _ in r.reads), np.int64, int(indptr[-1]))
    values = np.fromiter((w for r in roles for _, w in r.reads), np.float64, int(indptr[-1]))
    matrix = sp.csr_matrix((values, columns, indptr), shape=(len(roles), n_signals))
    matrix.sum_duplicates()
    return matrix, np.array([r.bias for r in roles], np.float64)


def signal_label(program, signal: int) -> str:
    """A readable name of a program signal: an input's or gate's name, else '#n'."""
    if signal < program.n_inputs:
        return program.input_names[signal]
    return program.nodes[signal - program.n_inputs].name or f"#{signal}"


def describe(program, role: NeuronRole) -> str:
    """One line saying what a neuron serves, with names: for `superpose info` and the torch module."""
    label = lambda s: signal_label(program, s)
    text = role.kind + (f".{role.part}" if role.part else "")
    if role.kind == "hub":
        leaves = sorted({s for s, _ in role.reads} - set(role.hubs))
        return f"{text} hubs {','.join(map(label, role.hubs))} leaves {','.join(map(label, leaves))}"
    return f"{text} {','.join(map(label, role.serves))}"
