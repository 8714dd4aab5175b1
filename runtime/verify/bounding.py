"""Method 2: sound bounds (runtime/bounds.py) on every pattern of each gate's
own support, with at most s - |pattern| other features on; the sets left
open go to branch and bound (branching.py)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from superpose.network import THRESHOLD, CompiledCircuit
from superpose.runtime.bounds import BoundPropagator, PatternSet
from superpose.runtime.verify.table import PatternTable
from superpose.runtime.verify.verdicts import CELLS_PER_BATCH, Ledger

CONE_CELLS = 1 << 16            # per (sets x cone) array in bounds: small, as the cone is their union
FLOAT_SLACK = 1e-4              # bounds must clear THRESHOLD by this much: float32 rounding of the circuit


@dataclass(frozen=True)
class Bounded:
    """What bounding some input sets found, one row per set: margin (K,) the
    bound's distance to THRESHOLD on the right side (proved when > FLOAT_SLACK);
    lower, upper (K,) the readout bounds; ranked (K, s) free features, those
    whose bound coefficients push the readout hardest to the wrong side first
    (-1 padded; all -1 when the set is a single input): the first is the one
    to branch on; `completion` (K, s) the ones that do push that way, up to
    free_on of them, which turned on give the set's candidate counterexample.
    cone_width: the inputs and neurons the readouts depend on (sizes batches)."""
    margin: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ranked: np.ndarray
    completion: np.ndarray
    cone_width: int


def bound_sets(propagator: BoundPropagator, gates: np.ndarray, sets: PatternSet, expected: np.ndarray,
                s: int) -> Bounded:
    """Bound the readout of gates[k] on set k; expected: (K,) int8, 1, 0, or -1 (varies)."""
    bounds = propagator.readout_bounds(gates, sets)
    margin = np.where(expected == 1, bounds.lower - THRESHOLD,
                      np.where(expected == 0, THRESHOLD - bounds.upper, -np.inf))
    push = np.where((expected == 1)[:, None], bounds.lower_coef, -bounds.upper_coef)
    push[sets.fixed[:, bounds.inputs].toarray()] = np.inf
    local = _most_negative(push, s)  # columns of push, that is, positions in bounds.inputs
    local[sets.free_on <= 0] = -1
    harmful = (local >= 0) & (np.take_along_axis(push, np.maximum(local, 0), 1) < 0)
    harmful &= np.arange(s)[None, :] < sets.free_on[:, None]
    ranked = np.where(local >= 0, bounds.inputs[np.maximum(local, 0)] if bounds.inputs.size else -1, -1)
    return Bounded(margin, bounds.lower, bounds.upper, ranked, np.where(harmful, ranked, -1),
                    bounds.cone_width)


def _most_negative(values: np.ndarray, k: int) -> np.ndarray:
    """(n, k): per row, the columns of the k smallest finite values, smallest
    first, padded with -1."""
    k_here = min(k, values.shape[1])
    columns = np.argpartition(values, k_here - 1, axis=1)[:, :k_here] if k_here else values[:, :0].astype(int)
    columns = np.take_along_axis(columns, np.argsort(np.take_along_axis(values, columns, 1), 1, kind="stable"), 1)
    columns = np.where(np.isfinite(np.take_along_axis(values, columns, 1)), columns, -1)
    return np.pad(columns, ((0, 0), (0, k - k_here)), constant_values=-1)


class OpenSet(NamedTuple):
    """An input set left open: the gate's support pinned to a pattern, and
    free features pinned on (with the pattern's, in `on`) or off (`off`)."""
    gate: int
    on: tuple[int, ...]
    off: tuple[int, ...]
    expected: bool


@dataclass
class OpenSets:
    """The sets bounds could not settle, with their bounds, and per gate:
    complete (n_gates,) bool, every set of the gate bounded; closed_margin
    (n_gates,) the smallest margin among its settled sets."""
    nodes: list[OpenSet]
    bounded: Bounded
    complete: np.ndarray
    closed_margin: np.ndarray


def bound_patterns(circuit: CompiledCircuit, table: PatternTable, s: int, propagator: BoundPropagator,
           ledger: Ledger, deadline: float) -> OpenSets:
    """Bound every gate on every pattern of its support, in chunks; prove the
    gates whose every pattern stays clear of THRESHOLD. Gates without a table
    get one set, every input, so that their unknown verdicts carry bounds."""
    m = circuit.n_inputs
    wide = np.flatnonzero(~table.narrow)
    gates = np.concatenate([table.gate, wide]).astype(np.int64)
    on = np.concatenate([table.on, np.full((wide.size, table.on.shape[1]), -1, np.int64)])
    expected = np.concatenate([table.value.astype(np.int8), np.full(wide.size, -1, np.int8)])  # -1: varies
    n = len(gates)
    margin, lower, upper = np.full(n, -np.inf), np.full(n, np.nan), np.full(n, np.nan)
    ranked, completion = np.full((n, s), -1, dtype=np.int64), np.full((n, s), -1, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    begin, chunk = 0, first_batch(propagator)
    while begin < n and (begin == 0 or time.monotonic() < deadline):
        sel = slice(begin, begin + chunk)
        sets = _pattern_sets(table, gates[sel], on[sel], expected[sel] >= 0, s, m)
        bounded = bound_sets(propagator, gates[sel], sets, expected[sel], s)
        margin[sel], lower[sel], upper[sel] = bounded.margin, bounded.lower, bounded.upper
        ranked[sel], completion[sel] = bounded.ranked, bounded.completion
        done[sel] = True
        begin, chunk = begin + chunk, next_batch(chunk, bounded.cone_width)
    worst = np.full(circuit.n_gates, np.inf)
    np.minimum.at(worst, gates, margin)
    proved = np.flatnonzero(worst > FLOAT_SLACK)
    ledger.prove(proved, worst[proved], "bounds")
    is_open = done & (margin <= FLOAT_SLACK)
    for r in np.flatnonzero(is_open):
        ledger.notebound_patterns(int(gates[r]), float(margin[r]), float(lower[r]), float(upper[r]),
                          tuple(int(f) for f in on[r] if f >= 0), None if expected[r] < 0 else bool(expected[r]))
    complete = np.ones(circuit.n_gates, dtype=bool)
    complete[gates[~done | (expected < 0)]] = False
    closed_margin = np.full(circuit.n_gates, np.inf)
    np.minimum.at(closed_margin, gates[done & ~is_open], margin[done & ~is_open])
    rows = np.flatnonzero(is_open & (expected >= 0))
    nodes = [OpenSet(int(gates[r]), tuple(int(f) for f in on[r] if f >= 0), (), bool(expected[r])) for r in rows]
    return OpenSets(nodes, Bounded(margin[rows], lower[rows], upper[rows], ranked[rows], completion[rows], 0),
                 complete, closed_margin)


def first_batch(propagator: BoundPropagator) -> int:
    """Sets per batch when every set may see the whole network."""
    return max(1, CELLS_PER_BATCH // (4 * sum(propagator.net.widths)))


def next_batch(size: int, cone_width: int) -> int:
    """The next batch size, aiming at CONE_CELLS numbers per (sets x cone)
    array; growing at most 4x at a time, since a cone widens as a batch takes
    in more gates."""
    factor = CONE_CELLS / (size * (cone_width + 1))
    return max(1, int(size * (min(4.0, math.sqrt(factor)) if factor > 1 else factor)))


def _pattern_sets(table: PatternTable, gates: np.ndarray, on: np.ndarray, pinned: np.ndarray, s: int,
                  n_inputs: int) -> PatternSet:
    """The input sets of some patterns: their gate's support pinned (where
    `pinned`), at most s - |on| other features on. on: (K, width), -1 padded."""
    supports = [table.supports[g] if p else np.zeros(0, np.int64) for g, p in zip(gates, pinned)]
    return PatternSet(_rows(on[on >= 0], (on >= 0).sum(axis=1), n_inputs),
                      _rows(np.concatenate(supports + [np.zeros(0, np.int64)]), [len(f) for f in supports],
                            n_inputs),
                      s - (on >= 0).sum(axis=1))


def node_sets(nodes: list[OpenSet], table: PatternTable, s: int, n_inputs: int) -> PatternSet:
    fixed = [np.concatenate([table.supports[node.gate], node.on, node.off]).astype(np.int64) for node in nodes]
    on_counts = np.array([len(node.on) for node in nodes])
    return PatternSet(_rows(np.array([f for node in nodes for f in node.on], dtype=np.int64), on_counts, n_inputs),
                      _rows(np.concatenate(fixed), [len(f) for f in fixed], n_inputs), s - on_counts)


def _rows(features: np.ndarray, counts: list[int] | np.ndarray, n_inputs: int) -> sp.csr_matrix:
    """(len(counts), n_inputs) 0/1 CSR; row i has the next counts[i] features on (repeats allowed)."""
    indptr = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    return sp.csr_matrix((np.ones(features.size, dtype=bool), features, indptr), shape=(len(counts), n_inputs))
