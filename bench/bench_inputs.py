"""compressed inputs: the U-AND frontier when the input features are
themselves in superposition. uand-8k's program (m = 1,024 features, 8,192
random pairwise ANDs, sparsity 3) read through a random-sign code of d0
dimensions, at 1, 1.5, 2, 3 and 4 features per dimension (1: inputs read
uncompressed). For each point, strategy and error level (1%, 5%): the most
gates per neuron whose confirmed worst gate is within the level.

    python bench/bench_inputs.py                      # every cell, then the section and the plot
    python bench/bench_inputs.py --strategies paper-uand   # one strategy's cells (run several at once)
    python bench/bench_inputs.py --markdown           # only rewrite the section from the stored cells
    python bench/bench_inputs.py --program uand-2k --before   # the smaller program, and light-hub before
                                                      # its calibration for structured co-activity beside it

Every cell is measured under both fills of co_activity.FILLS (uniform, and
neighbourhood: the report's default, structured co-activity); its max error
is the worse of the two.

Search (coarse first, then only near the boundary; the machine is shared):
light-hub compiles at targets of 2/3, 1/3, 1/6, 1/12 of the level (the
bench's report, 100 samples per gate, is noisier than the compiler's
confirmation, 1,000 and 10,000) and is measured from the densest down,
stopping at the first that holds (and hub, at 1 feature per dimension
only, at 1.5x and 1x the level, with --hub: uncompressed, it packs far more); paper-uand is measured at widths
8,192, 4,096, 2,048, 1,024 with p such that a pair shares about 16 neurons, from
the widest, until one misses even 5%. Each measured cell is a confirmed report (the worst gates
re-measured on 10x fresh samples), stored in bench/results/inputs/ (one file
per cell: runs resume, and several can run at once).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import superpose  # noqa: E402
from superpose import compiler  # noqa: E402
from superpose.compiler import lower_superposed  # noqa: E402
from superpose.compiler.co_activity import FILLS  # noqa: E402
from superpose.compiler.generators import random_pairs_circuit  # noqa: E402
from superpose.neurons import neuron_table, wire_weights  # noqa: E402
from markdown import table, write_section  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "inputs"
PLOT = HERE / "inputs_frontier.png"
# the programs measured: name -> (m, pairwise ANDs); uand-2k keeps the features per dimension and sparsity of
# uand-8k at a quarter of the gates (each feature in 8 pairs instead of 16), for a machine where the confirmed
# compile of uand-8k takes ~10 minutes per cell
PROGRAMS = {"uand-8k": (1024, 8192), "uand-2k": (512, 2048)}
PROGRAM = "uand-8k"  # --program sets it, and M, GATES
M, GATES = PROGRAMS[PROGRAM]
SPARSITY = 3
FEATURES_PER_DIM = (1.0, 1.5, 2.0, 3.0, 4.0)
LEVELS = (0.01, 0.05)
# light-hub targets as shares of the level, densest first: before light-hub was confirmed, 1/3 held 1% at
# every point and 2/3 held 5% (the uniform fill only); the confirmed compile holds its target on 1,000 and
# 10,000 samples per gate, but at 100 a gate of true error 0.5% shows two wrong samples (2%) one time in eleven
TARGET_LADDER = (2 / 3, 1 / 3, 1 / 6, 1 / 12)
HUB_LADDER = (1.5, 1.0)  # hub, at 1 feature per dimension only: uand-8k measured every gate <= 0.9% at 1.5%
PAPER_WIDTHS = (1024, 2048, 4096, 8192)  # 8,192: one gate per neuron, as many neurons as the exact lowering
# paper-uand: p = sqrt(PAPER_COVER / width), so a pair shares about 16 neurons; at 8 some of the 8,192
# pairs share none (measured at width 1024: worst gate 50%), at 24 the neurons misfire more (mean 1.3%)
PAPER_COVER = 16
# light-hub as it was before its calibration for structured co-activity (lower_superposed.lower_light_hub:
# stars packed without regard to neighbourhoods, no confirmation), measured beside it (--before)
BEFORE = "light-hub-before"
MEASURED = "both fills"  # what a cell's max error covers; cells stored before (no "fill" key) were uniform only
LEAK_INPUTS = 2000  # random s-sparse inputs on which the leak into the shared neurons is measured
SHARED_KINDS = ("hub", "uand")


def embed_dim(features_per_dim: float) -> int | None:
    """d0 for a point; None at 1 feature per dimension (inputs read uncompressed)."""
    return None if features_per_dim == 1.0 else round(M / features_per_dim)


def cell_key(strategy: str, d0: int | None, options: dict, samples: int, confirm: int) -> str:
    text = json.dumps([strategy, d0, sorted(options.items()), samples, confirm, MEASURED]
                      + ([PROGRAM] if PROGRAM != "uand-8k" else []))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def leakage(compiled: superpose.CompiledCircuit, rng: np.random.Generator) -> dict:
    """Analytic and measured leak into the shared neurons. Analytic: an
    s-sparse input leaks std sqrt(s * sum w^2 / d0) into a neuron reading
    features with weights w (RMS of sum w^2 over the shared neurons); measured:
    the pre-activation on LEAK_INPUTS random s-sparse inputs minus what the
    neuron's feature weights give on the clean input, its RMS over inputs and
    shared neurons."""
    roles = neuron_table(compiled)[-1]
    shared = np.array([j for j, role in enumerate(roles) if role.kind in SHARED_KINDS])
    intended, bias = wire_weights([roles[j] for j in shared], M)
    squares = np.asarray(intended.multiply(intended).sum(axis=1)).ravel()
    d0 = compiled.meta.figures["embed_dim"]
    if len(compiled.layers) == 1:  # no code: features are read exactly
        return {"analytic_leak_std": 0.0, "measured_leak_std": 0.0, "sum_w2": float(squares.mean())}
    active = np.argsort(rng.random((LEAK_INPUTS, M)), axis=1)[:, :SPARSITY]
    x = sp.csr_matrix((np.ones(active.size), active.ravel(), np.arange(0, active.size + 1, SPARSITY)),
                      shape=(LEAK_INPUTS, M))
    code = x @ compiled.layers[0].weight.T.toarray()
    actual = code @ compiled.layers[1].weight[shared].T.toarray()
    leak = actual - (x @ intended.T).toarray()
    return {"analytic_leak_std": float(math.sqrt(SPARSITY * squares.mean() / d0)),
            "measured_leak_std": float(np.sqrt((leak ** 2).mean())), "sum_w2": float(squares.mean())}


def leak_floor(k: int, d0: int) -> float:
    """Mean square leak of one other active feature into a neuron that reads k
    features with weight 1 (margin 1 between one and two of them on), for a
    tight frame: the energy sum_c <v, e_c>^2 = (m / d0) |v|^2 of any read v,
    |v|^2 >= k, less the k own features, spread over the m - k others. A
    frame that is not tight leaks that much on average over neurons (the
    trace of E E^T is m whatever the code), random signs about k / d0."""
    return 0.0 if d0 >= M else k * (M - d0) / (d0 * (M - k))


def best_error(variance: float) -> float:
    """The stratified error of an AND read by thresholding one neuron whose
    every fill leaks N(0, variance), at the best threshold, with no misfire
    from fills inside the neuron (the most favourable case): half true (s - 2
    fills), half false ({a} or {b} with s - 1 fills, none with s)."""
    taus = np.linspace(0.01, 0.99, 99)
    spread = lambda fills: max(math.sqrt(fills * variance), 1e-12)
    missed = ndtr((taus - 1.0) / spread(SPARSITY - 2))
    one, none = ndtr(-taus / spread(SPARSITY - 1)), ndtr(-(1.0 + taus) / spread(SPARSITY))
    return float((0.5 * (missed + (2.0 * one + none) / 3.0)).min())


def class_bound(d0: int, level: float) -> int | None:
    """The most gates per neuron any single-neuron readout of this class can
    host within the level: k - 1 for the largest k (features read at weight
    >= 1) whose leak floor allows it (a sparse random gate graph puts about
    k - 1 of its pairs among k features); None without a code (no leak: only
    misfires bound it); 0 when even a neuron of two features misses."""
    if d0 >= M:
        return None
    k = 1
    while k < M and best_error(leak_floor(k + 1, d0)) <= level:
        k += 1
    return k - 1


def smallest_d0(level: float) -> int:
    """The fewest dimensions at which a neuron reading just the gate's two
    features meets the level: below it, no construction of the class does."""
    return next(d0 for d0 in range(2, M + 1) if best_error(leak_floor(2, d0)) <= level)


def compile_cell(strategy: str, d0: int | None, options: dict) -> tuple[superpose.CompiledCircuit, float]:
    start = time.perf_counter()
    circuit = random_pairs_circuit(M, GATES, SPARSITY, 0, name=PROGRAM)
    if strategy == BEFORE:
        compiled = lower_superposed.lower_light_hub(circuit, lower_superposed.LightHubOptions(embed_dim=d0, **options),
                                                    np.random.default_rng(0))
    else:
        compiled = compiler.compile_circuit(circuit, strategy=strategy, seed=0, embed_dim=d0, **options)
    return compiled, time.perf_counter() - start


def measure(strategy: str, d0: int | None, options: dict, samples: int, confirm: int, command: str,
            compiled: tuple[superpose.CompiledCircuit, float] | None = None) -> dict:
    """One cell's confirmed report (stored, or measured and stored);
    `compiled`: the cell's compile and its seconds, when already done."""
    path = RESULTS / f"{cell_key(strategy, d0, options, samples, confirm)}.json"
    if path.exists():
        return json.loads(path.read_text())
    compiled, compile_s = compiled if compiled is not None else compile_cell(strategy, d0, options)
    start = time.perf_counter()
    summaries = {fill: superpose.error_report(compiled, samples=samples, seed=1, confirm=confirm, fill=fill).summary()
                 for fill in FILLS}
    summary = max(summaries.values(), key=lambda s: s["max_error"])
    figures = compiled.meta.figures
    result = {"strategy": strategy, "d0": d0 or M, "options": options, "samples": samples, "confirm": confirm,
              "fill": MEASURED, "program": PROGRAM, "neurons": compiled.n_neurons, "gates_per_neuron": GATES / compiled.n_neurons,
              "mean_error": summary["mean_error"], "p99_error": summary["p99_error"],
              "max_error": summary["max_error"], "compile_s": compile_s,
              **{f"{fill}_{key}": summaries[fill][key] for fill in FILLS for key in ("mean_error", "max_error")},
              "repair_share": figures.get("repair_share"), "confirmed_max_error": figures.get("confirmed_max_error"),
              "report_s": time.perf_counter() - start, "command": command,
              "features_per_neuron": figures.get("features_per_neuron"),
              "predicted_max_error": figures.get("predicted_max_error"), "p": figures.get("p"),
              **leakage(compiled, np.random.default_rng(2))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"{strategy} d0={d0} {options}: {result['neurons']} neurons, {result['gates_per_neuron']:.2f} g/n, "
          f"mean {result['mean_error']:.3%}, max {result['max_error']:.3%}", flush=True)
    return result


def uniform_max(cell: dict) -> float:
    """A cell's worst gate under the uniform fill (cells stored before both fills were measured: their max)."""
    return cell.get("uniform_max_error", cell["max_error"])


def search_targeted(strategy: str, d0: int | None, level: float, ladder: tuple[float, ...],
                    args: argparse.Namespace, command: str) -> None:
    """Targets from the densest down; a target whose layer has the size of an
    already measured one is that cell; stop at the first within the level
    (light-hub before calibration: under the uniform fill, what it was made for)."""
    seen: set[int] = set()
    for share in ladder:
        options = {"target_error": round(level * share, 6)}
        stored = RESULTS / f"{cell_key(strategy, d0, options, args.samples, args.confirm)}.json"
        compiled = None
        if not stored.exists():
            compiled = compile_cell(strategy, d0, options)
            if compiled[0].n_neurons in seen:
                continue
        result = measure(strategy, d0, options, args.samples, args.confirm, command, compiled)
        seen.add(result["neurons"])
        if (uniform_max(result) if strategy == BEFORE else result["max_error"]) <= level:
            return


def search_paper(d0: int | None, args: argparse.Namespace, command: str) -> None:
    """Widths widest first (p from PAPER_COVER: a wider layer reads fewer
    features per neuron, so it leaks less and averages more), until one
    misses even the loosest level: the narrower ones would too."""
    for width in sorted((w * GATES // PROGRAMS["uand-8k"][1] for w in PAPER_WIDTHS), reverse=True):
        options = {"width": width, "p": round(math.sqrt(PAPER_COVER / width), 4)}
        if measure("paper-uand", d0, options, args.samples, args.confirm, command)["max_error"] > max(LEVELS):
            return


def stored_cells(measured: str = MEASURED, program: str | None = None) -> list[dict]:
    """The stored cells of `program` (default PROGRAM) measured as `measured`
    says (MEASURED; "uniform" for the cells stored before)."""
    cells = [json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))] if RESULTS.exists() else []
    return [c for c in cells if c.get("fill", "uniform") == measured
            and c.get("program", "uand-8k") == (program or PROGRAM)]


def frontier(cells: list[dict], strategies: tuple[str, ...], d0: int, level: float, samples: int,
             confirm: int, error=lambda cell: cell["max_error"]) -> dict | None:
    """The densest confirmed cell of these strategies at d0 whose `error` is within the level."""
    held = [c for c in cells if c["strategy"] in strategies and c["d0"] == d0 and c["samples"] == samples
            and c["confirm"] == confirm and error(c) <= level]
    return max(held, key=lambda c: c["gates_per_neuron"], default=None)


def closest_miss(cells: list[dict], strategy: str, d0: int, samples: int, confirm: int) -> dict | None:
    tried = [c for c in cells if c["strategy"] == strategy and c["d0"] == d0 and c["samples"] == samples
             and c["confirm"] == confirm]
    return min(tried, key=lambda c: c["max_error"], default=None)


def design(cell: dict) -> str:
    if cell["strategy"] == "paper-uand":
        return f"paper-uand width {cell['options']['width']}, p {cell['p']:.3f}"
    if cell["strategy"] == BEFORE:
        return f"light-hub before calibration, target {cell['options']['target_error']:.3%}"
    if cell["strategy"] == "hub":
        return f"hub, target {cell['options']['target_error']:.2%}"
    repaired = f", repaired {cell['repair_share']:.1%}" if cell.get("repair_share") is not None else ""
    return f"light-hub, target {cell['options']['target_error']:.3%}, k {cell['features_per_neuron']}{repaired}"


def ratio_text(cells: list[dict], ours: dict | None, paper: dict | None, d0: int, args: argparse.Namespace) -> str:
    """superpose's gates per neuron over paper-uand's; where paper-uand missed
    at every width tried, a lower bound: over the densest it missed at (a
    wider layer is what it would need)."""
    if ours is None:
        return ""
    if paper is not None:
        return f"{ours['gates_per_neuron'] / paper['gates_per_neuron']:.1f}x"
    tried = [c["gates_per_neuron"] for c in cells if c["strategy"] == "paper-uand" and c["d0"] == d0
             and c["samples"] == args.samples and c["confirm"] == args.confirm]
    return f"> {ours['gates_per_neuron'] / min(tried):.1f}x" if tried else ""


def pct(value: float) -> str:
    return f"{value:.2%}"


def before_text(before: list[dict], ours: dict | None, d0: int, level: float, args: argparse.Namespace) -> str:
    """light-hub's gates per neuron at this point before it was calibrated for
    structured co-activity, within the level under the uniform fill (what it
    was made for; `before`: its cells stored under the uniform fill only, or
    measured beside the calibrated ones), its worst gate under the
    neighbourhood fill where measured, and what the calibration cost: the
    calibrated figure over it."""
    old = frontier(before, ("light-hub", BEFORE), d0, level, args.samples, args.confirm, uniform_max)
    if old is None:
        return ""
    cost = f", now / before {ours['gates_per_neuron'] / old['gates_per_neuron']:.2f}x" if ours is not None else ""
    near = (f", neighbourhood max {pct(old['neighbourhood_max_error'])}" if "neighbourhood_max_error" in old
            else "")
    return f"{old['gates_per_neuron']:.2f}{near}{cost}"


def write_markdown(args: argparse.Namespace) -> None:
    cells = stored_cells()
    before = stored_cells("uniform") + [c for c in cells if c["strategy"] == BEFORE]
    rows, points, misses = [], {}, []
    for fpd in FEATURES_PER_DIM:
        d0 = embed_dim(fpd) or M
        for level in LEVELS:
            ours = frontier(cells, ("light-hub", "hub"), d0, level, args.samples, args.confirm)
            paper = frontier(cells, ("paper-uand",), d0, level, args.samples, args.confirm)
            for label, cell in (("superpose", ours), ("paper-uand", paper)):
                points.setdefault((label, level), []).append((fpd, cell["gates_per_neuron"] if cell else None))
                if cell is None:  # the row shows the tried cell closest to the level, marked as a miss
                    strategy = "light-hub" if label == "superpose" else "paper-uand"
                    cell = closest_miss(cells, strategy, d0, args.samples, args.confirm)
                    if cell is None:
                        rows.append([f"{fpd:g}", str(d0), pct(level), label, "not measured"] + ["-"] * 7)
                        continue
                rows.append([f"{fpd:g}", str(d0), pct(level), label,
                             ("" if cell["max_error"] <= level else "misses; closest tried: ") + design(cell),
                             f"{cell['neurons']:,}", f"{cell['gates_per_neuron']:.2f}", pct(cell["mean_error"]),
                             pct(cell["max_error"]), f"{cell['sum_w2']:.1f}", f"{cell['analytic_leak_std']:.3f}",
                             f"{cell['measured_leak_std']:.3f}"])
            tried = [c["gates_per_neuron"] for c in cells if c["strategy"] == "paper-uand" and c["d0"] == d0
                     and c["samples"] == args.samples and c["confirm"] == args.confirm]
            if paper is None and tried and level == max(LEVELS):
                misses.append((fpd, min(tried)))
            bound = class_bound(d0, level)
            rows[-2].append("no leak" if bound is None else str(bound))
            rows[-1].append("")
            rows[-2].append("")
            rows[-1].append(ratio_text(cells, ours, paper, d0, args))
            rows[-2].append(before_text(before, ours, d0, level, args))
            rows[-1].append("")
    plot(points, misses)
    header = ["features/dim", "d0", "level", "strategy", "best design", "neurons", "gates/neuron", "mean error",
              "max error (confirmed)", "sum w^2", "leak std, analytic", "leak std, measured", "class bound, gates/neuron",
              "superpose / paper", "light-hub before calibration: gates/neuron within the level (uniform fill)"]
    commands = sorted({c["command"] for c in cells})
    body = (f"Commands: {', '.join(f'`{c}`' for c in commands)}. m = {M}, {GATES:,} random pairwise ANDs "
            f"({PROGRAM}), sparsity {SPARSITY}, inputs through a random-sign code of d0 dimensions (none at "
            f"1 feature per dimension), the same code for both strategies. Each row: the most gates per neuron whose "
            f"worst gate is within the level on the stratified distribution under both fills (uniform and neighbourhood, "
            f"the worse of the two; mean error: that fill's), {args.samples} samples per gate with "
            f"the {args.confirm} worst re-measured on {10 * args.samples} fresh samples (an unconfirmed gate with one "
            f"wrong sample reads {1 / args.samples:.2%}: a 1% row holds only when no gate outside the re-measured "
            f"ones has two, a noisier and stricter test than ## uand-8k's 1,000 samples with 10,000 on "
            f"re-measurement, under which hub holds 1% uncompressed at more gates per neuron than here). Where a "
            f"strategy misses the level at every design tried, its row shows the one that came closest. Leak: an s-sparse input "
            f"leaks std sqrt(s * sum w^2 / d0) into a neuron reading features with weights w (analytic, RMS over "
            f"the shared neurons) against the measured RMS of pre-activation minus its clean value on "
            f"{LEAK_INPUTS} random s-sparse inputs. The search (bench/bench_inputs.py's docstring) and every "
            f"measured cell are in bench/results/inputs/. light-hub is confirmed by the compiler under both fills "
            f"and its failing pairs repaired (compiler/lower_light_hub.py; 'repaired': the share of pairs moved); "
            f"the last column is light-hub's figure at the same point and level before that calibration "
            f"(lower_superposed.lower_light_hub, --before), held under the uniform fill only, what it was made "
            f"for (its worst gate under the neighbourhood fill beside it), and the calibrated figure over it: what "
            f"holding the level under structured co-activity costs. Without a code (1 feature per "
            f"dimension) the hub lowering packs more; it is measured here only with --hub (## uand-8k: 12.94 gates "
            f"per neuron within 1% under both fills).{other_programs()}\n\n"
            + table(header, rows)
            + f"\n\n![gates per neuron against features per dimension]({PLOT.relative_to(HERE.parent)})\n\n"
            + bound_text())
    write_section("compressed inputs", body)


def other_programs() -> str:
    """The cells measured under both fills on the programs other than PROGRAM, in one sentence each."""
    lines = []
    for name in (name for name in PROGRAMS if name != PROGRAM):
        for c in sorted(stored_cells(program=name), key=lambda c: (c["strategy"], c["d0"], c["options"].get("target_error", 0))):
            seconds = f", compile {c['compile_s']:.0f} s" if math.isfinite(c.get("compile_s", math.nan)) else ""
            lines.append(f" {name}, {design(c)}, d0 {c['d0']}: {c['neurons']:,} neurons, "
                         f"{c['gates_per_neuron']:.2f} gates per neuron, max error {pct(c['max_error'])} "
                         f"(uniform {pct(c['uniform_max_error'])}, neighbourhood {pct(c['neighbourhood_max_error'])})"
                         f"{seconds}.")
    return (" Also measured under both fills:" + "".join(lines)) if lines else ""


def bound_text() -> str:
    """Where no construction of the class reaches a level, and why."""
    floors = {level: smallest_d0(level) for level in LEVELS}
    return ("**Where no construction of this class can reach the level.** The class: one ReLU layer on the code "
            "y = E x (unit columns e_f), each gate read by thresholding neurons that read its two features with "
            "weight >= 1 relative to the margin between one and two of them on. A neuron with code weights v and "
            "<v, e_f> = 1 on its k features has |v|^2 = 1^T G^-1 1 (G: the Gram matrix of their codes), k for "
            "nearly orthogonal codes (random signs and tight frames: within a few percent at these k), and it meets "
            "every other active feature c with <v, e_c>: summed over c that is v^T E E^T v - k, which a tight frame "
            "makes (m / d0 - 1) k for every v (any code gives that on average over directions: the trace of E E^T "
            "is m), so each fill leaks variance k (m - d0) / (d0 (m - k)); random signs leak about k / d0. "
            "Averaging several neurons does not remove it: the part <e_a + e_b, e_c> is common to every neuron "
            "that reads the pair. With that leak Gaussian, no misfire from fills inside the neuron and the best "
            "threshold, the 'class bound' column is the most pairs a neuron can host (k - 1 of a sparse random "
            "gate graph's pairs among k features) within the level: an optimistic ceiling, not a construction. "
            f"Even a neuron of two features (one gate) misses 1% below d0 = {floors[0.01]} "
            f"({M / floors[0.01]:.1f} features per dimension) and 5% below d0 = {floors[0.05]} "
            f"({M / floors[0.05]:.1f}): there, nothing of this class reaches the level (all five points here are "
            "above it). A first layer that decodes the features (threshold <e_f, y>) before an AND layer meets the "
            f"same floor with k = 1 and costs m = {M:,} neurons of its own: at most {GATES / M:.0f} gates per "
            "neuron before the AND layer is counted.\n")


def plot(points: dict, misses: list[tuple[float, float]]) -> None:
    """One curve per strategy and level; misses: (features per dimension,
    gates per neuron) where paper-uand missed even the loosest level at its
    widest layer tried."""
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    styles = {("superpose", 0.01): "o-", ("superpose", 0.05): "o--", ("paper-uand", 0.01): "s-",
              ("paper-uand", 0.05): "s--"}
    for (label, level), series in sorted(points.items()):
        xs = [x for x, y in series if y is not None]
        ys = [y for x, y in series if y is not None]
        axis.plot(xs, ys, styles[(label, level)], label=f"{label}, max error <= {level:.0%}")
    if misses:
        axis.plot(*zip(*misses), "kx", label=f"paper-uand misses {max(LEVELS):.0%} at its widest layer tried")
    axis.set_xlabel("features per dimension (m / d0)")
    axis.set_ylabel("gates per neuron")
    axis.set_yscale("log")
    axis.set_title(f"{PROGRAM} (m = {M}, {GATES:,} ANDs, s = {SPARSITY}), inputs in superposition, both fills",
                   fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=120)


def main() -> None:
    global PROGRAM, M, GATES  # --program: the module's figures and labels all read them
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100, help="samples per gate of a measured cell (default 100)")
    parser.add_argument("--confirm", type=int, default=500,
                        help="worst gates re-measured on 10x fresh samples (default 500)")
    parser.add_argument("--strategies", default="light-hub,paper-uand", help="comma-separated: light-hub, paper-uand")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)),
                        help="comma-separated error levels whose light-hub cells to run (default: all)")
    parser.add_argument("--features-per-dim", default=",".join(f"{f:g}" for f in FEATURES_PER_DIM),
                        help="comma-separated points to run (default: all five)")
    parser.add_argument("--hub", action="store_true",
                        help="also the hub lowering at 1 feature per dimension (slow: confirmed at 8,192 gates)")
    parser.add_argument("--markdown", action="store_true", help="only rewrite the section from the stored cells")
    parser.add_argument("--program", choices=list(PROGRAMS), default=PROGRAM,
                        help=f"the program measured (default {PROGRAM}): {PROGRAMS}")
    parser.add_argument("--before", action="store_true",
                        help="also light-hub before its calibration for structured co-activity, beside it")
    args = parser.parse_args()
    PROGRAM, (M, GATES) = args.program, PROGRAMS[args.program]
    command = (f"python bench/bench_inputs.py --samples {args.samples} --confirm {args.confirm}"
               + (f" --program {PROGRAM}" if PROGRAM != "uand-8k" else ""))
    if not args.markdown:
        chosen = args.strategies.split(",")
        for fpd in (float(point) for point in args.features_per_dim.split(",")):
            d0 = embed_dim(fpd)
            if "light-hub" in chosen:
                for level in (float(level) for level in args.levels.split(",")):
                    search_targeted("light-hub", d0, level, TARGET_LADDER, args, command)
                    if args.before:
                        search_targeted(BEFORE, d0, level, TARGET_LADDER, args, command)
                    if d0 is None and args.hub:  # uncompressed: the hub lowering packs more there
                        search_targeted("hub", d0, level, HUB_LADDER, args, command)
            if "paper-uand" in chosen:
                search_paper(d0, args, command)
    write_markdown(args)


if __name__ == "__main__":
    main()
