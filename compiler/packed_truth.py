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

import numpy as np
import scipy.sparse as sp

from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit, connected_signals

PACKED_CHUNK = 1024  # packed rows interpreted at a time (bounds the dense (rows, n_signals) block)


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
    inputs = sp.csr_matrix(inputs)
    inputs.sort_indices()
    entry_row = np.repeat(np.arange(n), np.diff(inputs.indptr))
    entry_part = part[inputs.indices]
    order = np.lexsort((inputs.indices, entry_part, entry_row))  # by row, then part, then input
    slot_of: dict[tuple[int, tuple[int, ...]], int] = {}  # (part, pattern) -> its packed row - 1
    patterns_of_part: dict[int, int] = {}
    group_row, group_pattern = [], []  # per (row, part touched): the row and the (part, pattern) id
    start = 0
    rows_sorted, parts_sorted, inputs_sorted = entry_row[order], entry_part[order], inputs.indices[order]
    for end in range(1, order.size + 1):
        if end < order.size and rows_sorted[end] == rows_sorted[start] and parts_sorted[end] == parts_sorted[start]:
            continue
        key = (int(parts_sorted[start]), tuple(inputs_sorted[start:end].tolist()))
        if key not in slot_of:
            slot_of[key] = patterns_of_part.get(key[0], 0)
            patterns_of_part[key[0]] = slot_of[key] + 1
        group_row.append(int(rows_sorted[start]))
        group_pattern.append(key)
        start = end
    keys = list(slot_of)  # every (part, pattern), in first-seen order
    key_index = {key: u for u, key in enumerate(keys)}
    slots = np.array([1 + slot_of[key] for key in keys], dtype=np.int64)  # each key's packed row
    packed = np.zeros((1 + max(patterns_of_part.values(), default=0), circuit.n_inputs), dtype=bool)
    for key, slot in zip(keys, slots.tolist()):
        packed[slot, list(key[1])] = True
    labels = np.sort(part)
    by_part = np.argsort(part, kind="stable")  # signals grouped by part

    def members(p: int) -> np.ndarray:
        return by_part[np.searchsorted(labels, p, "left"):np.searchsorted(labels, p, "right")]

    zero = evaluate(circuit, packed[:1])[0]
    zero_of_part = {p: np.sort(members(p)[zero[members(p)]]) for p in patterns_of_part}
    true_in: list[np.ndarray] = [np.zeros(0, np.int64)] * len(keys)  # per (part, pattern): its true signals
    for chunk in range(1, packed.shape[0], PACKED_CHUNK):
        values = evaluate(circuit, packed[chunk:chunk + PACKED_CHUNK])  # (chunk rows, n_signals)
        for u in np.flatnonzero((slots >= chunk) & (slots < chunk + PACKED_CHUNK)).tolist():
            signals = members(keys[u][0])
            true_in[u] = np.sort(signals[values[slots[u] - chunk, signals]])
    zero_in = [zero_of_part[p] for p, _ in keys]  # per (part, pattern): its part's true signals at zero
    groups = np.array([key_index[key] for key in group_pattern], dtype=np.int64)
    rows = np.asarray(group_row, dtype=np.int64)
    zero_true = np.flatnonzero(zero)
    # every row at the all-zero truth, minus the touched parts' zero truth, plus their packed truth
    add_rows, add_cols = _spread(rows, groups, true_in)
    del_rows, del_cols = _spread(rows, groups, zero_in)
    entries_row = np.concatenate([np.repeat(np.arange(n), zero_true.size), add_rows, del_rows])
    entries_col = np.concatenate([np.tile(zero_true, n), add_cols, del_cols])
    data = np.concatenate([np.ones(n * zero_true.size + add_rows.size, np.int8), -np.ones(del_rows.size, np.int8)])
    truth = sp.csr_matrix((data, (entries_row, entries_col)), shape=(n, circuit.n_signals))
    truth.sum_duplicates()
    truth.eliminate_zeros()
    return truth.astype(bool)


def _spread(rows: np.ndarray, groups: np.ndarray, members: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(row, signal) entries: for every group g, rows[g] against each signal of members[groups[g]]."""
    counts = np.array([members[u].size for u in groups.tolist()], dtype=np.int64)
    cols = np.concatenate([members[u] for u in groups.tolist()]) if groups.size else np.zeros(0, np.int64)
    return np.repeat(rows, counts), cols.astype(np.int64)
