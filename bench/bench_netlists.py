"""Benchmark netlists (every ISCAS-85 .bench, every EPFL .aig in ../shared/benchmarks):
size, exact lowering (simplified) and the numpy runtime's throughput against the
reference interpreter, run side by side in the same process on the same 10,000
random vectors; then, at sparsity 3, which circuits' wires stay sparse
(compiler.sparsity).

    python bench/bench_netlists.py
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from superpose.compiler.frontend import circuit_from_source  # noqa: E402  (every stage imported before timing)
from superpose.compiler.interpret import output_values  # noqa: E402
from superpose.compiler.ir import Circuit  # noqa: E402
from superpose.compiler.netlists import load_netlist  # noqa: E402
from superpose.compiler.pipeline import compile_circuit, load_circuit  # noqa: E402
from superpose.compiler.sparsity import TOO_DENSE_SHARE, analyse_sparsity  # noqa: E402
from superpose.compiler.generators import layered_source  # noqa: E402
from markdown import table, write_section  # noqa: E402
from superpose.network import THRESHOLD  # noqa: E402

COMMAND = "python bench/bench_netlists.py"
BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
VECTORS = 10_000  # random input vectors, each input on with probability 1/2
REPEATS = 3       # each throughput is the best of this many runs, runtime and interpreter interleaved
SPARSITY = 3      # inputs on at once for the sparsity table
CONTRAST_GATES = 10_000  # a generated sparse program, for contrast and for the analysis time at this size


def seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def lowering_row(path: Path, rng: np.random.Generator) -> tuple[list[str], Circuit]:
    """One circuit: sizes, exact lowering of the simplified netlist, throughputs;
    and the simplified circuit."""
    as_written = load_netlist(path)
    start = time.perf_counter()
    circuit = load_circuit(path)
    compiled = compile_circuit(circuit)
    compile_s = time.perf_counter() - start
    x = (rng.random((VECTORS, circuit.n_inputs)) < 0.5).astype(np.float32)
    np.testing.assert_array_equal(compiled.run(x) > THRESHOLD, output_values(circuit, x))
    # interleaved, so that a busy machine slows both alike
    runs = [(seconds(lambda: compiled.run(x)), seconds(lambda: output_values(circuit, x)))
            for _ in range(REPEATS)]
    runtime_s, interpreter_s = (min(times) for times in zip(*runs))
    row = [path.name, str(circuit.n_inputs), str(len(circuit.outputs)), f"{len(as_written.nodes):,}",
           f"{len(circuit.nodes):,}", str(int(circuit.levels().max())), str(len(compiled.layers)),
           f"{compiled.n_neurons:,}", f"{compile_s:.2f}", f"{len(x) / runtime_s:,.0f}",
           f"{len(x) / interpreter_s:,.0f}", f"{interpreter_s / runtime_s:.2f}"]
    return row, circuit


def sparsity_row(name: str, circuit: Circuit) -> list[str]:
    """One circuit at SPARSITY inputs on: how many levels stay sparse."""
    start = time.perf_counter()
    report = analyse_sparsity(circuit, SPARSITY)
    analysis_s = time.perf_counter() - start
    sparse_levels = int((~report.too_dense).sum())
    worst = int(np.argmax(report.share))
    return [name, f"{int(report.wires.sum()):,}", f"{report.dense.mean():.0%}", str(len(report.wires)),
            str(sparse_levels), f"{sparse_levels / len(report.wires):.0%}",
            f"{report.share[worst]:.0%} (level {worst})", "yes" if sparse_levels == len(report.wires) else "no",
            f"{analysis_s:.2f}"]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    paths = sorted(BENCHMARKS.glob("iscas85/*.bench")) + sorted(BENCHMARKS.glob("epfl/*.aig"))
    rng = np.random.default_rng(0)
    lowering, sparsity = [], []
    for path in paths:
        row, circuit = lowering_row(path, rng)
        lowering.append(row)
        sparsity.append(sparsity_row(path.name, circuit))
        print(" | ".join(lowering[-1]), "||", " | ".join(sparsity[-1]), flush=True)
    contrast = circuit_from_source(layered_source(CONTRAST_GATES), f"layered_{CONTRAST_GATES}.sbp")
    sparsity.append(sparsity_row(f"layered_{CONTRAST_GATES} (generated, for contrast)", contrast))
    print(" | ".join(sparsity[-1]))
    body = (
        f"Command: `{COMMAND}`. Every ISCAS-85 .bench and EPFL .aig in ../shared/benchmarks, simplified "
        f"(the default: buffer chains collapsed, same-op gates merged), exact lowering. gates: nodes as read "
        f"and after simplify; depth: levels of the simplified circuit. compile s: read + simplify + lower. "
        f"Throughput on the same {VECTORS:,} random vectors (each input on with probability 1/2), best of "
        f"{REPEATS} runs, the numpy runtime (`CompiledCircuit.run`) and the reference interpreter "
        f"(`compiler.interpret.output_values`) interleaved in the same process; the runtime's outputs are "
        f"checked equal to the interpreter's. 2 CPU cores shared with other work, so absolute rates are "
        f"noisy; the ratio less so.\n\n"
        + table(["circuit", "inputs", "outputs", "gates", "gates simplified", "depth", "layers", "neurons",
                 "compile s", "runtime inputs/s", "interpreter inputs/s", "runtime / interpreter"], lowering)
        + f"\n\nWhich circuits' wires stay sparse with at most {SPARSITY} inputs on (`compiler.sparsity`, "
        f"as `superpose compile --sparsity {SPARSITY}` reports it): a level is too dense for superposition "
        f"to pay when the bound on its wires on at once exceeds {TOO_DENSE_SHARE:.0%} of them. wires: every "
        f"signal of the simplified circuit, inputs included (level 0); dense: true with no input on. The bound "
        f"is sound, not tight: a level it calls dense may be sparser in truth.\n\n"
        + table(["circuit", "wires", "dense wires", "levels", "sparse levels", "share sparse",
                 "densest level (bound)", "stays sparse", "analysis s"], sparsity))
    write_section("netlists", body)


if __name__ == "__main__":
    main()
