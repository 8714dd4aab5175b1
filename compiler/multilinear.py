"""Gates as polynomials of their input features, valid on s-sparse inputs.

Every boolean function f of the input features it depends on (its support S)
is a multilinear polynomial  f(x) = sum_T c_T prod_{t in T} x_t,  T subset of S.
With at most s features on, every monomial of degree > s is always 0, so only
|T| <= s matters, and c_T follows from f on the patterns with <= s features on
(Moebius inversion):  c_T = sum_{U subset T} (-1)^{|T|-|U|} f(1_U).

Degree-0 and degree-1 terms are linear (a bias and input reads); every monomial
of degree >= 2 is an AND of input features, computed by the superposed layer.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from math import comb

import numpy as np

from superpose.compiler.interpret import _node_value
from superpose.compiler.ir import Circuit, Lit

Monomial = tuple[int, ...]  # sorted input indices; () is the constant term


def count_patterns(support_size: int, max_active: int) -> int:
    """How many patterns of a support have at most `max_active` features on."""
    return sum(comb(support_size, j) for j in range(min(support_size, max_active) + 1))


def sparse_patterns(support: list[int], max_active: int) -> list[Monomial]:
    """Every subset of `support` with at most `max_active` elements, smallest first."""
    return [t for j in range(min(len(support), max_active) + 1) for t in combinations(support, j)]


def evaluate_cone(circuit: Circuit, lit: Lit, patterns: list[Monomial]) -> np.ndarray:
    """(n_patterns,) bool: the value of `lit` when exactly the features of each
    pattern are on. Evaluates only the gates `lit` depends on."""
    memo: dict[int, np.ndarray] = {}
    rows = np.repeat(np.arange(len(patterns)), [len(p) for p in patterns])
    features = np.fromiter((i for p in patterns for i in p), dtype=np.int64, count=rows.size)
    inputs_on = {}
    for i in np.unique(features):  # one vectorised column per input that any pattern turns on
        column = np.zeros(len(patterns), dtype=bool)
        column[rows[features == i]] = True
        inputs_on[int(i)] = column
    off = np.zeros(len(patterns), dtype=bool)

    def value(signal: int) -> np.ndarray:
        if signal < circuit.n_inputs:
            return inputs_on.get(signal, off)
        if signal not in memo:
            node = circuit.nodes[signal - circuit.n_inputs]
            for operand in node.operands:
                value(operand.signal)
            columns = {o.signal: value(o.signal) for o in node.operands}
            stacked = np.stack([columns[o.signal] for o in node.operands], axis=1) if node.operands \
                else np.zeros((len(patterns), 0), dtype=bool)
            local = tuple(Lit(j, o.negated) for j, o in enumerate(node.operands))
            memo[signal] = _node_value(node.op, node.k, local, stacked)
        return memo[signal]

    result = value(lit.signal)
    return ~result if lit.negated else result


@lru_cache(maxsize=256)
def _moebius(support_size: int, max_active: int) -> np.ndarray:
    """(n_patterns, n_patterns) matrix taking f on the sparse patterns of
    range(support_size) to the coefficients c_T (same pattern order)."""
    patterns = sparse_patterns(list(range(support_size)), max_active)
    index = {p: i for i, p in enumerate(patterns)}
    matrix = np.zeros((len(patterns), len(patterns)))
    for t, pattern in enumerate(patterns):
        for j in range(len(pattern) + 1):
            for u in combinations(pattern, j):
                matrix[t, index[u]] = (-1) ** (len(pattern) - j)
    return matrix


def polynomial(circuit: Circuit, lit: Lit, support: list[int], max_active: int) -> dict[Monomial, float]:
    """The nonzero coefficients c_T (|T| <= max_active) of `lit` over `support`."""
    patterns = sparse_patterns(sorted(support), max_active)
    values = evaluate_cone(circuit, lit, patterns).astype(np.float64)
    coefficients = _moebius(len(support), max_active) @ values
    return {patterns[t]: float(coefficients[t]) for t in np.flatnonzero(coefficients)}
