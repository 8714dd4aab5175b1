"""The sampler for large sparse supports (compiler.sampling, through the gates'
truncated polynomials) against enumeration and the reference interpreter."""
from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import chisquare

from superpose.compiler.generators import chain_circuit
from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.multilinear import evaluate_cone, polynomial, polynomials_of, sparse_patterns
from superpose.compiler.sampling import GateSamples, non_default_patterns, sample_gate


def random_circuit(n_inputs: int, n_nodes: int, seed: int) -> Circuit:
    """Every op, negated operands, repeated operands, constants."""
    rng = np.random.default_rng(seed)
    circuit = Circuit(f"random_{seed}", [f"x{i}" for i in range(n_inputs)])
    for i in range(n_nodes):
        op = [Op.AND, Op.OR, Op.XOR, Op.ATLEAST, Op.BUF, Op.CONST][rng.choice(6, p=[.25, .25, .15, .2, .1, .05])]
        width = 0 if op is Op.CONST else 1 if op is Op.BUF else int(rng.integers(1, 5))
        operands = tuple(Lit(int(rng.integers(circuit.n_signals)), bool(rng.random() < 0.3)) for _ in range(width))
        k = int(rng.integers(2)) if op is Op.CONST else int(rng.integers(1, width + 1)) if op is Op.ATLEAST else 0
        circuit.nodes.append(Node(op, operands, k, name=f"g{i}"))
    circuit.validate()
    return circuit


def _moebius(patterns: list[tuple[int, ...]], values: np.ndarray) -> dict[tuple[int, ...], int]:
    """The oracle: c_T = sum over U inside T of (-1)^(|T|-|U|) f(1_U), over the
    enumerated patterns (every subset of a pattern is a pattern), nonzero ones
    in pattern order."""
    value = dict(zip(patterns, values.astype(int).tolist()))
    coefficients = {t: sum((-1) ** (len(t) - j) * value[u] for j in range(len(t) + 1) for u in combinations(t, j))
                    for t in patterns}
    return {t: c for t, c in coefficients.items() if c}


@pytest.mark.parametrize("seed,n_inputs", [(0, 10), (1, 12), (2, 16)])
@pytest.mark.parametrize("max_active", [2, 3])
def test_polynomial_and_non_default_side_match_enumeration(seed: int, n_inputs: int, max_active: int) -> None:
    circuit = random_circuit(n_inputs, 40, seed)
    supports = circuit.supports()
    polynomials = polynomials_of(circuit, max_active)
    for signal in circuit.gate_signals:
        support = sorted(supports[signal])
        mine = polynomials.of(circuit, signal)
        patterns = sparse_patterns(support, max_active)
        values = evaluate_cone(circuit, Lit(signal), patterns)
        assert mine == _moebius(patterns, values)
        assert polynomial(circuit, Lit(signal), max_active) == {t: float(c) for t, c in _moebius(patterns, values).items()}
        expected = {p for p, v in zip(patterns, values) if v != values[0]}
        assert set(non_default_patterns(mine, support, max_active)) == expected


def pairs_or(n_pairs: int) -> Circuit:
    """x0&x1 | x2&x3 | ...: false with nothing on, and default patterns of every size."""
    circuit = Circuit("pairs", [f"x{i}" for i in range(2 * n_pairs + 4)], sparsity=3)
    for i in range(n_pairs):
        circuit.nodes.append(Node(Op.AND, (Lit(2 * i), Lit(2 * i + 1))))
    n = circuit.n_inputs
    circuit.nodes.append(Node(Op.OR, tuple(Lit(n + i) for i in range(n_pairs)), name="any_pair"))
    return circuit


def support_patterns(inputs, support: list[int]) -> list[tuple[int, ...]]:
    inside = set(support)
    return [tuple(sorted(c for c in row.indices.tolist() if c in inside)) for row in inputs]


def test_each_side_is_uniform_over_its_patterns() -> None:
    circuit = pairs_or(4)
    signal, support = circuit.n_signals - 1, list(range(8))
    rng = np.random.default_rng(0)
    calls = [sample_gate(circuit, signal, support, 64, 3, rng, enumeration_limit=0) for _ in range(300)]
    assert all((np.diff(c.inputs.indptr) <= 3).all() for c in calls)
    samples = GateSamples(sp.vstack([c.inputs for c in calls], format="csr"), np.concatenate([c.wanted for c in calls]))
    drawn = support_patterns(samples.inputs, support)  # 32 of each side per call: below 65, so drawn by rejection
    patterns = sparse_patterns(support, 3)
    values = evaluate_cone(circuit, Lit(signal), patterns)
    for side in (True, False):
        pool = [p for p, v in zip(patterns, values) if v == side]  # 28 true, 65 false (1 + 8 + 24 + 32 by size)
        seen = Counter(p for p, w in zip(drawn, samples.wanted) if w == side)
        assert set(seen) == set(pool)
        assert chisquare([seen[p] for p in pool]).pvalue > 1e-3  # uniform sizes would put 1/4 on the empty pattern


def test_few_default_patterns_are_listed_not_rejected() -> None:
    circuit = Circuit("any", [f"x{i}" for i in range(64)], sparsity=3)
    circuit.nodes.append(Node(Op.OR, tuple(Lit(i) for i in range(60)), name="any"))  # 36,051 patterns, 1 false
    samples = sample_gate(circuit, 64, list(range(60)), 100, 3, np.random.default_rng(0))
    on = support_patterns(samples.inputs, list(range(60)))
    assert [bool(p) for p in on] == samples.wanted.tolist() and samples.wanted.sum() == 50


def test_deep_chain_samples_are_correct_and_reproducible() -> None:
    circuit = chain_circuit(levels=32, gates=128, m=256)
    supports = circuit.supports()
    signal = max(circuit.gate_signals[-256:], key=lambda g: len(supports[g]))
    support = sorted(supports[signal])
    assert len(support) > 100
    samples = sample_gate(circuit, signal, support, 400, 3, np.random.default_rng(3))
    assert 0 < samples.wanted.sum() < 400 and (np.diff(samples.inputs.indptr) <= 3).all()
    values = evaluate(circuit, samples.inputs.toarray())[:, signal]
    assert (values == samples.wanted).all()
    again = sample_gate(circuit, signal, support, 400, 3, np.random.default_rng(3))
    assert (again.inputs != samples.inputs).nnz == 0 and (again.inputs.indices == samples.inputs.indices).all()


def test_every_support_pattern_once_then_random_fills() -> None:
    from superpose.compiler.sampling import every_support_pattern
    circuit = random_circuit(30, 10, 7)
    support = [2, 5, 11, 17, 23]
    inputs = every_support_pattern(circuit, support, 3, np.random.default_rng(0))
    rows = [set(inputs[i].indices.tolist()) for i in range(inputs.shape[0])]
    assert sorted(tuple(sorted(r & set(support))) for r in rows) == sorted(sparse_patterns(support, 3))
    assert all(len(r) == 3 for r in rows)  # every pattern completed to 3 on, from outside the support
