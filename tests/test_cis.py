"""The CiS2 baseline (compiler/lower_cis.py): its neuron assignment, agreement
with the interpreter (exact with room, within its closed-form prediction when
crowded), determinism, and the cases where it does not apply."""
from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from superpose.compiler import CisOptions, CompileError, compile_circuit, compile_source
from superpose.compiler.emit_dsl import emit_dsl
from superpose.compiler.generators.circuits import circuits_circuit
from superpose.compiler.interpret import evaluate
from superpose.compiler.lower_cis import assign_neurons, components, minimum_width, width_for_neurons
from superpose.runtime.artifact import save
from superpose.runtime.cli import main
from superpose.runtime.report import error_report



@pytest.mark.parametrize("spread,width", [(3, 40), (5, 120), (5, 61)])
def test_assignment_overlaps_at_most_once_and_never_within_a_component(spread: int, width: int) -> None:
    groups = [3, 1, 4, 2, 2, 5, 1, 3] * 4
    while assign_neurons(groups, spread, width) is None:
        groups = groups[:-1]
    rows = assign_neurons(groups, spread, width)
    assert rows.shape == (sum(groups), spread) and rows.min() >= 0 and rows.max() < width
    owner = np.repeat(np.arange(len(groups)), groups)
    for i, j in combinations(range(len(rows)), 2):
        shared = len(set(rows[i]) & set(rows[j]))
        assert shared <= (0 if owner[i] == owner[j] else 1)
    assert assign_neurons([1] * (width // spread), spread, width) is not None
    assert minimum_width(groups, spread) <= width


def test_components_are_the_independent_sub_circuits() -> None:
    circuit = circuits_circuit(5, levels=3, width=4, inputs=8, sparsity=4)
    for nodes in components(circuit):
        assert len({circuit.nodes[i].name.split("_")[0] for i in nodes}) == 1   # c{t}_...: one circuit each
    assert sorted(i for nodes in components(circuit) for i in nodes) == list(range(len(circuit.nodes)))


def sparse_inputs(n_inputs: int, rows: int, max_active: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((rows, n_inputs), dtype=np.float32)
    for r in range(rows):
        x[r, rng.choice(n_inputs, size=rng.integers(0, max_active + 1), replace=False)] = 1.0
    return x


def test_exact_when_every_small_neuron_has_room() -> None:
    """Width for every small neuron's S large neurons apart: no sharing, no error."""
    circuit = circuits_circuit(8, levels=4, width=4, inputs=8, sparsity=4)
    compiled = compile_circuit(circuit, options=CisOptions(spread=3, width=600))
    x = sparse_inputs(circuit.n_inputs, 3000, 4, seed=0)
    truth = evaluate(circuit, x)
    assert np.allclose(compiled.gate_values(x), truth[:, circuit.gate_signals], atol=1e-4)
    assert np.allclose(compiled.run(x), truth[:, [lit.signal for _, lit in circuit.outputs]], atol=1e-4)
    assert error_report(compiled, samples=40, fill="neighbourhood").errors().max() == 0.0


def test_crowded_error_stays_within_the_closed_form_prediction() -> None:
    """At the narrowest width (32 circuits, 3 levels), the measured mean
    squared readout error of every level is below CiS2's expected_mse, and the
    error grows with depth as the prediction says."""
    compiled = compile_circuit(circuits_circuit(32, levels=3, width=4, inputs=8, sparsity=4), options=CisOptions())
    levels = error_report(compiled, samples=64).levels()
    assert [r.level for r in levels] == [1, 2, 3]
    assert all(r.mean_squared_error <= r.expected_mse for r in levels)
    assert levels[0].mean_squared_error > 0 and levels[-1].mean_error > levels[0].mean_error
    assert compiled.meta.figures["circuits"] >= 32 and compiled.meta.figures["max_active_circuits"] == 4


@pytest.mark.parametrize("neurons", [600, 601, 603, 604])
def test_width_for_neurons_matches_the_neuron_count_it_is_asked_for(neurons: int) -> None:
    """Compared at equal neurons (bench_deep, bench_hosted): the network at
    width_for_neurons has the most neurons that do not exceed the count."""
    circuit = circuits_circuit(8, levels=3, width=4, inputs=8, sparsity=4)
    compiled = compile_circuit(circuit, strategy="cis", width=width_for_neurons(neurons, 3))
    wider = compile_circuit(circuit, strategy="cis", width=width_for_neurons(neurons, 3) + 1)
    assert compiled.n_neurons <= neurons < wider.n_neurons


def test_deterministic(tmp_path: Path) -> None:
    circuit = circuits_circuit(16, levels=3, width=4, inputs=8, sparsity=4)
    paths = [tmp_path / f"{i}.safetensors" for i in range(2)]
    for path in paths:
        save(compile_circuit(circuit, seed=3, options=CisOptions()), str(path))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_refuses_programs_it_does_not_apply_to() -> None:
    with pytest.raises(CompileError, match="independent sub-circuits"):
        compile_source("sparsity 2\ninput x[4]\na = x[0] & x[1]\nb = a | x[2]\noutput b\n", options=CisOptions())
    with pytest.raises(CompileError, match="needs a sparsity"):
        compile_source("input x[4]\na = x[0] & x[1]\nb = x[2] | x[3]\noutput a, b\n", strategy="cis")
    with pytest.raises(CompileError, match="width"):
        compile_circuit(circuits_circuit(16, levels=2, width=4, inputs=8, sparsity=4), strategy="cis", width=20)
    with pytest.raises(CompileError, match="spread"):
        CisOptions(spread=0)


def test_cli_compiles_with_cis_and_refuses_foreign_flags(tmp_path: Path, capsys) -> None:
    program = tmp_path / "c.sbp"
    program.write_text(emit_dsl(circuits_circuit(8, levels=2, width=4, inputs=8, sparsity=4)))
    out = tmp_path / "c.safetensors"
    assert main(["compile", str(program), "-o", str(out), "--strategy", "cis", "--spread", "3"]) == 0
    assert "predicted" in capsys.readouterr().out
    assert main(["compile", str(program), "-o", str(out), "--spread", "3"]) == 2
    assert main(["compile", str(program), "-o", str(out), "--strategy", "cis", "--embed-dim", "16"]) == 2
    assert "--embed-dim does not apply to --strategy cis" in capsys.readouterr().err
