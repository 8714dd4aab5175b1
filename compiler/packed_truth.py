"""Every signal's truth on many sparse input rows, with the interpreter run on a few packed rows.

A signal's value depends only on the inputs of its connected part of the
circuit (signals joined through gate operands). A row with a few inputs on
touches a few parts, and every other part sits at its all-zero value. So
instead of interpreting every row (rows x signals cells: 10 GB at 64,000
probe rows of circuits-T, T = 4,000, most of a deep compile's memory
traffic), the distinct input patterns of each part are laid side by side:
packed row b holds the b-th pattern of every part at once, which cannot
interact, and the interpreter runs on as many packed rows as the part with
the most patterns has (about 30 for circuits-T). A row's truth is the
all-zero truth with the parts it touches replaced by their packed values.
The reference interpreter stays the only semantics: this only chooses
which rows it sees.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit, connected_signals

PACKED_CHUNK = 1024  # packed rows interpreted at a time (bounds the dense (rows, n_signals) block)
Pattern = tuple[int, tuple[int, ...]]  # (part, the inputs of that part on)


def signal_parts(circuit: Circuit) -> np.ndarray:
    """(n_signals,) int64: a label per connected part of the circuit (through
    every node's operands): a signal's value depends only on its part's inputs."""
    m = circuit.n_inputs
    return connected_signals(circuit.n_signals, ((lit.signal, m + i) for i, node in enumerate(circuit.nodes)
                                                 for lit in node.operands))


def packed_truth(circuit: Circuit, inputs: sp.csr_matrix) -> sp.csr_matrix:
    """(n, n_signals) bool CSR, sorted indices: every signal's value on every
    row of `inputs` ((n, n_inputs) CSR, nonzero = on), as
    interpret.evaluate gives it."""
    n = inputs.shape[0]
    part = signal_parts(circuit)
    rows, keys = _touched_patterns(sp.csr_matrix(inputs, copy=True), part)  # a copy: its indices get sorted
    patterns = list(dict.fromkeys(keys))  # the distinct ones, first seen first
    true_in, zero = _pattern_truth(circuit, part, patterns)
    index = {key: u for u, key in enumerate(patterns)}
    groups = np.array([index[key] for key in keys], dtype=np.int64)
    zero_true = np.flatnonzero(zero)
    zero_in = _part_members(part, zero)
    # every row at the all-zero truth, minus the touched parts' zero truth, plus their truth under the row's pattern
    add_rows, add_cols = _spread(rows, groups, true_in)
    del_rows, del_cols = _spread(rows, groups, [zero_in(p) for p, _ in patterns])
    entries_row = np.concatenate([np.repeat(np.arange(n), zero_true.size), add_rows, del_rows])
    entries_col = np.concatenate([np.tile(zero_true, n), add_cols, del_cols])
    data = np.concatenate([np.ones(n * zero_true.size + add_rows.size, np.int8), -np.ones(del_rows.size, np.int8)])
    truth = sp.csr_matrix((data, (entries_row, entries_col)), shape=(n, circuit.n_signals))
    truth.sum_duplicates()
    truth.eliminate_zeros()
    return truth.astype(bool)


def _touched_patterns(inputs: sp.csr_matrix, part: np.ndarray) -> tuple[np.ndarray, list[Pattern]]:
    """(rows, keys) for every (row, part) pair where the row has an input of
    the part on: the row ((n_pairs,) int64) and the part's Pattern there."""
    inputs.sort_indices()
    entry_row = np.repeat(np.arange(inputs.shape[0]), np.diff(inputs.indptr))
    order = np.lexsort((inputs.indices, part[inputs.indices], entry_row))  # by row, then part, then input
    rows, parts, columns = entry_row[order], part[inputs.indices][order], inputs.indices[order]
    starts = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (parts[1:] != parts[:-1])])
    ends = np.r_[starts[1:], rows.size]
    keys = [(int(parts[a]), tuple(columns[a:b].tolist())) for a, b in zip(starts.tolist(), ends.tolist())]
    return rows[starts].astype(np.int64), keys


def _pattern_truth(circuit: Circuit, part: np.ndarray, patterns: list[Pattern]
                   ) -> tuple[list[np.ndarray], np.ndarray]:
    """(per pattern, the sorted signals of its part true under it; (n_signals,)
    bool, the all-zero truth). Packed row 1 + k holds the k-th pattern of
    every part, row 0 none."""
    slot: list[int] = []
    seen: dict[int, int] = {}
    for p, _ in patterns:
        slot.append(1 + seen.get(p, 0))
        seen[p] = seen.get(p, 0) + 1
    packed = np.zeros((1 + max(seen.values(), default=0), circuit.n_inputs), dtype=bool)
    for (_, on), row in zip(patterns, slot):
        packed[row, list(on)] = True
    members = _part_members(part, np.ones(circuit.n_signals, dtype=bool))
    slots = np.array(slot, dtype=np.int64)
    true_in: list[np.ndarray] = [np.zeros(0, np.int64)] * len(patterns)
    zero = evaluate(circuit, packed[:1])[0]
    for chunk in range(1, packed.shape[0], PACKED_CHUNK):
        values = evaluate(circuit, packed[chunk:chunk + PACKED_CHUNK])  # (chunk rows, n_signals)
        for u in np.flatnonzero((slots >= chunk) & (slots < chunk + PACKED_CHUNK)).tolist():
            signals = members(patterns[u][0])
            true_in[u] = signals[values[slots[u] - chunk, signals]]
    return true_in, zero


def _part_members(part: np.ndarray, keep: np.ndarray) -> Callable[[int], np.ndarray]:
    """A function: part label -> the sorted signals of that part where `keep` ((n_signals,) bool) holds."""
    order = np.argsort(part, kind="stable")  # signals grouped by part, ascending within each
    labels = part[order]

    def members(p: int) -> np.ndarray:
        signals = order[np.searchsorted(labels, p, "left"):np.searchsorted(labels, p, "right")]
        return signals[keep[signals]]
    return members


def _spread(rows: np.ndarray, groups: np.ndarray, members: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(row, signal) entries: for every group g, rows[g] against each signal of members[groups[g]]."""
    counts = np.array([members[u].size for u in groups.tolist()], dtype=np.int64)
    cols = np.concatenate([members[u] for u in groups.tolist()]) if groups.size else np.zeros(0, np.int64)
    return np.repeat(rows, counts), cols.astype(np.int64)
