"""Hub packing: pairwise ANDs of features on shared ReLU neurons.

A hub neuron has hub features H (weight W = s, the most features on at once)
and leaf features B (weight 1), bias -W:
    z = ReLU(W * #(H on) + #(B on) - W)
With no hub on it is silent (at most s features are on); with one hub on it
counts the active leaves, so it reads AND(hub, leaf) for every pair it hosts.
It errs only when a non-hosted feature of the same neuron is on too, so the
number of such "dangerous" co-tenants (|B| + 2|H| - 3) is what the packing
bounds. Every pair is hosted twice, once with each feature as hub, and read as
HUB_READ_WEIGHT * (z1 + z2) + HUB_READ_BIAS: a false input misfires only if
both neurons see an unrelated co-tenant.

Used by the one-layer "hub" strategy (lower_superposed.py) and by every
superposed level of "chained" (lower_chained.py): packing (make_stars,
pack_pairs), the predicted error of every pair on the actual neurons
(pair_errors), the co-tenant limit that meets a target (choose_danger_limit),
and the layer's rows and readouts (hub_layer).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

import numpy as np

from superpose.compiler.errors import CompileError
from superpose.compiler.multilinear import Monomial
from superpose.network import THRESHOLD
from superpose.neurons import NeuronRole

# The packing aims its predicted worst pair error at this share of the target:
# the prediction neglects the pattern with neither input on and mixed gate
# types; measured: at 0.75 a gate of programs/large.sbp reached 7.3% error.
PREDICTION_SHARE = 0.5
FIRST_FIT_WINDOW = 1024  # open neurons a star may join: the most recent, so packing stays near-linear
CONSTANT = -1  # the unit index of a constant term in a monomial's estimate
# AND(a, b) ~ HUB_READ_WEIGHT * (z1 + z2) + HUB_READ_BIAS over its two hub neurons: 1 when both see
# the pair, 1/3 when one misfires alone, -1/3 when neither fires; only a double misfire crosses THRESHOLD
HUB_READ_WEIGHT, HUB_READ_BIAS = 2.0 / 3.0, -1.0 / 3.0
# an OR reads a + b - AND(a, b): on {a, b} an AND overcount of OR_OVERCOUNT or more flips it
OR_OVERCOUNT = 1.0 + THRESHOLD


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
    others = np.array([f for f in range(n_features) if f not in (a, b)], dtype=np.int64)  # may be empty
    def failure_rate(pattern: tuple[int, ...], fails) -> float:
        fills = min(s - len(pattern), others.size)
        fill_sets = list(combinations(range(others.size), fills))
        combos = np.array(fill_sets, dtype=np.int64).reshape(len(fill_sets), fills)
        pre = weights[:, list(pattern)].sum(axis=1)[None, :] + weights[:, others[combos]].sum(axis=2).T - s
        return float(fails(HUB_READ_WEIGHT * np.maximum(pre, 0.0).sum(axis=1) + HUB_READ_BIAS).mean())

    false_side = sum(failure_rate(p, lambda e: e > THRESHOLD) for p in ((a,), (b,), ())) / 3.0
    true_side = failure_rate((a, b), lambda e: e >= OR_OVERCOUNT) / 3.0 if subtracted and s >= 2 else 0.0
    return 0.5 * (false_side + true_side)


def pair_errors(neurons: list[HubNeuron], n_features: int, s: int,
                subtracted: frozenset[Monomial] = frozenset()) -> dict[Monomial, float]:
    """Predicted error of every hosted pair on the stratified distribution,
    computed from the actual neurons: enumerated exactly when the fill sets are
    few (small programs), else in closed form. `subtracted`: pairs some gate
    reads with a negative sign (OR)."""
    pool, fills = max(n_features - 2, 0), s - 1  # a one-input program has no pairs, and no pool
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
    estimate = {pair: [(j, HUB_READ_WEIGHT) for j in js] + [(CONSTANT, HUB_READ_BIAS)] for pair, js in homes.items()}
    return rows, biases, estimate


def pair_roles(kind: str, rows: list[dict[int, float]], biases: list[float],
               estimate: dict[Monomial, list[tuple[int, float]]], hubs: list[list[int]], signal_of: list[int],
               readers: dict[Monomial, set[int]]) -> list[NeuronRole]:
    """The neuron-table roles of the neurons a pair construction built
    (hub_layer, lower_superposed.paper_uand_layer): rows, biases and estimate
    over features, hubs[j] the hub features of neuron j; feature f is program
    signal signal_of[f], and readers[pair] the signals whose values read the
    pair (pairs in features)."""
    hosted: list[list[Monomial]] = [[] for _ in rows]
    for pair, terms in estimate.items():
        for unit, _ in terms:
            if unit != CONSTANT:
                hosted[unit].append(pair)
    signals = lambda features: tuple(sorted(signal_of[f] for f in features))
    return [NeuronRole(kind, tuple(sorted(set().union(*(readers.get(p, set()) for p in pairs)))),
                       tuple(sorted((signal_of[f], w) for f, w in row.items())), bias,
                       hubs=tuple(signal_of[h] for h in neuron_hubs), pairs=tuple(sorted(map(signals, pairs))))
            for row, bias, neuron_hubs, pairs in zip(rows, biases, hubs, hosted)]


def monomial_readers(polys: list[dict[Monomial, float]], signals: list[int]) -> dict[Monomial, set[int]]:
    """For every monomial of degree >= 2, the signals (signals[i] has polys[i]) that read it."""
    readers: dict[Monomial, set[int]] = {}
    for signal, poly in zip(signals, polys):
        for t in poly:
            if len(t) >= 2:
                readers.setdefault(t, set()).add(signal)
    return readers


def without_pairs(neurons: list[HubNeuron], pairs: set[tuple[int, int]]) -> list[HubNeuron]:
    """The hub neurons with `pairs` removed: hubs and leaves left with no pair
    go, and so do empty neurons."""
    kept = []
    for neuron in neurons:
        hosted = [p for p in neuron.pairs if p not in pairs]
        if hosted:
            hubs = [h for h in neuron.hubs if any(h in p for p in hosted)]
            leaves = {f for p in hosted for f in p if f not in hubs}
            kept.append(HubNeuron(hubs, leaves, hosted))
    return kept


