"""Gates as polynomials of their input features, valid on s-sparse inputs:
the one polynomial algebra of the compiler, the sampler and the verifier.

Every boolean function f of the input features it depends on (its support S)
is a multilinear polynomial  f(x) = sum_T c_T prod_{t in T} x_t,  T subset of S,
with c_T = sum_{U subset T} (-1)^{|T|-|U|} f(1_U) (Moebius inversion). With at
most s features on, every monomial of degree > s is always 0, so only |T| <= s
matters: the polynomial truncated to degree s is exact on every s-sparse input.

It is computed gate by gate from the operands' polynomials (`node_polynomial`:
AND is a product, NOT is 1 - p, ..., with x^2 = x and degrees above s
dropped), which equals the Moebius inversion of the gate's values on the
patterns of at most s features (tests/test_sampling_large.py checks it against
enumeration) without enumerating them: a deep gate reads 100+ inputs, and
C(200, <= 3) is 1.3M patterns.

Degree-0 and degree-1 terms are linear (a bias and input reads); every monomial
of degree >= 2 is an AND of input features, computed by a superposed layer.

Patterns (subsets of a support with at most s features on) are enumerated in
one order everywhere: by size, then lexicographically (`subset_rows`).
"""
from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache, reduce
from itertools import combinations
from math import comb

import numpy as np

from superpose.compiler.interpret import node_value
from superpose.compiler.ir import Circuit, Lit, Op

Monomial = tuple[int, ...]            # sorted variable (input or signal) indices; () is the constant term
Polynomial = dict[Monomial, int]      # nonzero integer coefficients of monomials of degree <= s


def count_patterns(support_size: int, max_active: int) -> int:
    """How many patterns of a support have at most `max_active` features on."""
    return sum(comb(support_size, j) for j in range(min(support_size, max_active) + 1))


def sparse_patterns(support: Iterable[int], max_active: int) -> list[Monomial]:
    """Every subset of `support` with at most `max_active` elements: by size,
    then lexicographically (in the order of `support`). The one enumeration
    of patterns; subset_rows is the same as an array."""
    support = tuple(support)
    return [t for j in range(min(len(support), max_active) + 1) for t in combinations(support, j)]


@lru_cache(maxsize=64)
def subset_rows(n: int, max_size: int) -> np.ndarray:
    """(count_patterns(n, max_size), max_size) int64, read-only (it is shared):
    sparse_patterns(range(n), max_size), each row a subset's elements and then -1."""
    patterns = sparse_patterns(range(n), max_size)
    rows = np.full((len(patterns), max_size), -1, dtype=np.int64)
    start = 1  # row 0: the empty subset
    for k in range(1, min(n, max_size) + 1):  # one block of comb(n, k) rows per size
        rows[start:start + comb(n, k), :k] = patterns[start:start + comb(n, k)]
        start += comb(n, k)
    rows.flags.writeable = False
    return rows


class ConeValues:
    """The values of any literal of `circuit` when exactly the features of
    each of `patterns` are on. Evaluated signals are kept, so the gates that
    share a support (and so a pattern list) pay for their common cone once."""

    def __init__(self, circuit: Circuit, patterns: list[Monomial]):
        self.circuit, self.n_patterns = circuit, len(patterns)
        rows = np.repeat(np.arange(len(patterns)), [len(p) for p in patterns])
        features = np.fromiter((i for p in patterns for i in p), dtype=np.int64, count=rows.size)
        self._inputs_on: dict[int, np.ndarray] = {}
        for i in np.unique(features):  # one vectorised column per input that any pattern turns on
            column = np.zeros(len(patterns), dtype=bool)
            column[rows[features == i]] = True
            self._inputs_on[int(i)] = column
        self._off = np.zeros(len(patterns), dtype=bool)
        self._memo: dict[int, np.ndarray] = {}

    def of(self, lit: Lit) -> np.ndarray:
        """(n_patterns,) bool: the value of `lit` on every pattern."""
        result = self._value(lit.signal)
        return ~result if lit.negated else result

    def _value(self, signal: int) -> np.ndarray:
        circuit, memo = self.circuit, self._memo
        if signal < circuit.n_inputs:
            return self._inputs_on.get(signal, self._off)
        if signal not in memo:
            node = circuit.nodes[signal - circuit.n_inputs]
            columns = {o.signal: self._value(o.signal) for o in node.operands}
            stacked = np.stack([columns[o.signal] for o in node.operands], axis=1) if node.operands \
                else np.zeros((self.n_patterns, 0), dtype=bool)
            local = tuple(Lit(j, o.negated) for j, o in enumerate(node.operands))
            memo[signal] = node_value(node.op, node.k, local, stacked)
        return memo[signal]


def evaluate_cone(circuit: Circuit, lit: Lit, patterns: list[Monomial]) -> np.ndarray:
    """(n_patterns,) bool: the value of `lit` when exactly the features of each
    pattern are on. Evaluates only the gates `lit` depends on."""
    return ConeValues(circuit, patterns).of(lit)


def polynomial(circuit: Circuit, lit: Lit, max_active: int) -> dict[Monomial, float]:
    """The nonzero coefficients c_T (|T| <= max_active) of `lit` over its
    support, by degree and then lexicographically (the order of sparse_patterns)."""
    terms = polynomials_of(circuit, max_active).of(circuit, lit.signal)
    if lit.negated:
        terms = complement(terms)
    return {t: float(terms[t]) for t in sorted(terms, key=lambda t: (len(t), t))}


def complement(p: Polynomial) -> Polynomial:
    """1 - p."""
    out = {t: -c for t, c in p.items()}
    out[()] = out.get((), 0) + 1
    return {t: c for t, c in out.items() if c}


def add(p: Polynomial, q: Polynomial, scale: int = 1) -> Polynomial:
    """p + scale * q."""
    out = dict(p)
    for t, c in q.items():
        out[t] = out.get(t, 0) + scale * c
    return {t: c for t, c in out.items() if c}


def product(p: Polynomial, q: Polynomial, max_active: int) -> Polynomial:
    """p * q without the monomials of degree > max_active (x^2 = x).

    A pair of monomials whose degrees add up to more than max_active only fits
    if they share a variable, so those pairs are found through an index of q
    by variable instead of trying every pair."""
    if len(p) > len(q):
        p, q = q, p
    by_degree: dict[int, list] = defaultdict(list)
    containing: dict[int, list] = defaultdict(list)
    for t, c in q.items():
        by_degree[len(t)].append((t, c))
        for v in t:
            containing[v].append((t, c))
    out: dict[Monomial, int] = defaultdict(int)
    for t1, c1 in p.items():
        room, own = max_active - len(t1), set(t1)
        for degree in range(room + 1):
            for t2, c2 in by_degree[degree]:
                out[tuple(sorted(own.union(t2)))] += c1 * c2
        for v in t1:
            for t2, c2 in containing[v]:
                if len(t2) > room and min(own.intersection(t2)) == v:  # each pair once, at its first shared variable
                    union = own.union(t2)
                    if len(union) <= max_active:
                        out[tuple(sorted(union))] += c1 * c2
    return {t: c for t, c in out.items() if c}


def node_polynomial(op: Op, k: int, operands: list[Polynomial], max_active: int) -> Polynomial:
    """The polynomial of one gate (op, k as in ir.Node) from those of its
    operands, negations applied: the gate's semantics (interpret.py) as algebra."""
    times = lambda p, q: product(p, q, max_active)
    if op is Op.CONST:
        return {(): 1} if k else {}
    if op is Op.BUF:
        return operands[0]
    if op is Op.AND:
        return reduce(times, operands)
    if op is Op.OR:
        return complement(reduce(times, map(complement, operands)))
    if op is Op.XOR:  # a xor b = a + b - 2ab
        return reduce(lambda p, q: add(add(p, q), times(p, q), -2), operands)
    if op is Op.ATLEAST:  # exactly[j]: exactly j of the operands so far are true, j < k
        exactly = [{(): 1}] + [{} for _ in range(k - 1)]
        for lit in operands:
            off = complement(lit)
            exactly = [add(times(exactly[j], off), times(exactly[j - 1], lit) if j else {})
                       for j in range(k)]
        return complement(reduce(add, exactly))
    raise ValueError(f"unknown op {op}")


class SparsePolynomials:
    """The polynomials of a program's signals over its inputs, truncated to
    degree <= max_active: exact on every input with at most max_active ones
    (the module docstring explains why). Computed lazily, cone by cone in
    topological order, and kept: `polynomials_of` shares one per program, so
    the thousands of gates of a report pay for each signal once.

    Holds no reference to the program (it is cached by the program's id, and
    must not keep it alive); pass the same program to every call."""

    def __init__(self, n_signals: int, max_active: int):
        self.n_signals, self.max_active = n_signals, max_active
        self._memo: dict[int, Polynomial] = {}

    def of(self, program: Circuit, signal: int) -> Polynomial:
        memo, stack = self._memo, [signal]
        while stack:  # iterative: deep netlists would overflow recursion
            top = stack[-1]
            if top in memo:
                stack.pop()
            elif top < program.n_inputs:
                memo[stack.pop()] = {(top,): 1}
            else:
                node = program.nodes[top - program.n_inputs]
                missing = [o.signal for o in node.operands if o.signal not in memo]
                if missing:
                    stack.extend(missing)
                    continue
                operands = [complement(memo[o.signal]) if o.negated else memo[o.signal] for o in node.operands]
                memo[stack.pop()] = node_polynomial(node.op, node.k, operands, self.max_active)
        return memo[signal]


_POLYNOMIALS: dict[tuple[int, int], SparsePolynomials] = {}


def polynomials_of(program: Circuit, max_active: int) -> SparsePolynomials:
    """The shared SparsePolynomials of `program`, dropped when the program is."""
    key = (id(program), max_active)
    cached = _POLYNOMIALS.get(key)
    if cached is None or cached.n_signals != program.n_signals:  # a program that grew is a new program
        cached = _POLYNOMIALS[key] = SparsePolynomials(program.n_signals, max_active)
        weakref.finalize(program, _POLYNOMIALS.pop, key, None)
    return cached


