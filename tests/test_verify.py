"""Verification: exact circuits are proved, a circuit broken on purpose gives
the one input that breaks it, bounds contain every enumerated readout, an
exhausted budget gives unknowns with bounds, and the CLI exit codes."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import scipy.sparse as sp

import superpose
from superpose import compiler
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.lower_exact import lower_exact
from superpose.runtime.verify import verify
from superpose.runtime.bounds import BoundPropagator, PatternSet, fold
from superpose.metadata import CircuitMeta
from superpose.network import CompiledCircuit, Layer, Readout
from superpose.runtime.cli import main
from tests.programs_table import program_cases


def _and_pairs(n_inputs: int, pairs: list[tuple[int, int]], sparsity: int | None) -> Circuit:
    nodes = [Node(Op.AND, (Lit(a), Lit(b)), name=f"and_{a}_{b}") for a, b in pairs]
    return Circuit("pairs", [f"x{i}" for i in range(n_inputs)], nodes, [], sparsity)


def _broken_and(n_inputs: int, sparsity: int) -> CompiledCircuit:
    """Exact AND(x0, x1) and AND(x2, x3), with the first neuron reading
    0.8 x1 + 0.6 x4: wrong on {x0, x4} (readout 0.6), and only there."""
    compiled = lower_exact(_and_pairs(n_inputs, [(0, 1), (2, 3)], sparsity))
    weight = compiled.layers[0].weight.tolil()
    weight[0, 1], weight[0, 4] = 0.8, 0.6
    compiled.layers[0].weight = weight.tocsr()
    return compiled


def _hidden_cancellation(n_inputs: int, sparsity: int) -> CompiledCircuit:
    """AND(x0, x1), plus two copies of the neuron AND(x2, x3) read with +0.6
    and -0.6: they cancel on every input, which bounds over a whole support
    pattern cannot see (the readout bound reaches 0.6 when x2 and x3 may be
    on); branching on x2 makes both copies stable, and the bound exact."""
    program = _and_pairs(n_inputs, [(0, 1)], sparsity)
    weight = sp.csr_matrix((np.ones(6, np.float32), ([0, 0, 1, 1, 2, 2], [0, 1, 2, 3, 2, 3])), shape=(3, n_inputs))
    layer = Layer(weight, np.full(3, -1.0, np.float32))
    widths = [n_inputs, 3]
    gates = Readout.from_entries([[], [(0, 0, 1.0), (0, 1, 0.6), (0, 2, -0.6)]], 1, widths, np.zeros(1))
    outputs = Readout.from_entries([[], []], 0, widths, np.zeros(0))
    return CompiledCircuit("cancel", program.input_names, program.gate_names, [], [layer], gates, outputs,
                           CircuitMeta("hand-built", "none", sparsity), program)


def _at_threshold(n_inputs: int) -> CompiledCircuit:
    """AND(x0, x1) read as ReLU(x0 + x1 - 1) + 0.5 ReLU(x0 - x1): exactly 0.5 on
    {x0}, which is false, so right; AND(x2, x3) read as 0.5 ReLU(x2 + x3 - 1):
    exactly 0.5 on {x2, x3}, false, so wrong."""
    program = _and_pairs(n_inputs, [(0, 1), (2, 3)], 2)
    rows, cols = [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 2, 3]
    weight = sp.csr_matrix((np.array([1, 1, 1, -1, 1, 1], np.float32), (rows, cols)), shape=(3, n_inputs))
    layer = Layer(weight, np.array([-1, 0, -1], np.float32))
    widths = [n_inputs, 3]
    gates = Readout.from_entries([[], [(0, 0, 1.0), (0, 1, 0.5), (1, 2, 0.5)]], 2, widths, np.zeros(2))
    outputs = Readout.from_entries([[], []], 0, widths, np.zeros(0))
    return CompiledCircuit("threshold", program.input_names, program.gate_names, [], [layer], gates, outputs,
                           CircuitMeta("hand-built", "none", 2), program)


@pytest.mark.parametrize("name, source", program_cases(), ids=[name for name, _ in program_cases()])
def test_exact_programs_are_proved(name: str, source: str) -> None:
    compiled = compiler.compile_source(source, filename=name, strategy="exact")
    for method in ("auto", "bounds") if compiled.n_gates <= 100 else ("auto",):
        result = verify(compiled, method=method, budget=30)
        assert result.counts["proved"] == compiled.n_gates, (method, result.summary())
        assert result.exit_code == 0
        assert all(g.margin == pytest.approx(0.5, abs=1e-5) for g in result.gates)


@pytest.mark.parametrize("method", ["exhaustive", "bounds"])
@pytest.mark.parametrize("n_inputs, sparsity", [(8, 2), (60, 3)])
def test_broken_weight_gives_that_counterexample(method: str, n_inputs: int, sparsity: int) -> None:
    result = verify(_broken_and(n_inputs, sparsity), method=method)
    first, second = result.gates
    assert first.status == "counterexample" and first.counterexample is not None
    assert first.counterexample.on == ("x0", "x4")
    assert first.counterexample.expected is False
    assert first.counterexample.readout == pytest.approx(0.6)
    assert first.margin == pytest.approx(-0.1)
    assert second.status == "proved"
    assert result.exit_code == 1


def _uand(n_inputs: int, n_gates: int, sparsity: int) -> Circuit:
    rng = np.random.default_rng(0)
    pairs = sorted({tuple(sorted(int(v) for v in rng.choice(n_inputs, 2, replace=False))) for _ in range(n_gates)})
    return _and_pairs(n_inputs, pairs, sparsity)


SUPERPOSED = {"hub": compiler.HubOptions(target_error=0.2),
              "hub-embedded": compiler.HubOptions(embed_dim=24),
              "paper-uand": compiler.PaperUandOptions(width=64, p=0.3)}


@pytest.mark.parametrize("options", SUPERPOSED.values(), ids=SUPERPOSED.keys())
@pytest.mark.parametrize("n_inputs, n_gates, sparsity", [(40, 120, 2), (32, 60, 3)])
def test_bounds_and_branching_agree_with_enumeration(options, n_inputs: int, n_gates: int, sparsity: int) -> None:
    """Superposed circuits are wrong on some inputs: every verdict the bounds
    method reaches must be the one enumeration reaches."""
    compiled = compiler.compile_circuit(_uand(n_inputs, n_gates, sparsity), options=options)
    truth = verify(compiled, method="exhaustive")
    bounded = verify(compiled, method="bounds")
    assert truth.counts["counterexample"] > 0
    for by_bounds, by_enumeration in zip(bounded.gates, truth.gates):
        assert by_bounds.status in ("unknown", by_enumeration.status), (by_bounds, by_enumeration)


@pytest.mark.parametrize("method", ["exhaustive", "bounds"])
def test_a_readout_of_exactly_threshold_is_false(method: str) -> None:
    right, wrong = verify(_at_threshold(12), method=method).gates
    assert (right.status, right.margin) == ("proved", 0.0)
    assert wrong.status == "counterexample" and wrong.counterexample is not None
    assert (wrong.counterexample.on, wrong.counterexample.readout, wrong.margin) == (("x2", "x3"), 0.5, 0.0)


def test_counterexample_is_the_only_wrong_input() -> None:
    compiled = _broken_and(8, 2)
    rows = [c for j in range(3) for c in itertools.combinations(range(8), j)]
    x = np.zeros((len(rows), 8), dtype=np.float32)
    for i, on in enumerate(rows):
        x[i, list(on)] = 1
    wrong = (compiled.gate_values(x) > 0.5) != compiler.gate_values(compiled.program, x)
    assert [rows[i] for i in np.flatnonzero(wrong[:, 0])] == [(0, 4)] and not wrong[:, 1].any()


def _perturbed_exact(seed: int) -> CompiledCircuit:
    """A random two-level program, lowered exactly, every weight jittered and
    a few connections added: readouts that vary inside each support pattern."""
    rng = np.random.default_rng(seed)
    n = 7
    nodes = []
    for i in range(5):
        a, b = (int(v) for v in rng.choice(n + len(nodes), 2, replace=False))
        op = [Op.AND, Op.OR, Op.XOR][int(rng.integers(3))]
        nodes.append(Node(op, (Lit(a), Lit(b, bool(rng.integers(2)))), name=f"g{i}"))
    compiled = lower_exact(Circuit("random", [f"x{i}" for i in range(n)], nodes, [], 3))
    for layer in compiled.layers:
        noise = sp.random(*layer.weight.shape, density=0.3, random_state=rng, dtype=np.float32) * 0.4
        layer.weight = (layer.weight + noise).tocsr()
        layer.weight.data += rng.normal(0, 0.1, layer.weight.nnz).astype(np.float32)
    return compiled


@pytest.mark.parametrize("seed", range(6))
def test_bounds_contain_every_enumerated_readout(seed: int) -> None:
    compiled = _perturbed_exact(seed)
    program, s, n = compiled.program, 3, compiled.n_inputs
    inputs = np.array([x for x in itertools.product([0, 1], repeat=n) if sum(x) <= s], dtype=np.float32)
    readouts = compiled.gate_values(inputs)
    supports = [sorted(program.supports()[signal]) for signal in program.gate_signals]
    sets = [(g, on, support) for g, support in enumerate(supports)
            for j in range(min(s, len(support)) + 1) for on in itertools.combinations(support, j)]
    fixed = np.zeros((len(sets), n), dtype=bool)
    pinned = np.zeros((len(sets), n), dtype=bool)
    for row, (_, on, support) in enumerate(sets):
        fixed[row, support], pinned[row, list(on)] = True, True
    gates = np.array([g for g, _, _ in sets])
    propagator = BoundPropagator(fold(compiled), max(len(t) for t in supports), s)
    bounds = propagator.readout_bounds(gates, PatternSet(pinned, fixed, s - pinned.sum(axis=1)))
    for row, (g, on, support) in enumerate(sets):
        inside = (inputs[:, support] == pinned[row, support]).all(axis=1)
        values = readouts[inside, g]
        assert bounds.lower[row] - 1e-4 <= values.min() and values.max() <= bounds.upper[row] + 1e-4


@pytest.mark.parametrize("seed", range(10))
def test_branching_agrees_with_enumeration_on_perturbed_circuits(seed: int) -> None:
    """Every verdict bounds and branching reach is enumeration's, and their
    margin is a lower bound of the true worst margin."""
    compiled = _perturbed_exact(seed)
    truth = verify(compiled, method="exhaustive")
    for by_bounds, by_enumeration in zip(verify(compiled, method="bounds").gates, truth.gates):
        assert by_bounds.status in ("unknown", by_enumeration.status), (by_bounds, by_enumeration)
        if by_bounds.status == "proved":
            assert by_bounds.margin <= by_enumeration.margin + 1e-4


@pytest.mark.parametrize("seed", range(6))
def test_bounds_fold_linear_layers_soundly(seed: int) -> None:
    """Random networks with linear layers anywhere and readouts of every layer."""
    rng = np.random.default_rng(seed)
    n, s, n_gates = 6, 3, 3
    widths = [n] + [int(w) for w in rng.integers(2, 6, size=3)]
    layers = [Layer(sp.random(widths[i + 1], widths[i], density=0.6, random_state=rng, dtype=np.float32,
                              data_rvs=rng.standard_normal).tocsr(),
                    rng.normal(size=widths[i + 1]).astype(np.float32), relu=bool(rng.random() < 0.7))
              for i in range(3)]
    blocks = [sp.random(n_gates, w, density=0.5, random_state=rng, dtype=np.float32,
                        data_rvs=rng.standard_normal).tocsr() for w in widths]
    entries = [list(zip(m.tocoo().row, m.tocoo().col, m.tocoo().data)) for m in blocks]
    empty = Readout({}, np.zeros(0, np.float32))
    compiled = CompiledCircuit("random", [f"x{i}" for i in range(n)], [f"g{i}" for i in range(n_gates)], [], layers,
                               Readout.from_entries(entries, n_gates, widths, rng.normal(size=n_gates)), empty,
                               CircuitMeta("hand-built", "none", s))
    inputs = np.array([x for x in itertools.product([0, 1], repeat=n) if sum(x) <= s], dtype=np.float32)
    readouts = compiled.gate_values(inputs)
    fixed = rng.random((12, n)) < 0.3
    pinned = fixed & (rng.random((12, n)) < 0.5)
    pinned &= np.cumsum(pinned, axis=1) <= s
    gates = rng.integers(0, n_gates, 12)
    for max_fixed in (n, 0):  # 0: first-layer lists too short for the pinned features, bounds loosen
        bounds = BoundPropagator(fold(compiled), max_fixed, s).readout_bounds(
            gates, PatternSet(pinned, fixed, s - pinned.sum(axis=1)))
        for row in range(12):
            inside = (inputs[:, fixed[row]] == pinned[row, fixed[row]]).all(axis=1) & (inputs.sum(axis=1) <= s)
            values = readouts[inside, gates[row]]
            assert bounds.lower[row] - 1e-4 <= values.min() and values.max() <= bounds.upper[row] + 1e-4


def test_branching_settles_what_bounds_alone_cannot() -> None:
    result = verify(_hidden_cancellation(3000, 3), method="bounds")
    assert [(g.status, g.method) for g in result.gates] == [("proved", "branching")]
    assert result.gates[0].margin == pytest.approx(0.5)


def test_exhausted_budget_gives_unknown_with_bounds() -> None:
    result = verify(_hidden_cancellation(3000, 3), budget=0.0)
    (gate,) = result.gates
    assert gate.status == "unknown" and gate.expected is False and gate.pattern == ()
    assert gate.bounds is not None and gate.bounds[0] <= 0.0 and gate.bounds[1] == pytest.approx(0.6)
    assert result.exit_code == 3


def test_wide_gates_fall_back_to_the_interpreter() -> None:
    """A 13-input parity has 8,192 support patterns: no table, so enumeration
    asks the interpreter, and bounds alone can only bound every input at once."""
    parity = Node(Op.XOR, tuple(Lit(i) for i in range(13)), name="parity")
    compiled = lower_exact(Circuit("parity", [f"x{i}" for i in range(13)], [parity], [], None))
    assert verify(compiled).gates[0].status == "proved"
    unknown = verify(compiled, method="bounds").gates[0]
    assert unknown.status == "unknown" and unknown.expected is None and unknown.bounds is not None


def test_cli_exit_codes(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    cases = {"exact": (lower_exact(_and_pairs(8, [(0, 1), (2, 3)], 2)), "10", 0),
             "broken": (_broken_and(8, 2), "10", 1),
             "cancel": (_hidden_cancellation(3000, 3), "0", 3)}
    for name, (compiled, budget, code) in cases.items():
        superpose.save(compiled, tmp_path / f"{name}.safetensors")
        report = tmp_path / f"{name}.json"
        assert main(["verify", str(tmp_path / f"{name}.safetensors"), "--budget-seconds", budget,
                     "--json", str(report)]) == code, name
        assert json.loads(report.read_text())["exit_code"] == code
    out = capsys.readouterr().out
    assert "on: x0, x4 -> readout 0.6000, expected 0" in out
    assert "pairs, 2 gates: proved 1, counterexample 1, unknown 0" in out
    assert "readout in [-0.6000, 0.6000] with no support feature on, expected 0" in out
    assert main(["verify", str(tmp_path / "missing.safetensors")]) == 2
