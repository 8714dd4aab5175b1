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

How, in time linear in the number of (wire, pattern) pairs: every wire with few
enough patterns lists them (one gather per support size), in an order where a
pattern's index follows from its positions in the support (by size, then colex).
A gate's value on pattern P is read from each operand o at P ∩ support(o), which
is one of o's own patterns, so each group of same-level, same-op gates is one
vectorised lookup. The true pairs are then counted per (level, pattern) and the
largest counts kept.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import comb

import numpy as np

from superpose.compiler.interpret import evaluate, node_value
from superpose.compiler.ir import Circuit, Lit, Op, resolve_buffers
from superpose.compiler.multilinear import count_patterns, sparse_patterns

MAX_PATTERNS = 4096     # wires with more patterns (of at most s features on) count as possibly on, unenumerated
TOO_DENSE_SHARE = 0.25  # a level where more than this share of the wires can be on gains little from superposition
TOO_DENSE_MIN_WIRES = 16  # ... and has at least this many wires: sharing neurons needs many wires to share them
# among (hub neurons pay from about 16 pairwise ANDs in a level, README), so a smaller level, dense or not, is
# no reason to warn: superposition could not have paid there anyway


@dataclass(frozen=True)
class SparsityReport:
    """Per signal: `level` and `dense`, (n_signals,). Per level l = 0 .. depth,
    (n_levels,) int arrays: `wires`, `dense_wires`, `unenumerated` (sparse wires
    counted as possibly on because their support is too wide) and `max_on`, the
    bound on how many wires of the level are on at once. `constant`,
    (n_signals,) int8: 0 for a wire never on with at most max_active inputs on,
    1 for one always on, -1 otherwise (or not enumerated: not known)."""
    max_active: int
    level: np.ndarray
    dense: np.ndarray
    wires: np.ndarray
    dense_wires: np.ndarray
    unenumerated: np.ndarray
    max_on: np.ndarray
    constant: np.ndarray

    @property
    def share(self) -> np.ndarray:
        """(n_levels,) max_on / wires: the share of a level's wires that can be on at once."""
        return self.max_on / np.maximum(self.wires, 1)

    @property
    def too_dense(self) -> np.ndarray:
        """(n_levels,) bool: more than TOO_DENSE_SHARE of the level's wires can be
        on at once, in a level of at least TOO_DENSE_MIN_WIRES wires."""
        return (self.share > TOO_DENSE_SHARE) & (self.wires >= TOO_DENSE_MIN_WIRES)

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
            f"(more than {TOO_DENSE_SHARE:.0%} of the wires can be on at once, of {TOO_DENSE_MIN_WIRES} or more)")


def analyse_sparsity(circuit: Circuit, max_active: int) -> SparsityReport:
    """Bound the wires on at once in every level of `circuit` (circuit.levels())
    when at most `max_active` inputs are on; see the module docstring."""
    if max_active < 1:
        raise ValueError(f"max_active must be >= 1, got {max_active}")
    level = circuit.levels()
    dense = evaluate(circuit, np.zeros((1, circuit.n_inputs), dtype=bool))[0]
    pairs = _Pairs(circuit, max_active)
    on = pairs.values(circuit, level)
    true_sparse = on & ~dense[pairs.wire] & (pairs.pattern >= 0).any(axis=1)
    n_levels = int(level.max(initial=-1)) + 1
    counted = _largest_counts(level[pairs.wire[true_sparse]], pairs.pattern[true_sparse], max_active, n_levels)

    def per_level(mask: np.ndarray) -> np.ndarray:
        return np.bincount(level[mask], minlength=n_levels)

    too_wide = ~dense & ~pairs.enumerated
    wires = np.bincount(level, minlength=n_levels)
    dense_wires, unenumerated = per_level(dense), per_level(too_wide)
    max_on = np.minimum(wires, dense_wires + unenumerated + counted)
    true_patterns = np.bincount(pairs.wire[on], minlength=circuit.n_signals)
    constant = np.full(circuit.n_signals, -1, dtype=np.int8)
    constant[pairs.enumerated & (true_patterns == 0)] = 0
    constant[pairs.enumerated & (true_patterns == pairs.count)] = 1
    return SparsityReport(max_active, level, dense, wires, dense_wires, unenumerated, max_on, constant)


class _Pairs:
    """Every (wire, pattern) pair of the wires with at most MAX_PATTERNS patterns
    (`enumerated`, (n_signals,) bool). Pair arrays, (n_pairs,): `wire`, and
    `pattern`, (n_pairs, width), the pattern's inputs ascending, padded with -1.
    A wire's pairs are contiguous from `start[wire]`, ordered by size, then colex
    on the positions in its sorted support, so that a pattern's index is
    size_offset[k, j] + sum_i C(position_i, i + 1)."""

    def __init__(self, circuit: Circuit, max_active: int) -> None:
        supports = circuit.supports()
        self.size = np.fromiter(map(len, supports), dtype=np.int64, count=circuit.n_signals)
        n_patterns = {k: count_patterns(k, max_active) for k in set(self.size.tolist())}
        self.count = np.array([n_patterns[k] for k in self.size.tolist()], dtype=np.int64)
        self.enumerated = self.count <= MAX_PATTERNS
        self.count[~self.enumerated] = 0
        k_max = int(self.size[self.enumerated].max(initial=0))
        self.width = max(1, min(max_active, k_max))
        self.comb = np.array([[comb(n, r) for r in range(self.width + 2)] for n in range(k_max + 1)])
        self.size_offset = np.cumsum(np.c_[np.zeros(k_max + 1, dtype=np.int64), self.comb], axis=1)
        self.start = np.zeros(circuit.n_signals, dtype=np.int64)
        by_size: dict[int, list[int]] = defaultdict(list)
        for w in np.flatnonzero(self.enumerated).tolist():
            by_size[len(supports[w])].append(w)
        wires, patterns, members, start = [], [], [], 0
        for k, group in sorted(by_size.items()):
            local = self._local_patterns(k, max_active)
            features = np.full((len(group), k + 1), -1, dtype=np.int64)  # column k: the -1 pad
            features[:, :k] = [sorted(supports[w]) for w in group]
            self.start[group] = start + len(local) * np.arange(len(group))
            start += len(local) * len(group)
            wires.append(np.repeat(np.asarray(group, dtype=np.int64), len(local)))
            patterns.append(features[:, local].reshape(-1, self.width))
            members.append(np.asarray(group)[:, None] * circuit.n_inputs + features[:, :k])
        self.wire = np.concatenate(wires) if wires else np.zeros(0, dtype=np.int64)
        self.pattern = np.concatenate(patterns) if patterns else np.zeros((0, self.width), dtype=np.int64)
        # (signal, input) memberships of the enumerated supports, sorted: signal * n_inputs + input,
        # then a sentinel above every key
        self.member = np.sort(np.concatenate([m.ravel() for m in members] + [[np.iinfo(np.int64).max]]))
        self.n_inputs = circuit.n_inputs

    def _local_patterns(self, k: int, max_active: int) -> np.ndarray:
        """(count_patterns(k, s), width) positions in a support of size k, by size
        then colex, padded with k."""
        patterns = sorted(sparse_patterns(list(range(k)), max_active), key=lambda p: (len(p), p[::-1]))
        local = np.full((len(patterns), self.width), k)
        for row, pattern in enumerate(patterns):
            local[row, :len(pattern)] = pattern
        return local

    def index_in(self, signals: np.ndarray, pattern: np.ndarray) -> np.ndarray:
        """(n,) the pair of signals[i] at pattern[i] ∩ support(signals[i])."""
        key = signals[:, None] * self.n_inputs + pattern
        found = np.searchsorted(self.member, key)
        present = (pattern >= 0) & (self.member[found] == key)
        first = np.searchsorted(self.member, signals * self.n_inputs)  # where the signal's support starts
        position = found - first[:, None]
        rank = np.cumsum(present, axis=1)  # 1-based rank among the features kept
        colex = np.where(present, self.comb[np.where(present, position, 0), rank], 0).sum(axis=1)
        return self.start[signals] + self.size_offset[self.size[signals], rank[:, -1]] + colex

    def values(self, circuit: Circuit, level: np.ndarray) -> np.ndarray:
        """(n_pairs,) bool: each wire's value with exactly its pattern's features on."""
        on = np.zeros(len(self.wire), dtype=bool)
        if not len(on):
            return on
        base, flip = _buffers_resolved(circuit)
        inputs = np.flatnonzero(self.enumerated[:circuit.n_inputs])
        on[self.start[inputs] + 1] = True  # an input's patterns: {} then {itself}
        groups: dict[tuple, list[int]] = defaultdict(list)
        for signal, node in enumerate(circuit.nodes, circuit.n_inputs):
            if self.enumerated[signal] and node.op is not Op.BUF:
                groups[int(level[signal]), node.op.value, len(node.operands), node.k].append(signal)
        for (_, op, arity, k), gates in sorted(groups.items()):
            gates = np.asarray(gates)
            pairs = _ranges(self.start[gates], self.count[gates])
            gate_of_pair = np.repeat(np.arange(len(gates)), self.count[gates])
            columns = np.zeros((len(pairs), arity), dtype=bool)
            for slot in range(arity):
                lits = [circuit.node_of(int(g)).operands[slot] for g in gates]
                read = np.array([lit.signal for lit in lits])
                negated = flip[read] != np.array([lit.negated for lit in lits])
                operand = base[read][gate_of_pair]
                columns[:, slot] = on[self.index_in(operand, self.pattern[pairs])] != negated[gate_of_pair]
            on[pairs] = node_value(Op(op), k, tuple(Lit(slot) for slot in range(arity)), columns)
        buffers = np.flatnonzero((base != np.arange(circuit.n_signals)) & self.enumerated)
        counts = self.count[buffers]  # a buffer has its source's support, so the same patterns in the same order
        copied = on[_ranges(self.start[base[buffers]], counts)] != np.repeat(flip[buffers], counts)
        on[_ranges(self.start[buffers], counts)] = copied
        return on


def _buffers_resolved(circuit: Circuit) -> tuple[np.ndarray, np.ndarray]:
    """(n_signals,) each: the non-buffer signal every signal equals (ir.resolve_buffers)
    and whether negated."""
    base = resolve_buffers(circuit)
    return (np.fromiter((lit.signal for lit in base), dtype=np.int64, count=len(base)),
            np.fromiter((lit.negated for lit in base), dtype=bool, count=len(base)))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of range(start, start + length) for each pair."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - ends + lengths, lengths) + np.arange(int(ends[-1]) if len(ends) else 0)


def _largest_counts(level: np.ndarray, pattern: np.ndarray, max_active: int, n_levels: int) -> np.ndarray:
    """(n_levels,) sum over j of the C(max_active, j) largest c_j(T) of each level,
    from the true (wire level, pattern) pairs; pattern: (n, width) padded with -1."""
    if not len(level):
        return np.zeros(n_levels, dtype=np.int64)
    keys, count = np.unique(np.c_[level, pattern], axis=0, return_counts=True)
    key_level, size = keys[:, 0], (keys[:, 1:] >= 0).sum(axis=1)
    order = np.lexsort((-count, size, key_level))
    key_level, size, count = key_level[order], size[order], count[order]
    group_start = np.r_[0, np.flatnonzero((np.diff(key_level) != 0) | (np.diff(size) != 0)) + 1]
    rank = np.arange(len(count)) - np.repeat(group_start, np.diff(np.r_[group_start, len(count)]))
    allowed = np.array([min(comb(max_active, j), len(count)) for j in range(int(size.max()) + 1)])[size]
    kept = rank < allowed
    return np.bincount(key_level[kept], weights=count[kept], minlength=n_levels).astype(np.int64)
