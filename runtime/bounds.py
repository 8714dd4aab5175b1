"""Sound bounds on gate readouts over sets of sparse boolean inputs.

An input set (`PatternSet`, one per row) pins some features (the support of
a gate: those in `on` are on, the rest of `fixed` off) and lets at most
`free_on` of the other features be on. Every readout of every input in the
set lies within the bounds computed here (up to float32 rounding of the
circuit itself, which the verifier leaves a margin for).

    1. fold      linear layers (an input embedding) are folded into whatever
                 reads them, so h_0 = x and every layer is a ReLU layer.
    2. layer 1   exact per neuron: bias + the pinned features' weights + the sum
                 of the `free_on` largest positive (most negative) weights of
                 the free features. Far tighter than the box [0, 1]^n.
    3. layers 2+ interval propagation.
    4. readout   back-substitution of linear ReLU relaxations down to x (as in
                 CROWN, research/anchors.md section 3), then the exact minimum
                 of that linear function over the set: pinned coefficients plus
                 the `free_on` most negative free ones. The interval readout is
                 sound too; the tighter of the two is kept.
All arithmetic is float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from superpose.network import CompiledCircuit


@dataclass(frozen=True)
class ReluNet:
    """A circuit's gate readouts as an all-ReLU network over x.

    weights[l]: (width_{l+1}, width_l) CSR float64 (width_0 = n_inputs),
    biases[l]: (width_{l+1},); readout[l]: (n_gates, width_l) CSR over h_l,
    readout_bias: (n_gates,).
    """
    weights: list[sp.csr_matrix]
    biases: list[np.ndarray]
    readout: list[sp.csr_matrix]
    readout_bias: np.ndarray

    @property
    def widths(self) -> list[int]:
        return [self.readout[0].shape[1]] + [w.shape[0] for w in self.weights]


def fold(circuit: CompiledCircuit) -> ReluNet:
    """The gate readouts of `circuit` with every linear layer folded away."""
    weights: list[sp.csr_matrix] = []
    biases: list[np.ndarray] = []
    gate_readout = circuit.gate_readout
    widths = circuit.widths
    readout = [gate_readout.layer_matrix(0, widths[0]).astype(np.float64).tocsr()]
    readout_bias = gate_readout.bias.astype(np.float64)
    pending: tuple[sp.csr_matrix, np.ndarray] | None = None  # h_l = A @ (last ReLU layer or x) + a
    for l, layer in enumerate(circuit.layers, start=1):
        weight, bias = layer.weight.astype(np.float64).tocsr(), layer.bias.astype(np.float64)
        if pending is not None:
            weight, bias = (weight @ pending[0]).tocsr(), weight @ pending[1] + bias
        block = gate_readout.layer_matrix(l, widths[l]).astype(np.float64).tocsr()
        if layer.relu:
            weights.append(weight)
            biases.append(bias)
            readout.append(block)
            pending = None
        else:
            readout[-1] = (readout[-1] + block @ weight).tocsr()
            readout_bias = readout_bias + block @ bias
            pending = (weight, bias)
    return ReluNet(weights, biases, readout, readout_bias)


@dataclass(frozen=True)
class PatternSet:
    """Sets of sparse boolean inputs, one per row.

    on: (C, n_inputs) 0/1, pinned on; fixed: (C, n_inputs) 0/1, pinned (on or
    off; includes `on`), both bool arrays or scipy sparse matrices; free_on:
    (C,) int, how many of the features outside `fixed` may be on at once.
    """
    on: np.ndarray
    fixed: np.ndarray
    free_on: np.ndarray


@dataclass(frozen=True)
class ReadoutBounds:
    """lower, upper: (C,) bounds of the readouts; lower_coef, upper_coef:
    (C, n) the linear functions of the features `inputs` (n,) the bounds
    minimise (maximise) over the set; no other feature reaches the readouts.
    The free features with the most negative (positive) coefficients are the
    ones that push the readouts down (up). cone_width: inputs and neurons the
    readouts depend on, the size of the work per set."""
    lower: np.ndarray
    upper: np.ndarray
    lower_coef: np.ndarray
    upper_coef: np.ndarray
    inputs: np.ndarray
    cone_width: int


@dataclass(frozen=True)
class _TopWeights:
    """Each row's K largest positive weights, largest first, padded with zeros.
    values, features: (n, K) (padding feature: n_inputs); prefix: (n, K+1);
    members: (n, n_inputs) CSR, 1 where a feature is in the row's list;
    rest: (n,) the largest weight left out of the list (0 when none is), which
    bounds every weight a set that pins many listed features must fall back on."""
    values: np.ndarray
    features: np.ndarray
    prefix: np.ndarray
    members: sp.csr_matrix
    rest: np.ndarray

    def take(self, rows: np.ndarray, inputs: np.ndarray) -> "_TopWeights":
        """The lists of some rows, over the features `inputs` (sorted, holding
        every listed feature of those rows)."""
        features = np.searchsorted(inputs, self.features[rows])  # the padding becomes len(inputs)
        return _TopWeights(self.values[rows], features, self.prefix[rows], self.members[rows][:, inputs],
                           self.rest[rows])


def _top_weights(weight: sp.csr_matrix, depth: int) -> _TopWeights:
    """The `depth` largest positive weights of every row of weight (n, m)."""
    positive = weight.multiply(weight > 0).tocsr()
    positive.eliminate_zeros()
    rows = np.repeat(np.arange(positive.shape[0]), np.diff(positive.indptr))
    order = np.lexsort((-positive.data, rows))
    rank = np.arange(order.size) - positive.indptr[rows[order]]
    width = int(min(depth, np.diff(positive.indptr).max(initial=0)))
    keep = rank < width
    values = np.zeros((positive.shape[0], width))
    features = np.full((positive.shape[0], width), positive.shape[1], dtype=np.int64)
    values[rows[order][keep], rank[keep]] = positive.data[order][keep]
    features[rows[order][keep], rank[keep]] = positive.indices[order][keep]
    prefix = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1)], axis=1)
    members = sp.csr_matrix((np.ones(int(keep.sum())), (rows[order][keep], positive.indices[order][keep])),
                            shape=positive.shape)
    rest = np.zeros(positive.shape[0])
    rest[rows[order][rank == width]] = positive.data[order][rank == width]
    return _TopWeights(values, features, prefix, members, rest)


def _free_top_sum(top: _TopWeights, inputs: PatternSet) -> np.ndarray:
    """(C, n): for every set and neuron, the sum of the `free_on` largest
    positive weights over the features outside `fixed` (exact while the
    lists are long enough, an upper bound beyond)."""
    n_sets, n_inputs = inputs.fixed.shape
    free_on = np.minimum(inputs.free_on, n_inputs)
    depth = top.values.shape[1]
    total = top.prefix[:, np.minimum(free_on, depth)].T + np.outer(np.maximum(free_on - depth, 0), top.rest)
    # Only neurons with a weight on a pinned feature need their list re-read.
    sets, neurons = (sp.csr_matrix(inputs.fixed.astype(np.float64)) @ top.members.T).nonzero()
    if sets.size:
        padded = np.concatenate([inputs.fixed, np.zeros((n_sets, 1), dtype=bool)], axis=1)
        usable = ~padded[sets[:, None], top.features[neurons]]
        taken = usable & (np.cumsum(usable, axis=1) <= free_on[sets][:, None])
        missing = free_on[sets] - taken.sum(axis=1)
        total[sets, neurons] = (top.values[neurons] * taken).sum(axis=1) + missing * top.rest[neurons]
    return total


@dataclass(frozen=True)
class _Cone:
    """The part of a ReluNet some readout rows can see: the input features
    and, in every ReLU layer, the neurons they depend on, with the weights
    among those.

    inputs: (n_0,) the features; weights[l]: (n_{l+1}, n_l) CSR, positive and
    negative its parts; biases[l]: (n_{l+1},); rows[l]: (C, n_l) the readout
    rows; top_up/top_down: the first layer's sorted weights (of W and -W)."""
    inputs: np.ndarray
    weights: list[sp.csr_matrix]
    positive: list[sp.csr_matrix]
    negative: list[sp.csr_matrix]
    biases: list[np.ndarray]
    rows: list[sp.csr_matrix]
    top_up: _TopWeights
    top_down: _TopWeights


class BoundPropagator:
    """Bounds for one ReluNet. The per-neuron sorted weights of layer 1 are
    computed once, deep enough for exact first-layer bounds on sets with at
    most `max_fixed` pinned features and `max_free_on` free features on;
    sets that pin more get looser, still sound, bounds."""

    def __init__(self, net: ReluNet, max_fixed: int, max_free_on: int):
        self.net = net
        depth = max_fixed + max_free_on
        first = net.weights[0] if net.weights else sp.csr_matrix((0, net.widths[0]))
        self._top_up = _top_weights(first, depth)
        self._top_down = _top_weights(-first, depth)
        self._positive = [w.multiply(w > 0).tocsr() for w in net.weights]
        self._negative = [w.multiply(w < 0).tocsr() for w in net.weights]

    def readout_bounds(self, gates: np.ndarray, inputs: PatternSet) -> ReadoutBounds:
        """Bounds of the readout of gate gates[c] over set c; gates: (C,) int."""
        cone = self._cone(gates)
        # Features outside the cone change nothing but how many others may be on, which free_on holds.
        inputs = PatternSet(_dense_columns(inputs.on, cone.inputs), _dense_columns(inputs.fixed, cone.inputs),
                            inputs.free_on)
        pre = _preactivations(cone, inputs)
        relaxations = [_relax(low, high) for low, high in pre]
        bias = self.net.readout_bias[gates]
        lower_crown, lower_coef = _back_substitute(cone, bias, relaxations, inputs, 1.0)
        upper_crown, upper_coef = _back_substitute(cone, bias, relaxations, inputs, -1.0)
        lower_box, upper_box = _interval_readout(cone, bias, pre, inputs)
        return ReadoutBounds(np.maximum(lower_crown, lower_box), np.minimum(-upper_crown, upper_box),
                             lower_coef, -upper_coef, cone.inputs,
                             cone.inputs.size + sum(w.shape[0] for w in cone.weights))

    def _cone(self, gates: np.ndarray) -> _Cone:
        """Only the neurons the readouts of `gates` depend on (all of them in a
        dense superposed layer; few in an exact circuit)."""
        net = self.net
        full_rows = [block[gates] for block in net.readout]
        keep: list[np.ndarray] = [np.zeros(0, np.int64)] * (len(net.weights) + 1)
        needed = np.unique(full_rows[-1].indices)
        for l in range(len(net.weights), -1, -1):
            keep[l] = needed
            if l > 0:
                needed = np.union1d(full_rows[l - 1].indices, net.weights[l - 1][needed].indices)
        weights, positive, negative = ([m[keep[l + 1]][:, keep[l]] for l, m in enumerate(ms)]
                                       for ms in (net.weights, self._positive, self._negative))
        first_layer = keep[1] if net.weights else np.zeros(0, np.int64)
        return _Cone(keep[0], weights, positive, negative, [b[keep[l + 1]] for l, b in enumerate(net.biases)],
                     [rows[:, keep[l]] for l, rows in enumerate(full_rows)],
                     self._top_up.take(first_layer, keep[0]), self._top_down.take(first_layer, keep[0]))


def _preactivations(cone: _Cone, inputs: PatternSet) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(lower, upper)] of every ReLU layer's pre-activations, each (C, n_l)."""
    if not cone.weights:
        return []
    pinned = (sp.csr_matrix(inputs.on.astype(np.float64)) @ cone.weights[0].T).toarray()
    base = pinned + cone.biases[0]
    bounds = [(base - _free_top_sum(cone.top_down, inputs), base + _free_top_sum(cone.top_up, inputs))]
    for l in range(1, len(cone.weights)):
        low, high = (np.maximum(b, 0.0) for b in bounds[-1])
        positive, negative, bias = cone.positive[l].T, cone.negative[l].T, cone.biases[l]
        bounds.append((_matmul(low, positive) + _matmul(high, negative) + bias,
                       _matmul(high, positive) + _matmul(low, negative) + bias))
    return bounds


def _back_substitute(cone: _Cone, bias: np.ndarray, relaxations: list["_Relaxation"], inputs: PatternSet,
                     sign: float) -> tuple[np.ndarray, np.ndarray]:
    """A lower bound (C,) of sign * (sum_l rows[l] . h_l + bias), and the
    coefficients (C, n_inputs) on x of the linear function it minimises."""
    coef = sign * cone.rows[-1].toarray()
    const = sign * bias
    for l in range(len(cone.weights), 0, -1):
        through, offset = relaxations[l - 1].lower_bound(coef)
        const = const + offset + through @ cone.biases[l - 1]
        coef = _matmul(through, cone.weights[l - 1])
        if cone.rows[l - 1].nnz:
            coef += sign * cone.rows[l - 1].toarray()
    return const + minimum_over(coef, inputs), coef


def _interval_readout(cone: _Cone, bias: np.ndarray, pre: list[tuple[np.ndarray, np.ndarray]],
                      inputs: PatternSet) -> tuple[np.ndarray, np.ndarray]:
    """Readout bounds from the interval of every neuron (the x part exact)."""
    direct = cone.rows[0].toarray()
    lower, upper = bias + minimum_over(direct, inputs), bias - minimum_over(-direct, inputs)
    for row, (low, high) in zip(cone.rows[1:], pre):
        if row.nnz:
            low, high = np.maximum(low, 0.0), np.maximum(high, 0.0)
            positive, negative = row.maximum(0.0), row.minimum(0.0)
            lower += _row_sums(positive.multiply(low)) + _row_sums(negative.multiply(high))
            upper += _row_sums(positive.multiply(high)) + _row_sums(negative.multiply(low))
    return lower, upper


def _dense_columns(matrix: np.ndarray | sp.spmatrix, columns: np.ndarray) -> np.ndarray:
    """(C, len(columns)) bool: some columns of a 0/1 matrix."""
    return sp.csr_matrix(matrix)[:, columns].toarray() != 0


def _row_sums(matrix: sp.spmatrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=1)).ravel()


def _matmul(dense: np.ndarray, matrix: sp.spmatrix) -> np.ndarray:
    """dense (C, a) @ matrix (a, b) -> (C, b) C-ordered ndarray, the sparse matrix on the left."""
    return np.ascontiguousarray((matrix.T @ dense.T).T)


@dataclass(frozen=True)
class _Relaxation:
    """ReLU(z) for z in [low, high], over (C, w) neurons: exact where stable
    (`slope` 1 when active, 0 when off); on the unstable ones (flat indices
    `unstable`) the chord `chord` * z + `offset` above, and `below` * z
    beneath (0 or z, whichever hugs the interval more)."""
    slope: np.ndarray
    unstable: np.ndarray
    chord: np.ndarray
    offset: np.ndarray
    below: np.ndarray

    def lower_bound(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """coef: (C, w) -> (slopes, offsets): coef . ReLU(z) >= slopes . z + offsets,
        slopes (C, w), offsets (C,)."""
        through = np.ascontiguousarray(coef * self.slope)  # C order: ravel() below must be a view
        picked = coef.ravel()[self.unstable]
        above = picked < 0  # a negative coefficient needs ReLU's upper bound
        through.ravel()[self.unstable] = picked * np.where(above, self.chord, self.below)
        offset = np.bincount(self.unstable // max(coef.shape[1], 1),
                             weights=np.where(above, picked * self.offset, 0.0), minlength=coef.shape[0])
        return through, offset


def _relax(low: np.ndarray, high: np.ndarray) -> _Relaxation:
    unstable = np.flatnonzero((low < 0) & (high > 0))
    lo, hi = low.ravel()[unstable], high.ravel()[unstable]
    chord = hi / (hi - lo)
    return _Relaxation((low >= 0).astype(np.float64), unstable, chord, -lo * chord, (hi > -lo).astype(np.float64))


def minimum_over(coef: np.ndarray, inputs: PatternSet) -> np.ndarray:
    """(C,) the exact minimum of coef[c] . x over the inputs x of set c."""
    pinned = (coef * inputs.on).sum(axis=1)
    free = np.where(inputs.fixed, 0.0, np.minimum(coef, 0.0))
    n_inputs = coef.shape[1]
    free_on = np.minimum(inputs.free_on, n_inputs)
    depth = int(free_on.max(initial=0))
    if depth == 0:
        return pinned
    smallest = free if depth >= n_inputs else np.partition(free, depth - 1, axis=1)[:, :depth]
    smallest = np.sort(smallest, axis=1)
    prefix = np.concatenate([np.zeros((coef.shape[0], 1)), np.cumsum(smallest, axis=1)], axis=1)
    return pinned + prefix[np.arange(coef.shape[0]), free_on]
