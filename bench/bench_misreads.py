"""Where the deep lowering's errors come from (issue 14): the wrong reads of
circuits-T through the hosted deep lowering, per level and per gate form,
split into false positives (a false gate read true) and false negatives (a
true gate read false), beside the same program compiled with
--no-shared-negation (clips with a negated read on hosts of their own).

Gates are sampled per level and read on the report's stratified samples
(neighbourhood fill, at most `sparsity` inputs on), as bench_deep.py does;
the counts are reads, not rates. A *split* read lies within 1/4 of the
threshold: at S = 2 hosts per clip, one host lit of two (a stray on a false
gate, or a true gate with one host switched off by a co-tenant). Results go
to bench/results/misreads.json and the `## deep: where the errors come from`
section of BENCHMARKS.md.

    python bench/bench_misreads.py --circuits 1000
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown import table, write_section  # noqa: E402

from superpose.compiler import compile_circuit  # noqa: E402
from superpose.compiler.generators.circuits import circuits_circuit  # noqa: E402
from superpose.network import THRESHOLD, CompiledCircuit  # noqa: E402
from superpose.runtime.depth_report import gate_levels, sample_per_level  # noqa: E402
from superpose.runtime.report import gate_samples  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "misreads.json"
SECTION = "deep: where the errors come from (issue 14)"
FILL = "neighbourhood"
SPLIT = 0.25  # a read within this of THRESHOLD is split (one host lit of two at S = 2)
VARIANTS = {"shared": True, "own": False}  # label -> share_negated
COUNTS = ("reads", "false_pos", "false_neg", "split_false", "split_true", "split_false_wrong", "split_true_wrong")


def gate_form(compiled: CompiledCircuit, gate: int) -> str:
    """The gate's operation with its negated operands marked: and, and-not, or, ..."""
    node = compiled.program.node_of(compiled.program.gate_signals[gate])
    return node.op.value + ("-not" if any(lit.negated for lit in node.operands) else "")


def misreads(compiled: CompiledCircuit, per_level: int, samples: int, seed: int) -> dict[tuple[int, str], Counter]:
    """(level, gate form) -> Counter of COUNTS over the sampled gates' reads."""
    levels = gate_levels(compiled)
    gates = sample_per_level(levels, per_level, seed)
    counts: dict[tuple[int, str], Counter] = {}
    for batch, inputs, wanted, _ in gate_samples(compiled, samples, compiled.meta.sparsity, seed, gates, FILL):
        values = compiled.read_own(inputs, compiled.gate_readout.select(batch)).reshape(batch.size, -1)
        wanted = wanted.reshape(batch.size, -1).astype(bool)
        for i, gate in enumerate(batch.tolist()):
            value, true = values[i], wanted[i]
            wrong, split = (value > THRESHOLD) != true, np.abs(value - THRESHOLD) < SPLIT
            counts.setdefault((levels[gate], gate_form(compiled, gate)), Counter()).update(
                reads=value.size, false_pos=int((wrong & ~true).sum()), false_neg=int((wrong & true).sum()),
                split_false=int((split & ~true).sum()), split_true=int((split & true).sum()),
                split_false_wrong=int((split & wrong & ~true).sum()), split_true_wrong=int((split & wrong & true).sum()))
    return counts


def measure(args: argparse.Namespace, label: str) -> dict:
    circuit = circuits_circuit(args.circuits, args.levels, 4, 8, 4, args.seed)
    start = time.perf_counter()
    compiled = compile_circuit(circuit, strategy="deep", seed=args.seed, share_negated=VARIANTS[label])
    seconds = time.perf_counter() - start
    counts = misreads(compiled, args.gates_per_level, args.samples, args.seed)
    return {"neurons": compiled.n_neurons, "gates": compiled.n_gates, "compile_s": seconds,
            "levels": [{"level": f["level"], "plan": f["plan"], "neurons": f["neurons"],
                        "hosts": dict(zip(map(str, f.get("thresholds", [])), f.get("hosts", [])))}
                       for f in compiled.meta.levels],
            "counts": [{"level": level, "form": form, **{k: c[k] for k in COUNTS}}
                       for (level, form), c in sorted(counts.items())]}


def _total(counts: list[dict]) -> Counter:
    total = Counter()
    for c in counts:
        total.update({k: c[k] for k in COUNTS})
    return total


def _split(total: Counter) -> str:
    return (f"{total['split_false']} ({total['split_false_wrong']}) / "
            f"{total['split_true']} ({total['split_true_wrong']})")


def markdown(store: dict) -> str:
    parts = []
    for key, run in sorted(store.items()):
        parts.append(f"`{run['command']}`")
        rows = []
        for label in VARIANTS:
            result = run[label]
            for level in result["levels"]:
                here = [c for c in result["counts"] if c["level"] == level["level"]]
                total = _total(here)
                by_form = ", ".join(f"{c['form']} {c['false_pos']} / {c['false_neg']}" for c in here)
                hosts = ", ".join(f"{h} at {t}" for t, h in level["hosts"].items()) or "-"
                rows.append([label, str(level["level"]), level["plan"], f"{level['neurons']:,}", hosts,
                             f"{total['reads']:,}", str(total["false_pos"]), str(total["false_neg"]), by_form,
                             _split(total)])
            total = _total(result["counts"])
            rows.append([f"**{label}**", "all", "", f"**{result['neurons']:,}**",
                         f"{result['gates'] / result['neurons']:.2f} gates per neuron", f"{total['reads']:,}",
                         f"**{total['false_pos']}**", f"**{total['false_neg']}**", f"compile {result['compile_s']:.0f} s",
                         _split(total)])
        parts.append(table(["negated reads", "level", "plan", "neurons", "clips per host at threshold", "reads",
                            "false pos", "false neg", "by form (pos / neg)", "split reads, false / true (read wrong)"], rows))
    return ("Wrong reads of the deep lowering (hosted) on circuits-T, counted per level and gate form on "
            f"sampled gates ({FILL} fill); `shared` is the default compile, `own` gives every clip with a negated "
            "read hosts of its own (`--no-shared-negation`). A split read lies within 1/4 of the threshold (one "
            "host lit of two): the readout threshold sits on it, so float rounding decides its side; in brackets, "
            "how many of them read wrong. Results: bench/results/misreads.json.\n\n" + "\n\n".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits", type=int, default=1000, help="T (default 1,000)")
    parser.add_argument("--levels", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gates-per-level", type=int, default=300)
    parser.add_argument("--samples", type=int, default=100, help="stratified samples per gate")
    parser.add_argument("--markdown", action="store_true", help="only rewrite BENCHMARKS.md from stored results")
    args = parser.parse_args()
    store = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.markdown:
        command = ("python bench/bench_misreads.py " + " ".join(sys.argv[1:])).strip()
        run = {"command": command}
        for label in VARIANTS:
            run[label] = measure(args, label)
            print(f"{label}: {run[label]['neurons']:,} neurons, compile {run[label]['compile_s']:.0f} s", flush=True)
        store[f"circuits-{args.circuits}-levels-{args.levels}-seed-{args.seed}"] = run
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(store, indent=1, sort_keys=True) + "\n")
    write_section(SECTION, markdown(store))


if __name__ == "__main__":
    main()
