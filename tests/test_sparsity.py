"""compiler.sparsity against brute force: on small random circuits, the bound on
the wires on at once is never below the true maximum over every input with at
most s features on, dense detection is exact, and the vectorised count equals a
plain per-wire implementation of the same bound (evaluate_cone on sparse_patterns)."""
from __future__ import annotations

import itertools
import json
from collections import Counter
from math import comb
from pathlib import Path

import numpy as np
import pytest

from superpose import compiler
from superpose.compiler import sparsity
from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.multilinear import count_patterns, evaluate_cone, sparse_patterns
from superpose.compiler.netlists import load_netlist
from superpose.compiler.sparsity import analyse_sparsity
from superpose.runtime.cli import main

OPS = [Op.AND, Op.OR, Op.XOR, Op.ATLEAST, Op.BUF, Op.CONST]
OP_WEIGHTS = [0.3, 0.25, 0.15, 0.12, 0.13, 0.05]


def random_circuit(rng: np.random.Generator, n_inputs: int, n_nodes: int) -> Circuit:
    """Gates of every op over random (possibly negated) earlier signals."""
    circuit = Circuit("random", [f"x{i}" for i in range(n_inputs)])
    for signal in range(n_inputs, n_inputs + n_nodes):
        op = OPS[rng.choice(len(OPS), p=OP_WEIGHTS)]
        if op is Op.CONST:
            circuit.nodes.append(Node(op, (), int(rng.integers(2))))
            continue
        arity = 1 if op is Op.BUF else int(rng.integers(1, 5))
        operands = tuple(Lit(int(rng.integers(signal)), bool(rng.random() < 0.3)) for _ in range(arity))
        k = int(rng.integers(1, arity + 1)) if op is Op.ATLEAST else 0
        circuit.nodes.append(Node(op, operands, k, f"g{signal}"))
    circuit.validate()
    return circuit


def sparse_inputs(n_inputs: int, max_active: int) -> np.ndarray:
    """(n, n_inputs): every input with at most max_active features on."""
    rows = [np.isin(np.arange(n_inputs), on) for j in range(max_active + 1)
            for on in itertools.combinations(range(n_inputs), j)]
    return np.array(rows, dtype=np.float32)


def brute_force_max_on(circuit: Circuit, max_active: int) -> np.ndarray:
    """(n_levels,) the most wires of each level on at once, over every sparse input."""
    values = evaluate(circuit, sparse_inputs(circuit.n_inputs, max_active))
    level = circuit.levels()
    return np.array([values[:, level == l].sum(axis=1).max() for l in range(level.max() + 1)])


def per_wire_bound(circuit: Circuit, max_active: int) -> np.ndarray:
    """The same bound, one wire at a time, straight from its definition."""
    level, supports = circuit.levels(), circuit.supports()
    dense = evaluate(circuit, np.zeros((1, circuit.n_inputs)))[0]
    bound = []
    for l in range(level.max() + 1):
        possibly_on, counts = 0, Counter()
        for w in np.flatnonzero(level == l):
            if dense[w] or count_patterns(len(supports[w]), max_active) > sparsity.MAX_PATTERNS:
                possibly_on += 1
                continue
            patterns = sparse_patterns(sorted(supports[w]), max_active)
            counts.update(p for p, on in zip(patterns, evaluate_cone(circuit, Lit(int(w)), patterns)) if p and on)
        for j in range(1, max_active + 1):
            largest = sorted((c for p, c in counts.items() if len(p) == j), reverse=True)
            possibly_on += sum(largest[:comb(max_active, j)])
        bound.append(min(possibly_on, int((level == l).sum())))
    return np.array(bound)


@pytest.mark.parametrize("max_patterns", [sparsity.MAX_PATTERNS, 3])
def test_bound_against_brute_force(max_patterns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sparsity, "MAX_PATTERNS", max_patterns)  # 3: many wires counted unenumerated
    rng = np.random.default_rng(max_patterns)
    for _ in range(60):
        circuit = random_circuit(rng, int(rng.integers(1, 8)), int(rng.integers(1, 30)))
        for s in range(1, circuit.n_inputs + 1):
            report = analyse_sparsity(circuit, s)
            truth = brute_force_max_on(circuit, s)
            assert (report.max_on >= truth).all(), (s, report.max_on, truth)
            np.testing.assert_array_equal(report.max_on, per_wire_bound(circuit, s))
            np.testing.assert_array_equal(report.dense, evaluate(circuit, np.zeros((1, circuit.n_inputs)))[0])
            assert report.wires.sum() == circuit.n_signals


def test_dense_wires_and_counts() -> None:
    circuit = compiler.circuit_from_source("""
input x[8]
for i in range(4):
    pair[i] = x[2 * i] & x[2 * i + 1]
some = x[0] & !x[1]
none = !x[0] & !x[1]
flip = !x[2]
output pair, some, none, flip
""")
    report = analyse_sparsity(circuit, 2)
    dense = dict(zip(["pair[0]", "pair[1]", "pair[2]", "pair[3]", "some", "none", "flip"],
                     report.dense[circuit.n_inputs:]))
    assert dense == {"pair[0]": False, "pair[1]": False, "pair[2]": False, "pair[3]": False,
                     "some": False, "none": True, "flip": True}
    # level 0: 8 inputs and flip (a dense NOT); level 1: 4 pairs, some, none
    np.testing.assert_array_equal(report.wires, [9, 6])
    np.testing.assert_array_equal(report.dense_wires, [1, 1])
    # level 1 bound: none (dense) + some (the largest c_1) + one pair (C(2, 2) = 1 largest c_2);
    # but no two inputs turn on both some and a pair, so the truth is 2
    np.testing.assert_array_equal(report.max_on, [3, 3])
    np.testing.assert_array_equal(brute_force_max_on(circuit, 2), [3, 2])


def test_rows_are_json_and_flag_dense_levels() -> None:
    circuit = compiler.circuit_from_source("input x[40]\nfor i in range(20):\n    y[i] = x[i] | x[i + 20]\n"
                                           "n = !x[0] & !x[1]\noutput y, n")
    report = analyse_sparsity(circuit, 2)
    rows = json.loads(json.dumps(report.rows()))
    assert [row["level"] for row in rows] == [0, 1]
    assert rows[1] == {"level": 1, "wires": 21, "dense_wires": 1, "unenumerated": 0, "max_on": 4,
                       "share": round(4 / 21, 4), "too_dense": False}
    assert report.summary() == ("sparsity 2: at most 19% of a level's wires on at once (level 1: 4 of 21); "
                                "2 of 2 levels stay sparse")
    assert sparsity.too_dense_warning(rows) is None
    crowded = analyse_sparsity(circuit, 20)
    assert crowded.too_dense.tolist() == [True, True]
    assert sparsity.too_dense_warning(crowded.rows()).startswith("levels 0, 1 too dense for superposition")


def test_compile_stores_rows_and_the_cli_shows_them(tmp_path, capsys) -> None:
    source = tmp_path / "pairs.sbp"
    source.write_text("sparsity 2\ninput x[40]\nfor i in range(20):\n    y[i] = x[i] & x[i + 20]\noutput y\n")
    compiled = compiler.compile_file(source)
    assert compiled.meta.sparsity_levels == analyse_sparsity(compiled.program, 2).rows()
    assert compiler.compile_source("input a, b\ny = a & b\noutput y").meta.sparsity_levels == []
    artifact = tmp_path / "pairs.safetensors"

    def printed() -> str:  # the console wraps at 80 columns when not a terminal
        return " ".join(capsys.readouterr().out.split())

    assert main(["compile", str(source), "-o", str(artifact)]) == 0
    out = printed()
    assert "2 of 2 levels stay sparse" in out and "warning" not in out
    assert main(["info", str(artifact)]) == 0
    assert "max on at once" in printed()
    # (--strategy hub: with no strategy the plan takes the exact lowering here, which has nothing to gain)
    assert main(["compile", str(source), "-o", str(artifact), "--sparsity", "30", "--strategy", "hub"]) == 0
    assert "warning: levels 0, 1 too dense for superposition to pay" in printed()
    assert main(["compile", str(source), "-o", str(artifact), "--sparsity", "30", "--exact"]) == 0
    assert "too dense" not in printed()  # an exact lowering has nothing to gain from superposition


def test_circuits_without_inputs_or_gates() -> None:
    aiger = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "aiger"
    assert analyse_sparsity(load_netlist(aiger / "empty.aag"), 1).rows() == []
    (row,) = analyse_sparsity(load_netlist(aiger / "true.aag"), 1).rows()
    # all of its one wire is on, but a level of one wire is too small to warn about (TOO_DENSE_MIN_WIRES)
    assert (row["wires"], row["dense_wires"], row["max_on"], row["too_dense"]) == (1, 1, 1, False)
