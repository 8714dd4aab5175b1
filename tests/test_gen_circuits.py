"""compiler/generators/circuits.py: the circuits-T benchmark program has the shape its docstring promises."""
from __future__ import annotations

import numpy as np

from superpose import compiler
from superpose.compiler.emit_dsl import emit_dsl
from superpose.compiler.generators.circuits import circuits_circuit, pattern_matrix


def test_every_gate_is_non_constant_and_reads_only_its_own_circuit():
    circuit = circuits_circuit(6, levels=5, width=4, inputs=8, sparsity=4, seed=3)
    assert len(circuit.gate_names) == 6 * 5 * 4 and len(circuit.outputs) == 6 * 4
    supports = circuit.supports()
    for signal in circuit.gate_signals:
        t = int(circuit.nodes[signal - circuit.n_inputs].name[1:].split("_")[0])
        assert supports[signal] <= set(range(8 * t, 8 * t + 8))
    patterns = pattern_matrix(8, 4)
    for t in range(6):
        x = np.zeros((len(patterns), circuit.n_inputs), dtype=bool)
        x[:, 8 * t:8 * t + 8] = patterns
        values = compiler.gate_values(circuit, x)[:, [i for i, name in enumerate(circuit.gate_names)
                                                     if name.startswith(f"c{t}_")]]
        assert values.any(axis=0).all(), "a gate is constant false under the sparsity"
        assert not values[0].any(), "with no input on, every gate is false"


def test_source_round_trips_and_is_deterministic():
    circuit = circuits_circuit(3, levels=3, seed=1)
    text = emit_dsl(circuit)
    assert text == emit_dsl(circuits_circuit(3, levels=3, seed=1))
    parsed = compiler.circuit_from_source(text, "circuits.sbp")
    x = np.random.default_rng(0).random((200, circuit.n_inputs)) < 0.1
    assert (compiler.gate_values(parsed, x) == compiler.gate_values(circuit, x)).all()
