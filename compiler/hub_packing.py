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

from superpose.compiler.co_activity import NEIGHBOURHOOD_SHARE
from superpose.compiler.errors import CompileError
from superpose.compiler.multilinear import Monomial, sparse_patterns
from superpose.network import THRESHOLD
from superpose.neurons import NeuronRole

# The chained lowering's packing aims its predicted worst pair error at this
# share of the target (its levels are repaired on probes, not confirmed per
# gate); the hub lowering aims at the target itself and confirms
# (lower_superposed, hub_confirm).
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


def pack_stars(stars: list[tuple[int, list[int]]], danger_limit: int, caps: dict[int, int] | None = None,
               partners: dict[int, set[int]] | None = None) -> list[HubNeuron]:
    """Split stars to the limit (and hub h's to at most caps[h] leaves a
    piece), then first-fit them into neurons while every neuron's danger stays
    within the limit (a hub is never a leaf of its neuron, and two pieces of
    one star never share a neuron: that would undo the cap). With `partners`
    (feature -> the features it shares a pair with), no hub of a neuron is a
    partner of a feature of another pair there: the neighbourhood fill turns
    on exactly a pair's partners, and another hub on lifts a neuron by W."""
    chunk = lambda hub: max(1, min(danger_limit + 1, (caps or {}).get(hub, danger_limit + 1)))
    pieces = [(hub, leaves[i:i + chunk(hub)]) for hub, leaves in stars for i in range(0, len(leaves), chunk(hub))]
    pieces.sort(key=lambda star: (-len(star[1]), star[0]))
    neurons: list[HubNeuron] = []
    open_neurons: list[HubNeuron] = []
    hub_sets: dict[int, set[int]] = {}  # id(neuron) -> its hubs, for the membership tests
    near: dict[int, set[int]] = {}  # id(neuron) -> partners of its features: no hub may be one
    no_partners: set[int] = set()
    for hub, leaves in pieces:
        reach = set().union(*(partners.get(f, no_partners) for f in [hub, *leaves])) if partners else no_partners
        leaf_set = set(leaves)
        for neuron in open_neurons[-FIRST_FIT_WINDOW:]:
            if len(neuron.leaves) + 2 * (len(neuron.hubs) + 1) - 3 > danger_limit:
                continue  # full even if every new leaf were already there
            hubs = hub_sets[id(neuron)]
            if (hub in hubs or hub in neuron.leaves or not hubs.isdisjoint(leaf_set)
                    or hub in near.get(id(neuron), no_partners) or not reach.isdisjoint(hubs)):
                continue
            if len(neuron.leaves) + len(leaf_set - neuron.leaves) + 2 * (len(hubs) + 1) - 3 <= danger_limit:
                break
        else:
            neuron = HubNeuron()
            neurons.append(neuron)
            open_neurons.append(neuron)
            hub_sets[id(neuron)] = set()
        neuron.hubs.append(hub)
        hub_sets[id(neuron)].add(hub)
        neuron.leaves.update(leaves)
        neuron.pairs.extend(tuple(sorted((hub, leaf))) for leaf in leaves)
        if partners:
            near.setdefault(id(neuron), set()).update(reach)
        if neuron.danger >= danger_limit - 1:
            open_neurons.remove(neuron)
    return neurons


def pack_pairs(pairs: list[Monomial], danger_limit: int, caps: dict[int, int] | None = None,
               separate: bool = False) -> list[HubNeuron]:
    """Every pair on two neurons, once with each feature as hub: a false input
    then misfires only when both neurons see a dangerous co-tenant. A hub's
    partners are on together under structured co-activity (they share its
    gates), and two of them on with the hub lift its neuron to 2 on their own:
    caps[h] bounds how many of them one neuron holds with h as hub (leaf_caps;
    default: the limit). `separate`: no hub shares a neuron with a partner of
    the features of its other pairs (pack_stars)."""
    stars = make_stars(pairs)
    partners: dict[int, set[int]] | None = None
    if separate:
        partners = {}
        for a, b in pairs:
            partners.setdefault(a, set()).add(b)
            partners.setdefault(b, set()).add(a)
    return (pack_stars(stars, danger_limit, caps, partners)
            + pack_stars(reverse_stars(stars), danger_limit, caps, partners))


LEAF_SHARE = 0.5  # the share of a pair's error budget leaf_caps gives to its hub's own partners


def _two_or_more(size: int, draws: int, marked: int) -> float:
    """Chance that `draws` distinct features from a pool of `size` hit `marked` ones at least twice."""
    if draws < 2 or size < 1:
        return 0.0
    none, one = _none_or_one(size, min(draws, size), marked, marked)
    return max(1.0 - none - one, 0.0)


def leaf_caps(pairs: list[Monomial], near: dict[Monomial, set[int]], weights: dict[Monomial, np.ndarray],
              target_error: float, s: int) -> dict[int, int]:
    """For every feature, the most leaves a star piece with it as hub may hold:
    with a on and b off, a's piece-mates are in the pair's neighbourhood, and
    two of them drawn there misfire the pair (_neighbourhood_misfires). The
    cap keeps that alone within LEAF_SHARE of the target for every pair of
    the feature, given its neighbourhood's size and what a misfire costs its
    gates."""
    caps: dict[int, int] = {}
    fills = s - 1
    for pair in pairs:
        n_near = len(near.get(pair, ()))
        split = _near_slot_counts(fills, n_near, 1 << 30)
        for cls, hub in ((ON_FIRST, pair[0]), (ON_SECOND, pair[1])):
            cost = weights[pair][cls] if pair in weights else 1.0 / 6.0
            cap = 1  # mates of the pair in a piece of cap leaves: cap - 1
            while cap <= n_near and cost * sum(p * _two_or_more(n_near, k, cap) for k, p in split) \
                    <= LEAF_SHARE * target_error:
                cap += 1
            if cap <= n_near:  # else every partner fits: no cap from this pair
                caps[hub] = min(caps.get(hub, cap), cap)
    return caps


ENUMERATED_FILLS = 20_000  # below this many fill sets a pair's error is enumerated, not estimated
# A pair's misfire rates, by which of its features are on: (a on, b on, neither, both); "both" is
# the overcount (an estimate of 5/3 or more, which flips a gate that subtracts the pair, as OR does)
ON_FIRST, ON_SECOND, NEITHER, BOTH = range(4)
PATTERN_CLASSES = 4
# how far an estimate moves from the value the exact product would give: a misfire reads 1 where the
# product is 0, an overcount 5/3 where it is 1 (one unit of z more, HUB_READ_WEIGHT)
MISFIRE_SHIFT, OVERCOUNT_SHIFT = 1.0, HUB_READ_WEIGHT


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


def _tenants(home: dict[int, HubNeuron], a: int, b: int) -> set[int]:
    """Every feature but a and b that either of the pair's neurons reads."""
    return (home[a].leaves | set(home[a].hubs) | home[b].leaves | set(home[b].hubs)) - {a, b}


def _uniform_misfires(a: int, b: int, home: dict[int, HubNeuron], pool: int, fills: int) -> np.ndarray:
    """(PATTERN_CLASSES,) misfire rates under the uniform fill, closed form for
    large pools: with a on (b off) the pair misfires when one of its fill
    features is another hub of a's neuron, or when its fills give the two
    neurons a sum of 2 or more; symmetrically for b. The pattern with neither
    on needs a hub and another co-tenant of one neuron at once among s random
    features, rare when the pool is large, and is neglected. With both on,
    the s-2 fills overcount when they meet a co-tenant of either neuron."""
    rates = np.zeros(PATTERN_CLASSES)
    for cls, (on, off) in ((ON_FIRST, (a, b)), (ON_SECOND, (b, a))):
        own, other = home[on], home[off]
        hubs = set(own.hubs) - {on}  # another hub lifts the neuron by W >= 2 on its own
        instant = 1.0 - _miss(pool, len(hubs), fills)
        rates[cls] = instant + (1.0 - instant) * misfire(own.leaves - {a, b}, set(other.hubs) - {off},
                                                         pool - len(hubs), fills)
    if fills >= 1:
        rates[BOTH] = 1.0 - _miss(pool, len(_tenants(home, a, b)), fills - 1)
    return rates


@lru_cache(maxsize=1 << 14)
def _near_slot_counts(fills: int, n_near: int, n_far: int) -> tuple[tuple[int, float], ...]:
    """(slots from the neighbourhood, probability) for `fills` free slots
    under the neighbourhood fill (co_activity.split_slots: Binomial(fills,
    NEIGHBOURHOOD_SHARE), moved into range when a part is too small)."""
    counts: dict[int, float] = {}
    for k in range(fills + 1):
        moved = max(min(k, n_near), min(fills - n_far, n_near))
        counts[moved] = counts.get(moved, 0.0) + math.comb(fills, k) * NEIGHBOURHOOD_SHARE ** k * (
            1.0 - NEIGHBOURHOOD_SHARE) ** (fills - k)
    return tuple(sorted(counts.items()))


def _none_or_one(size: int, draws: int, bad: int, leaf: int) -> tuple[float, float]:
    """For `draws` distinct features from a pool of `size`: the chance that
    none lands in the `bad` ones (leaves included), and that exactly one lands
    in the `leaf` ones (a subset of bad) and none in the other bad ones. A
    pool smaller than the draws gives all of it (a tiny program's fills)."""
    draws = min(draws, size)
    total = math.comb(size, draws)
    return (math.comb(size - bad, draws) / total,
            leaf * math.comb(size - bad, draws - 1) / total if draws >= 1 else 0.0)


def _neighbourhood_misfires(a: int, b: int, home: dict[int, HubNeuron], near: set[int], pool: int,
                            fills: int) -> np.ndarray:
    """(PATTERN_CLASSES,) misfire rates under the neighbourhood fill
    (co_activity.py): the free slots split between the pair's neighbourhood
    `near` and the rest of the pool (_near_slot_counts), distinct features
    within each. The neighbourhood holds the hub's own partners, which are its
    neuron's leaves: two of them on with the hub lift it to 2, the misfire
    that the uniform fill almost never draws. As in _uniform_misfires, with a
    on a misfire is another hub of a's neuron, or two of (a leaf of a's neuron
    on, b's neuron woken by one of its hubs); the pattern with neither on is
    neglected. The rates depend only on how many features of each region lie
    in and out of the neighbourhood (_misfire_by_counts)."""
    rates = np.zeros(PATTERN_CLASSES)
    for cls, (on, off) in ((ON_FIRST, (a, b)), (ON_SECOND, (b, a))):
        own, other = home[on], home[off]
        hubs = set(own.hubs) - {on, off}
        leaves, waking = own.leaves - {a, b} - hubs, set(other.hubs) - {off} - hubs
        blocked, lit, lifting = hubs | leaves | waking, leaves - waking, hubs | leaves
        rates[cls] = _misfire_by_counts(len(near), pool, fills, len(blocked & near), len(blocked),
                                        len(lit & near), len(lit), len(lifting & near), len(lifting))
    if fills >= 1:
        tenants = _tenants(home, a, b)
        rates[BOTH] = _overcount_by_counts(len(near), pool, fills - 1, len(tenants & near), len(tenants))
    return rates


@lru_cache(maxsize=1 << 18)
def _misfire_by_counts(n_near: int, pool: int, fills: int, blocked_near: int, blocked: int, lit_near: int,
                       lit: int, lifting_near: int, lifting: int) -> float:
    """_neighbourhood_misfires for one pattern from the region sizes (in the
    neighbourhood, and in all): blocked = hubs, leaves and waking hubs; lit =
    leaves that wake nothing; lifting = hubs and leaves."""
    n_far = max(pool - n_near, 0)
    safe = 0.0
    for k, chance in _near_slot_counts(fills, n_near, n_far):
        q1, l1 = _none_or_one(n_near, k, blocked_near, lit_near)
        q2, l2 = _none_or_one(n_far, fills - k, blocked - blocked_near, lit - lit_near)
        w1 = _none_or_one(n_near, k, lifting_near, 0)[0]  # b's neuron may wake: no leaf or hub of a's
        w2 = _none_or_one(n_far, fills - k, lifting - lifting_near, 0)[0]
        # safe: nothing at all; one leaf alone (no hub, no waking); b's neuron woken with no leaf or hub
        safe += chance * (q1 * q2 + l1 * q2 + q1 * l2 + (w1 * w2 - q1 * q2))
    return 1.0 - min(safe, 1.0)


@lru_cache(maxsize=1 << 16)
def _overcount_by_counts(n_near: int, pool: int, fills: int, tenants_near: int, tenants: int) -> float:
    """Chance that `fills` slots of the neighbourhood fill meet one of the
    pair's co-tenants (`tenants_near` of them in the neighbourhood)."""
    n_far, missed = max(pool - n_near, 0), 0.0
    for k, chance in _near_slot_counts(fills, n_near, n_far):
        missed += chance * (_none_or_one(n_near, k, tenants_near, 0)[0]
                            * _none_or_one(n_far, fills - k, tenants - tenants_near, 0)[0])
    return 1.0 - missed


def _enumerated_misfires(a: int, b: int, home: dict[int, HubNeuron], n_features: int, s: int) -> np.ndarray:
    """(PATTERN_CLASSES,) misfire rates under the uniform fill, exact for small
    pools: every pattern of {a, b} with every set of fill features run through
    the two neurons and the readout."""
    neurons = list(home.values())
    weights = np.zeros((2, n_features))
    for j, neuron in enumerate(neurons):
        weights[j, sorted(neuron.leaves)] = 1.0
        weights[j, neuron.hubs] = float(s)
    others = np.array([f for f in range(n_features) if f not in (a, b)], dtype=np.int64)  # may be empty

    def rate(pattern: tuple[int, ...], shift: float) -> float:
        fills = min(s - len(pattern), others.size)
        if fills < 0:
            return 0.0
        fill_sets = list(combinations(range(others.size), fills))
        combos = np.array(fill_sets, dtype=np.int64).reshape(len(fill_sets), fills)
        pre = weights[:, list(pattern)].sum(axis=1)[None, :] + weights[:, others[combos]].sum(axis=2).T - s
        exact = float(len(pattern) == 2)
        return float((HUB_READ_WEIGHT * np.maximum(pre, 0.0).sum(axis=1) + HUB_READ_BIAS >= exact + shift
                      - 1e-9).mean())

    return np.array([rate((a,), MISFIRE_SHIFT), rate((b,), MISFIRE_SHIFT), rate((), MISFIRE_SHIFT),
                     rate((a, b), OVERCOUNT_SHIFT)])


def pattern_weights(poly: dict[Monomial, float], pair: Monomial, support: list[int], s: int) -> np.ndarray:
    """(PATTERN_CLASSES,) what a misfire of `pair` costs the gate with
    polynomial `poly` (over its `support`, sorted) on its stratified
    distribution: for each class of patterns (which of the pair's features are
    on), the stratified weight of the patterns where the gate's readout flips
    when the pair's estimate is off by a misfire (or, both on, an overcount).
    An AND weighs each false pattern 1/6; an AND-NOT a & !b weighs {a} (its
    only true pattern) 1/2: three times the cost, which a prediction that
    treats every gate as an AND misses."""
    a, b = pair
    patterns = sparse_patterns(support, s)
    values = np.array([sum(c for t, c in poly.items() if set(t) <= set(p)) for p in patterns])
    truth = values > THRESHOLD
    coefficient = poly.get(pair, 0.0)
    weights = np.zeros(PATTERN_CLASSES)
    sides = {side: max(int((truth == side).sum()), 1) for side in (True, False)}
    halves = 2 if truth.any() and not truth.all() else 1
    for pattern, value, true in zip(patterns, values, truth):
        has_a, has_b = a in pattern, b in pattern
        cls = BOTH if has_a and has_b else ON_FIRST if has_a else ON_SECOND if has_b else NEITHER
        shift = OVERCOUNT_SHIFT if cls == BOTH else MISFIRE_SHIFT
        if (value + coefficient * shift > THRESHOLD) != true:
            weights[cls] += 1.0 / (halves * sides[bool(true)])
    return weights


def pair_errors(neurons: list[HubNeuron], n_features: int, s: int,
                weights: dict[Monomial, np.ndarray] | None = None,
                near: dict[Monomial, set[int]] | None = None) -> dict[Monomial, float]:
    """Predicted error of every hosted pair on the stratified distribution,
    computed from the actual neurons: the misfire rate of each pattern class
    (enumerated exactly when the fill sets are few, else in closed form) times
    what it costs the worst gate reading the pair (`weights[pair]`, from
    pattern_weights; default: an AND's). With `near` (each pair's
    neighbourhood, co_activity.py), the worse of the uniform and neighbourhood
    fills."""
    pool, fills = max(n_features - 2, 0), s - 1  # a one-input program has no pairs, and no pool
    enumerate_all = math.comb(pool, min(s, pool)) <= ENUMERATED_FILLS
    default = np.array([1.0, 1.0, 1.0, 0.0]) / 6.0
    result = {}
    for (a, b), home in _pair_homes(neurons).items():
        w = default if weights is None else weights.get((a, b), default)
        rates = (_enumerated_misfires(a, b, home, n_features, s) if enumerate_all
                 else _uniform_misfires(a, b, home, pool, fills))
        error = float(w @ rates)
        if near is not None:
            error = max(error, float(w @ _neighbourhood_misfires(a, b, home, near.get((a, b), set()), pool, fills)))
        result[(a, b)] = error
    return result


def tolerates_thresholding(poly: dict[Monomial, float]) -> bool:
    """A gate with one AND of unit weight (AND, OR, AND-NOT) stays right when its
    AND is read by a shared estimate that is only right after thresholding.
    Others (XOR, atleast, sums of ANDs) need the AND's value: exact neurons."""
    products = [c for t, c in poly.items() if len(t) >= 2]
    return len(products) == 1 and abs(products[0]) == 1.0


def choose_danger_limit(pairs: list[Monomial], target_error: float, n_features: int, s: int,
                        spare_width: int | None = None, weights: dict[Monomial, np.ndarray] | None = None,
                        near: dict[Monomial, set[int]] | None = None, share: float = PREDICTION_SHARE,
                        caps: dict[int, int] | None = None, separate: bool = False, allowed_over: float = 0.0
                        ) -> int:
    """The largest co-tenant limit at which at most `allowed_over` of the
    pairs (none, by default) have a predicted error (pair_errors, with
    `weights` and `near`) above `share` of the target, or, when the width is
    fixed, the smallest limit whose packing fits in it. `caps`, `separate`:
    how stars are packed (pack_pairs)."""
    pack = lambda limit: pack_pairs(pairs, limit, caps, separate)
    if spare_width is not None:
        low, high = 0, 2 * n_features
        if len(pack(high)) > spare_width:
            raise CompileError(f"width is too small: the pair products need more than the {spare_width} "
                               f"neurons left beside the dedicated ones, even when fully shared")
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if len(pack(mid)) <= spare_width else (mid + 1, high)
        return low
    return search_danger_limit(pairs, target_error * share, n_features, s, weights, near, caps, separate,
                               allowed_over)[0]


FIRST_PROBE = 2  # the limit choose_danger_limit's search tries first, doubling from there while it holds


def search_danger_limit(pairs: list[Monomial], aim: float, n_features: int, s: int,
                        weights: dict[Monomial, np.ndarray] | None = None, near: dict[Monomial, set[int]] | None = None,
                        caps: dict[int, int] | None = None, separate: bool = False, allowed_over: float = 0.0,
                        first: int = FIRST_PROBE) -> tuple[int, list[HubNeuron], dict[Monomial, float]]:
    """The largest co-tenant limit at which at most `allowed_over` of the
    pairs have a predicted error above `aim` (choose_danger_limit with a free
    width), with its packing and every pair's predicted error (pair_errors),
    which the search has computed already. It doubles the limit from `first`
    while the limit holds, then bisects; when `first` fails, it bisects below
    it. On a limit that holds everywhere below the answer (the usual case: a
    lower limit gives fewer co-tenants) every `first` finds the same answer,
    and a first probe near it skips the small limits, the slowest to pack
    (every piece is tried against a full window of open neurons)."""
    packed: dict[int, tuple[list[HubNeuron], dict[Monomial, float]]] = {}

    def meets_target(limit: int) -> bool:
        neurons = pack_pairs(pairs, limit, caps, separate)
        packed[limit] = neurons, pair_errors(neurons, n_features, s, weights, near)
        predicted = np.fromiter(packed[limit][1].values(), float)
        return (predicted > aim).sum() <= allowed_over * len(pairs)

    top = 2 * n_features
    if first < top and meets_target(first):
        low, high = first, 2 * first
        while high < top and meets_target(high):
            low, high = high, 2 * high
    else:
        low, high = 1, first
    high = min(high, top)
    while low + 1 < high:
        mid = (low + high) // 2
        low, high = (mid, high) if meets_target(mid) else (low, mid)
    if low not in packed:
        meets_target(low)
    return low, *packed[low]


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


