"""report speed: `superpose.error_report` of this checkout against the same
function at a baseline commit, side by side on the same compiled artifacts,
samples, seed and fill; every per-gate figure must be identical.

The programs: circuits-T (compiler/generators/circuits.py: T circuits of 8
inputs, 8 levels of 4 wires, sparsity 4) compiled exactly and by default, and
a U-AND layer (random pairwise ANDs, one layer) as the shallow reference.
Each report runs in its own process (the baseline's from `git archive REV`,
put first on PYTHONPATH), one after the other, so both see the same machine;
the figure is the ratio of their times, and the section says the load.

    python bench/bench_report.py [--circuits 256] [--baseline a0167f6]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import superpose  # noqa: E402
from markdown import table, write_section  # noqa: E402
from superpose.compiler import compile_circuit  # noqa: E402
from superpose.compiler.generators.circuits import circuits_circuit  # noqa: E402
from superpose.compiler.generators.uand import random_pairs_circuit  # noqa: E402
from superpose.runtime.report import error_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BASELINE = "a0167f6"  # the last commit before the report's speed-up (branch report)
FIGURES = ("error", "false_positive_rate", "false_negative_rate", "mean_abs_error", "min_margin",
           "mean_squared_error", "samples", "constant")  # every per-gate figure of runtime/report.GateError


def worker(artifact: str, samples: int, confirm: int, fill: str, out: str) -> None:
    """One timed report of one artifact, with whichever superpose is first on
    the path; writes {"seconds", "package", "gates": [[figures...], ...]}."""
    circuit = superpose.load(artifact)
    start = time.perf_counter()
    report = error_report(circuit, samples=samples, confirm=confirm, fill=fill, seed=0)
    seconds = time.perf_counter() - start
    rows = [[getattr(g, f) for f in FIGURES] for g in report.gates]
    Path(out).write_text(json.dumps({"seconds": seconds, "package": superpose.__file__, "gates": rows}))


def export_baseline(revision: str, into: Path) -> Path:
    """`git archive` of the baseline, laid out as the package superpose; the folder to put on PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    package = into / "baseline" / "superpose"
    package.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(package, filter="data")
    return package.parent


def timed_report(artifact: Path, args: argparse.Namespace, pythonpath: Path | None, out: Path) -> dict:
    """Run `worker` in a fresh process (the baseline's code when pythonpath is given)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    subprocess.run([sys.executable, __file__, "--worker", str(artifact), str(args.samples), str(args.confirm),
                    args.fill, str(out)], check=True, env=env)
    result = json.loads(out.read_text())
    expected = "baseline" if pythonpath is not None else str(REPO)
    if expected not in result["package"]:
        raise SystemExit(f"the report ran {result['package']}, not the {expected} code")
    return result


def programs(args: argparse.Namespace) -> dict[str, superpose.CompiledCircuit]:
    """The artifacts to report, by label, compiled with this checkout."""
    circuits = circuits_circuit(args.circuits, seed=0)
    uand = random_pairs_circuit(m=args.uand_inputs, n_gates=args.uand_gates, sparsity=3, seed=0)
    return {f"circuits-{args.circuits}, exact": compile_circuit(circuits, seed=0, strategy="exact"),
            f"circuits-{args.circuits}, default": compile_circuit(circuits, seed=0),
            f"uand-{args.uand_gates}, default": compile_circuit(uand, seed=0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--circuits", type=int, default=256, help="T of circuits-T (default 256)")
    parser.add_argument("--uand-inputs", type=int, default=256, help="inputs m of the U-AND layer (default 256)")
    parser.add_argument("--uand-gates", type=int, default=1024, help="ANDs of the U-AND layer (default 1024)")
    parser.add_argument("--samples", type=int, default=1000, help="stratified samples per gate (default 1000)")
    parser.add_argument("--confirm", type=int, default=20, help="worst gates re-measured (default 20)")
    parser.add_argument("--fill", default="neighbourhood", help="the report's fill (default neighbourhood)")
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        artifact, samples, confirm, fill, out = args.worker
        worker(artifact, int(samples), int(confirm), fill, out)
        return
    command = "python bench/bench_report.py " + " ".join(sys.argv[1:])
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch_path = Path(scratch)
        baseline = export_baseline(args.baseline, scratch_path)
        for i, (label, circuit) in enumerate(programs(args).items()):
            artifact = scratch_path / f"program{i}.safetensors"
            superpose.save(circuit, artifact)
            load = os.getloadavg()[0]
            new = timed_report(artifact, args, None, scratch_path / "new.json")
            old = timed_report(artifact, args, baseline, scratch_path / "old.json")
            same = new["gates"] == old["gates"]
            rows.append([label, f"{circuit.n_gates:,}", f"{len(circuit.layers)}", f"{old['seconds']:.1f}",
                         f"{new['seconds']:.1f}", f"{1000 * old['seconds'] / circuit.n_gates:.2f}",
                         f"{1000 * new['seconds'] / circuit.n_gates:.2f}", f"{old['seconds'] / new['seconds']:.1f}x",
                         "yes" if same else "NO", f"{load:.1f}"])
            print(" | ".join(rows[-1]), flush=True)
    header = ["program, lowering", "gates", "layers", f"{args.baseline} s", "now s", f"{args.baseline} ms/gate",
              "now ms/gate", "speed-up", "every figure identical", "load avg"]
    body = (f"`{command}`\n\n`error_report(samples={args.samples}, confirm={args.confirm}, fill=\"{args.fill}\", "
            f"seed=0)` on the same artifact, this checkout against commit {args.baseline}, each in its own "
            f"process, one after the other (one BLAS thread each); the speed-up is the ratio of the two times. "
            f"\"Every figure identical\": every gate's error, false positive and negative rates, mean absolute "
            f"and squared error, margin and sample count are equal. The default plan of circuits-T is the flattened "
            f"one (a single layer) when every gate has at most 128 support patterns, as at T = 256 with seed 0, "
            f"and the deep lowering otherwise: the layers column tells.\n\n{table(header, rows)}\n\n"
            f"Where the time went before: the forward pass evaluated every neuron of the network for every "
            f"batch of ~65 gates, so a gate cost in proportion to the whole network (on circuits-T, to T); now "
            f"a batch computes only the neurons its gates depend on, reads each gate on its own samples, and "
            f"gates that share a support share its enumerated patterns and their values.")
    print(table(header, rows))
    if not args.no_write:
        write_section("report speed", body)


if __name__ == "__main__":
    main()
