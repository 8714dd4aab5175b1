"""The `superpose` command line: compile, run, info (and the subcommands
registered by later stages). User errors print one clear message and exit 2.

Every command that reports something takes `--json FILE` (`-`: standard
output, the human output then goes to standard error), written as strict JSON.
"""
from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import io
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from superpose.compiler.co_activity import DEFAULT_FILL, FILLS
from superpose.compiler.constant_gates import constant_gate_warnings
from superpose.compiler.emit_dsl import emit_dsl
from superpose.compiler.limits import MAX_GATES
from superpose.compiler.lower_chained import LEVEL_PLANS
from superpose.compiler.lower_deep import DEFAULT_COPIES, DEFAULT_HOSTS, DESIGNS
from superpose.compiler.lower_superposed import EMBEDDINGS, NOISE_MARGIN, NOISY_EMBEDDING_STD
from superpose.compiler.netlists.load import load_netlist
from superpose.compiler.pipeline import compile_circuit, load_circuit
from superpose.compiler.sparsity import summary_line, too_dense_warning
from superpose.compiler.strategies import STRATEGIES, Strategy, default_strategy, strategy_named
from superpose.errors import UserError
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.neurons import neuron_table
from superpose.runtime.artifact import load, save
from superpose.runtime.components import components
from superpose.runtime.datasets import BATCH_ROWS, MODES, Distribution, sample_inputs
from superpose.runtime.depth_report import gate_levels, is_deep, plot_levels, render_levels, sample_per_level
from superpose.runtime.dictionary import dictionaries, variance_report
from superpose.runtime.json_output import strict_json
from superpose.runtime.output_files import STDOUT, check_output, write_atomically
from superpose.runtime.report import MAX_SAMPLES, error_report
from superpose.runtime.shards import check_output_folder, write_shards
from superpose.runtime.terminal import make_console, print_table, stage_progress
from superpose.runtime.truth_io import save_components, save_dictionaries
from superpose.runtime.verify import verify
from superpose.runtime.worst_case import render_worst_cases, worst_cases, worst_cases_json
from superpose.sweep.executors import LocalExecutor, RayExecutor
from superpose.sweep.frontier import plot_frontier
from superpose.sweep.run import run_sweep
from superpose.sweep.spec import load_spec
from superpose.sweep.summary import render_result

EXIT_USER_ERROR = 2
WORST_CASE_BUDGET = 60.0  # seconds of verify's search for report --worst-case (verify's own default)
DEFAULT_PLOT_TARGET = 0.01  # the dotted target line of --plot for lowerings that aim at none (the hub default)
CONSTANT_GATES_SHOWN = 20  # compile names this many constant gates one per line; --json lists them all


def _nonnegative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _int(text: str) -> int:
    """An integer argument; past 18 digits a typo, refused before it reaches numpy."""
    value = int(text)
    if abs(value) >= 10 ** 18:
        raise argparse.ArgumentTypeError(f"{text} is too large")
    return value


def _positive_ints(text: str) -> tuple[int, ...]:
    """A comma-separated list of positive integers, as a tuple."""
    return tuple(_positive_int(part) for part in text.split(","))


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {value}")
    return value


# Every strategy option the compile command has a flag for: option name -> flag.
# A strategy's options (compiler.strategies) are given by these flags; a flag
# its strategy does not take is an error naming the flag.
OPTION_FLAGS = {"target_error": "--target-error", "width": "--width", "embed_dim": "--embed-dim",
                "embedding": "--embedding", "p": "--p", "control": "--no-error-control", "confirm": "--no-confirm",
                "superpose": "--superpose-levels", "design": "--deep-design", "copies": "--copies", "hosts": "--hosts",
                "spread": "--spread", "share_negated": "--no-shared-negation"}


def _strategy_options(args: argparse.Namespace, strategy: Strategy) -> dict[str, object]:
    """The options set on the command line, as keywords of compile_circuit;
    UserError naming the flags `strategy` does not take."""
    given = {option: getattr(args, option) for option in OPTION_FLAGS if getattr(args, option) is not None}
    foreign = [OPTION_FLAGS[option] for option in given if option not in strategy.option_names]
    if foreign:
        takes = [OPTION_FLAGS[option] for option in strategy.option_names if option in OPTION_FLAGS]
        owners = [f"{OPTION_FLAGS[option]} is an option of --strategy "
                  + " or ".join(s.name for s in STRATEGIES.values() if option in s.option_names)
                  for option in given if option not in strategy.option_names]
        raise UserError(f"{', '.join(foreign)} {'does' if len(foreign) == 1 else 'do'} not apply to --strategy "
                        f"{strategy.name} (its options: {', '.join(takes) or 'none'}); {'; '.join(owners)}")
    return given


def _cmd_compile(args: argparse.Namespace, console: Console) -> int:
    out = args.output if args.output is not None else Path(args.source).stem + ".safetensors"
    check_output(out, "-o")
    if args.json:
        check_output(args.json, "--json", allow_stdout=True)
    with stage_progress(console) as progress:
        progress.add_task(f"reading {args.source}", total=None)
        circuit = load_circuit(args.source, format=args.format, simplify=not args.keep_gates,
                               max_gates=args.max_gates)
        sparsity = args.sparsity if args.sparsity is not None else circuit.sparsity
        strategy = strategy_named(args.strategy or default_strategy(replace(circuit, sparsity=sparsity)))
        if strategy.needs_sparsity and sparsity is None:
            raise UserError(f"--strategy {strategy.name} needs a sparsity: declare 'sparsity s' in "
                            f"{circuit.name}'s program or pass --sparsity s")
        progress.add_task(f"lowering {len(circuit.nodes):,} gates ({strategy.name})", total=None)
        # no --strategy: compile_circuit picks the same one and records why (meta.figures["plan"])
        compiled = compile_circuit(circuit, strategy=args.strategy, seed=args.seed, sparsity=args.sparsity,
                                   **_strategy_options(args, strategy))
        progress.add_task(f"writing {out}", total=None)
        save(compiled, out)
    console.print(f"compiled [bold]{compiled.name}[/]: {compiled.n_inputs} inputs, {compiled.n_gates} gates, "
                  f"{len(compiled.layers)} layers, {compiled.n_neurons} neurons -> {out}")
    if compiled.meta.figures.get("plan"):
        console.print(f"plan: {compiled.meta.figures['plan']}")
    if compiled.meta.lowering == "deep":
        plans = [f["plan"] for f in compiled.meta.levels]
        console.print(f"deep over {compiled.meta.depth} levels ({compiled.meta.figures.get('design', 'spread')} design), "
                      f"{plans.count('superposed')} superposed, "
                      f"{plans.count('exact')} exact (fewer neurons, or the target missed when superposed), "
                      f"repaired small neurons {compiled.meta.figures['repair_share']:.1%}")
    if compiled.meta.lowering == "chained":
        plans = [f["plan"] for f in compiled.meta.levels]
        console.print(f"chained over {compiled.meta.depth} levels, {plans.count('superposed')} superposed, "
                      f"{plans.count('exact')} exact (fewer neurons), "
                      + ("a threshold reset after each superposed level a later one reads" if compiled.meta.control
                         else "naive chaining: no error control between levels"))
    if compiled.meta.lowering == "cis":
        figures, deepest = compiled.meta.figures, compiled.meta.levels[-1]
        console.print(f"CiS2 over {figures['circuits']} independent sub-circuits, {figures['width']} neurons per "
                      f"layer, spread {figures['spread']}; predicted mean squared error of a small neuron (CiS2 "
                      f"closed form) {compiled.meta.levels[0]['expected_mse']:.4f} at level 1, "
                      f"{deepest['expected_mse']:.4f} at level {deepest['level']}")
    _print_hub_confirmation(compiled, console)
    noise = compiled.meta.figures.get("embedding_noise_std")
    if compiled.meta.figures.get("leak_predicted"):  # the lowering sized itself with the code's leak measured
        figures = compiled.meta.figures
        predicted = figures["predicted_max_error"]
        console.print(f"light hub neurons of {figures['features_per_neuron']} features; leak per active feature "
                      f"std {figures['leak_std_per_fill']:.3f}; predicted worst pair error {predicted:.2%}")
        if predicted > compiled.meta.target_error:
            console.print(f"[yellow]warning:[/] the predicted worst gate error {predicted:.2%} is above "
                          f"--target-error {compiled.meta.target_error:.2%} (at the fewest features per neuron "
                          f"the width allows, or at one pair per neuron): use a larger --embed-dim", style="yellow")
    elif noise is not None and noise > NOISY_EMBEDDING_STD:
        console.print(f"[yellow]warning:[/] interference through the {compiled.meta.figures['embed_dim']}-dimensional "
                      f"embedding has std up to {noise:.2f} per neuron against a margin of {NOISE_MARGIN}: expect gate "
                      f"errors well above --target-error; use a larger --embed-dim or none", style="yellow")
    _print_sparsity_summary(compiled, console)
    warnings = constant_gate_warnings(compiled.meta.constant_gates, compiled.meta.sparsity)
    for warning in warnings[:CONSTANT_GATES_SHOWN]:
        console.print(f"[yellow]warning:[/] {warning}", style="yellow", highlight=False)
    if len(warnings) > CONSTANT_GATES_SHOWN:
        console.print(f"[yellow]warning:[/] ... and {len(warnings) - CONSTANT_GATES_SHOWN} more gates constant under the "
                      f"sparsity ({len(warnings)} in all: --json lists each, as does the artifact's "
                      f"meta.constant_gates)", style="yellow", highlight=False)
    if args.json:
        _write_json(args.json, {"artifact": str(out), **_summary(compiled), "warnings": warnings})
    return 0


def _summary(circuit: CompiledCircuit) -> dict:
    """The facts `info` and `compile --json` share: sizes, layers and how it was compiled."""
    return {"name": circuit.name, "inputs": circuit.n_inputs, "gates": circuit.n_gates,
            "outputs": circuit.n_outputs, "neurons": circuit.n_neurons,
            "gates_per_neuron": circuit.n_gates / circuit.n_neurons if circuit.n_neurons else None,
            "layers": [{"kind": layer.kind, "activation": "relu" if layer.relu else "linear",
                        "width_in": layer.weight.shape[1], "width_out": layer.width,
                        "nonzero_weights": int(layer.weight.nnz)} for layer in circuit.layers],
            "meta": circuit.meta.to_json()}


def _write_json(path: str, value: object) -> None:
    """`value` as strict JSON (no NaN) to a file, atomically, or to standard output for `-`."""
    write_atomically(path, (strict_json(value) + "\n").encode("utf-8"), "--json")


def _print_sparsity_summary(circuit: CompiledCircuit, console: Console) -> None:
    """The wire sparsity analysis stored at compile time in one line, and a
    warning when intermediate wires are too dense for superposition to pay
    (only for a superposed lowering: an exact one has nothing to gain)."""
    levels = circuit.meta.sparsity_levels
    if levels:
        console.print(summary_line(levels, circuit.meta.sparsity))
        warning = too_dense_warning(levels) if circuit.meta.lowering != "exact" else None
        if warning:
            console.print(f"[yellow]warning:[/] {warning}", style="yellow")


def _load(path: str, console: Console) -> CompiledCircuit:
    """runtime.load with a spinner on a terminal: a 10^5-gate artifact takes seconds."""
    with stage_progress(console) as progress:
        progress.add_task(f"reading {path}", total=None)
        return load(path)


def _parse_features(spec: str, circuit: CompiledCircuit) -> np.ndarray:
    """'fur,flies' -> (1, n_inputs) 0/1 row; unknown names are a UserError."""
    x = np.zeros((1, circuit.n_inputs), dtype=np.float32)
    index = {name: i for i, name in enumerate(circuit.input_names)}
    for name in filter(None, (part.strip() for part in spec.split(","))):
        if name not in index:
            close = difflib.get_close_matches(name, circuit.input_names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserError(f"--on: '{name}' is not an input of {circuit.name}{hint}; "
                            f"inputs: {', '.join(circuit.input_names[:20])}"
                            f"{' ...' if circuit.n_inputs > 20 else ''}")
        x[0, index[name]] = 1.0
    return x


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    circuit = _load(args.artifact, console)
    x = _parse_features(args.on, circuit)
    sparsity = circuit.meta.sparsity
    if sparsity is not None and x.sum() > sparsity:
        console.print(f"[yellow]warning:[/] {int(x.sum())} features on, but {circuit.name} is only "
                      f"guaranteed for at most {sparsity}", style="yellow")
    names, values = ((circuit.gate_names, circuit.gate_values(x)[0]) if args.gates
                     else (circuit.output_names, circuit.run(x)[0]))
    if args.json:
        on = [name for name, bit in zip(circuit.input_names, x[0]) if bit]
        _write_json(args.json, {"circuit": circuit.name, "on": on, "threshold": THRESHOLD,
                                "values": [{"name": name, "readout": float(value), "value": int(value > THRESHOLD)}
                                           for name, value in zip(names, values)]})
        if args.json == STDOUT:
            return 0
    table = Table(title=f"{circuit.name}: {'gates' if args.gates else 'outputs'} with "
                        f"{args.on or 'nothing'} on")
    table.add_column("name")
    table.add_column("readout", justify="right")
    table.add_column("value", justify="right")
    for name, value in zip(names, values):
        table.add_row(name, f"{value:.4f}", str(int(value > THRESHOLD)))
    print_table(console, table)
    return 0


def _cmd_info(args: argparse.Namespace, console: Console) -> int:
    if args.json:
        check_output(args.json, "--json", allow_stdout=True)
    circuit = _load(args.artifact, console)
    if args.json:
        _write_json(args.json, _summary(circuit))
        if args.json == STDOUT:
            return 0
    table = Table(title=f"{circuit.name} ({circuit.meta.lowering} lowering)")
    for column in ("layer", "kind", "activation", "width in", "width out", "nonzero weights"):
        table.add_column(column, justify="right" if "width" in column or "weights" in column else "left")
    for i, layer in enumerate(circuit.layers, start=1):
        table.add_row(str(i), layer.kind, "relu" if layer.relu else "linear", str(layer.weight.shape[1]),
                      str(layer.width), str(layer.weight.nnz))
    print_table(console, table)
    neurons = circuit.n_neurons
    console.print(f"inputs {circuit.n_inputs}, gates {circuit.n_gates}, outputs {circuit.n_outputs}, "
                  f"layers {len(circuit.layers)}, neurons {neurons}, gates per neuron "
                  f"{f'{circuit.n_gates / neurons:.2f}' if neurons else '- (no neurons)'}")
    facts = circuit.meta.scalars()
    console.print(", ".join(f"{k} {_fact(v)}" for k, v in sorted(facts.items())), highlight=False)
    if circuit.meta.sparsity_levels:
        _print_sparsity_levels(circuit, console)
    if circuit.meta.lowering == "chained":
        _print_chain_plans(circuit, console)
    if circuit.meta.lowering == "deep":
        _print_deep_plans(circuit, console)
    _print_hub_confirmation(circuit, console)
    return 0


def _print_hub_confirmation(circuit: CompiledCircuit, console: Console) -> None:
    """The confirmation of a hub or light-hub compile on its compiled weights
    and its repairs (compiler/hub_confirm.py), when it ran."""
    figures = circuit.meta.figures
    shown = ("confirmed_max_error", "repaired_pairs", "repair_share", "pair_monomials", "pairs_predicted_over_target",
             "pairs_on_exact_neurons")
    if (figures.get("confirmed") is True and isinstance(circuit.meta.target_error, (int, float))
            and all(isinstance(figures.get(k), (int, float)) for k in shown)):  # an edited artifact may lack them
        console.print(f"{circuit.meta.strategy}: every gate confirmed on the compiled weights under the uniform and neighbourhood "
                      f"fills, worst measured {figures['confirmed_max_error']:.3%} (target "
                      f"{circuit.meta.target_error:.3%}); repaired pairs {figures['repaired_pairs']:,} "
                      f"({figures['repair_share']:.2%} of {figures['pair_monomials']:,} pairs; "
                      f"{figures['pairs_predicted_over_target']:,} more re-packed by prediction), "
                      f"{figures['pairs_on_exact_neurons']:,} on exact neurons",
                      highlight=False)


def _fact(value: object) -> str:
    """A metadata value for people: floats to 4 significant digits."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


PERCENT_LEVEL_FACTS = {"probe_max_error"}  # level facts that are rates, shown as percentages


def _print_level_plans(circuit: CompiledCircuit, console: Console, title: str, columns: dict[str, str]) -> None:
    """One row per level of a layered lowering: `columns` maps a key of its
    meta.levels facts to the column's label ("-" where a level lacks it)."""
    table = Table(title=title)
    for label in columns.values():
        table.add_column(label, justify="left" if label == "plan" else "right")
    for facts in circuit.meta.levels:
        table.add_row(*(f"{facts[key]:.2%}" if key in PERCENT_LEVEL_FACTS and key in facts
                        else str(facts.get(key, "-")) for key in columns))
    print_table(console, table)


def _print_chain_plans(circuit: CompiledCircuit, console: Console) -> None:
    """Each level's plan of the chained lowering and where its neurons go."""
    _print_level_plans(circuit, console, "levels of the chained lowering (superposed or exact: the one with fewer neurons)",
                       {"level": "level", "plan": "plan", "gates": "gates", "hub_pairs": "hub pairs",
                        "hub_neurons": "hub neurons", "pairs_moved_to_exact": "moved to exact", "carried": "carried",
                        "reset_neurons": "reset neurons", "neurons": "neurons",
                        "superposed_neurons": "superposed plan", "exact_neurons": "exact plan"})


def _print_deep_plans(circuit: CompiledCircuit, console: Console) -> None:
    """Each level's plan of the deep lowering: hosts, copies, where the neurons go, probe error."""
    _print_level_plans(circuit, console,
                       "levels of the deep lowering (superposed or exact: measured on probes, fewer neurons)",
                       {"level": "level", "plan": "plan", "gates": "gates", "carried": "carried", "hosts": "H",
                        "copies": "S", "small_neurons": "small neurons", "shared_neurons": "shared",
                        "single_tenant_neurons": "one tenant", "dedicated_neurons": "dedicated",
                        "repaired_small_neurons": "repaired", "repacked_small_neurons": "re-packed",
                        "repair_pool_small_neurons": "repair pool",
                        "on_indicators": "on-indicators", "neurons": "neurons",
                        "superposed_neurons": "superposed plan", "exact_neurons": "exact plan",
                        "probe_max_error": "probe max error"})
    console.print(f"{circuit.meta.figures.get('design', 'spread')} design; repair share (small neurons of superposed levels "
                  f"moved by the repair: to neurons of their own, or in the hosted design re-packed with fresh "
                  f"co-tenants in their pool or moved to a sparser repair pool): "
                  f"{circuit.meta.figures['repair_share']:.2%}; neurons of superposed levels read by one wire "
                  f"alone: {circuit.meta.figures['owned_neuron_share']:.2%}")


def _print_sparsity_levels(circuit: CompiledCircuit, console: Console, most: int = 40) -> None:
    """The per-level rows of compiler.sparsity stored at compile time, as a table."""
    rows = circuit.meta.sparsity_levels
    table = Table(title=f"wires on at once per level, at most {circuit.meta.sparsity} inputs on")
    for column in ("level", "wires", "dense wires", "unenumerated", "max on at once", "share"):
        table.add_column(column, justify="right")
    for row in rows[:most]:
        style = "yellow" if row["too_dense"] else None
        table.add_row(str(row["level"]), f"{row['wires']:,}", f"{row['dense_wires']:,}",
                      f"{row['unenumerated']:,}", f"{row['max_on']:,}", f"{row['share']:.1%}", style=style)
    print_table(console, table)
    if len(rows) > most:
        console.print(f"... and {len(rows) - most} more levels")


def _cmd_report(args: argparse.Namespace, console: Console) -> int:
    for flag, path, suffix in (("--json", args.json, None), ("--csv", args.csv, None), ("--plot", args.plot, ".png")):
        if path is not None:
            check_output(path, flag, suffix, allow_stdout=flag != "--plot")
    if args.json == STDOUT and args.csv == STDOUT:
        raise UserError("--json - and --csv -: only one of them can go to standard output")
    if args.worst_case_budget < 0:
        raise UserError(f"--worst-case-budget must be >= 0, got {args.worst_case_budget}")
    circuit = _load(args.artifact, console)
    levels_of_gates = gate_levels(circuit)
    sample = None
    if args.gates_per_level is not None:
        if levels_of_gates is None:
            raise UserError(f"{args.artifact}: --gates-per-level needs the gates' levels, and the artifact records "
                            f"neither its layers nor its program")
        sample = sample_per_level(levels_of_gates, args.gates_per_level, args.seed)
    report = error_report(circuit, samples=args.samples, max_active=args.max_active, seed=args.seed,
                          progress=console.is_terminal, confirm=args.confirm, max_samples=args.max_samples,
                          fill=args.fill, gates=sample)
    report.render(console, top=args.top)
    _print_sparsity_summary(circuit, console)
    levels = report.levels()
    if is_deep(levels):
        render_levels(levels, console)
    if args.worst_case:
        rows = worst_cases(circuit, levels_of_gates, report.max_active, args.worst_case_budget,
                           {g.name: g.error for g in report.gates})
        render_worst_cases(rows, console, args.worst_case_budget)
        report.worst_case = worst_cases_json(rows)
    if args.plot:
        lowering = circuit.meta.lowering
        label = "naive chaining" if lowering == "chained" and circuit.meta.control is False else lowering
        plot_levels({label: levels}, args.plot, title=f"{circuit.name}: gate error against depth",
                    target=circuit.meta.target_error or DEFAULT_PLOT_TARGET)
        console.print(f"wrote {args.plot}")
    if args.json:
        write_atomically(args.json, report.to_json().encode("utf-8"), "--json")
    if args.csv:
        buffer = io.StringIO()
        report.write_csv(buffer)
        write_atomically(args.csv, buffer.getvalue().encode("utf-8"), "--csv")
    return 0


def _cmd_convert(args: argparse.Namespace, console: Console) -> int:
    check_output(args.output, "-o", allow_stdout=True)
    with stage_progress(console) as progress:
        progress.add_task(f"reading {args.source}", total=None)
        circuit = load_netlist(args.source, format=args.format, max_gates=args.max_gates)
        progress.add_task(f"writing {args.output}", total=None)
        write_atomically(args.output, emit_dsl(circuit).encode("utf-8"), "-o")
    if args.output == STDOUT:
        return 0
    console.print(f"wrote {args.output}: {circuit.n_inputs} inputs, {len(circuit.gate_names)} gates")
    return 0


def _cmd_verify(args: argparse.Namespace, console: Console) -> int:
    if args.budget_seconds is not None and args.budget_seconds < 0:
        raise UserError(f"--budget-seconds must be >= 0, got {args.budget_seconds}")
    if args.json:
        check_output(args.json, "--json", allow_stdout=True)
    circuit = _load(args.artifact, console)
    result = verify(circuit, max_active=args.max_active, budget=args.budget_seconds,
                    progress=console.is_terminal)
    rank = {"counterexample": 0, "unknown": 1, "proved": 2}
    verdicts = sorted(result.gates, key=lambda g: (rank[g.status], g.margin if g.margin is not None else 0.0))
    table = Table(title=f"{circuit.name}: verdicts over inputs with at most "
                        f"{'any number of' if result.max_active is None else result.max_active} features on")
    for column in ("gate", "verdict", "method", "margin", "evidence"):
        table.add_column(column, justify="right" if column == "margin" else "left")
    style = {"proved": "green", "counterexample": "red", "unknown": "yellow"}
    for g in verdicts[:args.rows]:
        if g.counterexample is not None:
            evidence = (f"on: {', '.join(g.counterexample.on) or 'nothing'} -> readout "
                        f"{g.counterexample.readout:.4f}, expected {int(g.counterexample.expected)}")
        elif g.bounds is not None:
            side = "" if g.expected is None else f", expected {int(g.expected)}"
            evidence = (f"readout in [{g.bounds[0]:.4f}, {g.bounds[1]:.4f}] with "
                        f"{', '.join(g.pattern or ()) or 'no support feature'} on{side}")
        else:
            evidence = ""
        table.add_row(g.gate, f"[{style[g.status]}]{g.status}[/]", g.method,
                      "" if g.margin is None else f"{g.margin:.4f}", evidence)
    print_table(console, table)
    if len(verdicts) > args.rows:
        console.print(f"... and {len(verdicts) - args.rows} more (--rows to show them, --json for all)")
    console.print(result.summary())
    if args.json:
        _write_json(args.json, result.to_json())
    return result.exit_code


def _cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    table = args.output or Path(args.spec).stem + ".csv"
    check_output(table, "-o", ".csv")
    if args.plot:
        check_output(args.plot, "--plot", ".png")
    spec = load_spec(args.spec)
    executor = RayExecutor(args.ray, args.jobs) if args.ray else LocalExecutor(args.jobs)
    result = run_sweep(spec, table, executor, console, progress=console.is_terminal)
    render_result(result, table, console)
    if args.plot and result.rows:
        plot_frontier(result.rows, args.plot, title=f"{Path(args.spec).name}: gates per neuron against max error")
        console.print(f"wrote {args.plot}")
    return EXIT_USER_ERROR if result.failures else 0


def _distribution(args: argparse.Namespace, circuit: CompiledCircuit) -> Distribution:
    """runtime.datasets.Distribution from --mode, --zipf-exponent and --probabilities FILE."""
    probabilities = None
    if args.probabilities:
        try:
            text = Path(args.probabilities).read_text()
            probabilities = tuple(float(v) for v in text.replace(",", " ").split())
        except (OSError, ValueError) as error:
            raise UserError(f"--probabilities {args.probabilities}: cannot read numbers ({error})") from None
        if args.mode != "probabilities":
            raise UserError("--probabilities needs --mode probabilities")
    distribution = Distribution(args.mode, args.zipf_exponent, probabilities)
    distribution.check(circuit)
    return distribution


def _layers(text: str | None) -> list[int] | None:
    try:
        return None if text is None else [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--layers {text}: expected comma-separated layer numbers such as 1,2") from None


def _cmd_activations(args: argparse.Namespace, console: Console) -> int:
    check_output_folder(args.output)
    circuit = load(args.artifact)
    manifest = write_shards(circuit, args.output, args.samples, _distribution(args, circuit), _layers(args.layers),
                            args.shard_rows, args.batch_size, args.seed, progress=console.is_terminal)
    console.print(f"wrote {args.samples} rows of layers {', '.join(map(str, manifest['layers']))} "
                  f"({args.mode}) in {len(manifest['shards'])} shards -> {args.output}")
    return 0


def _load_with_roles(path: str) -> CompiledCircuit:
    """An artifact that carries its program and neuron table (the ground truth), else a UserError."""
    circuit = load(path)
    try:
        neuron_table(circuit)
    except ValueError as error:
        raise UserError(f"{path}: {error}") from None
    if circuit.program is None:
        raise UserError(f"{path}: the artifact carries no program, so there is no ground truth")
    return circuit


def _cmd_dictionary(args: argparse.Namespace, console: Console) -> int:
    check_output(args.output, "-o", ".safetensors")
    circuit = _load_with_roles(args.artifact)
    dicts = dictionaries(circuit)
    rows = []
    for i, mode in enumerate(args.modes.split(",")):
        inputs = sample_inputs(circuit, args.samples, Distribution(mode), np.random.default_rng([args.seed, i]))
        rows += [dict(row, mode=mode) for row in variance_report(circuit, dicts, inputs)]
    table = Table(title=f"{circuit.name}: activation variance explained by the dictionary, no fitting "
                        f"({args.samples} samples per mode)")
    for column in ("layer", "mode", "features", "gates", "designed", "all"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row["layer"]), row["mode"], str(row["features"]),
                      *(f"{row[k]:.2%}" for k in ("gates", "designed", "all")))
    print_table(console, table)
    twins = sum(int((d.twin >= 0).sum()) for d in dicts)
    console.print(f"{sum(map(len, dicts))} features over {len(dicts)} layers, {twins} in twin groups -> {args.output}")
    save_dictionaries(dicts, circuit.name, args.output, rows)
    return 0


def _cmd_components(args: argparse.Namespace, console: Console) -> int:
    check_output(args.output, "-o", ".safetensors")
    parts = components(_load_with_roles(args.artifact))
    save_components(parts, args.output)
    console.print(f"{parts.share_owned():.1%} of the hidden neurons belong to a single gate, the rest to the "
                  f"shared remainder; every gate owns its readout row -> {args.output}")
    return 0


def _add_truth_commands(commands: argparse._SubParsersAction) -> None:
    """Ground truth for interpretability methods: datasets, dictionaries, components."""
    p = commands.add_parser("activations", help="write an activation dataset (inputs, layers, true gate values)",
                            description="Sample inputs from the program's sparse distribution and write them "
                                        "with the chosen layers' activations and every gate's true value as "
                                        "safetensors shards and a manifest.json in a new folder.")
    p.add_argument("artifact", help="compiled .safetensors file")
    p.add_argument("-o", "--output", required=True, help="folder to create")
    p.add_argument("--samples", type=_nonnegative_int, required=True, help="rows to write")
    p.add_argument("--mode", choices=MODES, default="enriched", help="input distribution (default enriched)")
    p.add_argument("--zipf-exponent", type=float, default=1.0, help="--mode zipf: the exponent (default 1)")
    p.add_argument("--probabilities", metavar="FILE",
                   help="--mode probabilities: a text file of n_inputs firing probabilities")
    p.add_argument("--layers", metavar="L,L", help="activations h_l to keep, 1..number of layers (default all)")
    p.add_argument("--shard-rows", type=_positive_int, default=65536,
                   help="rows per shard: whole batches, at least this many (default 65536)")
    p.add_argument("--batch-size", type=_positive_int, default=BATCH_ROWS,
                   help=f"rows sampled at once (default {BATCH_ROWS})")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of the samples (default 0)")
    p.set_defaults(handler=_cmd_activations)

    p = commands.add_parser("dictionary", help="every layer's features with read and write vectors",
                            description="Write every layer's feature dictionary (gates, wires, input codes, "
                                        "designed products and the extra conjunctions of shared neurons, with "
                                        "write vectors from the weights, read vectors and twin groups) and "
                                        "show how much activation variance it explains with no fitting.")
    p.add_argument("artifact", help="compiled .safetensors file")
    p.add_argument("-o", "--output", required=True, help="dictionary .safetensors to write")
    p.add_argument("--samples", type=_positive_int, default=4096, help="samples per mode (default 4096)")
    p.add_argument("--modes", default="uniform,enriched,stratified",
                   help="sampling modes to measure (default uniform,enriched,stratified)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of the samples (default 0)")
    p.set_defaults(handler=_cmd_dictionary)

    p = commands.add_parser("components", help="per-gate weight components (ground truth for APD/SPD)",
                            description="Write every layer's weights with the gate owning each neuron (the "
                                        "rest: a shared remainder), and the gate readout's rows.")
    p.add_argument("artifact", help="compiled .safetensors file")
    p.add_argument("-o", "--output", required=True, help="components .safetensors to write")
    p.set_defaults(handler=_cmd_components)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superpose",
        description="Compile sparse boolean programs into ReLU networks (exact or in superposition), "
                    "run them, and inspect the result.",
        epilog="Run 'superpose COMMAND --help' for the options of each command.")
    parser.add_argument("--version", action="version", version=f"superpose {importlib.metadata.version('superpose')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("compile", help="compile a program (.sbp) or netlist into a .safetensors artifact",
                            description="Compile a program (.sbp) or a netlist (.bench, .aag, .aig, .blif) "
                                        "into a safetensors artifact, written atomically.")
    p.add_argument("source", help="program or netlist file")
    p.add_argument("-o", "--output", help="artifact to write (default: SOURCE's stem + .safetensors here)")
    p.add_argument("--seed", type=_nonnegative_int, default=0,
                   help="seed of every random choice; the same seed gives a byte-identical artifact (default 0)")
    p.add_argument("--format", choices=["sbp", "bench", "aiger", "blif"],
                   help="input format (default: from the file extension)")
    p.add_argument("--keep-gates", action="store_true",
                   help="netlists: keep every gate as written (default: collapse buffer chains and merge "
                        "same-op gates into wider ones)")
    p.add_argument("--sparsity", type=_positive_int,
                   help="assume at most this many inputs are on (overrides the program's; netlists have none)")
    lowering = p.add_mutually_exclusive_group()
    lowering.add_argument("--strategy", choices=list(STRATEGIES),
                          help="the lowering (default: exact without a sparsity; with one, hub or deep as the "
                               "program's support patterns say, printed with the reason): "
                               + "; ".join(f"{s.name}: {s.summary}" for s in STRATEGIES.values()))
    lowering.add_argument("--exact", dest="strategy", action="store_const", const="exact",
                          help="the same as --strategy exact")
    p.add_argument("--no-error-control", dest="control", action="store_const", const=False,
                   help="with --strategy chained or deep: no threshold resets (chained) or margins, "
                        "on-indicators and repairs (deep) between levels: the naive baseline whose error grows "
                        "with depth")
    p.add_argument("--no-confirm", dest="confirm", action="store_const", const=False,
                   help="with --strategy hub or light-hub: no confirmation of the gates on the compiled weights (nor "
                        "repair): the packing's prediction alone")
    p.add_argument("--superpose-levels", dest="superpose", choices=list(LEVEL_PLANS),
                   help="with --strategy chained or deep: superpose a level only where that takes fewer neurons "
                        "than exact ones (auto, default), or every level (always)")
    p.add_argument("--deep-design", dest="design", choices=list(DESIGNS),
                   help="deep: how a superposed level shares neurons: hosted (default: gates' clips share hosts "
                        "with thresholds placed for one stray read, no on-indicators) or spread (small neurons "
                        "copied onto large ones, on-indicators per region)")
    p.add_argument("--no-shared-negation", dest="share_negated", action="store_const", const=False,
                   help="deep, hosted design: clips with a negated read (a & !b) get hosts of their own instead "
                        "of sharing, so no co-tenant's negative read can switch a true clip's host off; an "
                        "ablation that shows where the deep lowering's errors come from (bench/bench_misreads.py)")
    p.add_argument("--copies", type=_positive_int,
                   help="deep: hosts (large neurons) per clip (small neuron) (default: hosted "
                        f"{DEFAULT_COPIES['hosted']}, spread {DEFAULT_COPIES['spread']})")
    p.add_argument("--hosts", type=_positive_ints,
                   help="deep: the clips (small neurons) a host may carry, candidates densest first, "
                        "comma-separated (default: hosted " + ",".join(map(str, DEFAULT_HOSTS["hosted"]))
                        + ", per pool; spread " + ",".join(map(str, DEFAULT_HOSTS["spread"])) + ")")
    p.add_argument("--target-error", type=_probability,
                   help="hub, light-hub, chained, deep: per-gate error to aim for on the stratified distribution "
                        "(default 0.01)")
    p.add_argument("--width", type=_positive_int,
                   help="hub, light-hub, paper-uand: neurons of the superposed gate layer (default: chosen to meet "
                        "--target-error); cis: neurons of every layer (default: the narrowest that holds every "
                        "small neuron at pairwise overlap <= 1)")
    p.add_argument("--spread", type=_positive_int,
                   help="cis: large neurons per small neuron, S (default 5)")
    p.add_argument("--embed-dim", dest="embed_dim", type=_positive_int,
                   help="hub, light-hub, paper-uand: embed the inputs in this many dimensions first (default: read "
                        "them uncompressed; light-hub is the lowering made for it)")
    p.add_argument("--embedding", choices=list(EMBEDDINGS),
                   help="input code for --embed-dim: random signs, low-coherence (alternating projection) or tight "
                        "(rows of a random orthogonal matrix: less leak than random signs at 1.5 to 2 features per "
                        "dimension)")
    p.add_argument("--p", type=_probability,
                   help="paper-uand: probability that a neuron reads a feature (default: log(m)^2/sqrt(width)/10)")
    _add_max_gates(p)
    _add_json(p, "write what was compiled (sizes, layers, metadata, warnings)")
    p.set_defaults(handler=_cmd_compile)

    p = commands.add_parser("report", help="per-gate error of an artifact on the stratified test distribution",
                            description="Measure every gate on stratified samples (half the inputs make it true, "
                                        "half false, at most s features on) and show the worst gates first; "
                                        "for a circuit deeper than one level, then the error of each level.")
    p.add_argument("artifact", help="compiled .safetensors file")
    p.add_argument("--samples", type=_positive_int, default=1000, help="samples per gate (default 1000)")
    p.add_argument("--max-active", type=_positive_int,
                   help="features on at once (default: the program's sparsity)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of the samples (default 0)")
    p.add_argument("--top", type=_positive_int, default=15, help="worst gates to show (default 15)")
    p.add_argument("--confirm", type=_nonnegative_int, default=0, metavar="N",
                   help="re-measure the N worst gates on 10x fresh samples, removing the upward bias of "
                        "picking the worst of many noisy estimates (default 0)")
    p.add_argument("--max-samples", type=_positive_int, default=MAX_SAMPLES, metavar="N",
                   help=f"refuse --samples above N, which would exhaust memory (default {MAX_SAMPLES:,})")
    p.add_argument("--fill", choices=list(FILLS), default=DEFAULT_FILL,
                   help="how a gate's other active inputs are drawn: 'neighbourhood' (default), each with "
                        "probability 1/2 from its neighbourhood (inputs that share a gate's support with its "
                        "own: in a program of independent circuits, its circuit's inputs) and else from the "
                        "rest, or 'uniform', every one from all inputs")
    p.add_argument("--gates-per-level", type=_positive_int, metavar="N",
                   help="measure N gates of each level, drawn at random (seeded by --seed), instead of every gate: "
                        "a circuit of tens of thousands of gates takes hours whole; gates per neuron still counts "
                        "every gate (default: every gate)")
    p.add_argument("--worst-case", action="store_true",
                   help="also run verify's search over every gate and print, per level and overall, the worst "
                        "counterexample it finds (gate, inputs on, readout against expected) next to the "
                        "sampled figures (in --json as \"worst_case\")")
    p.add_argument("--worst-case-budget", type=float, default=WORST_CASE_BUDGET, metavar="T",
                   help=f"seconds the --worst-case search may take; gates still open are counted as unknown "
                        f"(default {WORST_CASE_BUDGET:g})")
    _add_json(p, "write every gate's figures")
    p.add_argument("--csv", metavar="FILE", help="write every gate's figures as CSV ('-': standard output)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="save a plot of mean and max gate error per level (depth) as PNG")
    p.set_defaults(handler=_cmd_report)

    p = commands.add_parser("verify", help="prove every gate right on sparse inputs, or find a counterexample",
                            description="Give every gate a verdict over the inputs with at most s features on: "
                                        "proved, counterexample (an input where it is wrong) or unknown (the "
                                        "budget ran out). Exit status: 0 all proved, 1 a counterexample, "
                                        "3 something unknown.")
    p.add_argument("artifact", help="compiled .safetensors file")
    p.add_argument("--max-active", type=_nonnegative_int,
                   help="features on at once (default: the program's sparsity; without one, every input)")
    p.add_argument("--budget-seconds", type=float, default=60.0, metavar="T",
                   help="time allowed; what is still open then is unknown (default 60)")
    p.add_argument("--rows", type=_positive_int, default=30,
                   help="verdicts to show, counterexamples and unknowns first (default 30)")
    _add_json(p, "write every verdict")
    p.set_defaults(handler=_cmd_verify)

    p = commands.add_parser("convert", help="write a netlist (.bench, .aag, .aig, .blif) as a DSL program",
                            description="Convert a netlist into an equivalent, readable superpose program.")
    p.add_argument("source", help="netlist file")
    p.add_argument("-o", "--output", required=True, help="program (.sbp) to write ('-': standard output)")
    p.add_argument("--format", choices=["bench", "aiger", "blif"], help="input format (default: from extension)")
    _add_max_gates(p)
    p.set_defaults(handler=_cmd_convert)

    p = commands.add_parser("run", help="run a compiled circuit on one input and print its outputs",
                            description="Run a compiled circuit on one input: the named features on, "
                                        "every other feature off. Prints each output's readout and value.")
    p.add_argument("artifact", help="compiled .safetensors file")
    p.add_argument("--on", default="", metavar="A,B,...",
                   help="comma-separated input features that are on, e.g. fur,flies or tok[3] (default: none)")
    p.add_argument("--gates", action="store_true", help="print every gate, not only the outputs")
    _add_json(p, "write every readout and value")
    p.set_defaults(handler=_cmd_run)

    p = commands.add_parser("sweep", help="compile and measure a grid of programs and options into a table",
                            description="Compile, report (and optionally verify) every cell of the grid a TOML "
                                        "spec describes (programs or generators x strategies x targets x widths "
                                        "x sparsities x embeddings x seeds), one CSV row per cell. Cells whose "
                                        "inputs (program, options, seed, code version) are already in the table "
                                        "are skipped, so an interrupted sweep resumes. README.md shows a spec.")
    p.add_argument("spec", help="sweep spec (.toml)")
    p.add_argument("-o", "--output", metavar="TABLE.csv", help="results table (default: SPEC's stem + .csv here)")
    p.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1,
                   help="cells at once on this machine; with --ray local, the CPUs of the Ray instance "
                        "(default: this machine's cores)")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run one Ray task per cell: 'auto' (a running cluster, else a local instance), 'local' "
                        "(a new local instance with --jobs CPUs) or a cluster's address; needs "
                        "pip install 'superpose[ray]'")
    p.add_argument("--plot", metavar="FILE.png",
                   help="save the frontier (gates per neuron against max gate error, a curve per strategy, "
                        "seeds as error bars) as PNG")
    p.set_defaults(handler=_cmd_sweep)

    p = commands.add_parser("info", help="show layers, widths, neuron and gate counts of an artifact",
                            description="Show the layers of a compiled circuit with their widths and "
                                        "nonzero weights, and its neuron and gate counts.")
    p.add_argument("artifact", help="compiled .safetensors file")
    _add_json(p, "write the layers, sizes and metadata")
    p.set_defaults(handler=_cmd_info)
    _add_truth_commands(commands)
    return parser


def _add_json(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument("--json", metavar="FILE",
                         help=f"{what} as JSON to FILE ('-': standard output, the tables then go to standard error)")


def _add_max_gates(command: argparse.ArgumentParser) -> None:
    command.add_argument("--max-gates", type=_positive_int, default=MAX_GATES, metavar="N",
                         help=f"refuse programs that expand (or netlists that declare) more than N gates "
                              f"(default {MAX_GATES:,})")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `superpose` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    to_stdout = STDOUT in (getattr(args, "json", None), getattr(args, "csv", None)) or \
        (args.command == "convert" and args.output == STDOUT)
    console = make_console(stderr=to_stdout)  # machine output owns standard output
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    try:
        return handler(args, console)
    except UserError as error:
        print(f"superpose {args.command}: {error}" if "\n" not in str(error) else str(error), file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
