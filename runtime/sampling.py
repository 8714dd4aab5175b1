"""The stratified test distribution of a gate.

For each gate, equal numbers of inputs on which it is true and on which it is
false. An input: choose which features of the gate's support are on, uniformly
among the patterns of at most s of them that give the wanted value; then fill
the remaining active slots (up to s in all) with random features outside the
support. Without a sparsity declaration, the support pattern is uniform among
all its patterns and every other feature is on with probability 1/2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MAX_ENUMERATED_SUPPORT = 16  # dense programs: supports larger than this are sampled, not enumerated


@dataclass
class GateSamples:
    """Samples of one gate. inputs: (n, n_inputs) CSR of 0/1; wanted: (n,) bool."""
    inputs: sp.csr_matrix
    wanted: np.ndarray


def _patterns_by_value(program, signal: int, support: list[int], max_active: int | None,
                       rng: np.random.Generator) -> tuple[list[tuple[int, ...]], np.ndarray]:
    from compiler.ir import Lit
    from compiler.multilinear import evaluate_cone, sparse_patterns
    if max_active is not None or len(support) <= MAX_ENUMERATED_SUPPORT:
        patterns = sparse_patterns(support, len(support) if max_active is None else max_active)
    else:
        on = rng.random((4096, len(support))) < 0.5
        patterns = sorted({tuple(np.asarray(support)[row].tolist()) for row in on})
    return patterns, evaluate_cone(program, Lit(signal), patterns)


def _distinct_fill(slots: np.ndarray, outside: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, max slots) random distinct features from `outside`, -1 past each row's slots."""
    n, width = slots.size, min(int(slots.max(initial=0)), outside.size)
    fill = np.full((n, width), -1, dtype=np.int64)
    todo = np.arange(n)
    used = np.arange(width)[None, :] < np.minimum(slots, outside.size)[:, None]
    while todo.size and width:
        draws = np.where(used[todo], rng.integers(0, outside.size, size=(todo.size, width)),
                         -1 - np.arange(width)[None, :])  # unused columns never collide
        ordered = np.sort(draws, axis=1)
        clash = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        fill[todo[~clash]] = np.where(draws[~clash] >= 0, outside[np.maximum(draws[~clash], 0)], -1)
        todo = todo[clash]
    return fill


def sample_gate(program, signal: int, support: list[int], n: int, max_active: int | None,
                rng: np.random.Generator) -> GateSamples:
    """n inputs for one gate, half true and half false; a gate constant on the
    allowed inputs gets all n on the side it takes."""
    m = program.n_inputs
    patterns, values = _patterns_by_value(program, signal, support, max_active, rng)
    outside = np.setdiff1d(np.arange(m), support)
    wanted = np.arange(n) % 2 == 0
    if values.all() or not values.any():
        wanted[:] = bool(values[0])
    pools = {True: np.flatnonzero(values), False: np.flatnonzero(~values)}
    chosen = np.empty(n, dtype=np.int64)
    for side in (True, False):
        mask = wanted == side
        if mask.any():
            chosen[mask] = rng.choice(pools[side], size=int(mask.sum()))
    width = max((len(p) for p in patterns), default=0)
    padded = np.full((len(patterns), max(width, 1)), -1, dtype=np.int64)
    for i, pattern in enumerate(patterns):
        padded[i, : len(pattern)] = pattern
    on = padded[chosen]
    if max_active is None:
        dense = np.zeros((n, m), dtype=np.float32)
        dense[:, outside] = rng.random((n, outside.size)) < 0.5
        rows, cols = np.nonzero(on >= 0)
        dense[rows, on[rows, cols]] = 1.0
        return GateSamples(sp.csr_matrix(dense), wanted)
    slots = max_active - (on >= 0).sum(axis=1)
    active = np.concatenate([on, _distinct_fill(slots, outside, rng)], axis=1)
    valid = active >= 0
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    columns = active[valid]
    inputs = sp.csr_matrix((np.ones(columns.size, np.float32), columns, indptr), shape=(n, m))
    return GateSamples(inputs, wanted)
