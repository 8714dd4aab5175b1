"""Light hub neurons: pairwise ANDs on neurons that read every feature with
weight 1, for inputs in superposition.

A light hub neuron reads a set S of at most k features, each with weight 1,
bias -1:  z = ReLU(#(S on) - 1).  It is silent with one feature of S on and
fires when two are, so it hosts every pair of S that a gate needs (pieces of
the stars of hub_packing.make_stars, first-fit into neurons of k features).
Reading the hub with weight 1 rather than s (hub_packing's hub neurons) is
what keeps it usable when the inputs arrive through a d0-dimensional code:
every active feature c outside S leaks <v, e_c> into a neuron with code
weights v, with spread about sqrt(sum w^2 / d0), so a weight-s hub multiplies
the leak of its whole neuron (sum w^2 >= s^2). The price: a pair has one home
(no second neuron to veto a misfire) and any two features of S on fire it,
which k bounds.

Each neuron reads the code through zero-forced weights
(embeddings.zero_forced_rows): its own features count exactly 1, and what is
left is the leak of the features outside S, measured on the actual code. Its
mean and spread give each neuron's predicted pair error on the stratified
distribution (a Gaussian leak per random fill, a fill inside S a misfire) and
its readout threshold tau in z, placed where that error is smallest: a false
input with one feature on carries one more fill, so more leak, than the true
pair, and tau settles above 1/2.

Structured co-activity (co_activity.py's neighbourhood fill: features that
share a gate with a pair's are on with it far more often than at random) asks
two more things, given each pair's neighbourhood (`near`): no neuron holds a
feature of a pair's neighbourhood beside the pair (any two features fire it,
so a partner c of a would make {a, c} read as (a, b)): a neuron hosts a
matching, k / 2 pairs; and through a code each neuron reads those of its
pairs' neighbours that leak much into it at a forced weight 0, so the few
features drawn beside a pair most often do not add a large fixed leak to it. What the prediction still misses is
measured on the compiled weights and repaired (lower_light_hub.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

from superpose.compiler.embeddings import zero_forced_rows
from superpose.compiler.errors import CompileError
from superpose.compiler.hub_packing import FIRST_FIT_WINDOW, HubNeuron, make_stars
from superpose.compiler.lowering import csr_from_rows
from superpose.compiler.multilinear import Monomial
from superpose.network import THRESHOLD

MAX_FEATURES_PER_NEURON = 256  # beyond this a neuron misfires on most inputs of any program worth packing
# readout thresholds tried, in z units between hub alone (0) and the pair (1); nearest 1/2 first, so a
# neuron without leak (uncompressed inputs: the error is flat in tau) keeps the symmetric 1/2
THRESHOLDS = sorted(np.linspace(0.05, 0.95, 91), key=lambda tau: (abs(tau - 0.5), tau))
LEAK_CHUNK = 512  # neurons whose leak over every feature is computed at once: (512, m) dense
# a neighbour of a neuron's pairs is read at a forced weight 0 when its leak into the neuron exceeds this (z
# units: 1 between the hub alone and the pair). Measured (uand-2k, 2 features per dimension, 5% level, target
# 3.33%, max error within 5% under both fills in each case): silencing every neighbour 2.99 gates per neuron,
# those above 0.2 the same, above 0.35 3.96, above 0.5 3.88, none 3.77; at the 1% level (1.5 features per
# dimension) 1.99 to 2.00 in every case (uniform misfires bound k there)
SILENCE_LEAK = 0.35


@dataclass(frozen=True)
class LightPlan:
    """A packing and what is predicted of it: the neurons, each one's readout
    threshold tau (z units) and predicted pair error, and the leak of the
    features outside each neuron (mean and standard deviation per fill)."""
    features_per_neuron: int
    neurons: list[HubNeuron]
    thresholds: np.ndarray     # (n_neurons,)
    errors: np.ndarray         # (n_neurons,) predicted error of every pair the neuron hosts
    leak_mean: np.ndarray      # (n_neurons,)
    leak_std: np.ndarray       # (n_neurons,)
    silenced: list[set[int]] | None = None  # per neuron, features read at weight 0 (light_rows); None: none


def neuron_features(neuron: HubNeuron) -> list[int]:
    """The features a light hub neuron reads (hubs and leaves alike: weight 1)."""
    return sorted(set(neuron.hubs) | neuron.leaves)


def pack_light(pairs: list[Monomial], features_per_neuron: int,
               near: dict[Monomial, set[int]] | None = None) -> list[HubNeuron]:
    """Every pair on one neuron of at most `features_per_neuron` features.

    Without `near`: stars split into pieces of k - 1 leaves, largest first,
    each into the first recent neuron whose feature set stays within k with it.

    With `near` (pair -> its neighbourhood, co_activity: the inputs a user
    turns on together with it), neurons keep their pairs apart: a pair joins a
    neuron only when none of the neuron's features is one of its own or in its
    neighbourhood. A light hub fires on any two of its features, so a pair
    (a, b) beside a partner c of a (c is in the neighbourhood of (a, b)) reads
    true on {a, c}, which the neighbourhood fill draws for about one false
    input in |neighbourhood| (a gate error of several percent, measured:
    tests/test_light_hub.py). A neuron then hosts a matching: k / 2 pairs."""
    k = features_per_neuron
    if near is None:
        pieces = [(hub, leaves[i:i + k - 1]) for hub, leaves in make_stars(pairs) for i in range(0, len(leaves), k - 1)]
        pieces.sort(key=lambda piece: (-len(piece[1]), piece[0]))
    else:
        pieces = [(a, [b]) for a, b in sorted(pairs)]
    neurons: list[HubNeuron] = []
    open_neurons: list[tuple[HubNeuron, set[int]]] = []
    for hub, leaves in pieces:
        apart = set() if near is None else near[(hub, leaves[0])] | {hub, leaves[0]}
        for neuron, features in open_neurons[-FIRST_FIT_WINDOW:]:
            if len(features.union(leaves, (hub,))) <= k and features.isdisjoint(apart):
                break
        else:
            neuron, features = HubNeuron(), set()
            neurons.append(neuron)
            open_neurons.append((neuron, features))
        neuron.hubs.append(hub)
        neuron.leaves.update(leaves)
        neuron.pairs.extend(tuple(sorted((hub, leaf))) for leaf in leaves)
        features.update(leaves, (hub,))
        if len(features) >= k - 1:  # room for one feature at most: close it, so first fit stays fast
            open_neurons.remove((neuron, features))
    return neurons


def light_rows(neurons: list[HubNeuron], silenced: list[set[int]] | None = None) -> list[dict[int, float]]:
    """Feature weights of the light hub neurons: 1 on every feature (bias -1),
    and 0, stated, on the `silenced` features of each (None: none): read
    through zero-forced code weights, a stated 0 is forced like a 1, so those
    features leak nothing into the neuron."""
    rows = [{f: 1.0 for f in neuron_features(neuron)} for neuron in neurons]
    for row, quiet in zip(rows, silenced or []):
        row.update((f, 0.0) for f in sorted(quiet) if f not in row)
    return rows


def silenced_neighbourhoods(neurons: list[HubNeuron], near: dict[Monomial, set[int]], embedding: np.ndarray
                            ) -> list[set[int]]:
    """Per neuron, the features of its pairs' neighbourhoods that leak more
    than SILENCE_LEAK into it when it reads only its own features: the
    neighbourhood fill turns those on beside a pair, each a fixed leak that a
    gate would meet on a large share of its inputs (a random fill meets a
    random leak). Silenced (light_rows), they leak nothing. Silencing costs:
    every forced weight is a constraint on the neuron's code weights, whose
    norm, so the leak of every other feature, grows with them."""
    n_features = embedding.shape[1]
    leak = zero_forced_rows(csr_from_rows(light_rows(neurons), n_features), embedding) @ embedding  # (n, m)
    return [{c for c in set().union(*(near[pair] for pair in neuron.pairs)) if abs(leak[j, c]) > SILENCE_LEAK}
            for j, neuron in enumerate(neurons)]


def leak_moments(feature_weights: sp.csr_matrix, embedding: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(n,) mean and (n,) standard deviation of the leak <v_j, e_c> of one
    active feature c outside neuron j's features into it (v_j: the zero-forced
    code weights), over every such c, measured on the actual code. Zero
    without an embedding (features are read exactly)."""
    n, m = feature_weights.shape
    if embedding is None:
        return np.zeros(n), np.zeros(n)
    code = zero_forced_rows(feature_weights, embedding).astype(np.float64)
    embedding = embedding.astype(np.float64)
    means, stds = np.zeros(n), np.zeros(n)
    for start in range(0, n, LEAK_CHUNK):
        leak = code[start:start + LEAK_CHUNK] @ embedding
        outside = feature_weights[start:start + LEAK_CHUNK].toarray() == 0
        count = outside.sum(axis=1)
        means[start:start + LEAK_CHUNK] = np.where(outside, leak, 0.0).sum(axis=1) / count
        centred = np.where(outside, leak - means[start:start + LEAK_CHUNK, None], 0.0)
        stds[start:start + LEAK_CHUNK] = np.sqrt((centred ** 2).sum(axis=1) / count)
    return means, stds


def _exceeds(level: np.ndarray, fills: int, hit: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """P(sum of `fills` random fills > level), (n, len(thresholds)): each fill
    lands inside the neuron (adds 1) with probability `hit`, else adds a leak
    N(mean, std^2); level (n, t)."""
    total = np.zeros_like(level)
    for inside in range(fills + 1):
        weight = math.comb(fills, inside) * hit ** inside * (1.0 - hit) ** (fills - inside)
        outside = fills - inside
        if outside == 0:
            tail = (level < inside).astype(np.float64)
        else:
            spread = np.maximum(std * math.sqrt(outside), 1e-12)[:, None]
            tail = ndtr((inside + outside * mean[:, None] - level) / spread)
        total += weight[:, None] * tail
    return total


def predicted_errors(sizes: np.ndarray, mean: np.ndarray, std: np.ndarray, n_features: int, s: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's best readout threshold and its predicted pair error there,
    (n,) and (n,), on the stratified distribution of an AND of two of its
    features (a, b) at sparsity s: half true ({a, b} and s - 2 fills: z = 1 +
    leak), half false ({a} or {b} with s - 1 fills: z = leak; neither, s
    fills: z = leak - 1, each a third). sizes: (n,) features per neuron."""
    taus = np.asarray(THRESHOLDS)[None, :]
    hit = (sizes - 2) / max(n_features - 2, 1)
    tau = np.broadcast_to(taus, (sizes.size, taus.shape[1]))
    missed = 1.0 - _exceeds(tau - 1.0, s - 2, hit, mean, std) if s >= 2 else np.zeros_like(tau)
    false_one = _exceeds(tau, s - 1, hit, mean, std)
    false_none = _exceeds(tau + 1.0, s, hit, mean, std)
    error = 0.5 * (missed + (2.0 * false_one + false_none) / 3.0)
    best = error.argmin(axis=1)
    return taus[0, best], error[np.arange(sizes.size), best]


def plan_light(pairs: list[Monomial], features_per_neuron: int, n_features: int, s: int,
               embedding: np.ndarray | None, near: dict[Monomial, set[int]] | None = None) -> LightPlan:
    """Pack the pairs k features to a neuron (pack_light, apart from their
    neighbourhoods when `near` is given) and predict every neuron on the actual code."""
    return predict_light(pack_light(pairs, features_per_neuron, near), features_per_neuron, n_features, s, embedding,
                         near)


def predict_light(neurons: list[HubNeuron], features_per_neuron: int, n_features: int, s: int,
                  embedding: np.ndarray | None, near: dict[Monomial, set[int]] | None = None) -> LightPlan:
    """The plan of packed neurons: every neuron's leak measured on the actual
    code (with the neighbourhoods of its pairs silenced when `near` is given
    and the inputs are coded), its readout threshold and predicted pair error
    (predicted_errors). Also what a repair calls after moving pairs (lower_light_hub)."""
    silenced = None if near is None or embedding is None else silenced_neighbourhoods(neurons, near, embedding)
    weights = csr_from_rows(light_rows(neurons, silenced), n_features)
    mean, std = leak_moments(weights, embedding)
    sizes = np.array([len(neuron_features(neuron)) for neuron in neurons], dtype=np.float64)
    thresholds, errors = predicted_errors(sizes, mean, std, n_features, s)
    return LightPlan(features_per_neuron, neurons, thresholds, errors, mean, std, silenced)


def choose_light_plan(pairs: list[Monomial], target_error: float, n_features: int, s: int,
                      embedding: np.ndarray | None, spare_width: int | None = None,
                      near: dict[Monomial, set[int]] | None = None) -> LightPlan:
    """The plan with the most features per neuron whose predicted worst pair
    is within the target, or, when the width is fixed, the fewest features
    per neuron (least leak) whose packing fits in it. Two features per neuron
    (one pair each) is the floor: its plan is returned even when it misses."""
    ceiling = min(MAX_FEATURES_PER_NEURON, n_features if embedding is None else embedding.shape[0])
    ceiling = max(ceiling, 2)
    if spare_width is not None:
        if len(pack_light(pairs, ceiling, near)) > spare_width:
            raise CompileError(f"width is too small: the pair products need more than the {spare_width} neurons "
                               f"left beside the dedicated ones, even at {ceiling} features per neuron")
        low, high = 2, ceiling
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if len(pack_light(pairs, mid, near)) <= spare_width else (mid + 1, high)
        return plan_light(pairs, low, n_features, s, embedding, near)
    best = plan_light(pairs, 2, n_features, s, embedding, near)
    if best.errors.max(initial=0.0) > target_error:
        return best
    # the largest k within the target: double until one fails, then bisect
    high = 4
    while True:
        plan = plan_light(pairs, min(high, ceiling), n_features, s, embedding, near)
        if plan.errors.max(initial=0.0) > target_error:
            break
        best = plan
        if high >= ceiling:
            return best
        high *= 2
    low, high = best.features_per_neuron, min(high, ceiling)
    while low + 1 < high:
        mid = (low + high) // 2
        plan = plan_light(pairs, mid, n_features, s, embedding, near)
        if plan.errors.max(initial=0.0) <= target_error:
            best, low = plan, mid
        else:
            high = mid
    return best


def light_layer(plan: LightPlan) -> tuple[list[dict[int, float]], list[float], dict[Monomial, list[tuple[int, float]]]]:
    """Feature weights and biases of the plan's neurons, and how each pair is
    read: z_j * THRESHOLD / tau_j, above THRESHOLD exactly when z_j > tau_j."""
    estimate = {pair: [(j, THRESHOLD / float(plan.thresholds[j]))]
                for j, neuron in enumerate(plan.neurons) for pair in neuron.pairs}
    return light_rows(plan.neurons, plan.silenced), [-1.0] * len(plan.neurons), estimate
