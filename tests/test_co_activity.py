"""The neighbourhood fill (compiler/co_activity.py): the neighbourhood is what
its definition says, and the drawn inputs follow the documented mixing rule
exactly (chi-square tests against the stated distribution)."""
from __future__ import annotations

import json
from collections import Counter
from itertools import combinations
from math import comb
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import binom, chisquare

from superpose.compiler import compile_circuit
from superpose.compiler.co_activity import NEIGHBOURHOOD_SHARE, Neighbourhoods, split_slots
from superpose.compiler.generators.circuits import circuits_circuit
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.sampling import sample_gate
from superpose.errors import UserError
from superpose.runtime.artifact import save
from superpose.runtime.cli import main
from superpose.runtime.report import error_report


P_VALUE = 1e-3  # a correct sampler fails one of these tests about once in a thousand runs


def test_neighbourhood_of_a_circuits_T_gate_is_the_rest_of_its_circuit() -> None:
    """Brute force over the definition: the union of the supports that meet the
    gate's, minus its own; in circuits-T that lies inside the gate's circuit."""
    circuit = circuits_circuit(6, levels=8, width=4, inputs=8, sparsity=4)
    near = Neighbourhoods(circuit)
    supports = circuit.supports()
    for signal in circuit.gate_signals:
        support = set(supports[signal])
        expected = set().union(*(s for s in supports[circuit.n_inputs:] if s & support)) - support
        mine = near.of(sorted(support)).tolist()
        assert mine == sorted(expected)
        assert {i // 8 for i in mine} <= {min(support) // 8}


def test_neighbourhood_follows_shared_supports_not_wiring() -> None:
    """x0 & x1 and x1 & x2 share x1; x3 | x4 shares nothing with them; x5 is read by nobody."""
    circuit = Circuit("three", [f"x{i}" for i in range(6)], sparsity=2)
    circuit.nodes += [Node(Op.AND, (Lit(0), Lit(1)), name="a"), Node(Op.AND, (Lit(1), Lit(2)), name="b"),
                      Node(Op.OR, (Lit(3), Lit(4)), name="c")]
    near = Neighbourhoods(circuit)
    assert near.of([0, 1]).tolist() == [2]
    assert near.of([0]).tolist() == [1]
    assert near.of([1, 2]).tolist() == [0]
    assert near.of([3, 4]).tolist() == []
    assert near.of([5]).tolist() == []


def test_split_slots_is_binomial_and_respects_both_parts() -> None:
    rng = np.random.default_rng(0)
    slots = np.full(40_000, 3)
    near = split_slots(slots, n_near=10, n_far=10, rng=rng)
    counts = np.bincount(near, minlength=4)
    assert chisquare(counts, binom.pmf(range(4), 3, NEIGHBOURHOOD_SHARE) * slots.size).pvalue > P_VALUE
    assert (split_slots(slots, n_near=1, n_far=10, rng=rng) <= 1).all()
    assert (split_slots(slots, n_near=10, n_far=1, rng=rng) >= 2).all()  # only one far feature: the rest go near


def level_one_gate(circuit: Circuit) -> tuple[int, list[int]]:
    """The level-1 gate (support of 2) with the most neighbours."""
    supports, near = circuit.supports(), Neighbourhoods(circuit)
    signal = max((s for s in circuit.gate_signals if len(supports[s]) == 2),
                 key=lambda s: near.of(sorted(supports[s])).size)
    return signal, sorted(supports[signal])


def test_neighbourhood_fill_draws_the_documented_distribution() -> None:
    """A level-1 gate (support of 2, its neighbours, the others far):
    given k support features on, j of the 4 - k free slots come from the
    neighbourhood with probability Binomial(4 - k, 1/2), the j neighbours are a
    uniform j-subset, and the others a uniform subset of the far features."""
    circuit = circuits_circuit(8, levels=8, width=4, inputs=8, sparsity=4)
    signal, support = level_one_gate(circuit)
    near = Neighbourhoods(circuit).of(support)
    far = np.setdiff1d(np.setdiff1d(np.arange(circuit.n_inputs), support), near)
    assert near.size >= 3 and far.size >= 56
    rng = np.random.default_rng(1)
    inputs = sp.vstack([sample_gate(circuit, signal, support, 400, 4, rng, neighbourhood=near).inputs
                        for _ in range(100)], format="csr")
    by_slots: dict[int, Counter] = {}
    near_subsets: dict[int, Counter] = {1: Counter(), 2: Counter()}
    far_features: Counter = Counter()
    for row in range(inputs.shape[0]):
        on = set(inputs[row].indices.tolist())
        assert len(on) == 4
        slots = 4 - len(on & set(support))
        chosen_near = tuple(sorted(on & set(near.tolist())))
        by_slots.setdefault(slots, Counter())[len(chosen_near)] += 1
        if len(chosen_near) in near_subsets:
            near_subsets[len(chosen_near)][chosen_near] += 1
        far_features.update(on & set(far.tolist()))
    for slots, counts in by_slots.items():
        observed = [counts[j] for j in range(slots + 1)]
        expected = binom.pmf(range(slots + 1), slots, NEIGHBOURHOOD_SHARE) * sum(observed)
        assert chisquare(observed, expected).pvalue > P_VALUE, slots
    for j, counts in near_subsets.items():
        pool = list(combinations(near.tolist(), j))
        assert len(pool) == comb(near.size, j) and set(counts) == set(pool)
        assert chisquare([counts[p] for p in pool]).pvalue > P_VALUE
    assert set(far_features) == set(far.tolist())
    assert chisquare([far_features[f] for f in far.tolist()]).pvalue > P_VALUE


def test_uniform_fill_is_unchanged_by_the_new_parameter() -> None:
    circuit = circuits_circuit(4, levels=2, width=4, inputs=8, sparsity=4)
    signal, support = level_one_gate(circuit)
    first = sample_gate(circuit, signal, support, 300, 4, np.random.default_rng(5))
    second = sample_gate(circuit, signal, support, 300, 4, np.random.default_rng(5), neighbourhood=None)
    assert (first.inputs != second.inputs).nnz == 0 and (first.wanted == second.wanted).all()


def test_report_records_its_fill_and_refuses_unknown_ones(tmp_path: Path) -> None:
    compiled = compile_circuit(circuits_circuit(16, levels=2, width=4, inputs=8, sparsity=4), strategy="exact")
    report = error_report(compiled, samples=20, fill="neighbourhood")
    assert report.fill == "neighbourhood" and json.loads(report.to_json())["fill"] == "neighbourhood"
    assert report.errors().max() == 0.0  # exact weights: right under every fill
    with pytest.raises(UserError, match="fill"):
        error_report(compiled, samples=20, fill="clustered")
    artifact, out = tmp_path / "c.safetensors", tmp_path / "r.json"
    save(compiled, str(artifact))
    assert main(["report", str(artifact), "--samples", "20", "--fill", "neighbourhood", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["fill"] == "neighbourhood"
