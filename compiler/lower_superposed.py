"""Superposed lowering: many gates share few ReLU neurons.

1. Expand every gate (and output) into a polynomial of its input features,
   valid on s-sparse inputs (multilinear.py): a bias, linear input reads, and
   AND-monomials of degree >= 2.
2. Compute the monomials in one ReLU layer:
   - strategy "hub" (default): pairs are packed into shared neurons. A neuron has
     hub features H (weight W = s) and leaf features B (weight 1), bias -W:
         z = ReLU(W * #(H on) + #(B on) - W)
     With no hub on it is silent (at most s features are on); with one hub on it
     counts the active leaves, so it reads AND(hub, leaf) for every pair it hosts.
     It errs only when a non-hosted feature of the same neuron is on too, so the
     number of such "dangerous" co-tenants (|B| + 2|H| - 3) is what the packing
     bounds, chosen from the target error on the stratified test distribution.
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

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

import numpy as np
import scipy.sparse as sp

from superpose.compiler.embeddings import coherence, low_coherence_embedding, random_sign_embedding, welch_bound
from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit
from superpose.compiler.multilinear import Monomial, count_patterns, polynomial
from superpose.network import CompiledCircuit, Layer, Readout

# The packing aims its predicted worst pair error at this share of the target:
# the prediction neglects the pattern with neither input on and mixed gate
# types; measured: at 0.75 a gate of programs/large.sbp reached 7.3% error.
PREDICTION_SHARE = 0.5
FIRST_FIT_WINDOW = 1024  # open neurons a star may join: the most recent, so packing stays near-linear
CONSTANT = -1  # the unit index of a constant term in a monomial's estimate
MAX_TERMS_PER_GATE = 4096  # beyond this a gate's polynomial is too big to superpose: use --exact


EMBEDDINGS = ("random", "low-coherence")  # input codes for embed_dim: random signs, or alternating projection


@dataclass(frozen=True)
class _InputOptions:
    """How a one-layer superposed lowering reads its inputs: uncompressed
    (embed_dim None), or through a linear embedding into embed_dim dimensions."""
    width: int | None = None         # neurons of the gate layer; None: chosen by the compiler
    embed_dim: int | None = None     # None: inputs are read uncompressed
    embedding: str = "random"        # "random" signs or "low-coherence"

    def __post_init__(self) -> None:
        if self.embedding not in EMBEDDINGS:
            raise CompileError(f"embedding must be one of {', '.join(EMBEDDINGS)}, not {self.embedding!r}")
        for name in ("width", "embed_dim"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise CompileError(f"{name} must be at least 1, got {value}")


@dataclass(frozen=True)
class HubOptions(_InputOptions):
    """Options of strategy "hub": pairs of features packed into shared hub
    neurons, as many co-tenants per neuron as the target error allows."""
    target_error: float = 0.01       # per-gate error aimed at on the stratified distribution

    def __post_init__(self) -> None:
        super().__post_init__()
        check_target_error(self.target_error)


@dataclass(frozen=True)
class PaperUandOptions(_InputOptions):
    """Options of strategy "paper-uand": the published Bernoulli U-AND baseline."""
    p: float | None = None           # connection probability; None: log(m)^2 / sqrt(width) / 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.p is not None and not 0.0 < self.p < 1.0:
            raise CompileError(f"p must be strictly between 0 and 1, got {self.p}")


def check_target_error(target_error: float) -> None:
    """CompileError unless 0 < target_error < 1."""
    if not 0.0 < target_error < 1.0:
        raise CompileError(f"target_error must be strictly between 0 and 1, got {target_error}")


@dataclass
class HubNeuron:
    """One shared neuron of the hub strategy."""
    hubs: list[int] = field(default_factory=list)
    leaves: set[int] = field(default_factory=set)
    pairs: list[Monomial] = field(default_factory=list)

    @property
    def danger(self) -> int:
        """Co-tenants that can make a hosted pair misfire: |B| + 2|H| - 3."""
        return len(self.leaves) + 2 * len(self.hubs) - 3


def expand_gates(circuit: Circuit, lits: list[Lit], s: int) -> list[dict[Monomial, float]]:
    """The polynomial of every literal over its own input support."""
    supports = circuit.supports()
    polys = []
    for lit in lits:
        support = sorted(supports[lit.signal])
        if count_patterns(len(support), s) > MAX_TERMS_PER_GATE:
            raise CompileError(f"a gate depends on {len(support)} inputs: too many to superpose at "
                               f"sparsity {s} (use strategy 'exact', or a program with smaller supports)")
        polys.append(polynomial(circuit, lit, support, s))
    return polys


def misfire(x: set[int], y: set[int], pool: int, fills: int) -> float:
    """See _misfire_by_sizes: the chance depends only on the region sizes."""
    return _misfire_by_sizes(len(x - y), len(y - x), len(x & y), pool, fills)


@lru_cache(maxsize=65536)
def _misfire_by_sizes(only_x: int, only_y: int, both: int, pool: int, fills: int) -> float:
    """Chance that `fills` distinct random features from `pool` make the pair's
    two neurons sum to 2 or more: each fill in x (the co-tenants of the on
    feature's hub neuron) adds one to the first, any fill in y (the other hubs
    of the off feature's hub neuron) wakes the second. Multivariate
    hypergeometric over the regions x-y, y-x, x&y and the rest."""
    sizes = (only_x, only_y, both)
    rest = pool - sum(sizes)
    total = 0.0
    for n1 in range(fills + 1):
        for n2 in range(fills + 1 - n1):
            for n3 in range(fills + 1 - n1 - n2):
                if (n1 + n3) + (n2 + n3 > 0) >= 2:
                    total += (math.comb(sizes[0], n1) * math.comb(sizes[1], n2) * math.comb(sizes[2], n3)
                              * math.comb(max(rest, 0), fills - n1 - n2 - n3))
    return total / math.comb(pool, fills)


def make_stars(pairs: list[Monomial]) -> list[tuple[int, list[int]]]:
    """Orient every pair: repeatedly the feature with most remaining partners
    becomes a hub and takes them all as leaves."""
    partners: dict[int, set[int]] = {}
    for a, b in pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    heap = [(-len(p), v) for v, p in partners.items()]
    heapq.heapify(heap)
    stars = []
    while heap:
        degree, v = heapq.heappop(heap)
        if v not in partners:
            continue
        if -degree != len(partners[v]):
            if partners[v]:
                heapq.heappush(heap, (-len(partners[v]), v))
            continue
        leaves = sorted(partners.pop(v))
        for leaf in leaves:
            partners[leaf].discard(v)
        stars.append((v, leaves))
    return stars


def reverse_stars(stars: list[tuple[int, list[int]]]) -> list[tuple[int, list[int]]]:
    """The same pairs with the other feature as hub."""
    reversed_: dict[int, list[int]] = {}
    for hub, leaves in stars:
        for leaf in leaves:
            reversed_.setdefault(leaf, []).append(hub)
    return sorted((hub, sorted(leaves)) for hub, leaves in reversed_.items())


def pack_stars(stars: list[tuple[int, list[int]]], danger_limit: int) -> list[HubNeuron]:
    """Split stars to the limit, then first-fit them into neurons while every
    neuron's danger stays within the limit (a hub is never a leaf of its neuron)."""
    chunk = max(1, danger_limit + 1)
    pieces = [(hub, leaves[i:i + chunk]) for hub, leaves in stars for i in range(0, len(leaves), chunk)]
    pieces.sort(key=lambda star: (-len(star[1]), star[0]))
    neurons: list[HubNeuron] = []
    open_neurons: list[HubNeuron] = []
    for hub, leaves in pieces:
        for neuron in open_neurons[-FIRST_FIT_WINDOW:]:
            if len(neuron.leaves) + 2 * (len(neuron.hubs) + 1) - 3 > danger_limit:
                continue  # full even if every new leaf were already there
            new_leaves = neuron.leaves.union(leaves)
            if (hub not in new_leaves and not new_leaves.intersection(neuron.hubs)
                    and len(new_leaves) + 2 * (len(neuron.hubs) + 1) - 3 <= danger_limit):
                break
        else:
            neuron = HubNeuron()
            neurons.append(neuron)
            open_neurons.append(neuron)
        neuron.hubs.append(hub)
        neuron.leaves.update(leaves)
        neuron.pairs.extend(tuple(sorted((hub, leaf))) for leaf in leaves)
        if neuron.danger >= danger_limit - 1:
            open_neurons.remove(neuron)
    return neurons


def pack_pairs(pairs: list[Monomial], danger_limit: int) -> list[HubNeuron]:
    """Every pair on two neurons, once with each feature as hub: a false input
    then misfires only when both neurons see a dangerous co-tenant."""
    stars = make_stars(pairs)
    return pack_stars(stars, danger_limit) + pack_stars(reverse_stars(stars), danger_limit)


ENUMERATED_FILLS = 20_000  # below this many fill sets a pair's error is enumerated, not estimated


def _pair_homes(neurons: list[HubNeuron]) -> dict[Monomial, dict[int, HubNeuron]]:
    """For every hosted pair, its neuron under each of its two hubs."""
    homes: dict[Monomial, dict[int, HubNeuron]] = {}
    for neuron in neurons:
        for pair in neuron.pairs:
            hub = next(f for f in pair if f in neuron.hubs)
            homes.setdefault(pair, {})[hub] = neuron
    return homes


@lru_cache(maxsize=65536)
def _miss(pool: int, avoided: int, fills: int) -> float:
    """Chance that `fills` distinct random features from `pool` all avoid `avoided` of them."""
    return math.comb(max(pool - avoided, 0), fills) / math.comb(pool, fills)


def _estimated_pair_error(a: int, b: int, home: dict[int, HubNeuron], pool: int, fills: int,
                          subtracted: bool) -> float:
    """Closed form for large pools: a false input with a on (b off) misfires when
    one of its fill features is another hub of a's neuron, or when its fills
    give the two neurons a sum of 2 or more; symmetrically for b. The pattern
    with neither on needs a hub and another co-tenant of one neuron at once
    among s random features, rare when the pool is large, and is neglected.
    A subtracted pair (OR) also fails on {a, b} when its s-2 fills meet a
    co-tenant of either neuron (an overcount)."""
    total = 0.0
    for on, off in ((a, b), (b, a)):
        own, other = home[on], home[off]
        hubs = set(own.hubs) - {on}  # another hub lifts the neuron by W >= 2 on its own
        instant = 1.0 - _miss(pool, len(hubs), fills)
        total += instant + (1.0 - instant) * misfire(own.leaves - {a, b}, set(other.hubs) - {off},
                                                      pool - len(hubs), fills)
    if subtracted and fills >= 1:
        tenants = (home[a].leaves | set(home[a].hubs) | home[b].leaves | set(home[b].hubs)) - {a, b}
        total += 1.0 - _miss(pool, len(tenants), fills - 1)
    return 0.5 * total / 3.0


def _enumerated_pair_error(a: int, b: int, home: dict[int, HubNeuron], n_features: int, s: int,
                           subtracted: bool) -> float:
    """Exact for small pools: every false pattern ({a}, {b}, neither) with every
    set of fill features, run through the two neurons and the readout; for a
    subtracted pair (OR = a + b - AND) also the true pattern {a, b}, where an
    overcount of 5/3 or more flips the gate."""
    neurons = list(home.values())
    weights = np.zeros((2, n_features))
    for j, neuron in enumerate(neurons):
        weights[j, sorted(neuron.leaves)] = 1.0
        weights[j, neuron.hubs] = float(s)
    others = np.array([f for f in range(n_features) if f not in (a, b)])
    def failure_rate(pattern: tuple[int, ...], fails) -> float:
        fills = min(s - len(pattern), others.size)
        fill_sets = list(combinations(range(others.size), fills))
        combos = np.array(fill_sets, dtype=np.int64).reshape(len(fill_sets), fills)
        pre = weights[:, list(pattern)].sum(axis=1)[None, :] + weights[:, others[combos]].sum(axis=2).T - s
        return float(fails((2.0 / 3.0) * np.maximum(pre, 0.0).sum(axis=1) - 1.0 / 3.0).mean())

    false_side = sum(failure_rate(p, lambda e: e > 0.5) for p in ((a,), (b,), ())) / 3.0
    true_side = failure_rate((a, b), lambda e: e >= 1.5) / 3.0 if subtracted and s >= 2 else 0.0
    return 0.5 * (false_side + true_side)


def pair_errors(neurons: list[HubNeuron], n_features: int, s: int,
                subtracted: frozenset[Monomial] = frozenset()) -> dict[Monomial, float]:
    """Predicted error of every hosted pair on the stratified distribution,
    computed from the actual neurons: enumerated exactly when the fill sets are
    few (small programs), else in closed form. `subtracted`: pairs some gate
    reads with a negative sign (OR)."""
    pool, fills = n_features - 2, s - 1
    enumerate_all = math.comb(pool, min(s, pool)) <= ENUMERATED_FILLS
    return {(a, b): (_enumerated_pair_error(a, b, home, n_features, s, (a, b) in subtracted) if enumerate_all
                     else _estimated_pair_error(a, b, home, pool, fills, (a, b) in subtracted))
            for (a, b), home in _pair_homes(neurons).items()}


def tolerates_thresholding(poly: dict[Monomial, float]) -> bool:
    """A gate with one AND of unit weight (AND, OR, AND-NOT) stays right when its
    AND is read by a shared estimate that is only right after thresholding.
    Others (XOR, atleast, sums of ANDs) need the AND's value: exact neurons."""
    products = [c for t, c in poly.items() if len(t) >= 2]
    return len(products) == 1 and abs(products[0]) == 1.0


def choose_danger_limit(pairs: list[Monomial], target_error: float, n_features: int, s: int,
                        spare_width: int | None = None, subtracted: frozenset[Monomial] = frozenset()) -> int:
    """The largest co-tenant limit whose predicted error is PREDICTION_SHARE of the target
    (the other half is left to sampling noise and non-AND gates), or, when the
    width is fixed, the smallest limit whose packing fits in it."""
    if spare_width is not None:
        low, high = 0, 2 * n_features
        if len(pack_pairs(pairs, high)) > spare_width:
            raise CompileError(f"width is too small: the pair products need more than the {spare_width} "
                               f"neurons left beside the dedicated ones, even when fully shared")
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if len(pack_pairs(pairs, mid)) <= spare_width else (mid + 1, high)
        return low
    def meets_target(limit: int) -> bool:
        worst = max(pair_errors(pack_pairs(pairs, limit), n_features, s, subtracted).values(), default=0.0)
        return worst <= target_error * PREDICTION_SHARE

    # the largest limit within the target: double until one fails, then bisect
    low, high = 1, 2
    while high < 2 * n_features and meets_target(high):
        low, high = high, 2 * high
    high = min(high, 2 * n_features)
    while low + 1 < high:
        mid = (low + high) // 2
        low, high = (mid, high) if meets_target(mid) else (low, mid)
    return low


def hub_layer(neurons: list[HubNeuron], s: int
              ) -> tuple[list[dict[int, float]], list[float], dict[Monomial, list[tuple[int, float]]]]:
    """Feature weights and biases of the hub neurons, and how each pair is read."""
    rows, biases, homes = [], [], {}
    for j, neuron in enumerate(neurons):
        row = {leaf: 1.0 for leaf in neuron.leaves}
        row.update({hub: float(s) for hub in neuron.hubs})
        rows.append(row)
        biases.append(-float(s))
        for pair in neuron.pairs:
            homes.setdefault(pair, []).append(j)
    # AND ~ (2/3)(z1 + z2) - 1/3: 1 when both neurons see the pair, 1/3 when one
    # misfires alone, -1/3 when neither fires; only a double misfire crosses 0.5.
    estimate = {pair: [(j, 2.0 / 3.0) for j in js] + [(CONSTANT, -1.0 / 3.0)] for pair, js in homes.items()}
    return rows, biases, estimate


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


def _sparse(rows: list[dict[int, float]], n_columns: int) -> sp.csr_matrix:
    indptr = np.cumsum([0] + [len(r) for r in rows])
    cols = np.fromiter((c for r in rows for c in sorted(r)), dtype=np.int64, count=int(indptr[-1]))
    vals = np.fromiter((r[c] for r in rows for c in sorted(r)), dtype=np.float32, count=int(indptr[-1]))
    return sp.csr_matrix((vals, cols, indptr), shape=(len(rows), n_columns))


def _input_interface(n_features: int, options: _InputOptions, rng: np.random.Generator
                     ) -> tuple[np.ndarray | None, dict]:
    """The embedding (d0, m) or None for uncompressed inputs, and facts about it."""
    if options.embed_dim is None or options.embed_dim >= n_features:
        return None, {"embed_dim": n_features, "features_per_dim": 1.0}
    d0 = options.embed_dim
    embed = (low_coherence_embedding(n_features, d0, rng) if options.embedding == "low-coherence"
             else random_sign_embedding(n_features, d0, rng))
    return embed, {"embed_dim": d0, "features_per_dim": n_features / d0, "embedding": options.embedding,
                   "coherence": coherence(embed), "welch_bound": welch_bound(n_features, d0)}


NOISE_MARGIN = 0.5  # a neuron decides between pre-activation 0 and 1: interference must stay below this


def embedding_noise_std(feature_weights: sp.csr_matrix, embed: np.ndarray, s: int) -> float:
    """Largest standard deviation, over neurons, of the interference that s
    active features add through the embedding: feature c leaks
    sum_f w_f <e_f, e_c> into a neuron with feature weights w (the part of
    W E^T E beyond W), measured on the actual code over all features."""
    worst = 0.0
    for start in range(0, feature_weights.shape[0], 256):  # row chunks: (256, m) at a time
        rows = feature_weights[start:start + 256]
        leak = (rows @ embed.T.astype(np.float64)) @ embed - rows.toarray()
        worst = max(worst, float((leak ** 2).mean(axis=1).max(initial=0.0)))
    return float(np.sqrt(s * worst))


def lower_hub(circuit: Circuit, options: HubOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "hub": `circuit` (which must declare sparsity) in one superposed
    ReLU layer whose pair products share hub neurons (module docstring, 2)."""
    def hub_products(pairs: list[Monomial], higher: list[Monomial], polys: list[dict[Monomial, float]],
                     n_features: int, s: int) -> _PairLayer:
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
        facts = {"target_error": options.target_error, "danger_limit": limit,
                 "predicted_max_error": max(predicted.values(), default=0.0)}
        return _PairLayer(rows, biases, estimate, higher, facts)

    return _lower_one_layer(circuit, options, "hub", hub_products, rng)


def lower_paper_uand(circuit: Circuit, options: PaperUandOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "paper-uand": `circuit` (which must declare sparsity) in one
    layer of the published Bernoulli U-AND construction (module docstring, 2)."""
    def bernoulli_products(pairs: list[Monomial], higher: list[Monomial], polys: list[dict[Monomial, float]],
                           n_features: int, s: int) -> _PairLayer:
        width = options.width or max(1, math.ceil(len(pairs) / PAPER_UAND_PAIRS_PER_NEURON))
        p = options.p if options.p is not None else paper_uand_p(n_features, width)
        rows, biases, estimate = paper_uand_layer(pairs, n_features, width, p, rng)
        return _PairLayer(rows, biases, estimate, higher,
                          {"p": p, "uncovered_pairs": sum(not e for e in estimate.values())})

    return _lower_one_layer(circuit, options, "paper-uand", bernoulli_products, rng)


PAPER_UAND_PAIRS_PER_NEURON = 4  # paper-uand's default width: one neuron per this many pair products


def paper_uand_p(n_features: int, width: int) -> float:
    """paper-uand's default connection probability, log(m)^2 / sqrt(width) / 10
    capped at 1/2: the rule of the published construction, scaled so that a
    neuron reads few enough features to stay silent on most sparse inputs."""
    return min(0.5, math.log(n_features) ** 2 / math.sqrt(width) / 10)


@dataclass
class _PairLayer:
    """What a construction makes of the pair products: its neuron rows over
    the features, their biases, how each pair is read from them, the products
    left for dedicated neurons, and facts for the metadata."""
    rows: list[dict[int, float]]
    biases: list[float]
    estimate: dict[Monomial, list[tuple[int, float]]]
    higher: list[Monomial]
    facts: dict


def _lower_one_layer(circuit: Circuit, options: _InputOptions, strategy: str,
                     pair_layer: Callable[[list[Monomial], list[Monomial], list[dict[Monomial, float]], int, int],
                                          _PairLayer],
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

    products = pair_layer(pairs, higher, polys, m, s)
    rows, biases, estimate, higher = products.rows, products.biases, products.estimate, products.higher
    facts: dict = {"lowering": "superposed", "strategy": strategy, "sparsity": s, "pair_monomials": len(pairs),
                   **products.facts, "dedicated_monomials": len(higher)}
    for t in higher:  # exact: ReLU(sum - (degree - 1)) is 1 when every feature of t is on, else 0
        estimate[t] = [(len(rows), 1.0)]
        rows.append({f: 1.0 for f in t})
        biases.append(-(len(t) - 1.0))

    embed, embed_facts = _input_interface(m, options, rng)
    facts.update(embed_facts)
    feature_weights = _sparse(rows, m)
    layers = []
    if embed is not None:
        layers.append(Layer(sp.csr_matrix(embed), np.zeros(embed.shape[0], np.float32), relu=False, kind="embed"))
        gate_weight = sp.csr_matrix((feature_weights @ embed.T).astype(np.float32))
        facts["embedding_noise_std"] = embedding_noise_std(feature_weights, embed, s)
    else:
        gate_weight = feature_weights
    layers.append(Layer(gate_weight, np.asarray(biases, np.float32), relu=True, kind="gates"))
    widths = [m] + [layer.width for layer in layers]
    readouts = _readouts(polys, estimate, embed, widths)
    n_gates = len(circuit.gate_signals)
    facts.update(_wire_kinds(polys[:n_gates]))
    return CompiledCircuit(
        name=circuit.name, input_names=list(circuit.input_names), gate_names=circuit.gate_names,
        output_names=circuit.output_names, layers=layers,
        gate_readout=_readout_rows(readouts[:n_gates], widths), output_readout=_readout_rows(readouts[n_gates:], widths),
        meta=facts, program=circuit)


def _readouts(polys: list[dict[Monomial, float]], estimate: dict[Monomial, list[tuple[int, float]]],
              embed: np.ndarray | None, widths: list[int]) -> list[tuple[float, list[tuple[int, int, float]]]]:
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


def _readout_rows(rows: list[tuple[float, list[tuple[int, int, float]]]], widths: list[int]) -> Readout:
    entries: list[list[tuple[int, int, float]]] = [[] for _ in widths]
    for r, (_, terms) in enumerate(rows):
        for layer, unit, weight in terms:
            entries[layer].append((r, unit, weight))
    return Readout.from_entries(entries, len(rows), widths, np.asarray([b for b, _ in rows], np.float32))


def _wire_kinds(polys: list[dict[Monomial, float]]) -> dict[str, int]:
    """How each gate is computed: read linearly from the inputs, from shared
    (superposed) neurons, or with a dedicated neuron; and how many are dense
    (true when no feature is on: a NOT of sparse features)."""
    degree = [max((len(t) for t in p), default=0) for p in polys]
    return {"gates_linear": sum(d <= 1 for d in degree), "gates_superposed": sum(d == 2 for d in degree),
            "gates_dedicated": sum(d > 2 for d in degree), "gates_dense": sum(p.get((), 0) != 0 for p in polys)}
