"""Probe inputs of the deep lowering: structured co-activity, measured as layers are built.

A gate's test distribution (runtime.sampling) puts the features of its own
support on in its own patterns and fills the remaining active slots with
unrelated features. The deep lowering decides every level on such inputs:
`RegionProbes` takes patterns of at most s of each region's inputs (regions:
connected parts of the circuit), as many of every region as fit a row budget
(a random sample of each, the empty pattern kept), or, when too few would
fit, every pattern of a random sample of regions; fills each up to s active
features with random inputs of other regions (`fills` times,
independently); and keeps the activations of the last layer built so that
every candidate layer is measured on the actual weights in one more layer
pass. `OwnRegionReads` reads every signal on its own region's rows and
counts its errors as the report's stratified rule does, for all signals at
once (a region per loop took most of a level's time at T = 2,000).
"""
from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import scipy.sparse as sp

from superpose.compiler.ir import Circuit
from superpose.compiler.lowering import csr_entries
from superpose.compiler.packed_truth import packed_truth
from superpose.network import THRESHOLD, Layer

FORWARD_CHUNK = 8192  # probe rows of one sparse product in forward (bounds W h, which ReLU mostly deletes)
ROUNDING = 1e-6  # float error of a read summed from a few clips


def _region_patterns(inputs: list[int], s: int, most: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Every pattern of at most s of `inputs` on, or `most` random ones (each
    size drawn with probability proportional to its count) when there are more."""
    count = sum(comb(len(inputs), r) for r in range(s + 1))
    if count <= most:
        return [p for r in range(s + 1) for p in combinations(inputs, r)]
    sizes = rng.choice(s + 1, size=most, p=np.array([comb(len(inputs), r) for r in range(s + 1)]) / count)
    return [tuple(sorted(rng.choice(inputs, size=r, replace=False).tolist())) for r in sizes]


def _capped(patterns: list[tuple[int, ...]], cap: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """`patterns`, or `cap` of them at random (the empty pattern always kept: it is every gate's off state)."""
    if len(patterns) <= cap:
        return patterns
    rest = [p for p in patterns if p]
    keep = np.sort(rng.choice(len(rest), size=cap - 1, replace=False))
    return [()] + [rest[i] for i in keep.tolist()]


class RegionProbes:
    """Probe rows of every region (or a sample of regions), and the activations of the last layer.

    inputs: (n, n_inputs) CSR; region, pattern: (n,) int, the probed region
    and pattern index of every row; activation: (n, width) CSR of the last layer.
    """

    def __init__(self, circuit: Circuit, region_inputs: dict[int, list[int]], most_rows: int, most_patterns: int,
                 fills: int, least_patterns: int, rng: np.random.Generator):
        s, m = circuit.sparsity, circuit.n_inputs
        patterns = {r: _region_patterns(ins, s, most_patterns, rng) for r, ins in region_inputs.items()}
        # every region, each with at most `cap` of its patterns (a random sample), the largest cap whose rows
        # fit (at most most_patterns); when that is under least_patterns, a random sample of regions with all of theirs
        sizes = np.array([len(p) for p in patterns.values()])
        cap = max((c for c in range(least_patterns, most_patterns + 1)
                   if np.minimum(sizes, c).sum() * fills <= most_rows), default=0)
        every = cap >= least_patterns
        if every:
            patterns = {r: _capped(p, cap, rng) for r, p in patterns.items()}
        picked, total = [], 0
        for r in rng.permutation(sorted(region_inputs)).tolist():  # random regions while the rows fit
            if not every and total + len(patterns[r]) * fills > most_rows and picked:
                break
            picked.append(r)
            total += len(patterns[r]) * fills
        picked.sort()
        rows, region, pattern = [], [], []
        for r in picked:
            others = np.setdiff1d(np.arange(m), region_inputs[r])
            for index, on in enumerate(patterns[r]):
                fill = min(s - len(on), others.size)
                for _ in range(fills if fill else 1):
                    rows.append(list(on) + rng.choice(others, size=fill, replace=False).tolist())
                    region.append(r)
                    pattern.append(index)
        indptr = np.cumsum([0] + [len(r) for r in rows])
        columns = np.fromiter((i for r in rows for i in r), np.int64, int(indptr[-1]))
        self.inputs = sp.csr_matrix((np.ones(columns.size, np.float32), columns, indptr), shape=(len(rows), m))
        self.regions = picked
        self.region = np.asarray(region, dtype=np.int64)
        self.pattern = np.asarray(pattern, dtype=np.int64)
        self.activation = self.inputs
        self._true_signals: sp.csr_matrix | None = None
        self._circuit = circuit

    @property
    def n(self) -> int:
        return self.inputs.shape[0]

    def true_signals(self) -> sp.csr_matrix:
        """(n, n_signals) bool CSR: every signal true on every probe row
        (few per row: wires are sparse), evaluated once (packed_truth)."""
        if self._true_signals is None:
            self._true_signals = packed_truth(self._circuit, self.inputs)
        return self._true_signals

    def forward(self, layer: Layer) -> sp.csr_matrix:
        """The next layer's ReLU activations on the probe rows, (n, layer.width)
        CSR (mostly zero), computed sparse: a unit no active input reaches is
        ReLU(b), 0 unless its bias is positive, and only those units are dense."""
        weight_t = layer.weight.T.tocsr()
        positive = layer.bias > 0
        columns = np.flatnonzero(positive)
        parts = []
        for start in range(0, self.n, FORWARD_CHUNK):  # in chunks: W h has far more entries than ReLU(W h + b)
            below = self.activation[start:start + FORWARD_CHUNK]
            z = (below @ weight_t).tocsr()  # W h, no bias
            z.data += layer.bias[z.indices]
            z.data[positive[z.indices]] = 0.0  # positive-bias units are added densely below
            np.maximum(z.data, 0.0, out=z.data)
            z.eliminate_zeros()
            if columns.size:
                block = np.maximum((below @ layer.weight[columns].T).toarray() + layer.bias[columns], 0.0)
                rows, at = np.nonzero(block)
                z = z + sp.csr_matrix((block[rows, at], (rows, columns[at])), shape=z.shape)
            parts.append(z.astype(np.float32))
        return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, layer.width), dtype=np.float32)

    def advance(self, activation: sp.csr_matrix) -> None:
        """Keep `activation` (from forward) as the last layer's."""
        self.activation = activation


def _within(counts: np.ndarray) -> np.ndarray:
    """(counts.sum(),) each item's position inside its group, for groups of these sizes laid end to end."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


class OwnRegionReads:
    """The watched signals of a level, each read on its own region's probe
    rows only: every (row, column) pair whose column's region is the row's,
    with the interpreter's value there. pair_row, pair_col, truth: (n_pairs,);
    key: (n_pairs,) each pair's (column, pattern) bin; count, sides: per
    (column, pattern) bin, its pairs and which side of the truth it is on,
    none of which depends on a candidate level, so they are built once."""

    def __init__(self, probes: RegionProbes, watched: list[int], regions: np.ndarray):
        """watched: signals (columns); regions: (len(watched),) region of each."""
        order = np.argsort(regions, kind="stable")
        start = np.searchsorted(regions[order], probes.region, "left")    # (n,) each row's first own column
        counts = np.searchsorted(regions[order], probes.region, "right") - start
        self.pair_row = np.repeat(np.arange(probes.n), counts)
        self.pair_col = order[np.repeat(start, counts) + _within(counts)]
        signals = np.asarray(watched, dtype=np.int64)
        self.truth = csr_entries(probes.true_signals(), self.pair_row, signals[self.pair_col]).astype(bool)
        self.n_cols = len(watched)
        n_patterns = int(probes.pattern.max(initial=-1)) + 1
        self.key = self.pair_col * n_patterns + probes.pattern[self.pair_row]
        size = self.n_cols * n_patterns
        self.count = np.bincount(self.key, minlength=size).reshape(self.n_cols, n_patterns)
        true = np.bincount(self.key, self.truth, size).reshape(self.n_cols, n_patterns) > 0
        self.sides = (true & (self.count > 0), ~true & (self.count > 0))  # a side with no pattern adds 0

    def values(self, activation: sp.csr_matrix, readout: sp.csr_matrix, constant: np.ndarray) -> np.ndarray:
        """(n_pairs,) every pair's value: activation (n, width) CSR of the
        layer, readout (n_cols, width) CSR and constant (n_cols,) of each column."""
        readout = readout.tocsr()
        counts = np.diff(readout.indptr)[self.pair_col]
        at = np.repeat(readout.indptr[self.pair_col], counts) + _within(counts)  # every term of every pair
        terms = csr_entries(activation, np.repeat(self.pair_row, counts), readout.indices[at]) * readout.data[at]
        pair_of_term = np.repeat(np.arange(self.pair_row.size), counts)
        return np.bincount(pair_of_term, terms, self.pair_row.size) + constant[self.pair_col]

    def errors(self, values: np.ndarray, tolerance: float | None = None) -> np.ndarray:
        """(n_cols,) per column, (false-negative rate + false-positive rate) / 2
        with every pattern weighted equally on its side: the report's
        stratified error, a value counting as wrong on the wrong side of
        THRESHOLD as the report reads it, or, given a `tolerance`, when it is
        that far from the truth or farther: a read one stray host off is
        at the tolerance of the clips reading it, and two such reads into
        one clip exceed it."""
        if tolerance is None:
            wrong = (values > THRESHOLD) != self.truth
        else:
            wrong = np.abs(values - self.truth) >= tolerance - ROUNDING
        rate = np.bincount(self.key, wrong, self.count.size).reshape(self.count.shape) / np.maximum(self.count, 1)
        errors = np.zeros(self.n_cols)
        for side in self.sides:
            patterns = side.sum(axis=1)
            errors += np.where(patterns > 0, (rate * side).sum(axis=1) / np.maximum(patterns, 1), 0.0)
        return errors / 2
