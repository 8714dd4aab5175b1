"""Every benchmark netlist compiles exactly and the compiled network agrees with
the reference interpreter on 10,000 random input vectors (all inputs when <= 16)."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import compiler
from runtime import THRESHOLD

BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
FILES = sorted(BENCHMARKS.glob("iscas85/*.bench")) + sorted(BENCHMARKS.glob("epfl/*.aig")) \
    + sorted(BENCHMARKS.glob("epfl/*.blif"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_netlist_compiles_exactly(path: Path) -> None:
    circuit = compiler.load_circuit(path)
    compiled = compiler.compile_circuit(circuit)
    assert compiled.meta["lowering"] == "exact"
    if circuit.n_inputs <= 16:
        x = np.array(list(itertools.product([0, 1], repeat=circuit.n_inputs)), dtype=np.float32)
    else:
        x = (np.random.default_rng(0).random((10_000, circuit.n_inputs)) < 0.5).astype(np.float32)
    np.testing.assert_array_equal(compiled.run(x) > THRESHOLD, compiler.output_values(circuit, x))
