"""The stratified test distribution of a gate.

For each gate, equal numbers of inputs on which it is true and on which it is
false. An input: choose which features of the gate's support are on, uniformly
among the patterns of at most s of them that give the wanted value; then fill
the remaining active slots (up to s in all) with random features outside the
support (uniformly, or partly from the gate's neighbourhood: the fills of
compiler/co_activity.py). Without a sparsity declaration, the support pattern is uniform among
all its patterns and every other feature is on with probability 1/2.

Small supports enumerate their patterns and evaluate the gate on each. Large
sparse supports (more than ENUMERATION_LIMIT patterns: a deep gate reads 100+
inputs, C(200, <=3) is 1.3M patterns) draw from the same distribution without
enumerating, through the gate's polynomial truncated to degree s
(`SparsePolynomials`):
  1. the value at no input on, g(empty), is the constant term;
  2. every pattern with the other value contains a nonzero monomial, so the
     supersets of the nonzero monomials are a complete list of candidates for
     that side ("non-default"), kept where g differs from g(empty);
  3. the default side is every other pattern: drawn by size (with probability
     proportional to C(n, k)) and then as a uniform k-subset, rejecting the
     non-default ones (listed instead when it is too small for rejection).
Both are exact: the same distribution as enumerating, from different draws.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from math import comb

import numpy as np
import scipy.sparse as sp

from superpose.compiler.co_activity import DEFAULT_FILL, neighbourhoods_of, split_slots
from superpose.compiler.ir import Circuit, Lit
from superpose.compiler.multilinear import (ConeValues, Monomial, Polynomial, count_patterns, evaluate_cone,
                                            polynomials_of, sparse_patterns, subset_rows)

MAX_ENUMERATED_SUPPORT = 16  # dense programs: supports larger than this are sampled, not enumerated
DENSE_PATTERN_DRAWS = 4096   # ... from this many uniform patterns of the support (duplicates merged)
DENSE_ON_PROBABILITY = 0.5   # without a sparsity, every input is allowed: each feature is on with this chance
ENUMERATION_LIMIT = 20_000  # sparse supports with more patterns are sampled through the polynomial:
# enumerating 20k patterns costs ~0.1-0.2 s per gate (the polynomial: ~1-2 ms), and every support
# of at most 49 inputs at s = 3 (199 at s = 2) stays under it, so the samples of the supports that
# could be enumerated before (reports, probes of supports <= 32) stay exactly what they were

@dataclass
class GateSamples:
    """Samples of one gate. inputs: (n, n_inputs) CSR of 0/1; wanted: (n,) bool."""
    inputs: sp.csr_matrix
    wanted: np.ndarray


@dataclass
class _SupportTable:
    """A support's patterns of at most s features on, padded ((n_patterns,
    width) int64, -1 past each pattern), and its gates' values on them."""
    padded: np.ndarray
    values: ConeValues


SUPPORT_TABLES_KEPT = 16  # per program: the gates of a sub-circuit follow each other and share supports
SUPPORT_TABLE_PATTERNS = 2000  # larger tables are not kept: their cone values would cost ~patterns x cone bytes each
_SUPPORT_TABLES: dict[int, OrderedDict] = {}


def _support_table(program: Circuit, support: list[int], max_active: int | None) -> _SupportTable:
    """The table of `support` for this program (shared: a report asks for it
    once per gate, and the gates of a sub-circuit share few supports). Only
    for enumerated supports, whose patterns involve no randomness."""
    tables = _SUPPORT_TABLES.get(id(program))
    if tables is None:
        tables = _SUPPORT_TABLES[id(program)] = OrderedDict()
        weakref.finalize(program, _SUPPORT_TABLES.pop, id(program), None)
    key = (tuple(support), max_active, program.n_signals)  # a program that grew is a new program
    if key in tables:
        tables.move_to_end(key)
        return tables[key]
    patterns = sparse_patterns(support, len(support) if max_active is None else max_active)
    table = _SupportTable(_padded(patterns, max((len(p) for p in patterns), default=0)), ConeValues(program, patterns))
    if len(patterns) <= SUPPORT_TABLE_PATTERNS:
        tables[key] = table
        if len(tables) > SUPPORT_TABLES_KEPT:
            tables.popitem(last=False)
    return table


def _outside(support: list[int], m: int) -> np.ndarray:
    """(m - len(support),) sorted int64: the features of range(m) not in `support`."""
    keep = np.ones(m, dtype=bool)
    keep[list(support)] = False
    return np.flatnonzero(keep).astype(np.int64)


def _distinct_fill(slots: np.ndarray, outside: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, max slots) random distinct features from `outside`, -1 past each row's slots."""
    n, width = slots.size, min(int(slots.max(initial=0)), outside.size)
    fill = np.full((n, width), -1, dtype=np.int64)
    todo = np.arange(n)
    used = np.arange(width)[None, :] < np.minimum(slots, outside.size)[:, None]
    unused = -1 - np.arange(width)[None, :]  # unused columns never collide
    while todo.size and width:
        draws = np.where(used[todo] if todo.size < n else used,
                         rng.integers(0, outside.size, size=(todo.size, width)), unused)
        clash = _has_repeat(draws)
        kept = draws[~clash]
        fill[todo[~clash]] = np.where(kept >= 0, outside[np.maximum(kept, 0)], -1)
        todo = todo[clash]
    return fill


PAIRWISE_WIDTH = 6  # rows at most this wide are checked for repeats pair by pair (faster than sorting them)


def _has_repeat(rows: np.ndarray) -> np.ndarray:
    """(n,) bool: whether row i of rows (n, width) holds some value twice."""
    width = rows.shape[1]
    if width > PAIRWISE_WIDTH:
        ordered = np.sort(rows, axis=1)
        return (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    repeat = np.zeros(rows.shape[0], dtype=bool)
    for i in range(1, width):
        for j in range(i):
            repeat |= rows[:, i] == rows[:, j]
    return repeat


def _keys(rows: np.ndarray, n: int) -> np.ndarray:
    """(k,) int64: patterns given as (k, max_active) sorted positions in a
    support of n features, padded with n, read as numbers in base n + 1."""
    keys = np.zeros(rows.shape[0], dtype=np.int64)
    for column in rows.T:
        keys = keys * (n + 1) + column
    return keys


@lru_cache(maxsize=8)
def _subsets(n: int, size: int) -> np.ndarray:
    """(C(n, <= size), size): every subset of range(n) of at most `size`
    elements (multilinear.subset_rows), padded with n, the padding of a key."""
    rows = subset_rows(n, size)
    return np.where(rows < 0, n, rows)


def _rows(keys: np.ndarray, n: int, max_active: int) -> np.ndarray:
    """Inverse of _keys."""
    rows = np.empty((keys.size, max_active), dtype=np.int64)
    for j in reversed(range(max_active)):
        keys, rows[:, j] = np.divmod(keys, n + 1)
    return rows


CANDIDATE_CHUNK = 1 << 20  # candidate rows built at once (~25 MB at s = 3)


def _candidates(minimal: list[np.ndarray], n: int, max_active: int) -> np.ndarray:
    """(k,) sorted keys of the patterns of range(n) with at most max_active
    elements that contain one of the `minimal` monomials (arrays of positions)."""
    parts = [np.zeros(0, dtype=np.int64)]
    for degree in sorted({term.size for term in minimal}):
        terms = np.array([term for term in minimal if term.size == degree])
        extras = _subsets(n, max_active - degree)
        per_chunk = max(1, CANDIDATE_CHUNK // len(extras))
        for start in range(0, len(terms), per_chunk):
            chunk = terms[start:start + per_chunk]
            rows = np.concatenate([np.repeat(chunk, len(extras), axis=0), np.tile(extras, (len(chunk), 1))], axis=1)
            rows.sort(axis=1)
            rows[:, 1:][rows[:, 1:] == rows[:, :-1]] = n  # an extra inside the term: that pattern is smaller
            rows.sort(axis=1)
            parts.append(np.unique(_keys(rows, n)))
    return np.unique(np.concatenate(parts))


def _non_default_rows(polynomial: Polynomial, support: list[int], max_active: int) -> np.ndarray:
    """(k, max_active) sorted rows of positions in `support`, padded with
    len(support), in key order: the patterns where the gate differs from its
    value with nothing on (see non_default_patterns)."""
    n = len(support)
    if (n + 1) ** max_active >= 2 ** 63:
        raise ValueError(f"a support of {n} features at sparsity {max_active} is too large to sample")
    position = {v: i for i, v in enumerate(support)}
    terms = {t: c for t, c in polynomial.items() if t}
    if any(v not in position for t in terms for v in t):
        raise ValueError("the polynomial reads features outside the given support")
    local = np.full((len(terms), max_active), n, dtype=np.int64)
    for i, t in enumerate(terms):
        local[i, :len(t)] = [position[v] for v in t]
    local_keys = _keys(local, n)
    order = np.argsort(local_keys)
    term_keys, coefficients = local_keys[order], np.array(list(terms.values()), dtype=np.int64)[order]
    minimal = [local[i, :len(t)] for i, t in enumerate(terms)
               if not any(u in terms for j in range(1, len(t)) for u in combinations(t, j))]
    rows = _rows(_candidates(minimal, n, max_active), n, max_active)
    if not len(rows):
        return rows
    flips = np.zeros(len(rows), dtype=np.int64)  # g(S) - g(empty): the terms inside S
    for j in range(1, max_active + 1):
        for chosen in combinations(range(max_active), j):  # each subset of S once: its positions in the row
            sub = np.full_like(rows, n)
            sub[:, :j] = rows[:, chosen]
            keys = _keys(sub, n)
            at = np.minimum(np.searchsorted(term_keys, keys), len(term_keys) - 1)
            hit = (sub[:, :j] < n).all(axis=1) & (term_keys[at] == keys)
            flips[hit] += coefficients[at[hit]]
    return rows[flips != 0]


def non_default_patterns(polynomial: Polynomial, support: list[int], max_active: int) -> list[Monomial]:
    """Every pattern of `support` (sorted) with at most max_active features on
    where the gate differs from its value with none on, sorted.

    g(S) - g(empty) is the sum of the coefficients of the nonconstant monomials
    inside S, so such an S contains a nonzero monomial: the candidates are the
    supersets (within the support, of size <= max_active) of the minimal
    nonzero monomials, each then evaluated exactly through the polynomial.
    The cost is the number of candidates, about the size of the side: a
    degree-2 monomial brings ~n of them, a degree-1 monomial C(n - 1, <= s - 1)
    (~20k at n = 200, s = 3); a gate that is on for most patterns (an OR of
    many inputs) lists close to all of them: it still works, as slowly (and
    with as much memory) as enumerating."""
    padded = np.append(np.asarray(support, dtype=np.int64), -1)
    return [tuple(int(v) for v in row if v >= 0) for row in padded[_non_default_rows(polynomial, support, max_active)]]


def _draw_default(n: int, max_active: int, non_default: np.ndarray, count: int,
                  rng: np.random.Generator) -> np.ndarray:
    """(count, max_active) sorted rows of positions in range(n), padded with n:
    uniform among the patterns of at most max_active elements whose keys are
    not in `non_default` (sorted): a size k with probability proportional to
    C(n, k), then a uniform k-subset, rejected if non-default.

    Rejection needs total / n_default draws per sample; when that exceeds the
    whole enumeration (fewer default patterns than samples wanted) the default
    side is listed instead, as the complement of `non_default` among all the
    patterns. Listing `non_default` already cost about as much, so this at most
    doubles the work (and never loops: the empty pattern is always default)."""
    by_size = np.array([comb(n, k) for k in range(min(n, max_active) + 1)], dtype=float)
    n_default = count_patterns(n, max_active) - non_default.size
    if n_default < count:
        every = subset_rows.__wrapped__(n, max_active)  # not kept: it can be large, and this is rare
        every = np.where(every < 0, n, every)
        default = every[~np.isin(_keys(every, n), non_default)]
        return default[rng.choice(len(default), size=count)]
    accept = n_default / by_size.sum()
    drawn = []
    while sum(map(len, drawn)) < count:
        tries = int((count - sum(map(len, drawn))) / accept * 1.25) + 8
        sizes = rng.choice(by_size.size, size=tries, p=by_size / by_size.sum())
        rows = np.full((tries, max_active), n, dtype=np.int64)
        fill = _distinct_fill(sizes, np.arange(n), rng)
        rows[:, :fill.shape[1]] = np.where(fill >= 0, fill, n)
        rows.sort(axis=1)
        drawn.append(rows[~np.isin(_keys(rows, n), non_default)])
    return np.concatenate(drawn)[:count]


def _draw_by_polynomial(program: Circuit, signal: int, support: list[int], n: int, max_active: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(on (n, max_active) input indices padded with -1, wanted (n,)): the
    stratified draw of the support patterns, without enumerating them."""
    polynomial = polynomials_of(program, max_active).of(program, signal)
    default_value = polynomial.get((), 0) == 1
    non_default = _non_default_rows(polynomial, support, max_active)
    wanted = np.arange(n) % 2 == 0
    if not len(non_default):
        wanted[:] = default_value
    rows = np.empty((n, max_active), dtype=np.int64)
    for side in (True, False):
        mask = wanted == side
        if not mask.any():
            continue
        if side == default_value:
            rows[mask] = _draw_default(len(support), max_active, _keys(non_default, len(support)), int(mask.sum()), rng)
        else:
            rows[mask] = non_default[rng.choice(len(non_default), size=int(mask.sum()))]
    return np.append(np.asarray(support, dtype=np.int64), -1)[rows], wanted


def _draw_by_enumeration(program: Circuit, signal: int, support: list[int], n: int, max_active: int | None,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(on (n, width) input indices padded with -1, wanted (n,)): the
    stratified draw among every pattern (a sample of them, for a large
    support without a sparsity)."""
    if max_active is not None or len(support) <= MAX_ENUMERATED_SUPPORT:
        table = _support_table(program, support, max_active)
        padded, values = table.padded, table.values.of(Lit(signal))
    else:
        on = rng.random((DENSE_PATTERN_DRAWS, len(support))) < DENSE_ON_PROBABILITY
        patterns = sorted({tuple(np.asarray(support)[row].tolist()) for row in on})
        padded = _padded(patterns, max((len(p) for p in patterns), default=0))
        values = evaluate_cone(program, Lit(signal), patterns)
    wanted = np.arange(n) % 2 == 0
    if values.all() or not values.any():
        wanted[:] = bool(values[0])
    pools = {True: np.flatnonzero(values), False: np.flatnonzero(~values)}
    chosen = np.empty(n, dtype=np.int64)
    for side in (True, False):
        mask = wanted == side
        if mask.any():
            chosen[mask] = rng.choice(pools[side], size=int(mask.sum()))
    return padded[chosen], wanted


def _padded(patterns: list[tuple[int, ...]], width: int) -> np.ndarray:
    """(len(patterns), max(width, 1)) int64: each pattern's features, then -1."""
    padded = np.full((len(patterns), max(width, 1)), -1, dtype=np.int64)
    for i, pattern in enumerate(patterns):
        padded[i, : len(pattern)] = pattern
    return padded


def sample_gate(program: Circuit, signal: int, support: list[int], n: int, max_active: int | None,
                rng: np.random.Generator, enumeration_limit: int = ENUMERATION_LIMIT,
                neighbourhood: np.ndarray | None = None) -> GateSamples:
    """n inputs for one gate, half true and half false; a gate constant on the
    allowed inputs gets all n on the side it takes. Sparse supports with more
    than `enumeration_limit` patterns are drawn through the gate's polynomial.
    The free slots are filled uniformly from outside the support, or, given
    the gate's `neighbourhood` ((k,) sorted input indices outside the support),
    by the neighbourhood fill of compiler/co_activity.py."""
    m = program.n_inputs
    if max_active is not None and count_patterns(len(support), max_active) > enumeration_limit:
        on, wanted = _draw_by_polynomial(program, signal, support, n, max_active, rng)
    else:
        on, wanted = _draw_by_enumeration(program, signal, support, n, max_active, rng)
    outside = _outside(support, m)
    if max_active is None:
        dense = np.zeros((n, m), dtype=np.float32)
        dense[:, outside] = rng.random((n, outside.size)) < DENSE_ON_PROBABILITY
        rows, cols = np.nonzero(on >= 0)
        dense[rows, on[rows, cols]] = 1.0
        return GateSamples(sp.csr_matrix(dense), wanted)
    return GateSamples(_filled(on, outside, m, max_active, rng, neighbourhood), wanted)


def _filled(on: np.ndarray, outside: np.ndarray, m: int, max_active: int, rng: np.random.Generator,
            neighbourhood: np.ndarray | None = None) -> sp.csr_matrix:
    """on: (n, width) support features on, -1 padded -> (n, m) CSR inputs with
    the remaining active slots (up to max_active) filled from `outside`:
    uniformly, or by the neighbourhood fill when `neighbourhood` is given."""
    slots = max_active - (on >= 0).sum(axis=1)
    if neighbourhood is None:
        fill = _distinct_fill(slots, outside, rng)
    else:
        far_mask = np.zeros(m, dtype=bool)
        far_mask[outside] = True
        far_mask[neighbourhood] = False
        far = np.flatnonzero(far_mask).astype(np.int64)
        near_slots = split_slots(slots, neighbourhood.size, far.size, rng)
        fill = np.concatenate([_distinct_fill(near_slots, neighbourhood, rng),
                               _distinct_fill(slots - near_slots, far, rng)], axis=1)
    active = np.concatenate([on, fill], axis=1)
    valid = active >= 0
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    columns = active[valid]
    return sp.csr_matrix((np.ones(columns.size, np.float32), columns, indptr), shape=(on.shape[0], m))


def every_support_pattern(program: Circuit, support: list[int], max_active: int, rng: np.random.Generator) -> sp.csr_matrix:
    """One input per pattern of at most `max_active` support features on, the
    remaining active slots filled with random features outside the support:
    (count_patterns(len(support), max_active), n_inputs) CSR of 0/1."""
    on = _padded(sparse_patterns(support, max_active), max_active)
    return _filled(on, _outside(support, program.n_inputs), program.n_inputs, max_active, rng)


SAMPLE_BATCH_ROWS = 65536  # inputs drawn (and evaluated by the caller) per batch of whole gates


def program_gate_samples(program: Circuit, n_samples: int, max_active: int | None, seed: int,
                         gates: list[int] | np.ndarray | None = None, fill: str = DEFAULT_FILL):
    """Yield (gate indices, inputs CSR (n, n_inputs), wanted (n,), owner (n,)) in
    batches of whole gates (all gates of `program`, or those listed), n_samples
    stratified inputs per gate; owner[i] is the position of sample i's gate in
    the batch. `fill`: one of co_activity.FILLS. Used by the report and by the
    compiler's confirmation (lower_superposed), so both measure one distribution."""
    rng = np.random.default_rng(seed)
    supports = program.supports()
    signals = program.gate_signals
    chosen = np.arange(len(signals)) if gates is None else np.asarray(gates, dtype=np.int64)
    near = neighbourhoods_of(program) if fill == "neighbourhood" and max_active is not None else None
    per_batch = max(1, SAMPLE_BATCH_ROWS // n_samples)
    for start in range(0, chosen.size, per_batch):
        batch = chosen[start:start + per_batch]
        parts = [sample_gate(program, signal, support, n_samples, max_active, rng,
                             neighbourhood=None if near is None else near.of(support))
                 for signal, support in ((signals[g], sorted(supports[signals[g]])) for g in batch)]
        yield (batch, sp.vstack([p.inputs for p in parts], format="csr"),
               np.concatenate([p.wanted for p in parts]), np.repeat(np.arange(batch.size), n_samples))


@dataclass
class StratifiedRates:
    """Per-gate error on the stratified distribution, the one rule that the
    report (runtime/report.py) and the compiler's confirmation
    (compiler/hub_confirm.py) both apply: error = the mean of the
    false-positive and false-negative rates, or the rate of the one side a
    gate constant on the allowed inputs has. All (n_gates,): the rates
    float64 (NaN where the gate has no such side), the sample counts int64."""
    false_positive: np.ndarray
    false_negative: np.ndarray
    n_false: np.ndarray
    n_true: np.ndarray

    @property
    def error(self) -> np.ndarray:
        """(n_gates,) float64: the mean of the rates the gate has."""
        fp, fn = self.false_positive, self.false_negative
        return np.where(np.isnan(fp), fn, np.where(np.isnan(fn), fp, (fp + fn) / 2))

    @classmethod
    def concatenate(cls, parts: list["StratifiedRates"], n_gates: int) -> "StratifiedRates":
        """The rates of consecutive batches of gates as one (n_gates in all)."""
        if not parts:
            return cls(*(np.zeros(n_gates) for _ in range(2)), *(np.zeros(n_gates, np.int64) for _ in range(2)))
        return cls(*(np.concatenate([getattr(part, name) for part in parts])
                     for name in ("false_positive", "false_negative", "n_false", "n_true")))


def wilson_upper(rate: np.ndarray, samples: np.ndarray | int, z: float) -> np.ndarray:
    """The Wilson score bound `z` standard errors above (below, for z < 0) a
    rate measured on `samples` trials: the rate p at which the measured one
    lies z standard errors, sqrt(p (1 - p) / samples), away. Unlike the
    measured rate plus its own standard error it is not 0 for a rate measured
    at 0, and it narrows as the samples grow. A gate's stratified error is a
    rate on all its samples (half are drawn on each side, so it is the share
    of wrong ones, with at most a binomial's variance). Shapes broadcast."""
    n = np.asarray(samples, dtype=np.float64)
    p, z2 = np.asarray(rate, dtype=np.float64), z * z
    spread = z * np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    return (p + z2 / (2.0 * n) + spread) / (1.0 + z2 / n)


def stratified_rates(said: np.ndarray, wanted: np.ndarray, owner: np.ndarray, n_gates: int) -> StratifiedRates:
    """The rates of every gate from its samples: said, wanted (k,) bool
    (whether a sample's readout is true, i.e. above network.THRESHOLD, and
    whether it should be), owner (k,) int, the position in 0 .. n_gates - 1
    of the sample's gate."""
    wrong = said != wanted
    counts = [np.bincount(owner[side], minlength=n_gates) for side in (~wanted, wanted)]
    with np.errstate(invalid="ignore"):  # 0 / 0: no sample on that side, NaN
        fp, fn = (np.bincount(owner[side], wrong[side], minlength=n_gates) / count
                  for side, count in zip((~wanted, wanted), counts))
    return StratifiedRates(fp, fn, counts[0], counts[1])
