"""The oracle of verification: every gate on every pattern of its support."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from superpose.compiler.ir import Circuit, Lit
from superpose.compiler.multilinear import count_patterns, evaluate_cone, subset_rows

MAX_PATTERNS_PER_GATE = 4096    # gates with more support patterns are left to enumeration
MAX_TABLE_SUPPORT = 40          # support bits that fit in a pattern key next to the gate index


@dataclass(frozen=True)
class PatternTable:
    """Every pattern with at most s features on of every narrow gate's support,
    and the gate's value on it (compiler.multilinear.evaluate_cone: the
    interpreter's semantics on the gate's cone): the oracle of enumeration,
    and the sets that bounds and branching start from.

    gate: (P,) int, sorted; on: (P, width) features on, padded with -1;
    value: (P,) bool; keys: (P,) int64 sorted, gate << MAX_TABLE_SUPPORT | mask,
    where bit i of mask is set when the i-th support feature is on;
    narrow: (n_gates,) bool, the gates in the table; supports: sorted feature
    indices of every gate.
    """
    gate: np.ndarray
    on: np.ndarray
    value: np.ndarray
    keys: np.ndarray
    narrow: np.ndarray
    supports: list[np.ndarray]

    @classmethod
    def build(cls, program: Circuit, s: int) -> PatternTable:
        all_supports = program.supports()
        signals = program.gate_signals
        supports = [np.array(sorted(all_supports[signal]), dtype=np.int64) for signal in signals]
        narrow = np.array([k.size <= MAX_TABLE_SUPPORT and count_patterns(k.size, s) <= MAX_PATTERNS_PER_GATE
                           for k in supports], dtype=bool)
        width = min(s, max((supports[g].size for g in np.flatnonzero(narrow)), default=0))
        positions: dict[int, np.ndarray] = {}
        gates, ons, masks, values = [], [], [], []
        for g in np.flatnonzero(narrow):
            support = supports[g]
            if support.size not in positions:
                positions[support.size] = _position_patterns(support.size, min(s, support.size), width)
            pos = positions[support.size]
            on = np.append(support, -1)[pos]  # position -1 (padding) reads the -1 appended
            gates.append(np.full(len(pos), g))
            ons.append(on)
            masks.append((np.where(pos >= 0, 1 << np.maximum(pos, 0), 0)).sum(axis=1))
            patterns = [tuple(int(f) for f in row if f >= 0) for row in on]
            values.append(evaluate_cone(program, Lit(signals[g]), patterns))
        if not gates:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, np.zeros((0, width), np.int64), np.zeros(0, bool), empty, narrow, supports)
        gate = np.concatenate(gates)
        keys = (gate.astype(np.int64) << MAX_TABLE_SUPPORT) | np.concatenate(masks).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        return cls(gate[order], np.concatenate(ons)[order], np.concatenate(values)[order], keys[order], narrow,
                   supports)

    def lookup(self, gates: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """(n,) bool: the value of narrow gate gates[i] on the pattern masks[i]."""
        keys = (gates.astype(np.int64) << MAX_TABLE_SUPPORT) | masks.astype(np.int64)
        return self.value[np.searchsorted(self.keys, keys)]

    def incidence(self, targets: np.ndarray, n_inputs: int) -> sp.csr_matrix:
        """(T, n_inputs) float64: 2**i where the feature is the i-th of the gate's support."""
        sizes = [self.supports[g].size for g in targets]
        cols = np.concatenate([self.supports[g] for g in targets] + [np.zeros(0, np.int64)])
        bits = np.concatenate([2.0 ** np.arange(k) for k in sizes] + [np.zeros(0)])
        return sp.csr_matrix((bits, (np.repeat(np.arange(len(targets)), sizes), cols)),
                             shape=(len(targets), n_inputs))


def _position_patterns(k: int, s: int, width: int) -> np.ndarray:
    """(n, width) every subset of range(k) with at most s <= width elements
    (multilinear.subset_rows), padded with -1."""
    rows = subset_rows(k, s)
    return np.pad(rows, ((0, 0), (0, width - s)), constant_values=-1)
