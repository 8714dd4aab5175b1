"""The chained lowering through compile_circuit and the CLI: every deep example
program meets its target error, `report` shows (and plots) error against depth,
and misused options are one clear message with exit status 2."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

import superpose
from superpose import compiler
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.runtime.cli import EXIT_USER_ERROR, main
from superpose.runtime.depth_report import gate_levels

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
TARGET = 0.01
SAMPLES = 200       # stratified samples per gate
CONFIRM = 30        # worst gates re-measured on 10x fresh samples (removes the max-of-noisy-estimates bias)
RANDOM_INPUTS = 500  # s-sparse inputs compared with the reference interpreter
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _deep_sparse_programs() -> list[Path]:
    """Example programs that declare sparsity and are at least three levels deep."""
    deep = []
    for path in sorted(PROGRAMS.glob("*.sbp")):
        circuit = compiler.load_circuit(path)
        if circuit.sparsity is not None and circuit.nodes and int(max(circuit.levels())) >= 3:
            deep.append(path)
    return deep


DEEP = _deep_sparse_programs()


@functools.cache
def _chained(path: Path) -> tuple[compiler.Circuit, CompiledCircuit]:
    circuit = compiler.load_circuit(path)
    return circuit, compiler.compile_circuit(circuit, seed=0, strategy="chained", target_error=TARGET)


def _sparse_inputs(n_inputs: int, s: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, n_inputs) 0/1: each row has 0..s features on, uniformly many."""
    x = np.zeros((rows, n_inputs), np.float32)
    for row in x:
        row[rng.choice(n_inputs, size=int(rng.integers(0, s + 1)), replace=False)] = 1.0
    return x


def test_the_deep_examples_are_found():
    assert {p.name for p in DEEP} >= {"chain.sbp", "large.sbp"}


@pytest.mark.parametrize("path", DEEP, ids=[p.stem for p in DEEP])
def test_deep_program_meets_the_target_on_the_stratified_distribution(path):
    _, compiled = _chained(path)
    assert compiled.meta.lowering == "chained" and compiled.meta.control is True
    report = superpose.error_report(compiled, samples=SAMPLES, confirm=CONFIRM)
    worst = report.worst(1)[0]
    assert report.summary()["max_error"] <= TARGET, f"{worst.name}: {worst.error:.2%} on {worst.samples} samples"


@pytest.mark.parametrize("path", DEEP, ids=[p.stem for p in DEEP])
def test_deep_program_agrees_with_the_interpreter_on_sparse_inputs(path):
    circuit, compiled = _chained(path)
    x = _sparse_inputs(circuit.n_inputs, circuit.sparsity, RANDOM_INPUTS, np.random.default_rng(1))
    computed = compiled.gate_values(x) > THRESHOLD
    expected = compiler.gate_values(circuit, x.astype(bool))
    assert computed.shape == expected.shape
    assert (computed != expected).mean() <= TARGET


@pytest.mark.parametrize("path", DEEP, ids=[p.stem for p in DEEP])
def test_chained_artifact_round_trips(path, tmp_path):
    circuit, compiled = _chained(path)
    superpose.save(compiled, tmp_path / "c.safetensors")
    again = superpose.load(tmp_path / "c.safetensors")
    x = _sparse_inputs(circuit.n_inputs, circuit.sparsity, 64, np.random.default_rng(2))
    np.testing.assert_array_equal(again.gate_values(x), compiled.gate_values(x))
    assert again.meta.layer_of_gate == compiled.meta.layer_of_gate


def test_strategy_chained_is_chain_options():
    circuit = compiler.load_circuit(PROGRAMS / "chain.sbp")
    by_strategy = compiler.compile_circuit(circuit, strategy="chained")
    by_options = compiler.compile_circuit(circuit, strategy="chained", options=compiler.ChainOptions())
    x = _sparse_inputs(circuit.n_inputs, circuit.sparsity, 64, np.random.default_rng(3))
    np.testing.assert_array_equal(by_strategy.gate_values(x), by_options.gate_values(x))


def test_levels_fall_back_to_program_depth():
    circuit = compiler.load_circuit(PROGRAMS / "chain.sbp")
    hub = compiler.compile_circuit(circuit)  # the hub lowering records no layer_of_gate
    assert hub.meta.layer_of_gate is None
    assert gate_levels(hub) == [1, 2, 3, 4, 5, 6]
    rows = superpose.error_report(hub, samples=50).levels()
    assert [r.level for r in rows] == [1, 2, 3, 4, 5, 6] and all(r.neurons is None for r in rows)


def _compile(tmp_path: Path, program: str, *flags: str) -> tuple[int, Path]:
    artifact = tmp_path / f"{Path(program).stem}.safetensors"
    return main(["compile", str(PROGRAMS / program), "-o", str(artifact), *flags]), artifact


def test_compile_chained_then_report_with_plot(tmp_path, capsys):
    code, artifact = _compile(tmp_path, "chain.sbp", "--strategy", "chained")
    assert code == 0 and "chained over 6 levels" in capsys.readouterr().out
    plot, report = tmp_path / "depth.png", tmp_path / "report.json"
    assert main(["report", str(artifact), "--samples", "100", "--plot", str(plot), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "gate error by level" in out and out.index("worst gates") < out.index("gate error by level")
    assert "sparsity 3: at most" in out  # the compile-time wire analysis, repeated for the reader
    assert plot.read_bytes().startswith(PNG_MAGIC)
    levels = json.loads(report.read_text())["levels"]
    assert [row["level"] for row in levels] == [1, 2, 3, 4, 5, 6]
    assert all(row["neurons"] >= 1 for row in levels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.safetensors", "depth.png", "report.json"]


def test_report_of_a_one_level_circuit_has_no_level_table(tmp_path, capsys):
    program, artifact = tmp_path / "flat.sbp", tmp_path / "flat.safetensors"
    program.write_text("sparsity 2\ninput a, b, c\nx = a & b\ny = b | !c\noutput x, y\n")
    assert main(["compile", str(program), "-o", str(artifact)]) == 0
    assert main(["report", str(artifact), "--samples", "20"]) == 0
    assert "gate error by level" not in capsys.readouterr().out


def test_no_error_control_gives_naive_chaining(tmp_path):
    """Naive chaining drops the reset layers: each level reads the raw hub
    estimates of the one before, so the same levels take fewer neurons."""
    flags = ("--strategy", "chained", "--superpose-levels", "always")
    (tmp_path / "controlled").mkdir()
    assert _compile(tmp_path / "controlled", "chain.sbp", *flags)[0] == 0
    assert _compile(tmp_path, "chain.sbp", *flags, "--no-error-control")[0] == 0
    controlled = superpose.load(tmp_path / "controlled" / "chain.safetensors")
    naive = superpose.load(tmp_path / "chain.safetensors")
    assert "reset" in {layer.kind for layer in controlled.layers}
    assert {layer.kind for layer in naive.layers} == {"gates"} and naive.meta.control is False
    assert naive.n_neurons < controlled.n_neurons  # that its error grows with depth: test_chained.py


def _fails(capsys, argv: list[str], *phrases: str) -> None:
    assert main(argv) == EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    for phrase in phrases:
        assert phrase in captured.err


def test_no_error_control_needs_chained(tmp_path, capsys):
    artifact = tmp_path / "a.safetensors"
    _fails(capsys, ["compile", str(PROGRAMS / "chain.sbp"), "-o", str(artifact), "--no-error-control"],
           "--no-error-control", "--strategy chained")
    assert not artifact.exists()


def test_superpose_levels_always_superposes_every_level(tmp_path):
    code, artifact = _compile(tmp_path, "large.sbp", "--strategy", "chained", "--superpose-levels", "always")
    assert code == 0
    assert {f["plan"] for f in superpose.load(artifact).meta.levels} == {"superposed"}


def test_info_shows_each_levels_plan(tmp_path, capsys):
    code, artifact = _compile(tmp_path, "chain.sbp", "--strategy", "chained")
    assert code == 0 and main(["info", str(artifact)]) == 0
    out = capsys.readouterr().out
    assert "levels of the chained lowering" in out and "exact" in out


def test_superpose_levels_needs_chained(tmp_path, capsys):
    artifact = tmp_path / "a.safetensors"
    _fails(capsys, ["compile", str(PROGRAMS / "chain.sbp"), "-o", str(artifact), "--superpose-levels", "always"],
           "--superpose-levels", "--strategy chained")
    assert not artifact.exists()


def test_chained_needs_a_sparsity(tmp_path, capsys):
    artifact = tmp_path / "x.safetensors"
    _fails(capsys, ["compile", str(PROGRAMS / "xor_logic.sbp"), "-o", str(artifact), "--strategy", "chained"],
           "needs a sparsity", "--sparsity")
    assert not artifact.exists()
    code, _ = _compile(tmp_path, "xor_logic.sbp", "--strategy", "chained", "--sparsity", "2")
    assert code == 0


@pytest.mark.parametrize("flags, named", [(["--embed-dim", "4"], "--embed-dim"), (["--width", "8"], "--width"),
                                          (["--p", "0.1"], "--p"), (["--embedding", "low-coherence"], "--embedding")])
def test_single_layer_options_are_refused_with_chained(tmp_path, capsys, flags, named):
    _fails(capsys, ["compile", str(PROGRAMS / "chain.sbp"), "-o", str(tmp_path / "c.safetensors"),
                    "--strategy", "chained", *flags], named)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name, problem", [("missing/depth.png", "no such directory"),
                                           ("depth.jpg", "must end in .png")])
def test_bad_plot_path_fails_before_measuring(tmp_path, capsys, monkeypatch, name, problem):
    code, artifact = _compile(tmp_path, "chain.sbp", "--strategy", "chained")
    assert code == 0

    def measured(*args, **kwargs):
        raise AssertionError("the plot path must be checked before the artifact is loaded and measured")
    monkeypatch.setattr("superpose.runtime.cli.load", measured)
    _fails(capsys, ["report", str(artifact), "--plot", str(tmp_path / name)], "--plot", problem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.safetensors"]


def test_plot_into_a_missing_root_directory(tmp_path, capsys):
    code, artifact = _compile(tmp_path, "chain.sbp", "--strategy", "chained")
    assert code == 0
    _fails(capsys, ["report", str(artifact), "--plot", "/nonexistent/dir/x.png"], "no such directory")
    assert not Path("/nonexistent/dir/x.png").exists()


