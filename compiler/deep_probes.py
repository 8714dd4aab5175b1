"""Probe inputs of the deep lowering: structured co-activity, measured as layers are built.

A gate's test distribution (runtime.sampling) puts the features of its own
support on in its own patterns and fills the remaining active slots with
unrelated features. The deep lowering decides every level on such inputs:
`RegionProbes` draws regions (connected parts of the circuit) while their
rows fit a budget (every region, in a small circuit), takes
every pattern of at most s of each region's inputs (or a sample when there
are too many), fills each up to s active features with random inputs of other
regions (`fills` times, independently), and keeps the activations of the last layer built so that every
candidate layer is measured on the actual weights in one more layer pass.
"""
from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import scipy.sparse as sp

from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit
from superpose.network import THRESHOLD, Layer

ROW_CHUNK = 1024  # probe rows evaluated by the interpreter at a time (bounds the dense block)


def _region_patterns(inputs: list[int], s: int, most: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Every pattern of at most s of `inputs` on, or `most` random ones (each
    size drawn with probability proportional to its count) when there are more."""
    count = sum(comb(len(inputs), r) for r in range(s + 1))
    if count <= most:
        return [p for r in range(s + 1) for p in combinations(inputs, r)]
    sizes = rng.choice(s + 1, size=most, p=np.array([comb(len(inputs), r) for r in range(s + 1)]) / count)
    return [tuple(sorted(rng.choice(inputs, size=r, replace=False).tolist())) for r in sizes]


class RegionProbes:
    """Probe rows of a few regions, their truth, and the activations of the last layer.

    inputs: (n, n_inputs) CSR; region, pattern: (n,) int, the probed region
    and pattern index of every row; activation: (n, width) CSR of the last layer.
    """

    def __init__(self, circuit: Circuit, region_inputs: dict[int, list[int]], most_rows: int, most_patterns: int,
                 fills: int, rng: np.random.Generator):
        s, m = circuit.sparsity, circuit.n_inputs
        patterns = {r: _region_patterns(ins, s, most_patterns, rng) for r, ins in region_inputs.items()}
        picked, total = [], 0
        for r in rng.permutation(sorted(region_inputs)).tolist():  # random regions while the rows fit
            if total + len(patterns[r]) * fills > most_rows and picked:
                break
            picked.append(r)
            total += len(patterns[r]) * fills
        picked.sort()
        rows, region, pattern = [], [], []
        for r in picked:
            own = set(region_inputs[r])
            others = np.array([i for i in range(m) if i not in own], dtype=np.int64)
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
        self.watch: list[int] = []  # the signals truth() may be asked for
        self._truth: np.ndarray | None = None
        self._true_signals: sp.csr_matrix | None = None
        self._circuit = circuit

    @property
    def n(self) -> int:
        return self.inputs.shape[0]

    def truth(self, signals: list[int]) -> np.ndarray:
        """(n, len(signals)) bool: the interpreter's value of every signal on
        every probe row. The first call evaluates the circuit once for every
        signal of `watch` (set it first): later calls only select columns."""
        if self._truth is None:
            self._truth = np.zeros((self.n, len(self.watch)), dtype=bool)
            for start in range(0, self.n, ROW_CHUNK):
                rows = self.inputs[start:start + ROW_CHUNK].toarray()
                self._truth[start:start + ROW_CHUNK] = evaluate(self._circuit, rows)[:, self.watch]
        column = {v: i for i, v in enumerate(self.watch)}
        return self._truth[:, [column[v] for v in signals]]

    def true_signals(self) -> sp.csr_matrix:
        """(n, n_signals) bool CSR: every signal true on every probe row
        (few per row: wires are sparse), evaluated once."""
        if self._true_signals is None:
            blocks = []
            for start in range(0, self.n, ROW_CHUNK):
                blocks.append(sp.csr_matrix(evaluate(self._circuit, self.inputs[start:start + ROW_CHUNK].toarray())))
            self._true_signals = sp.vstack(blocks, format="csr")
        return self._true_signals

    def forward(self, layer: Layer) -> sp.csr_matrix:
        """The next layer's ReLU activations on the probe rows, (n, layer.width)
        CSR (mostly zero), computed sparse: a unit no active input reaches is
        ReLU(b), 0 unless its bias is positive, and only those units are dense."""
        z = (self.activation @ layer.weight.T.tocsr()).tocsr()  # (n, width) W h, no bias
        positive = layer.bias > 0
        z.data += layer.bias[z.indices]
        z.data[positive[z.indices]] = 0.0  # positive-bias units are added densely below
        np.maximum(z.data, 0.0, out=z.data)
        z.eliminate_zeros()
        if positive.any():
            columns = np.flatnonzero(positive)
            block = np.maximum((self.activation @ layer.weight[columns].T).toarray() + layer.bias[columns], 0.0)
            rows, at = np.nonzero(block)
            z = z + sp.csr_matrix((block[rows, at], (rows, columns[at])), shape=z.shape)
        return z.astype(np.float32)

    def advance(self, activation: sp.csr_matrix) -> None:
        """Keep `activation` (from forward) as the last layer's."""
        self.activation = activation


def stratified_errors(values: np.ndarray, truth: np.ndarray, pattern: np.ndarray,
                      tolerance: float | None = None) -> np.ndarray:
    """Per column, (false-negative rate + false-positive rate) / 2 with every
    pattern weighted equally on its side: the report's stratified error, a
    value counting as wrong on the wrong side of THRESHOLD as the report
    reads it, or, given a `tolerance`, when it is more than that away from
    the truth. values, truth: (n, k) over rows of one region; pattern: (n,) int."""
    wrong = (values > THRESHOLD) != truth if tolerance is None else np.abs(values - truth) > tolerance
    errors = np.zeros(truth.shape[1])
    n_patterns = int(pattern.max(initial=-1)) + 1
    counts = np.maximum(np.bincount(pattern, minlength=n_patterns), 1)
    for j in range(truth.shape[1]):
        rate = np.bincount(pattern, wrong[:, j], n_patterns) / counts
        true = np.bincount(pattern, truth[:, j], n_patterns) > 0
        present = np.bincount(pattern, minlength=n_patterns) > 0
        sides = [rate[side & present].mean() for side in (true, ~true) if (side & present).any()]
        errors[j] = sum(sides) / 2
    return errors
