"""The chained superposed lowering: deep programs level by level, with error control."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from compiler import circuit_from_source
from compiler.lower_chained import ChainOptions, lower_chained
from runtime.depth_report import level_errors, plot_levels
from tests.programs_table import program_cases

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from gen_chain import chain_circuit, to_source  # noqa: E402

TARGET = 0.01
SAMPLES = 400  # per gate; one wrong sample is 0.25%


def _deep_sparse_programs():
    for name, text in program_cases():
        circuit = circuit_from_source(text, name)
        if circuit.sparsity is not None and circuit.nodes and int(circuit.levels().max()) >= 3:
            yield pytest.param(circuit, id=name)


@pytest.mark.parametrize("circuit", list(_deep_sparse_programs()))
def test_deep_programs_chain_within_target(circuit):
    compiled = lower_chained(circuit, ChainOptions(target_error=TARGET), np.random.default_rng(0))
    compiled.validate()
    assert compiled.meta["lowering"] == "chained"
    report = compiled.error_report(samples=SAMPLES)
    summary = report.summary()
    assert summary["mean_error"] <= TARGET / 4
    assert summary["max_error"] <= TARGET * 2.5  # per-gate sampling noise at 400 samples is ~0.5%


def _chain_errors(control: bool) -> np.ndarray:
    circuit = chain_circuit(levels=4, gates=256, m=128, seed=0)
    compiled = lower_chained(circuit, ChainOptions(control=control), np.random.default_rng(0))
    return np.array([row.mean_error for row in level_errors(compiled.error_report(samples=100))])


def test_naive_chaining_is_worse_than_controlled():
    controlled, naive = _chain_errors(True), _chain_errors(False)
    assert controlled.max() <= TARGET
    assert naive[-1] > 10 * controlled[-1] + 0.05  # fails if the resets are switched off


def test_depth_report_groups_gates_by_level(tmp_path):
    circuit = chain_circuit(levels=3, gates=32, m=24, seed=1)
    compiled = lower_chained(circuit, ChainOptions(), np.random.default_rng(0))
    rows = level_errors(compiled.error_report(samples=50))
    assert [r.level for r in rows] == [1, 2, 3] and all(r.gates == 32 for r in rows)
    plot_levels({"chained": rows}, str(tmp_path / "depth.png"))
    assert (tmp_path / "depth.png").stat().st_size > 0


def test_generated_chain_round_trips_through_the_language():
    circuit = chain_circuit(levels=3, gates=16, m=20, seed=2)
    again = circuit_from_source(to_source(circuit), "chain")
    assert again.gate_names == circuit.gate_names and int(again.levels().max()) == 3
