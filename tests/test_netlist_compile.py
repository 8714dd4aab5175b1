"""Every benchmark netlist compiles exactly, as written and simplified (the
default), and both networks agree with the reference interpreter on the netlist
as written, on 10,000 random input vectors (all inputs when <= 16)."""
from __future__ import annotations

import functools
import itertools
from pathlib import Path

import numpy as np
import pytest

from superpose import compiler
from superpose.network import THRESHOLD, CompiledCircuit

BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
ISCAS = sorted(BENCHMARKS.glob("iscas85/*.bench"))
FILES = ISCAS + sorted(BENCHMARKS.glob("epfl/*.aig")) + sorted(BENCHMARKS.glob("epfl/*.blif"))


@functools.cache
def compiled_both_ways(path: Path) -> tuple[compiler.Circuit, CompiledCircuit, CompiledCircuit]:
    """The netlist as written, and its compiles as written and simplified."""
    as_written = compiler.load_circuit(path, simplify=False)
    return (as_written, compiler.compile_circuit(as_written),
            compiler.compile_circuit(compiler.load_circuit(path)))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_netlist_compiles_exactly(path: Path) -> None:
    circuit, *compiles = compiled_both_ways(path)
    if circuit.n_inputs <= 16:
        x = np.array(list(itertools.product([0, 1], repeat=circuit.n_inputs)), dtype=np.float32)
    else:
        x = (np.random.default_rng(0).random((10_000, circuit.n_inputs)) < 0.5).astype(np.float32)
    expected = compiler.output_values(circuit, x)
    for compiled in compiles:
        assert compiled.meta.lowering == "exact"
        assert compiled.output_names == circuit.output_names
        np.testing.assert_array_equal(compiled.run(x) > THRESHOLD, expected)


def test_simplify_shrinks_the_iscas_circuits() -> None:
    """Fewer gates everywhere, never a layer more, fewer neurons in all. Not fewer
    neurons in every circuit: merging a gate into its reader can make operands
    ride (carry neurons) up to the reader's level."""
    neurons = {"as written": 0, "simplified": 0}
    for path in ISCAS:
        circuit, as_written, simplified = compiled_both_ways(path)
        assert len(simplified.program.nodes) < len(circuit.nodes), path.name
        assert len(simplified.layers) <= len(as_written.layers), path.name
        neurons["as written"] += as_written.n_neurons
        neurons["simplified"] += simplified.n_neurons
    assert neurons["simplified"] < neurons["as written"], neurons


def test_keep_gates_flag(tmp_path) -> None:
    from superpose.compiler.netlists import load_netlist
    from superpose.runtime.artifact import load
    from superpose.runtime.cli import main
    path = BENCHMARKS / "iscas85" / "c880.bench"
    for flags, expected in (([], compiler.load_circuit(path)), (["--keep-gates"], load_netlist(path))):
        artifact = tmp_path / "c880.safetensors"
        assert main(["compile", str(path), "-o", str(artifact), *flags]) == 0
        assert len(load(artifact).program.nodes) == len(expected.nodes)
