"""Every executor runs every lowering of every program of the shared table:
the reference interpreter, the numpy runtime, the torch module and the
artifact reloaded from disk.

The three runtimes agree with one another on every lowering. Against the
interpreter: the exact lowering is right on every input (all of them for
<= 16 inputs, else 10,000 random ones), "chained" on every input with at
most s features on, "hub" within its target error on each gate there, and
"paper-uand" and "cis", the published baselines, carry no guarantee: they
are only checked for agreement between the runtimes ("cis" only on programs
of two or more independent sub-circuits; it refuses the others). Programs without a sparsity
are compiled with sparsity 2 for the lowerings that need one."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import superpose
from superpose import compiler
from superpose.compiler.multilinear import count_patterns, subset_rows
from superpose.compiler.strategies import STRATEGIES
from tests.programs_table import program_cases

EXHAUSTIVE_LIMIT = 16
SPARSE_LIMIT = 20_000  # s-sparse input spaces up to this size are enumerated
RANDOM_INPUTS = 10_000  # for the exact lowering, which must be right on every input
RANDOM_SPARSE_INPUTS = 2_000
HUB_TARGET = 0.01  # the hub lowering's default target error per gate
CASES = [(name, source, strategy) for name, source in program_cases() for strategy in STRATEGIES]


def _inputs(n_inputs: int, rng: np.random.Generator) -> np.ndarray:
    if n_inputs <= EXHAUSTIVE_LIMIT:
        return np.array(list(itertools.product([0, 1], repeat=n_inputs)), dtype=np.float32)
    density = rng.random((RANDOM_INPUTS, 1))  # mix sparse and dense inputs
    return (rng.random((RANDOM_INPUTS, n_inputs)) < density).astype(np.float32)


def _sparse_inputs(n_inputs: int, s: int, rng: np.random.Generator) -> np.ndarray:
    """Every input with at most s features on, or RANDOM_SPARSE_INPUTS of them."""
    if count_patterns(n_inputs, s) <= SPARSE_LIMIT:
        on = subset_rows(n_inputs, s)
    else:
        sizes = rng.integers(0, s + 1, RANDOM_SPARSE_INPUTS)
        on = np.full((RANDOM_SPARSE_INPUTS, s), -1)
        for row, size in enumerate(sizes):
            on[row, :size] = rng.choice(n_inputs, size, replace=False)
    x = np.zeros((len(on), n_inputs), dtype=np.float32)
    rows, slots = np.nonzero(on >= 0)
    x[rows, on[rows, slots]] = 1.0
    return x


@pytest.mark.parametrize("name, source, strategy", CASES, ids=[f"{n}-{s}" for n, _, s in CASES])
def test_every_executor_runs_every_lowering(name: str, source: str, strategy: str, tmp_path) -> None:
    circuit = compiler.circuit_from_source(source, f"{name}.sbp")
    sparsity = None if strategy == "exact" or circuit.sparsity is not None else min(2, circuit.n_inputs)
    try:
        compiled = compiler.compile_circuit(circuit, strategy=strategy, sparsity=sparsity)
    except compiler.CompileError as error:
        if strategy == "cis" and "independent sub-circuits" in str(error):
            return  # one component: the CiS2 construction does not apply (tests/test_cis.py checks the message)
        raise
    rng = np.random.default_rng(0)
    x = _inputs(circuit.n_inputs, rng) if strategy == "exact" else \
        _sparse_inputs(circuit.n_inputs, compiled.program.sparsity, rng)

    gates, outputs = compiled.gate_values(x), compiled.run(x)
    model = superpose.to_torch(compiled)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(x)).numpy(), outputs, atol=1e-5)
        np.testing.assert_allclose(model.gate_values(torch.from_numpy(x)).numpy(), gates, atol=1e-5)
    superpose.save(compiled, tmp_path / f"{name}.safetensors")
    reloaded = superpose.load(tmp_path / f"{name}.safetensors")
    np.testing.assert_array_equal(reloaded.gate_values(x), gates)
    np.testing.assert_array_equal(reloaded.run(x), outputs)

    wrong_gates = (gates > superpose.THRESHOLD) != compiler.gate_values(circuit, x)
    wrong_outputs = (outputs > superpose.THRESHOLD) != compiler.output_values(circuit, x)
    if strategy in ("exact", "chained"):
        assert not wrong_gates.any() and not wrong_outputs.any()
    if strategy == "exact":
        np.testing.assert_allclose(gates, compiler.gate_values(circuit, x), atol=1e-4)  # the values, not just the side
    if strategy == "hub":
        assert wrong_gates.mean(axis=0).max(initial=0.0) <= HUB_TARGET


def test_torch_module_is_linear_and_relu() -> None:
    model = superpose.to_torch(compiler.compile_source("input a, b\ng = a & b\noutput g"))
    kinds = {type(m).__name__ for m in model.modules()}
    assert kinds <= {"CircuitModule", "ModuleList", "Sequential", "Linear", "ReLU", "ReadoutModule", "HookPoint",
                     "BlockModule"}
