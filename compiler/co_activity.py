"""Structured co-activity: which other inputs are on together with a gate's support.

The stratified distribution (compiler/sampling.py) fixes the pattern of a
gate's support and then fills the remaining active slots (up to the sparsity s)
with features outside the support. How those slots are filled is the *fill*:

  uniform        every free slot from the features outside the support,
                 uniformly (distinct features).
  neighbourhood  (the default: DEFAULT_FILL) each free slot, independently with probability
                 NEIGHBOURHOOD_SHARE, from the gate's neighbourhood, else from
                 the features outside both the support and the neighbourhood;
                 uniformly (distinct features) within each part. A part that
                 runs out hands its remaining slots to the other.

The neighbourhood of a gate, from the program's DAG alone: two inputs are
*neighbours* when some gate's support holds both (they feed one computation),
and a gate's neighbourhood is every neighbour of a feature of its support,
minus the support itself. In a program of independent sub-circuits (circuits-T)
it lies inside the gate's own circuit: the inputs of that circuit that some gate
reads together with one of its own, the ones a user naturally turns on
together. Interference that lands on exactly those input sets is what the
uniform fill almost never draws (at 4,096 inputs, a uniform slot hits one of
the few other inputs of a circuit with probability ~0.1%).

Without a sparsity the stratified distribution turns every feature outside the
support on with probability 1/2, so both fills are the same there.
"""
from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse as sp

FILLS = ("uniform", "neighbourhood")  # the named fills
DEFAULT_FILL = "neighbourhood"  # what a report measures unless told: users turn on inputs that belong together
NEIGHBOURHOOD_SHARE = 0.5  # probability that a free slot is drawn from the gate's neighbourhood
NEIGHBOURHOODS_KEPT = 4096  # supports whose neighbourhood is kept (then forgotten at once): bounded memory


def input_neighbours(program) -> sp.csr_matrix:
    """(n_inputs, n_inputs) bool CSR: inputs i and j are neighbours when the
    support of some gate (node) of `program` holds both (the diagonal is set
    for every input some gate reads)."""
    supports = program.supports()[program.n_inputs:]
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in supports])]).astype(np.int64)
    columns = np.fromiter((i for s in supports for i in s), dtype=np.int64, count=int(indptr[-1]))
    incidence = sp.csr_matrix((np.ones(columns.size, dtype=np.float32), columns, indptr),
                              shape=(len(supports), program.n_inputs))
    together = (incidence.T @ incidence).tocsr()
    together.data[:] = 1.0
    return together.astype(bool)


class Neighbourhoods:
    """The neighbourhood of any support of one program (see the module docstring)."""

    def __init__(self, program):
        self.n_inputs = program.n_inputs
        self.neighbours = input_neighbours(program)
        self._known: dict[tuple[int, ...], np.ndarray] = {}  # support -> its neighbourhood

    def of(self, support: list[int]) -> np.ndarray:
        """(k,) sorted input indices: neighbours of a feature of `support`, outside it.
        Kept per support: the gates of one sub-circuit share few supports."""
        key = tuple(support)
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= NEIGHBOURHOODS_KEPT:
                self._known.clear()
            indptr, indices = self.neighbours.indptr, self.neighbours.indices
            near = np.zeros(self.n_inputs, dtype=bool)
            for i in support:
                near[indices[indptr[i]:indptr[i + 1]]] = True
            near[list(support)] = False
            known = self._known[key] = np.flatnonzero(near).astype(np.int64)
        return known


_NEIGHBOURHOODS: dict[int, Neighbourhoods] = {}


def neighbourhoods_of(program) -> Neighbourhoods:
    """The shared Neighbourhoods of `program`, dropped when the program is."""
    key = id(program)
    cached = _NEIGHBOURHOODS.get(key)
    if cached is None or cached.n_inputs != program.n_inputs:
        cached = _NEIGHBOURHOODS[key] = Neighbourhoods(program)
        weakref.finalize(program, _NEIGHBOURHOODS.pop, key, None)
    return cached


def split_slots(slots: np.ndarray, n_near: int, n_far: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) how many of each row's free `slots` come from the neighbourhood:
    Binomial(slots, NEIGHBOURHOOD_SHARE), moved into range when a part has
    fewer features than it was dealt (then the other part takes the rest)."""
    near = rng.binomial(slots, NEIGHBOURHOOD_SHARE)
    near = np.minimum(near, n_near)
    return np.maximum(near, np.minimum(slots - n_far, n_near))
