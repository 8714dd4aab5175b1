"""deep benchmarks (issue 14): circuits-T and chain-L, every lowering side by
side, per level, with error measured under structured co-activity (the
neighbourhood fill of runtime/co_activity.py); then depth scaling. One command
per benchmark; each stores its rows in bench/results/deep.json (with the command
that made them) and rewrites the `## deep` section of BENCHMARKS.md and its plots
from everything stored there.

    python bench/bench_deep.py circuits --circuits 512
    python bench/bench_deep.py chain
    python bench/bench_deep.py scaling

--lowerings picks a subset (a run adds or replaces those rows and keeps the
others). A lowering that cannot compile a program is recorded with its message.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import tracemalloc
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown import table, write_section  # noqa: E402

from superpose.compiler.generators.chain import chain_circuit  # noqa: E402
from superpose.compiler.generators.circuits import circuits_circuit  # noqa: E402
from superpose.compiler.lower_cis import width_for_neurons  # noqa: E402

from superpose.compiler import Circuit, CompileError, compile_circuit  # noqa: E402
from superpose.compiler.strategies import STRATEGIES  # noqa: E402
from superpose.network import CompiledCircuit  # noqa: E402
from superpose.runtime.depth_report import LevelError, gate_levels, plot_levels, sample_per_level  # noqa: E402
from superpose.runtime.report import error_report  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "deep.json"
TARGET = 0.01
FILL = "neighbourhood"
# label -> how it compiles; "cis" is sized to the neuron count of another lowering (--cis-neurons-of)
LOWERINGS: dict[str, Callable[..., CompiledCircuit]] = {
    "exact": lambda circuit, seed: compile_circuit(circuit, seed=seed, strategy="exact"),
    "default": lambda circuit, seed: compile_circuit(circuit, seed=seed),
    "flattened": lambda circuit, seed: compile_circuit(circuit, seed=seed, strategy="hub"),
    "chained": lambda circuit, seed: compile_circuit(circuit, seed=seed, strategy="chained"),
    "chained-always": lambda circuit, seed: compile_circuit(circuit, seed=seed, strategy="chained",
                                                            superpose="always"),
    "naive": lambda circuit, seed: compile_circuit(circuit, seed=seed, strategy="chained", control=False),
    "deep": lambda circuit, seed: compile_deep(circuit, seed),
    "cis": lambda circuit, seed, width=None: compile_circuit(circuit, seed=seed, strategy="cis", width=width),
}
# also measured under the uniform fill: what it hides for flattened; for the deep lowering it is the harder fill
# (every free active slot in another region, where shared hosts' stray and fallen reads come from)
UNIFORM_TOO = {"flattened", "default", "deep"}


def compile_deep(circuit: Circuit, seed: int) -> CompiledCircuit:
    """The deep lowering (issue 14's other half), when this checkout has it."""
    if "deep" not in STRATEGIES:
        raise CompileError("strategy 'deep' is not on this branch")
    return compile_circuit(circuit, seed=seed, strategy="deep")


def weights_digest(compiled: CompiledCircuit) -> str:
    """SHA-256 of everything the report reads of a network: its layers and its gate readout."""
    digest = hashlib.sha256()
    arrays = [a for layer in compiled.layers
              for a in (layer.weight.data, layer.weight.indices, layer.weight.indptr, layer.bias, np.array([layer.relu]))]
    readout = compiled.gate_readout
    arrays += [a for at in sorted(readout.blocks) for a in (np.array([at]), readout.blocks[at].rows,
               readout.blocks[at].weight.data, readout.blocks[at].weight.indices, readout.blocks[at].weight.indptr)]
    for a in arrays + [readout.bias]:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def measure(circuit: Circuit, label: str, args: argparse.Namespace, reference: dict | None,
            samples: int, confirm: int, measured: dict[str, dict] | None = None) -> dict:
    """Compile with one lowering and measure it; a dict of figures (JSON-able).
    measured: weights digest -> the result of a lowering of this run that
    compiled the same weights (the default plan is often another lowering
    with its defaults): its error figures are taken, not measured again."""
    extra = {}
    if label == "cis" and reference is not None and "neurons" in reference:
        extra = {"width": width_for_neurons(reference["neurons"], int(circuit.levels().max()))}
    tracemalloc.start()
    start = time.perf_counter()
    try:
        compiled = LOWERINGS[label](circuit, args.seed, **extra)
    except CompileError as error:
        tracemalloc.stop()
        print(f"{label}: does not compile: {error}", flush=True)
        return {"label": label, "error": str(error)}
    compile_s = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    digest = weights_digest(compiled)
    result = {"label": label, "neurons": compiled.n_neurons, "gates": compiled.n_gates, "layers": len(compiled.layers),
              "compile_s": compile_s, "peak_mb": peak / 2 ** 20, "samples": samples, "confirm": confirm,
              "plans": {str(f["level"]): f["plan"] for f in compiled.meta.levels if "plan" in f},
              "strategy": compiled.meta.strategy}
    if measured is not None and digest in measured:
        same = measured[digest]
        result.update({k: same[k] for k in ("levels", "uniform_levels", "gates_per_level", "report_s") if k in same},
                      same_weights_as=same["label"])
        print(f"{label}: {compiled.n_neurons:,} neurons, compile {compile_s:.1f} s, peak {result['peak_mb']:.0f} MB; "
              f"the same weights as {same['label']}: its error figures", flush=True)
        return result
    start = time.perf_counter()
    levels_of_gates = gate_levels(compiled)
    sample = None if args.gates_per_level is None else sample_per_level(levels_of_gates, args.gates_per_level, args.seed)
    report = error_report(compiled, samples=samples, confirm=confirm, fill=FILL, seed=args.seed, progress=True,
                          gates=sample)
    result.update(report_s=time.perf_counter() - start, levels=_level_dicts(report.levels(), levels_of_gates, sample))
    if label == "exact":  # one layer per level: the level's neurons are its layer's width
        for r in result["levels"]:
            r["neurons"] = compiled.layers[r["level"] - 1].width
            r["gates_per_neuron"] = r["gates"] / r["neurons"]
    if label == "cis":
        result.update({k: compiled.meta.figures[k] for k in ("width", "spread", "circuits", "small_neurons_per_circuit")})
        result["matched"] = reference["label"] if reference else "narrowest"
    if sample is not None:
        result["gates_per_level"] = args.gates_per_level
    if label in UNIFORM_TOO:
        uniform = error_report(compiled, samples=samples, confirm=confirm, fill="uniform", seed=args.seed, gates=sample)
        result["uniform_levels"] = _level_dicts(uniform.levels(), levels_of_gates, sample)
    worst = max((r["max_error"] for r in result["levels"]), default=0.0)
    print(f"{label}: {compiled.n_neurons:,} neurons, compile {compile_s:.1f} s, peak {result['peak_mb']:.0f} MB, "
          f"report {result['report_s']:.0f} s, max error {worst:.3%}", flush=True)
    if measured is not None:
        measured[digest] = result
    return result


def _level_dicts(rows: list[LevelError], levels_of_gates: list[int], sample: list[int] | None) -> list[dict]:
    """The report's level rows as dicts; for a sampled report, `gates` is the
    level's gate count, not the sample's (the result's gates_per_level says that)."""
    dicts = [asdict(r) for r in rows]
    if sample is not None:
        for r in dicts:
            r["gates"] = levels_of_gates.count(r["level"])
    return dicts


def run_benchmark(key: str, circuit: Circuit, args: argparse.Namespace) -> None:
    """Every requested lowering on one program; rows stored under `key`."""
    command = "python bench/bench_deep.py " + " ".join(sys.argv[1:])
    order = sorted(args.lowerings, key=lambda label: label == "cis")   # cis last: it is sized after another
    measured: dict[str, dict] = {}
    for label in order:
        rows = load().get(key, {})
        reference = cis_reference(rows, args.cis_neurons_of) if label == "cis" else None
        record(key, label, dict(measure(circuit, label, args, reference, args.samples, args.confirm, measured),
                                command=command))


def cis_reference(rows: dict, matched: str) -> dict | None:
    """The row whose neuron count cis takes: `matched`'s, else exact's; None
    (cis at its narrowest width) for --cis-neurons-of narrowest."""
    if matched == "narrowest":
        return None
    reference = rows.get(matched)
    return reference if reference is not None and "neurons" in reference else rows.get("exact")


def run_scaling(args: argparse.Namespace) -> None:
    """Depth 2..32 on reduced circuits-T and chain-L, every requested lowering."""
    command = "python bench/bench_deep.py " + " ".join(sys.argv[1:])
    programs = {"circuits": lambda depth: circuits_circuit(args.scale_circuits, depth, seed=args.seed),
                "chain": lambda depth: chain_circuit(depth, args.scale_gates, args.scale_inputs, seed=args.seed)}
    for name, make in programs.items():
        for depth in (int(v) for v in args.scale_levels.split(",")):
            circuit = make(depth)
            done: dict[str, dict] = {}
            for label in sorted(args.lowerings, key=lambda label: label == "cis"):
                reference = cis_reference(done, args.cis_neurons_of) if label == "cis" else None
                done[label] = dict(measure(circuit, label, args, reference, args.scale_samples, 0), command=command,
                                   depth=depth)
                record(f"scaling-{name}", f"{depth}:{label}", done[label])


def record(key: str, label: str, result: dict) -> None:
    """Store one row, re-reading the file first (several runs may store at once)."""
    store = load()
    store.setdefault(key, {})[label] = result
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(store, indent=1, sort_keys=True) + "\n")


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def pct(x: float) -> str:
    return f"{x:.3%}"


def level_rows(label: str, result: dict, key: str = "levels") -> list[list[str]]:
    if "error" in result:
        return [[label, "-", "-", "-", "-", "-", "-", "-", f"does not compile: {result['error']}"]]
    rows = []
    for r in result[key]:
        plan = result.get("plans", {}).get(str(r["level"]), "")
        rows.append([label, str(r["level"]), f"{r['gates']:,}", "-" if r["neurons"] is None else f"{r['neurons']:,}",
                     "-" if r["gates_per_neuron"] is None else f"{r['gates_per_neuron']:.2f}", pct(r["mean_error"]),
                     pct(r["p99_error"]), pct(r["max_error"]), plan])
    lowering = f"lowering {result['strategy']}; " if "strategy" in result else ""  # rows stored before it was kept
    sampled = f"{result['gates_per_level']} random gates per level measured, " if "gates_per_level" in result else ""
    if "same_weights_as" in result:
        sampled = f"the same weights as {result['same_weights_as']} (its error figures); " + sampled
    rows.append([f"**{label} total**", "", f"{result['gates']:,}", f"{result['neurons']:,}",
                 f"{result['gates'] / result['neurons']:.2f}", "", "", pct(max(r["max_error"] for r in result[key])),
                 f"{lowering}compile {result['compile_s']:.1f} s, peak {result['peak_mb']:.0f} MB; {sampled}"
                 f"{result['samples']} samples per gate, the {result['confirm']} worst re-measured on "
                 f"{10 * result['samples']}"])
    return rows


LEVEL_HEADER = ["lowering", "level", "gates", "neurons", "gates/neuron", "mean error", "p99 error", "max error", "plan / note"]


def benchmark_body(key: str, results: dict) -> str:
    """The tables and plot of one benchmark."""
    plot = HERE / f"deep_{key.replace('-', '')}.png"
    series = {label: [LevelError(**r) for r in result["levels"]]
              for label, result in results.items() if "levels" in result}
    plot_levels(series, str(plot), title=f"{key}: max and mean gate error against depth ({FILL} fill)")
    rows = [row for label, result in results.items() for row in level_rows(label, result)]
    commands = sorted({result["command"] for result in results.values()})
    parts = [f"Commands: {', '.join(f'`{c}`' for c in commands)}.",
             f"![gate error against depth](bench/{plot.name})", table(LEVEL_HEADER, rows)]
    cis = results.get("cis", {})
    if "levels" in cis:
        parts.append(f"cis: width {cis['width']:,} per layer (sized to the neuron count of `{cis['matched']}`), "
                     f"spread {cis['spread']}, {cis['circuits']:,} independent "
                     f"sub-circuits, d = {cis['small_neurons_per_circuit']} small neurons per circuit per layer. "
                     f"CiS2's closed form against the measured mean squared readout error:\n\n"
                     + table(["level", "predicted MSE", "measured MSE", "max gate error"],
                             [[str(r["level"]), f"{r['expected_mse']:.4f}", f"{r['mean_squared_error']:.4f}",
                               pct(r["max_error"])] for r in cis["levels"]]))
    for label, result in results.items():
        if "uniform_levels" in result and "same_weights_as" not in result:
            parts.append(f"{label} under the uniform fill (the same weights; every free active slot drawn from all "
                         f"inputs):\n\n"
                         + table(["level", "mean error", "p99 error", "max error"],
                                 [[str(r["level"]), pct(r["mean_error"]), pct(r["p99_error"]), pct(r["max_error"])]
                                  for r in result["uniform_levels"]]))
    return "\n\n".join(parts)


def scaling_body(name: str, rows: dict) -> str:
    out = []
    for key, result in sorted(rows.items(), key=lambda item: (item[1]["depth"], item[1]["label"])):
        if "error" in result:
            out.append([str(result["depth"]), result["label"], "-", "-", "-", "-", "-", "does not compile"])
            continue
        levels = result["levels"]
        out.append([str(result["depth"]), result["label"], pct(np.mean([r["mean_error"] for r in levels])),
                    pct(levels[-1]["mean_error"]), pct(max(r["max_error"] for r in levels)), f"{result['neurons']:,}",
                    f"{result['gates'] / result['neurons']:.2f}", f"{result['compile_s']:.1f}"])
    commands = sorted({result["command"] for result in rows.values()})
    return (f"Commands: {', '.join(f'`{c}`' for c in commands)}.\n\n"
            + table(["levels", "lowering", "mean error (avg over levels)", "mean error, last level", "max error",
                     "neurons", "gates/neuron", "compile s"], out))


FULL_RUNS = {"circuits-512": "circuits --circuits 512", "circuits-2000": "circuits --circuits 2000 --gates-per-level 300",
             "circuits-4000": "circuits --circuits 4000 --gates-per-level 300", "chain-8": "chain"}


def missing_runs(store: dict) -> str:
    """What the stored results lack, with the command that fills each gap."""
    lines = []
    for key, arguments in FULL_RUNS.items():
        missing = [label for label in LOWERINGS if label not in store.get(key, {})]
        if missing:
            lines.append(f"- {key}: {', '.join(missing)}: `python bench/bench_deep.py {arguments} "
                         f"--lowerings {','.join(missing)}`")
    return ("Rows not measured yet (each needs a longer run than this machine had; the command adds them to "
            "bench/results/deep.json and rewrites this section):\n\n" + "\n".join(lines)) if lines else ""


def write_markdown(store: dict) -> None:
    parts = [f"""Issue 14's benchmarks (bench/bench_deep.py). Error is the misclassification rate on the stratified
distribution of `superpose report` under the **{FILL} fill** (compiler/co_activity.py: each free active slot from
the gate's neighbourhood, inputs sharing a support with its own, with probability 1/2), the worst gates of each
lowering re-measured on 10x fresh samples; flattened, default and deep also under the uniform fill (the tables after
each benchmark's; rows measured before this was added have none). circuits-T: compiler/generators/circuits.py (T circuits of 8 inputs, 4 wires per
level, 8 levels, sparsity 4; circuits-T-inK: K inputs per circuit). chain-L: compiler/generators/chain.py. Lowerings: exact; default (no flags: the plan the
compiler picks: on circuits-T flattened since commit d71c4ec, deep in rows measured before it); flattened (`--strategy hub`, the single superposed layer; the default
before the deep lowering, and the rows labelled so were measured then, as `default`); chained (`--strategy chained`), chained-always
(`--superpose-levels always`), naive (`--no-error-control`); cis (`--strategy cis`, the CiS2 baseline at the
neuron count of another lowering); deep (`--strategy deep`, when present). Peak memory: the most Python and numpy
memory traced (tracemalloc) while compiling."""]
    parts += [missing] if (missing := missing_runs(store)) else []  # nothing when every row is measured
    for key in sorted(k for k in store if not k.startswith("scaling-")):
        parts.append(f"### {key}\n\n{benchmark_body(key, store[key])}")
    for key in sorted(k for k in store if k.startswith("scaling-")):
        parts.append(f"### depth scaling, {key.split('-', 1)[1]} (reduced size)\n\n{scaling_body(key, store[key])}")
    write_section("deep", "\n\n".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=["circuits", "chain", "scaling", "markdown"],
                        help="markdown: only rewrite BENCHMARKS.md from the stored results")
    parser.add_argument("--lowerings", default=",".join(LOWERINGS),
                        help=f"comma-separated subset of: {', '.join(LOWERINGS)}")
    parser.add_argument("--circuits", type=int, default=512, help="T of circuits-T")
    parser.add_argument("--circuit-inputs", type=int, default=8,
                        help="circuits-T: inputs of each circuit (default 8; other values store as circuits-T-inK)")
    parser.add_argument("--levels", type=int, default=8)
    parser.add_argument("--gates", type=int, default=2048, help="chain-L: gates per level (2,048 as chain-8)")
    parser.add_argument("--inputs", type=int, default=1024, help="chain-L: inputs")
    parser.add_argument("--samples", type=int, default=100, help="stratified samples per gate")
    parser.add_argument("--confirm", type=int, default=200, help="worst gates re-measured on 10x fresh samples")
    parser.add_argument("--gates-per-level", type=int, metavar="N",
                        help="measure N random gates of each level (error_report(gates=...)) instead of every gate: "
                             "circuits-2000 and -4000 have 64,000 and 128,000 gates (default: every gate)")
    parser.add_argument("--cis-neurons-of", default="deep", help="cis gets this lowering's neuron count "
                        "(falls back to exact's when that one did not run); narrowest: cis at its narrowest width")
    parser.add_argument("--scale-levels", default="2,4,8,16,32")
    parser.add_argument("--scale-circuits", type=int, default=64)
    parser.add_argument("--scale-gates", type=int, default=256)
    parser.add_argument("--scale-inputs", type=int, default=256)
    parser.add_argument("--scale-samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.lowerings = [label.strip() for label in args.lowerings.split(",") if label.strip()]
    unknown = [label for label in args.lowerings if label not in LOWERINGS]
    if unknown:
        parser.error(f"unknown lowerings {unknown}; choose from {', '.join(LOWERINGS)}")
    if args.benchmark == "circuits":
        key = f"circuits-{args.circuits}" + (f"-in{args.circuit_inputs}" if args.circuit_inputs != 8 else "")
        run_benchmark(key, circuits_circuit(args.circuits, args.levels, inputs=args.circuit_inputs, seed=args.seed), args)
    elif args.benchmark == "chain":
        run_benchmark(f"chain-{args.levels}", chain_circuit(args.levels, args.gates, args.inputs, seed=args.seed), args)
    elif args.benchmark == "scaling":
        run_scaling(args)
    write_markdown(load())


if __name__ == "__main__":
    main()
