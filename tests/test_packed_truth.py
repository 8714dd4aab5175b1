"""packed_truth against the reference interpreter, on the shared program table and a small circuits-T."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bench.gen_circuits import circuits_circuit
from superpose.compiler.frontend import circuit_from_source
from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit
from superpose.compiler.packed_truth import packed_truth, signal_parts
from tests.programs_table import program_cases

CASES = [(name, circuit_from_source(text, name)) for name, text in program_cases()]
CASES.append(("circuits_T", circuits_circuit(12, levels=3, sparsity=3, seed=0)))


def _sparse_rows(circuit: Circuit, n: int, most_on: int, seed: int) -> sp.csr_matrix:
    """(n, n_inputs) rows of 0 to most_on random inputs on; the empty row first."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((n, circuit.n_inputs), dtype=np.float32)
    for r in range(1, n):
        rows[r, rng.choice(circuit.n_inputs, size=min(int(rng.integers(0, most_on + 1)), circuit.n_inputs),
                           replace=False)] = 1.0
    return sp.csr_matrix(rows)


@pytest.mark.parametrize("name, circuit", CASES, ids=[name for name, _ in CASES])
def test_packed_truth_is_the_interpreter_on_every_row(name: str, circuit: Circuit) -> None:
    inputs = _sparse_rows(circuit, 300, 5, seed=len(name))
    truth = packed_truth(circuit, inputs)
    assert truth.dtype == bool and truth.has_sorted_indices
    assert np.array_equal(truth.toarray(), evaluate(circuit, inputs.toarray()))


def test_rows_touching_several_parts_read_right() -> None:
    """circuits-T has a part per circuit (or more); most of these rows touch several at once."""
    circuit = circuits_circuit(12, levels=3, sparsity=3, seed=0)
    parts = signal_parts(circuit)
    inputs = _sparse_rows(circuit, 2_000, 3, seed=1)
    touched = [np.unique(parts[inputs.indices[a:b]]).size for a, b in zip(inputs.indptr[:-1], inputs.indptr[1:])]
    assert np.mean(np.array(touched) >= 2) > 0.4
    assert np.array_equal(packed_truth(circuit, inputs).toarray(), evaluate(circuit, inputs.toarray()))
