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
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from superpose.compiler.co_activity import neighbourhoods_of
from superpose.compiler.embeddings import (coherence, low_coherence_embedding, random_sign_embedding,
                                           tight_frame_embedding, welch_bound, zero_forced_rows)
from superpose.compiler.errors import CompileError
from superpose.compiler.hub_confirm import confirm, confirmable
from superpose.compiler.ir import Circuit, Lit
from superpose.compiler.hub_packing import (CONSTANT, HubNeuron, choose_danger_limit, hub_layer, leaf_caps,
                                            monomial_readers, pack_pairs, pair_errors, pair_roles, pattern_weights,
                                            search_danger_limit, tolerates_thresholding, without_pairs)
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
    confirm: bool = True             # confirm every gate on the compiled weights and repair; False: the
                                     # packing's prediction alone (the baseline that shows what confirmation buys)


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


# leaf caps tried, as multiples of leaf_caps: fewer leaves per hub, more hubs per neuron. First fit makes the
# neuron count uneven in the scale: on uand-8k at 1% scales 1.0, 0.9, 0.8, 0.75, 0.7, 0.6, 0.5 pack (before
# confirmation) into 804, 575, 519, 507, 520, 540, 593 neurons; each scale is one limit search (~10 s there)
CAP_SCALES = (1.0, 0.75, 0.5)
REPACK_SHARE = 0.02      # the packing may leave this share of the pairs predicted over the target, to be re-packed
# gates whose predicted error is at least this share of the target are measured on the compiled weights
# (hub_confirm); below it the calibrated prediction stands (measured against it: bench/bench_uand.py)
CONFIRM_BAND = 0.5
# the danger limit the packing's search tries first (hub_packing.search_danger_limit): the limits of
# uand-1k and uand-8k at 1% are 14 and 44, and the limits below 16 are the slowest to pack (3-4 s each at 8k)
HUB_FIRST_PROBE = 16
MAX_REPACKS = 2         # re-packs of pairs over the target (predicted, then measured); then exact neurons
REPACK_TIGHTENING = 2   # each re-pack divides the danger limit and the leaves per piece by this


@dataclass
class _HubPlan:
    """The hub neurons of a compile as prediction and confirmation repair
    them: `neurons`, the pairs on exact neurons, the packing's danger limit
    and leaf caps, and the pairs re-packed so far."""
    neurons: list[HubNeuron]
    exact: set[Monomial]
    limit: int
    caps: dict[int, int]
    repacked: set[Monomial]

    def repack(self, bad: set[Monomial], attempt: int) -> list[HubNeuron]:
        """Take `bad` off their neurons (which only lowers every other
        neuron's pre-activations: weights are non-negative) and pack them on
        neurons of their own, REPACK_TIGHTENING times tighter per attempt, or,
        past MAX_REPACKS attempts, on exact neurons. Returns the new neurons."""
        self.neurons = without_pairs(self.neurons, bad)
        self.repacked |= bad
        if attempt >= MAX_REPACKS:
            self.exact |= bad
            return []
        shrink = REPACK_TIGHTENING ** (attempt + 1)
        caps = {f: max(1, c // shrink) for f, c in self.caps.items()}
        new = pack_pairs(sorted(bad), max(1, self.limit // shrink), caps, True)
        self.neurons += new
        return new


def _pair_weights(circuit: Circuit, lits: list[Lit], polys: list[dict[Monomial, float]], pairs: list[Monomial],
                  s: int) -> dict[Monomial, np.ndarray]:
    """For every hub pair, the worst (per pattern class) of what a misfire costs
    the gates and outputs that read it (hub_packing.pattern_weights)."""
    hosted, supports = set(pairs), circuit.supports()
    weights: dict[Monomial, np.ndarray] = {}
    for lit, poly in zip(lits, polys):
        for t in poly:
            if t in hosted:
                w = pattern_weights(poly, t, sorted(supports[lit.signal]), s)
                weights[t] = np.maximum(weights[t], w) if t in weights else w
    return weights


def _plan_hub(circuit: Circuit, options: HubOptions, pairs: list[Monomial], higher: list[Monomial],
              weights: dict[Monomial, np.ndarray], near: dict[Monomial, set[int]]
              ) -> tuple[_HubPlan, dict, dict[Monomial, float]]:
    """Pack the pairs as tightly as the predicted errors (both fills) allow:
    no hub shares a neuron with its pairs' partners (pack_pairs, separate),
    star pieces capped (leaf_caps, times each of CAP_SCALES), and the largest
    danger limit at which at most REPACK_SHARE of the pairs are predicted over
    the error that confirmation can pass (hub_confirm.confirmable: the target
    less its sampling noise, no safety share); those are re-packed
    (_HubPlan.repack). The scale
    with fewest neurons wins. A fixed width takes the tightest packing that
    fits, as predicted. Returns the plan, its figures and every pair's
    predicted error."""
    m, s, target = circuit.n_inputs, circuit.sparsity, options.target_error
    if options.width is not None:
        limit = choose_danger_limit(pairs, target, m, s, options.width - len(higher))
        plan = _HubPlan(pack_pairs(pairs, limit), set(), limit, {}, set())
        predicted = pair_errors(plan.neurons, m, s, weights, near)
        return plan, {"danger_limit": limit, "predicted_max_error": max(predicted.values(), default=0.0)}, predicted
    aim = confirmable(target)
    base = leaf_caps(pairs, near, weights, aim, s)
    best = None
    for scale in CAP_SCALES:
        caps = {f: max(1, int(c * scale)) for f, c in base.items()}
        limit, neurons, predicted = search_danger_limit(pairs, aim, m, s, weights, near, caps, True, REPACK_SHARE,
                                                        HUB_FIRST_PROBE)
        plan = _HubPlan(neurons, set(), limit, caps, set())
        figures = {"danger_limit": limit, "leaf_cap_scale": scale,
                   "predicted_max_error": max(predicted.values(), default=0.0)}
        latest = predicted
        for attempt in range(MAX_REPACKS + 1):
            bad = {p for p, e in latest.items() if e > aim}
            if not bad:
                break
            latest = pair_errors(plan.repack(bad, attempt), m, s, weights, near)  # the re-packed pairs only
            predicted.update(latest)
        figures["pairs_predicted_over_target"] = len(plan.repacked)
        if best is None or len(plan.neurons) + len(plan.exact) < len(best[0].neurons) + len(best[0].exact):
            best = plan, figures, predicted
    return best


def lower_hub(circuit: Circuit, options: HubOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "hub": `circuit` (which must declare sparsity) in one superposed
    ReLU layer whose pair products share hub neurons (module docstring, 2),
    packed to the target and, with uncompressed inputs and a free width,
    confirmed gate by gate on the compiled weights (hub_confirm.py): the pairs
    of gates that miss the target are re-packed on neurons of their own,
    tighter each time, and finally moved to exact neurons."""
    expansion = _expand(circuit, "hub")
    s, m = expansion.sparsity, circuit.n_inputs
    embed, embed_figures = _input_interface(m, options, rng)
    near_of = neighbourhoods_of(circuit)
    near = {(a, b): set(near_of.of([a, b]).tolist()) for a, b in expansion.pairs}
    weights = _pair_weights(circuit, expansion.lits, expansion.polys, expansion.pairs, s)
    plan, figures, predicted = _plan_hub(circuit, options, expansion.pairs, expansion.higher, weights, near)

    def build() -> CompiledCircuit:
        rows, biases, estimate = hub_layer(plan.neurons, s)
        products = _PairLayer(rows, biases, estimate, sorted(set(expansion.higher) | plan.exact),
                              options.target_error, dict(figures), "hub", [n.hubs for n in plan.neurons])
        return _assemble(circuit, "hub", expansion, products, embed, embed_figures)

    compiled = build()
    if not options.confirm or options.width is not None or (options.embed_dim is not None and options.embed_dim < m):
        # a fixed width has no room to repair; an embedding's noise is not the packing's to repair
        compiled.meta.figures["confirmed"] = False
        return compiled
    n_gates = len(circuit.gate_signals)
    higher = set(expansion.higher)  # once: a set per gate made this quadratic in the gates (75 s of 122 at T = 1,024)
    gate_pairs = [{t for t in poly if len(t) == 2} - higher for poly in expansion.polys[:n_gates]]
    supports, signals = circuit.supports(), circuit.gate_signals  # gate_signals builds its list on every call
    measured = np.zeros(n_gates)
    # measured: every gate whose prediction is within the band, or that reads more than its pair (the
    # prediction takes a pair's own neighbourhood and patterns); the others rest on the prediction
    to_measure = np.array([g for g in range(n_gates) if gate_pairs[g] - plan.exact and (
        max(predicted.get(t, 0.0) for t in gate_pairs[g]) >= CONFIRM_BAND * options.target_error
        or len(supports[signals[g]]) > 2)], dtype=np.int64)
    figures_measured = int(to_measure.size)
    repaired: set[Monomial] = set()
    for attempt in range(MAX_REPACKS + 1):
        errors, failing = confirm(compiled, to_measure, options.target_error, rng)
        measured[to_measure] = errors
        bad = {t for g in to_measure[failing] for t in gate_pairs[g]} - plan.exact
        if not bad:
            break
        repaired |= bad
        plan.repack(bad, attempt)
        touched = [g for g in range(n_gates) if gate_pairs[g] & bad]
        measured[touched] = 0.0  # measured again below, or exact now
        to_measure = np.array([g for g in touched if gate_pairs[g] - plan.exact], dtype=np.int64)
        compiled = build()
    compiled.meta.figures.update(confirmed=True, gates_confirmed=figures_measured, repaired_pairs=len(repaired),
                                 repair_share=len(repaired) / max(len(expansion.pairs), 1),
                                 pairs_on_exact_neurons=len(plan.exact),
                                 confirmed_max_error=float(measured.max(initial=0.0)))
    return compiled


def lower_paper_uand(circuit: Circuit, options: PaperUandOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "paper-uand": `circuit` (which must declare sparsity) in one
    layer of the published Bernoulli U-AND construction (module docstring, 2)."""
    expansion = _expand(circuit, "paper-uand")
    pairs, m = expansion.pairs, circuit.n_inputs
    embed, embed_figures = _input_interface(m, options, rng)  # the code first, as for light-hub, which reads it
    width = options.width or max(1, math.ceil(len(pairs) / PAPER_UAND_PAIRS_PER_NEURON))
    p = options.p if options.p is not None else paper_uand_p(m, width)
    rows, biases, estimate = paper_uand_layer(pairs, m, width, p, rng)
    products = _PairLayer(rows, biases, estimate, list(expansion.higher), None,
                          {"p": p, "uncovered_pairs": sum(not e for e in estimate.values())}, "uand", [[]] * width)
    return _assemble(circuit, "paper-uand", expansion, products, embed, embed_figures)


def lower_light_hub(circuit: Circuit, options: LightHubOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "light-hub": `circuit` (which must declare sparsity) in one
    layer of light hub neurons (module docstring, 2). Pairs some gate reads
    with a negative sign (OR, AND-NOT), whose overcount a light hub does not
    bound, get dedicated neurons like the higher products."""
    expansion = _expand(circuit, "light-hub")
    s, m = expansion.sparsity, circuit.n_inputs
    embed, embed_figures = _input_interface(m, options, rng)  # first: the plan reads the code's leak
    subtracted = {t for poly in expansion.polys for t, c in poly.items() if len(t) == 2 and c < 0}
    shared = [p for p in expansion.pairs if p not in subtracted]
    higher = sorted(set(expansion.higher) | (set(expansion.pairs) - set(shared)))
    spare = None if options.width is None else options.width - len(higher)
    plan = choose_light_plan(shared, options.target_error, m, s, embed, spare)
    rows, biases, estimate = light_layer(plan)
    figures = {"features_per_neuron": plan.features_per_neuron,
               "predicted_max_error": float(plan.errors.max(initial=0.0)),
               "leak_std_per_fill": float(np.sqrt((plan.leak_std ** 2).mean())) if rows else 0.0,
               "leak_predicted": True}
    products = _PairLayer(rows, biases, estimate, higher, options.target_error, figures, "hub",
                          [list(neuron.hubs) for neuron in plan.neurons], zero_forced=True)
    return _assemble(circuit, "light-hub", expansion, products, embed, embed_figures)


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


@dataclass(frozen=True)
class _Expansion:
    """A program as polynomials: the literals read (gates, then outputs), their
    polynomials over the input features, the pair products that may share
    neurons, and the products (degree >= 3, or whose value a gate needs) that
    get dedicated ones."""
    sparsity: int
    lits: list[Lit]
    polys: list[dict[Monomial, float]]
    pairs: list[Monomial]
    higher: list[Monomial]


def _expand(circuit: Circuit, strategy: str) -> _Expansion:
    """Step 1 of the module docstring, for every one-layer superposed strategy."""
    s = circuit.sparsity
    if s is None:
        raise CompileError(f"strategy {strategy!r} needs a sparsity: declare 'sparsity s' in the program")
    lits = [Lit(signal) for signal in circuit.gate_signals] + [lit for _, lit in circuit.outputs]
    polys = expand_gates(circuit, lits, s)
    monomials = sorted({t for poly in polys for t in poly if len(t) >= 2})
    valued = {t for poly in polys if not tolerates_thresholding(poly) for t in poly if len(t) >= 2}
    return _Expansion(s, lits, polys, [t for t in monomials if len(t) == 2 and t not in valued],
                      [t for t in monomials if len(t) > 2 or t in valued])


def _assemble(circuit: Circuit, strategy: str, expansion: _Expansion, products: _PairLayer,
              embed: np.ndarray | None, embed_figures: dict) -> CompiledCircuit:
    """The steps every one-layer superposed strategy shares once its pair
    products are on neurons: dedicated neurons for the rest, the input
    embedding (embed (d0, m), from _input_interface; None: uncompressed), and
    the readouts."""
    s, m, polys, lits = expansion.sparsity, circuit.n_inputs, expansion.polys, expansion.lits
    rows, biases, higher = list(products.rows), list(products.biases), products.higher
    estimate = dict(products.estimate)
    figures: dict = {"pair_monomials": len(expansion.pairs), **products.figures, "dedicated_monomials": len(higher)}
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
