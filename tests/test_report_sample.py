"""A report on a sample of gates (`error_report(gates=...)`, `superpose report
--gates-per-level N`): what a circuit of tens of thousands of gates needs,
whose whole report takes hours. The sample is N gates per level, seeded; the
report lists exactly them, per level, and still counts every gate of the
circuit in its gates per neuron; a sample that holds a wrong gate shows it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from superpose.compiler import compile_circuit
from superpose.compiler.generators.circuits import circuits_circuit
from superpose.errors import UserError
from superpose.network import CompiledCircuit
from superpose.runtime.artifact import save
from superpose.runtime.cli import main
from superpose.runtime.depth_report import gate_levels, sample_per_level
from superpose.runtime.report import error_report


@pytest.fixture(scope="module")
def naive() -> CompiledCircuit:
    """Chaining without error control: wrong gates from level 2 on (BENCHMARKS.md, `## deep`, naive)."""
    return compile_circuit(circuits_circuit(16, levels=3, width=4, inputs=8, sparsity=4), strategy="chained",
                           control=False, superpose="always", seed=0)


def test_the_sample_takes_n_gates_of_every_level_seeded() -> None:
    levels = [1] * 10 + [2] * 3 + [3] * 7
    sample = sample_per_level(levels, 4, seed=5)
    assert sample == sorted(set(sample)) and sample == sample_per_level(levels, 4, seed=5)
    assert [sum(levels[g] == level for g in sample) for level in (1, 2, 3)] == [4, 3, 4]
    assert sample != sample_per_level(levels, 4, seed=6)


def test_a_sampled_report_lists_its_sample_and_counts_every_gate_per_neuron(naive: CompiledCircuit) -> None:
    sample = sample_per_level(gate_levels(naive), 5, seed=0)
    report = error_report(naive, samples=100, gates=sample)
    assert [g.name for g in report.gates] == [naive.gate_names[g] for g in sample]
    assert [row.gates for row in report.levels()] == [5, 5, 5]
    summary = report.summary()
    assert summary["gates"] == 15 and summary["circuit_gates"] == naive.n_gates
    assert summary["gates_per_neuron"] == naive.n_gates / naive.n_neurons
    assert "circuit_gates" not in error_report(naive, samples=20).summary()


def test_a_sample_holding_a_wrong_gate_shows_it(naive: CompiledCircuit) -> None:
    full = error_report(naive, samples=200, seed=1)
    worst = int(np.argmax(full.errors()))
    assert full.errors()[worst] > 0.05
    sampled = error_report(naive, samples=200, seed=1, gates=[worst, 0])
    assert max(g.error for g in sampled.gates) > 0.05


def test_gate_indices_out_of_range_are_refused(naive: CompiledCircuit) -> None:
    with pytest.raises(UserError, match=f"indices run from 0 to {naive.n_gates - 1}, got {naive.n_gates}"):
        error_report(naive, samples=10, gates=[0, naive.n_gates])
    with pytest.raises(UserError, match="at least one gate"):
        error_report(naive, samples=10, gates=[])


def test_the_cli_measures_n_gates_per_level(naive: CompiledCircuit, tmp_path: Path, capsys) -> None:
    artifact, out = tmp_path / "naive.safetensors", tmp_path / "report.json"
    save(naive, str(artifact))
    assert main(["report", str(artifact), "--samples", "40", "--gates-per-level", "3", "--json", str(out)]) == 0
    assert f"sampled of {naive.n_gates}" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert len(report["gates"]) == 9 and [row["gates"] for row in report["levels"]] == [3, 3, 3]
    assert report["summary"]["circuit_gates"] == naive.n_gates
