"""How many wires of each level can be on at once, from the declared input sparsity.

A wire (any signal: input, gate, buffer) is *dense* when it is true with no
input on, f(0) = 1, and *sparse* otherwise. Superposition pays where few wires
of a layer are on at once; this pass bounds that number for every level.

The bound. Let A be the inputs that are on (|A| <= s). A sparse wire w that is
on sees the pattern P = A ∩ support(w), which is nonempty and has f_w(1_P) = 1:
a *true pattern* of w. Let c_j(T), for a j-subset T of the inputs, count the
sparse wires of a level with T inside their support and f_w(1_T) = 1. Every wire
that A turns on is counted by one nonempty subset of A, and A has at most
C(s, j) subsets of size j, so

    wires on at once <= dense + sum_{j=1..s} (the C(s, j) largest c_j(T))

capped at the level's width. A sparse wire whose support has more than
MAX_PATTERNS patterns of at most s features is not enumerated: like a dense
wire, it counts as possibly on.

How: every enumerated wire lists its patterns (sparse_patterns over its support,
grouped by support size so that it is one gather per size); the distinct
patterns are evaluated together, 64 to a machine word, one numpy call per group
of same-level, same-op gates; then the true (wire, pattern) pairs are counted
per (level, pattern) and the largest counts kept.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import comb

import numpy as np

from compiler.interpret import evaluate
from compiler.ir import Circuit, Op
from compiler.multilinear import count_patterns, sparse_patterns

MAX_PATTERNS = 4096     # wires with more patterns (of at most s features on) count as possibly on, unenumerated
TOO_DENSE_SHARE = 0.25  # a level where more than this share of the wires can be on gains little from superposition
CHUNK_BYTES = 1 << 26   # patterns are evaluated in chunks whose packed values take about this much memory
ALL_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


@dataclass(frozen=True)
class SparsityReport:
    """Per signal: `level` and `dense`, (n_signals,). Per level l = 0 .. depth,
    (n_levels,) int arrays: `wires`, `dense_wires`, `unenumerated` (sparse wires
    counted as possibly on because their support is too wide) and `max_on`, the
    bound on how many wires of the level are on at once."""
    max_active: int
    level: np.ndarray
    dense: np.ndarray
    wires: np.ndarray
    dense_wires: np.ndarray
    unenumerated: np.ndarray
    max_on: np.ndarray

    @property
    def share(self) -> np.ndarray:
        """(n_levels,) max_on / wires: the share of a level's wires that can be on at once."""
        return self.max_on / np.maximum(self.wires, 1)

    @property
    def too_dense(self) -> np.ndarray:
        """(n_levels,) bool: more than TOO_DENSE_SHARE of the level's wires can be on at once."""
        return self.share > TOO_DENSE_SHARE

    def rows(self) -> list[dict]:
        """One JSON-able row per level (level, wires, dense_wires, unenumerated,
        max_on, share, too_dense): the table `superpose info` shows."""
        return [{"level": level, "wires": int(self.wires[level]), "dense_wires": int(self.dense_wires[level]),
                 "unenumerated": int(self.unenumerated[level]), "max_on": int(self.max_on[level]),
                 "share": round(float(self.share[level]), 4), "too_dense": bool(self.too_dense[level])}
                for level in range(len(self.wires))]

    def summary(self) -> str:
        return summary_line(self.rows(), self.max_active)


def summary_line(rows: list[dict], max_active: int) -> str:
    """One line about the rows of a SparsityReport (also as stored in an artifact's meta)."""
    if not rows:
        return f"sparsity {max_active}: no wires"
    worst = max(rows, key=lambda row: (row["share"], row["max_on"]))
    sparse_levels = sum(not row["too_dense"] for row in rows)
    return (f"sparsity {max_active}: at most {worst['share']:.0%} of a level's wires on at once "
            f"(level {worst['level']}: {worst['max_on']:,} of {worst['wires']:,}); "
            f"{sparse_levels} of {len(rows)} levels stay sparse")


def too_dense_warning(rows: list[dict], most: int = 12) -> str | None:
    """A sentence naming the levels too dense for superposition to pay, or None."""
    levels = [row["level"] for row in rows if row["too_dense"]]
    if not levels:
        return None
    named = ", ".join(map(str, levels[:most])) + (f", ... ({len(levels)} in all)" if len(levels) > most else "")
    return (f"level{'s' if len(levels) > 1 else ''} {named} too dense for superposition to pay "
            f"(more than {TOO_DENSE_SHARE:.0%} of the wires can be on at once)")


def analyse_sparsity(circuit: Circuit, max_active: int) -> SparsityReport:
    """Bound the wires on at once in every level of `circuit` (circuit.levels())
    when at most `max_active` inputs are on; see the module docstring."""
    if max_active < 1:
        raise ValueError(f"max_active must be >= 1, got {max_active}")
    level = circuit.levels()
    dense = evaluate(circuit, np.zeros((1, circuit.n_inputs), dtype=bool))[0]
    supports = circuit.supports()
    size = np.fromiter(map(len, supports), dtype=np.int64, count=circuit.n_signals)
    n_patterns = {k: count_patterns(k, max_active) for k in set(size.tolist())}
    too_wide = ~dense & np.array([n_patterns[k] > MAX_PATTERNS for k in size.tolist()], dtype=bool)
    enumerated = np.flatnonzero(~dense & ~too_wide & (size > 0))

    n_levels = int(level.max(initial=-1)) + 1
    wire, rows = _support_patterns(supports, enumerated, max_active)
    if len(wire):
        patterns, pattern_of = np.unique(rows, axis=0, return_inverse=True)
        pattern_of = pattern_of.ravel()
        on = _pair_values(circuit, patterns, wire, pattern_of)
        counted = _largest_counts(level[wire[on]], pattern_of[on], (patterns >= 0).sum(axis=1),
                                  max_active, n_levels)
    else:
        counted = np.zeros(n_levels, dtype=np.int64)

    def per_level(mask: np.ndarray) -> np.ndarray:
        return np.bincount(level[mask], minlength=n_levels)

    wires = np.bincount(level, minlength=n_levels)
    dense_wires, unenumerated = per_level(dense), per_level(too_wide)
    max_on = np.minimum(wires, dense_wires + unenumerated + counted)
    return SparsityReport(max_active, level, dense, wires, dense_wires, unenumerated, max_on)


def _support_patterns(supports: list[frozenset[int]], wires: np.ndarray,
                      max_active: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (wire, nonempty pattern of at most max_active features of its support)
    pair: wire (n_pairs,) and pattern (n_pairs, width) of sorted input indices,
    padded with -1 (width: the most features a pattern has)."""
    by_size: dict[int, list[int]] = defaultdict(list)
    for w in wires.tolist():
        by_size[len(supports[w])].append(w)
    width = min(max_active, max(by_size, default=0))
    pair_wires, pair_patterns = [np.zeros(0, dtype=np.int64)], [np.zeros((0, width), dtype=np.int32)]
    for k, members in sorted(by_size.items()):
        local = np.full((count_patterns(k, max_active) - 1, width), k)  # column k of `features` is the -1 pad
        for row, pattern in enumerate(sparse_patterns(list(range(k)), max_active)[1:]):
            local[row, :len(pattern)] = pattern
        features = np.full((len(members), k + 1), -1, dtype=np.int32)
        features[:, :k] = [sorted(supports[w]) for w in members]
        pair_wires.append(np.repeat(np.asarray(members, dtype=np.int64), len(local)))
        pair_patterns.append(features[:, local].reshape(-1, width))
    return np.concatenate(pair_wires), np.concatenate(pair_patterns)


@dataclass(frozen=True)
class _GateGroup:
    """Gates of one level with the same op, arity and k, evaluated in one call."""
    op: Op
    k: int
    outputs: np.ndarray   # (g,) signals
    operands: np.ndarray  # (g, arity) signals, buffers resolved
    flips: np.ndarray     # (g, arity, 1) uint64: ALL_ONES where the operand is read negated


def _gate_groups(circuit: Circuit) -> tuple[list[_GateGroup], np.ndarray, np.ndarray]:
    """The gates in evaluation order, and for every signal the non-buffer signal
    it equals (base) and whether negated (flip)."""
    base = np.arange(circuit.n_signals)
    flip = np.zeros(circuit.n_signals, dtype=bool)
    level = circuit.levels()
    members: dict[tuple, list[int]] = defaultdict(list)
    for signal, node in enumerate(circuit.nodes, circuit.n_inputs):
        if node.op is Op.BUF:
            lit = node.operands[0]
            base[signal], flip[signal] = base[lit.signal], flip[lit.signal] != lit.negated
        elif node.op is not Op.CONST:
            members[int(level[signal]), node.op.value, len(node.operands), node.k].append(signal)
    groups = []
    for (_, op, arity, k), signals in sorted(members.items()):
        reads = np.array([[lit.signal for lit in circuit.node_of(s).operands] for s in signals])
        negated = np.array([[lit.negated for lit in circuit.node_of(s).operands] for s in signals])
        flips = np.where(flip[reads] != negated, ALL_ONES, np.uint64(0))[:, :, None]
        groups.append(_GateGroup(Op(op), k, np.asarray(signals), base[reads], flips))
    return groups, base, flip


def _combine(op: Op, k: int, operands: np.ndarray) -> np.ndarray:
    """(g, arity, words) packed operand values -> (g, words) packed gate values."""
    if op is Op.AND:
        return np.bitwise_and.reduce(operands, axis=1)
    if op is Op.OR:
        return np.bitwise_or.reduce(operands, axis=1)
    if op is Op.XOR:
        return np.bitwise_xor.reduce(operands, axis=1)
    # ATLEAST: reach[j] = at least j of the operands seen so far are true
    reach = [np.full(operands[:, 0].shape, ALL_ONES)] + [np.zeros_like(operands[:, 0]) for _ in range(k)]
    for i in range(operands.shape[1]):
        for j in range(min(k, i + 1), 0, -1):
            reach[j] = reach[j] | (reach[j - 1] & operands[:, i])
    return reach[k]


def _pair_values(circuit: Circuit, patterns: np.ndarray, wire: np.ndarray, pattern_of: np.ndarray) -> np.ndarray:
    """(n_pairs,) bool: is wire[i] true when exactly the features of
    patterns[pattern_of[i]] are on? Patterns are evaluated in chunks, packed."""
    on = np.zeros(len(wire), dtype=bool)
    groups, base, flip = _gate_groups(circuit)
    buffers = np.flatnonzero(base != np.arange(circuit.n_signals))
    constants = [s for s, node in enumerate(circuit.nodes, circuit.n_inputs) if node.op is Op.CONST and node.k]
    order = np.argsort(pattern_of, kind="stable")
    words = max(1, CHUNK_BYTES // (8 * circuit.n_signals))
    for start in range(0, len(patterns), 64 * words):
        chunk = patterns[start:start + 64 * words]
        values = np.zeros((circuit.n_signals, -(-len(chunk) // 64)), dtype=np.uint64)
        row, column = np.nonzero(chunk >= 0)
        np.bitwise_or.at(values, (chunk[row, column], row >> 6), np.uint64(1) << (row & 63).astype(np.uint64))
        values[constants] = ALL_ONES
        for group in groups:
            values[group.outputs] = _combine(group.op, group.k, values[group.operands] ^ group.flips)
        values[buffers] = values[base[buffers]] ^ np.where(flip[buffers], ALL_ONES, np.uint64(0))[:, None]
        lo, hi = np.searchsorted(pattern_of[order], [start, start + len(chunk)])
        pairs = order[lo:hi]
        local = pattern_of[pairs] - start
        bits = values[wire[pairs], local >> 6] >> (local & 63).astype(np.uint64)
        on[pairs] = (bits & np.uint64(1)).astype(bool)
    return on


def _largest_counts(level: np.ndarray, pattern: np.ndarray, n_features: np.ndarray, max_active: int,
                    n_levels: int) -> np.ndarray:
    """(n_levels,) sum over j of the C(max_active, j) largest c_j(T) of each level,
    from the true (wire level, pattern id) pairs; n_features[p]: |pattern p|."""
    if not len(level):
        return np.zeros(n_levels, dtype=np.int64)
    stride = int(pattern.max()) + 1
    key, count = np.unique(level * stride + pattern, return_counts=True)
    key_level, key_pattern = np.divmod(key, stride)
    size = n_features[key_pattern]
    order = np.lexsort((-count, size, key_level))
    key_level, size, count = key_level[order], size[order], count[order]
    group_start = np.r_[0, np.flatnonzero((np.diff(key_level) != 0) | (np.diff(size) != 0)) + 1]
    rank = np.arange(len(count)) - np.repeat(group_start, np.diff(np.r_[group_start, len(count)]))
    allowed = np.array([min(comb(max_active, j), len(count)) for j in range(int(size.max()) + 1)])[size]
    kept = rank < allowed
    return np.bincount(key_level[kept], weights=count[kept], minlength=n_levels).astype(np.int64)
