"""bench/gen_circuits.py: the circuits-T benchmark program has the shape its docstring promises."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from gen_circuits import _sparse_patterns, circuits_circuit, to_source  # noqa: E402

from superpose import compiler  # noqa: E402


def test_every_gate_is_non_constant_and_reads_only_its_own_circuit():
    circuit = circuits_circuit(6, levels=5, width=4, inputs=8, sparsity=4, seed=3)
    assert len(circuit.gate_names) == 6 * 5 * 4 and len(circuit.outputs) == 6 * 4
    supports = circuit.supports()
    for signal in circuit.gate_signals:
        t = int(circuit.nodes[signal - circuit.n_inputs].name[1:].split("_")[0])
        assert supports[signal] <= set(range(8 * t, 8 * t + 8))
    patterns = _sparse_patterns(8, 4)
    for t in range(6):
        x = np.zeros((len(patterns), circuit.n_inputs), dtype=bool)
        x[:, 8 * t:8 * t + 8] = patterns
        values = compiler.gate_values(circuit, x)[:, [i for i, name in enumerate(circuit.gate_names)
                                                     if name.startswith(f"c{t}_")]]
        assert values.any(axis=0).all(), "a gate is constant false under the sparsity"
        assert not values[0].any(), "with no input on, every gate is false"


def test_source_round_trips_and_is_deterministic():
    circuit = circuits_circuit(3, levels=3, seed=1)
    text = to_source(circuit)
    assert text == to_source(circuits_circuit(3, levels=3, seed=1))
    parsed = compiler.circuit_from_source(text, "circuits.sbp")
    x = np.random.default_rng(0).random((200, circuit.n_inputs)) < 0.1
    assert (compiler.gate_values(parsed, x) == compiler.gate_values(circuit, x)).all()
