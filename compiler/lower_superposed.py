"""Superposed lowering: many gates share few ReLU neurons.

1. Expand every gate (and output) into a polynomial of its input features,
   valid on s-sparse inputs (multilinear.py): a bias, linear input reads, and
   AND-monomials of degree >= 2.
2. Compute the monomials in one ReLU layer:
   - strategy "hub" (default): pairs are packed into shared hub neurons
     (hub_packing.py), as many co-tenants per neuron as the target error allows
     on the stratified test distribution, predicted on the actual neurons.
   - strategy "light-hub": for inputs in superposition (light_hub.py): each
     neuron reads at most k features with weight 1 (bias -1) through
     zero-forced code weights, so it leaks little; k and each neuron's readout
     threshold chosen from the leak measured on the actual code.
   - strategy "paper-uand": the published universal construction (Haenni, Mendel,
     Vaintrob 2024): each neuron reads each feature with probability p, bias -1,
     and AND(a, b) is the average over the neurons reading both.
   Monomials of degree >= 3, and pairs whose value a gate needs (XOR, atleast),
   get one exact neuron each: ReLU(sum - (degree - 1)).
3. Read every gate linearly: bias + input reads + sum of coefficient x monomial.
Inputs are read uncompressed, or through a linear embedding into embed_dim
dimensions (random signs or low-coherence), which adds interference.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from superpose.compiler.embeddings import (coherence, low_coherence_embedding, random_sign_embedding,
                                           tight_frame_embedding, welch_bound, zero_forced_rows)
from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit
from superpose.compiler.hub_packing import (CONSTANT, PREDICTION_SHARE, choose_danger_limit, hub_layer,
                                            monomial_readers, pack_pairs, pair_roles,
                                            pair_errors, tolerates_thresholding)
from superpose.compiler.light_hub import choose_light_plan, light_layer
from superpose.compiler.lowering import ReadoutTerms, check_target_error, csr_from_rows, readout_from_terms
from superpose.compiler.multilinear import Monomial, count_patterns, polynomial
from superpose.metadata import CircuitMeta
from superpose.network import CompiledCircuit, Layer
from superpose.neurons import NeuronRole, table_to_json

MAX_TERMS_PER_GATE = 4096  # beyond this a gate's polynomial is too big to superpose: use strategy "exact"


# input codes for embed_dim: random signs, alternating projection, or rows of a random orthogonal matrix
EMBEDDINGS = ("random", "low-coherence", "tight")


@dataclass(frozen=True)
class _InputOptions:
    """How a one-layer superposed lowering reads its inputs: uncompressed
    (embed_dim None), or through a linear embedding into embed_dim dimensions."""
    width: int | None = None         # neurons of the gate layer; None: chosen by the compiler
    embed_dim: int | None = None     # None: inputs are read uncompressed
    embedding: str = "random"        # one of EMBEDDINGS

    def __post_init__(self) -> None:
        if self.embedding not in EMBEDDINGS:
            raise CompileError(f"embedding must be one of {', '.join(EMBEDDINGS)}, not {self.embedding!r}")
        for name in ("width", "embed_dim"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise CompileError(f"{name} must be at least 1, got {value}")


@dataclass(frozen=True)
class _TargetedOptions(_InputOptions):
    """Input options and a per-gate error the compiler sizes the layer for."""
    target_error: float = 0.01       # per-gate error aimed at on the stratified distribution

    def __post_init__(self) -> None:
        super().__post_init__()
        check_target_error(self.target_error)


@dataclass(frozen=True)
class HubOptions(_TargetedOptions):
    """Options of strategy "hub": pairs of features packed into shared hub
    neurons, as many co-tenants per neuron as the target error allows."""


@dataclass(frozen=True)
class LightHubOptions(_TargetedOptions):
    """Options of strategy "light-hub": pairs on neurons that read few
    features with weight 1, as many per neuron as the target error allows
    with the leak of the input code measured (light_hub.py)."""


@dataclass(frozen=True)
class PaperUandOptions(_InputOptions):
    """Options of strategy "paper-uand": the published Bernoulli U-AND baseline."""
    p: float | None = None           # connection probability; None: log(m)^2 / sqrt(width) / 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.p is not None and not 0.0 < self.p < 1.0:
            raise CompileError(f"p must be strictly between 0 and 1, got {self.p}")


def expand_gates(circuit: Circuit, lits: list[Lit], s: int) -> list[dict[Monomial, float]]:
    """The polynomial of every literal over its own input support."""
    supports = circuit.supports()
    polys = []
    for lit in lits:
        support = sorted(supports[lit.signal])
        if count_patterns(len(support), s) > MAX_TERMS_PER_GATE:
            raise CompileError(f"a gate depends on {len(support)} inputs: too many to superpose at "
                               f"sparsity {s} (use strategy 'exact', or a program with smaller supports)")
        polys.append(polynomial(circuit, lit, s))
    return polys


def paper_uand_layer(pairs: list[Monomial], n_features: int, width: int, p: float, rng: np.random.Generator
                     ) -> tuple[list[dict[int, float]], list[float], dict[Monomial, list[tuple[int, float]]]]:
    """The published Bernoulli construction: each neuron reads each feature with
    probability p (weight 1, bias -1); AND(a, b) is the mean of the neurons
    reading both (0 when none does)."""
    connected = rng.random((width, n_features)) < p
    rows = [{int(f): 1.0 for f in np.flatnonzero(connected[j])} for j in range(width)]
    estimate = {}
    for a, b in pairs:
        shared = np.flatnonzero(connected[:, a] & connected[:, b])
        estimate[(a, b)] = [(int(j), 1.0 / len(shared)) for j in shared]
    return rows, [-1.0] * width, estimate


def _input_interface(n_features: int, options: _InputOptions, rng: np.random.Generator
                     ) -> tuple[np.ndarray | None, dict]:
    """The embedding (d0, m) or None for uncompressed inputs, and figures about it."""
    if options.embed_dim is None or options.embed_dim >= n_features:
        return None, {"embed_dim": n_features}
    d0 = options.embed_dim
    codes = {"random": random_sign_embedding, "low-coherence": low_coherence_embedding,
             "tight": tight_frame_embedding}
    embed = codes[options.embedding](n_features, d0, rng)
    return embed, {"embed_dim": d0, "embedding": options.embedding, "coherence": coherence(embed),
                   "welch_bound": welch_bound(n_features, d0)}


NOISE_MARGIN = 0.5  # a neuron decides between pre-activation 0 and 1: interference must stay below this
# embedding noise whose std exceeds this puts more than 1% of a normal's one-sided tail (2.33 std) past the margin
NOISY_EMBEDDING_STD = NOISE_MARGIN / 2.33
NOISE_ROWS_PER_CHUNK = 256  # neurons whose leak is computed at once: (256, m) dense


def embedding_noise_std(feature_weights: sp.csr_matrix, code_weights: np.ndarray, embed: np.ndarray, s: int) -> float:
    """Largest standard deviation, over neurons, of the interference that s
    active features add through the embedding: feature c leaks
    <v, e_c> - w_c into a neuron with code weights v (n, d0) meant to read
    feature weights w (n, m) (the part of V E beyond W), measured on the
    actual code over all features."""
    worst = 0.0
    for start in range(0, feature_weights.shape[0], NOISE_ROWS_PER_CHUNK):
        rows = feature_weights[start:start + NOISE_ROWS_PER_CHUNK]
        leak = code_weights[start:start + NOISE_ROWS_PER_CHUNK].astype(np.float64) @ embed - rows.toarray()
        worst = max(worst, float((leak ** 2).mean(axis=1).max(initial=0.0)))
    return float(np.sqrt(s * worst))


def lower_hub(circuit: Circuit, options: HubOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "hub": `circuit` (which must declare sparsity) in one superposed
    ReLU layer whose pair products share hub neurons (module docstring, 2)."""
    def hub_products(pairs: list[Monomial], higher: list[Monomial], polys: list[dict[Monomial, float]],
                     n_features: int, s: int, embed: np.ndarray | None) -> _PairLayer:
        spare = None if options.width is None else options.width - len(higher)
        subtracted = frozenset(t for poly in polys for t, c in poly.items() if len(t) == 2 and c < 0)
        limit = choose_danger_limit(pairs, options.target_error, n_features, s, spare, subtracted)
        neurons = pack_pairs(pairs, limit)
        predicted = pair_errors(neurons, n_features, s, subtracted)
        # pairs that cannot meet the target even at the smallest limit get exact neurons
        failing = {p for p, e in predicted.items() if e > options.target_error * PREDICTION_SHARE}
        if failing and options.width is None:
            pairs = [p for p in pairs if p not in failing]
            higher = sorted(set(higher) | failing)
            neurons = pack_pairs(pairs, limit)
            predicted = pair_errors(neurons, n_features, s, subtracted)
        rows, biases, estimate = hub_layer(neurons, s)
        return _PairLayer(rows, biases, estimate, higher, options.target_error,
                          {"danger_limit": limit, "predicted_max_error": max(predicted.values(), default=0.0)},
                          "hub", [neuron.hubs for neuron in neurons])

    return _lower_one_layer(circuit, options, "hub", hub_products, rng)


def lower_paper_uand(circuit: Circuit, options: PaperUandOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "paper-uand": `circuit` (which must declare sparsity) in one
    layer of the published Bernoulli U-AND construction (module docstring, 2)."""
    def bernoulli_products(pairs: list[Monomial], higher: list[Monomial], polys: list[dict[Monomial, float]],
                           n_features: int, s: int, embed: np.ndarray | None) -> _PairLayer:
        width = options.width or max(1, math.ceil(len(pairs) / PAPER_UAND_PAIRS_PER_NEURON))
        p = options.p if options.p is not None else paper_uand_p(n_features, width)
        rows, biases, estimate = paper_uand_layer(pairs, n_features, width, p, rng)
        return _PairLayer(rows, biases, estimate, higher, None,
                          {"p": p, "uncovered_pairs": sum(not e for e in estimate.values())}, "uand", [[]] * width)

    return _lower_one_layer(circuit, options, "paper-uand", bernoulli_products, rng)


def lower_light_hub(circuit: Circuit, options: LightHubOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "light-hub": `circuit` (which must declare sparsity) in one
    layer of light hub neurons (module docstring, 2). Pairs some gate reads
    with a negative sign (OR, AND-NOT), whose overcount a light hub does not
    bound, get dedicated neurons like the higher products."""
    def light_products(pairs: list[Monomial], higher: list[Monomial], polys: list[dict[Monomial, float]],
                       n_features: int, s: int, embed: np.ndarray | None) -> _PairLayer:
        subtracted = {t for poly in polys for t, c in poly.items() if len(t) == 2 and c < 0}
        shared = [p for p in pairs if p not in subtracted]
        higher = sorted(set(higher) | (set(pairs) - set(shared)))
        spare = None if options.width is None else options.width - len(higher)
        plan = choose_light_plan(shared, options.target_error, n_features, s, embed, spare)
        rows, biases, estimate = light_layer(plan)
        figures = {"features_per_neuron": plan.features_per_neuron,
                   "predicted_max_error": float(plan.errors.max(initial=0.0)),
                   "leak_std_per_fill": float(np.sqrt((plan.leak_std ** 2).mean())) if rows else 0.0,
                   "leak_predicted": True}
        return _PairLayer(rows, biases, estimate, higher, options.target_error, figures, "hub",
                          [list(neuron.hubs) for neuron in plan.neurons],
                          zero_forced=True)

    return _lower_one_layer(circuit, options, "light-hub", light_products, rng)


PAPER_UAND_PAIRS_PER_NEURON = 4  # paper-uand's default width: one neuron per this many pair products
PAPER_UAND_MAX_P = 0.5  # a neuron reading more than half the features fires on most inputs


def paper_uand_p(n_features: int, width: int) -> float:
    """paper-uand's default connection probability, log(m)^2 / sqrt(width) / 10
    capped at 1/2: the rule of the published construction, scaled so that a
    neuron reads few enough features to stay silent on most sparse inputs."""
    return min(PAPER_UAND_MAX_P, math.log(n_features) ** 2 / math.sqrt(width) / 10)


@dataclass
class _PairLayer:
    """What a construction makes of the pair products: its neuron rows over
    the features, their biases, how each pair is read from them, the products
    left for dedicated neurons, the target error it aimed at (None: none),
    figures for the metadata, and for the neuron table the neurons' kind
    (superpose.neurons.KINDS) and each one's hub features."""
    rows: list[dict[int, float]]
    biases: list[float]
    estimate: dict[Monomial, list[tuple[int, float]]]
    higher: list[Monomial]
    target_error: float | None
    figures: dict
    kind: str
    hubs: list[list[int]]
    zero_forced: bool = False  # the neurons read the input code through embeddings.zero_forced_rows


def _lower_one_layer(circuit: Circuit, options: _InputOptions, strategy: str,
                     pair_layer: Callable[[list[Monomial], list[Monomial], list[dict[Monomial, float]], int, int,
                                           np.ndarray | None], _PairLayer],
                     rng: np.random.Generator) -> CompiledCircuit:
    """The steps every one-layer superposed strategy shares: polynomials, the
    pair products on the neurons `pair_layer` builds, dedicated neurons for the
    rest, the optional input embedding, and the readouts."""
    s = circuit.sparsity
    if s is None:
        raise CompileError(f"strategy {strategy!r} needs a sparsity: declare 'sparsity s' in the program")
    m = circuit.n_inputs
    lits = [Lit(signal) for signal in circuit.gate_signals] + [lit for _, lit in circuit.outputs]
    polys = expand_gates(circuit, lits, s)
    monomials = sorted({t for poly in polys for t in poly if len(t) >= 2})
    valued = {t for poly in polys if not tolerates_thresholding(poly) for t in poly if len(t) >= 2}
    pairs = [t for t in monomials if len(t) == 2 and t not in valued]
    higher = [t for t in monomials if len(t) > 2 or t in valued]

    embed, embed_figures = _input_interface(m, options, rng)  # first: a construction may read the code
    products = pair_layer(pairs, higher, polys, m, s, embed)
    rows, biases, estimate, higher = products.rows, products.biases, products.estimate, products.higher
    figures: dict = {"pair_monomials": len(pairs), **products.figures, "dedicated_monomials": len(higher)}
    readers = monomial_readers(polys, [lit.signal for lit in lits])
    roles = pair_roles(products.kind, rows, biases, estimate, products.hubs, list(range(m)), readers)
    for t in higher:  # exact: ReLU(sum - (degree - 1)) is 1 when every feature of t is on, else 0
        estimate[t] = [(len(rows), 1.0)]
        rows.append({f: 1.0 for f in t})
        biases.append(-(len(t) - 1.0))
        roles.append(NeuronRole("product", tuple(sorted(readers[t])), tuple((f, 1.0) for f in t), -(len(t) - 1.0)))

    figures.update(embed_figures)
    feature_weights = csr_from_rows(rows, m)
    layers, table = [], []
    if embed is not None:
        layers.append(Layer(sp.csr_matrix(embed), np.zeros(embed.shape[0], np.float32), relu=False, kind="embed"))
        table.append([NeuronRole("code", (), tuple((i, float(w)) for i, w in enumerate(embed[j]) if w), 0.0)
                      for j in range(embed.shape[0])])
        code_weights = (zero_forced_rows(feature_weights, embed) if products.zero_forced
                        else np.asarray(feature_weights @ embed.T, np.float32))
        gate_weight = sp.csr_matrix(code_weights)
        figures["embedding_noise_std"] = embedding_noise_std(feature_weights, code_weights, embed, s)
    else:
        gate_weight = feature_weights
    layers.append(Layer(gate_weight, np.asarray(biases, np.float32), relu=True, kind="gates"))
    table.append(roles)
    widths = [m] + [layer.width for layer in layers]
    readouts = _readouts(polys, estimate, embed, widths)
    n_gates = len(circuit.gate_signals)
    figures.update(_wire_kinds(polys[:n_gates]))
    meta = CircuitMeta("superposed", strategy, s, target_error=products.target_error,
                       features_per_dim=m / int(figures["embed_dim"]), figures=figures, neurons=table_to_json(table))
    return CompiledCircuit(
        name=circuit.name, input_names=list(circuit.input_names), gate_names=circuit.gate_names,
        output_names=circuit.output_names, layers=layers,
        gate_readout=readout_from_terms(readouts[:n_gates], widths),
        output_readout=readout_from_terms(readouts[n_gates:], widths),
        meta=meta, program=circuit)


def _readouts(polys: list[dict[Monomial, float]], estimate: dict[Monomial, list[tuple[int, float]]],
              embed: np.ndarray | None, widths: list[int]) -> list[ReadoutTerms]:
    """Each polynomial as (bias, [(activation index, unit, weight)])."""
    gate_layer = len(widths) - 1
    result = []
    for poly in polys:
        bias, terms = 0.0, []
        for t, c in poly.items():
            if not t:
                bias += c
            elif len(t) == 1 and embed is None:
                terms.append((0, t[0], c))
            elif len(t) == 1:
                terms.extend((1, unit, c * float(w)) for unit, w in enumerate(embed[:, t[0]]))
            else:
                bias += sum(c * w for unit, w in estimate[t] if unit == CONSTANT)
                terms.extend((gate_layer, unit, c * w) for unit, w in estimate[t] if unit != CONSTANT)
        result.append((bias, terms))
    return result


def _wire_kinds(polys: list[dict[Monomial, float]]) -> dict[str, int]:
    """How each gate is computed: read linearly from the inputs, from shared
    (superposed) neurons, or with a dedicated neuron; and how many are dense
    (true when no feature is on: a NOT of sparse features)."""
    degree = [max((len(t) for t in p), default=0) for p in polys]
    return {"gates_linear": sum(d <= 1 for d in degree), "gates_superposed": sum(d == 2 for d in degree),
            "gates_dedicated": sum(d > 2 for d in degree), "gates_dense": sum(p.get((), 0) != 0 for p in polys)}
