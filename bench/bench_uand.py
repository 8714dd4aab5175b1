"""uand-8k: m = 1,024 input features, 8,192 distinct random pairwise ANDs,
sparsity 3. Figure of merit: gates per ReLU neuron at which every gate's error
stays <= 1% on the stratified distribution, under the uniform and the
neighbourhood fill (compiler/co_activity.py). Every strategy in one run: the
hub lowering (calibrated packing, confirmed and repaired), the published
paper-uand construction (p swept, best kept), and the exact lowering; then
inputs compressed to d0 = 256 and 512; then the calibration of the hub
packing's prediction: predicted against measured error, gate by gate, on the
neurons packed by prediction alone (--no-confirm). With --baseline, the
compile time of the hub at 1% side by side with another tree (an older commit
unpacked as a `superpose` package: `git archive REV | tar -x -C DIR/superpose`),
each compile in a fresh process, alternating.

    python bench/bench_uand.py [--samples 1000] [--sweep-samples 200] [--confirm 500]
                               [--baseline DIR --baseline-label REV --timing-repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import superpose  # noqa: E402
from superpose import compiler  # noqa: E402
from superpose.compiler import lower_superposed  # noqa: E402
from superpose.compiler.co_activity import FILLS, neighbourhoods_of  # noqa: E402
from superpose.compiler.generators import random_pairs_circuit  # noqa: E402
from markdown import table, write_section  # noqa: E402

M, GATES, SPARSITY = 1024, 8192, 3


def uand_program(seed: int = 0) -> compiler.Circuit:
    return random_pairs_circuit(M, GATES, SPARSITY, seed, name="uand-8k")


def measure(label: str, options: compiler.HubOptions | compiler.PaperUandOptions | compiler.ExactOptions,
            samples: int, confirm: int = 0, fills: tuple[str, ...] = ("uniform",)) -> list[str]:
    """One row: the compile, and its report under each of `fills` (the
    figures of the first, and the max error of every one)."""
    start = time.perf_counter()
    compiled = compiler.compile_circuit(uand_program(), options=options)
    compile_s = time.perf_counter() - start
    summaries = [superpose.error_report(compiled, samples=samples, seed=1, confirm=confirm, fill=fill).summary()
                 for fill in fills]
    summary, figures = summaries[0], compiled.meta.figures
    repaired = f"{figures['repair_share']:.1%}" if figures.get("confirmed") else "-"
    worst = max(s["max_error"] for s in summaries)
    row = [label + (f" (worst {confirm} re-measured at {10 * samples})" if confirm else ""), f"{compiled.n_neurons:,}",
           f"{GATES / compiled.n_neurons:.2f}", f"{summary['features_per_dim']:.0f}", f"{summary['mean_error']:.3%}",
           f"{summary['p99_error']:.3%}", f"{summary['max_error']:.3%}",
           f"{summaries[1]['max_error']:.3%}" if len(summaries) > 1 else "-",
           ("**" if worst > getattr(options, "target_error", 1.0) else "") + f"{worst:.3%}", repaired, str(samples),
           f"{compile_s:.1f}"]
    print(" | ".join(row), flush=True)
    return row


QUANTILES = (0.5, 0.9, 0.99, 1.0)


def calibration(target: float, samples: int) -> tuple[list[list[str]], str]:
    """Predicted against measured error of every gate on the neurons packed by
    prediction alone (HubOptions(confirm=False)): quantiles of both under each
    fill, and the share of gates the prediction puts under the target that
    measure over it."""
    program = uand_program()
    compiled = compiler.compile_circuit(program, options=compiler.HubOptions(target_error=target, confirm=False))
    expansion = lower_superposed._expand(program, "hub")  # the same plan the compile made (deterministic)
    near_of = neighbourhoods_of(program)
    near = {(a, b): set(near_of.of([a, b]).tolist()) for a, b in expansion.pairs}
    weights = lower_superposed._pair_weights(program, expansion.lits, expansion.polys, expansion.pairs, SPARSITY)
    _, _, predicted = lower_superposed._plan_hub(program, compiler.HubOptions(target_error=target),
                                                 expansion.pairs, expansion.higher, weights, near)
    gate_pred = np.array([max(predicted[t] for t in poly if len(t) == 2) for poly in expansion.polys[:GATES]])
    rows, missed = [], []
    for fill in FILLS:
        measured = superpose.error_report(compiled, samples=samples, seed=2, fill=fill).errors()
        rows.append([fill, *(f"{np.quantile(gate_pred, q):.3%} / {np.quantile(measured, q):.3%}" for q in QUANTILES),
                     f"{measured.mean() / gate_pred.mean():.2f}"])
        missed.append(f"{fill}: {np.mean((gate_pred <= target) & (measured > target)):.2%}")
    note = (f"{compiled.n_neurons:,} neurons packed by prediction alone at target {target:.0%}; gates predicted "
            f"within the target that measure over it ({samples} samples, so partly sampling noise): "
            + ", ".join(missed))
    return rows, note


# one compile of the hub at 1% in a fresh process: prints its seconds and figures as JSON
TIMED_COMPILE = """
import json, time
from superpose import compiler
from superpose.compiler.generators import random_pairs_circuit
program = random_pairs_circuit({m}, {gates}, {s}, 0, name="uand-8k")
start = time.perf_counter()
compiled = compiler.compile_circuit(program, options=compiler.HubOptions(target_error=0.01))
figures = compiled.meta.figures
print(json.dumps({{"seconds": time.perf_counter() - start, "neurons": compiled.n_neurons,
                  "repaired": figures.get("repaired_pairs"), "confirmed": figures.get("gates_confirmed")}}))
""".format(m=M, gates=GATES, s=SPARSITY)


def timed_compile(package_root: Path | None) -> dict:
    """TIMED_COMPILE with this tree (None) or the `superpose` package under package_root."""
    env = dict(os.environ)
    if package_root is not None:
        env["PYTHONPATH"] = str(package_root)
    done = subprocess.run([sys.executable, "-c", TIMED_COMPILE], env=env, capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parent)  # not the repository root, which is the package
    return json.loads(done.stdout.strip().splitlines()[-1])


def side_by_side(baseline: Path, label: str, repeats: int) -> tuple[list[list[str]], str]:
    """Compile seconds of the hub at 1% with this tree and with `baseline`,
    alternating (this tree first, then the baseline first, ...) so that a
    change in the machine's load falls on both."""
    runs: dict[str, list[dict]] = {"this tree": [], label: []}
    for repeat in range(repeats):
        for name in (("this tree", label) if repeat % 2 == 0 else (label, "this tree")):
            load = os.getloadavg()[0]
            runs[name].append(dict(timed_compile(None if name == "this tree" else baseline), load=load))
            print(name, runs[name][-1], flush=True)
    rows = [[name, ", ".join(f"{r['seconds']:.1f}" for r in rs), f"{min(r['seconds'] for r in rs):.1f}",
             f"{rs[0]['neurons']:,}", f"{GATES / rs[0]['neurons']:.2f}", str(rs[0]["confirmed"]), str(rs[0]["repaired"]),
             ", ".join(f"{r['load']:.1f}" for r in rs)] for name, rs in runs.items()]
    ratio = min(r["seconds"] for r in runs[label]) / min(r["seconds"] for r in runs["this tree"])
    return rows, f"{ratio:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000, help="stratified samples per gate (default 1000)")
    parser.add_argument("--sweep-samples", type=int, default=200, help="samples per gate in the p sweep")
    parser.add_argument("--confirm", type=int, default=500,
                        help="hub rows: re-measure this many worst gates on 10x fresh samples (default 500)")
    parser.add_argument("--baseline", type=Path, help="a folder holding an older `superpose` package: time the hub "
                        "compile at 1%% side by side with it")
    parser.add_argument("--baseline-label", default="baseline", help="what the baseline is (its commit)")
    parser.add_argument("--timing-repeats", type=int, default=2, help="compiles of each tree in the side by side")
    args = parser.parse_args()
    timing = side_by_side(args.baseline, args.baseline_label, args.timing_repeats) if args.baseline else None
    S, P = compiler.HubOptions, compiler.PaperUandOptions
    rows = [measure(f"hub, target {t:.0%}", S(target_error=t), args.samples, args.confirm, FILLS)
            for t in (0.01, 0.02, 0.05)]
    for width in (2048, 1024):
        sweep = [(measure(f"paper-uand width {width} p={p}", P(width=width, p=p),
                          args.sweep_samples), p) for p in (0.03, 0.05, 0.08, 0.12)]
        best = min(sweep, key=lambda item: float(item[0][4].rstrip("%")))
        rows.append(best[0])
    rows.append(measure("exact", compiler.ExactOptions(), 100))
    rows.append(measure("hub, d0=256 random signs", S(embed_dim=256), args.sweep_samples))
    rows.append(measure("hub, d0=256 low-coherence", S(embed_dim=256, embedding="low-coherence"),
                        args.sweep_samples))
    rows.append(measure("hub, d0=512 low-coherence", S(embed_dim=512, embedding="low-coherence"),
                        args.sweep_samples))
    header = ["strategy", "neurons", "gates/neuron", "features/dim", "mean error", "p99 error", "max error",
              "max error, neighbourhood fill", "max error, both fills", "pairs repaired", "samples/gate",
              "compile s"]
    calibration_rows, calibration_note = calibration(0.01, args.samples)
    baseline_flags = (f" --baseline DIR --baseline-label {args.baseline_label} --timing-repeats {args.timing_repeats}"
                      if args.baseline else "")
    body = (f"Command: `python bench/bench_uand.py --samples {args.samples} --sweep-samples {args.sweep_samples} "
            f"--confirm {args.confirm}{baseline_flags}`. "
            f"m = {M}, {GATES:,} random pairwise ANDs, sparsity {SPARSITY}; error = misclassification on the "
            "stratified distribution (half true, half false inputs per gate), so the max over 8,192 gates also "
            "carries sampling noise (about ±0.3% per gate at 1,000 samples); hub rows re-measure their worst gates "
            "on 10x fresh samples to remove that upward bias, and are measured under both fills (uniform: a gate's "
            "other active inputs drawn from all inputs; neighbourhood: half of them from the inputs that share a "
            "gate with its own); mean and p99 are the uniform fill's; a max over the target is in bold. The hub "
            "rows are the calibrated packing (compiler/hub_confirm.py): every gate predicted within half the "
            "target of it is measured on the compiled weights under both fills, on more samples while its "
            "Wilson bounds straddle the pass bound (one standard error of a 10,000-sample re-measurement under "
            "the target), and its pair re-packed when it misses; 'pairs repaired' is that share. paper-uand rows: the best p of the sweep (0.03, 0.05, 0.08, "
            "0.12) by mean error at that width.\n\n" + table(header, rows)
            + "\n\nCalibration of the hub packing's prediction (per gate, predicted / measured, quantiles over the "
              f"8,192 gates, {args.samples} samples per gate): " + calibration_note + ".\n\n"
            + table(["fill", *(f"q{q:g}" if q < 1 else "max" for q in QUANTILES), "measured / predicted mean"],
                    calibration_rows))
    if timing is not None:
        timing_rows, ratio = timing
        body += (f"\n\nCompile time of the hub at 1%, side by side with {args.baseline_label} (`--baseline DIR "
                 f"--baseline-label {args.baseline_label} --timing-repeats {args.timing_repeats}`, DIR holding "
                 f"{args.baseline_label} as a package: `git archive {args.baseline_label} | tar -x -C DIR/superpose`; "
                 f"each compile in a fresh process, the two trees alternating; the machine's 2 cores were shared, the load average "
                 f"before each compile is in the table): {args.baseline_label} / this tree, best of each, "
                 f"**{ratio}x**.\n\n"
                 + table(["tree", "compile s per run", "best s", "neurons", "gates/neuron", "gates confirmed",
                          "pairs repaired", "load average before each"], timing_rows))
    write_section("uand-8k", body)


if __name__ == "__main__":
    main()
