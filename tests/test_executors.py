"""Interpreter, numpy runtime and torch module agree on every program of the
shared table: on every input when a program has <= 16 inputs, else on 10,000
random ones (exact lowering: agreement is exact after thresholding)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import superpose
from superpose import compiler
from tests.programs_table import program_cases

EXHAUSTIVE_LIMIT = 16
RANDOM_INPUTS = 10_000


def _inputs(n_inputs: int, rng: np.random.Generator) -> np.ndarray:
    if n_inputs <= EXHAUSTIVE_LIMIT:
        return np.array(list(itertools.product([0, 1], repeat=n_inputs)), dtype=np.float32)
    density = rng.random((RANDOM_INPUTS, 1))  # mix sparse and dense inputs
    return (rng.random((RANDOM_INPUTS, n_inputs)) < density).astype(np.float32)


@pytest.mark.parametrize("name,source", program_cases(), ids=[n for n, _ in program_cases()])
def test_three_executors_agree(name: str, source: str, tmp_path) -> None:
    circuit = compiler.circuit_from_source(source, f"{name}.sbp")
    compiled = compiler.compile_circuit(circuit, strategy="exact")
    x = _inputs(circuit.n_inputs, np.random.default_rng(0))
    expected_gates = compiler.gate_values(circuit, x)
    expected_outputs = compiler.output_values(circuit, x)

    gates = compiled.gate_values(x)
    outputs = compiled.run(x)
    np.testing.assert_array_equal(gates > superpose.THRESHOLD, expected_gates)
    np.testing.assert_array_equal(outputs > superpose.THRESHOLD, expected_outputs)
    np.testing.assert_allclose(gates, expected_gates, atol=1e-4)  # exact values, not just the side

    model = superpose.to_torch(compiled)
    with torch.no_grad():
        torch_outputs = model(torch.from_numpy(x)).numpy()
        torch_gates = model.gate_values(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(torch_outputs > superpose.THRESHOLD, expected_outputs)
    np.testing.assert_array_equal(torch_gates > superpose.THRESHOLD, expected_gates)

    path = tmp_path / f"{name}.safetensors"
    superpose.save(compiled, path)
    reloaded = superpose.load(path)
    np.testing.assert_array_equal(reloaded.gate_values(x), gates)


def test_torch_module_is_linear_and_relu() -> None:
    model = superpose.to_torch(compiler.compile_source("input a, b\ng = a & b\noutput g"))
    kinds = {type(m).__name__ for m in model.modules()}
    assert kinds <= {"CircuitModule", "ModuleList", "Sequential", "Linear", "ReLU", "ReadoutModule"}
