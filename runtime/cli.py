"""The `superpose` command line: compile, run, info (and the subcommands
registered by later stages). User errors print one clear message and exit 2."""
from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from superpose.compiler.emit_dsl import emit_dsl
from superpose.compiler.lower_chained import LEVEL_PLANS
from superpose.compiler.lower_superposed import EMBEDDINGS, NOISE_MARGIN, NOISY_EMBEDDING_STD
from superpose.compiler.netlists.load import load_netlist
from superpose.compiler.pipeline import compile_circuit, load_circuit
from superpose.compiler.sparsity import summary_line, too_dense_warning
from superpose.compiler.strategies import STRATEGIES, Strategy, default_strategy, strategy_named
from superpose.errors import UserError
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.neurons import neuron_table
from superpose.runtime.artifact import load, save, write_atomically
from superpose.runtime.components import components
from superpose.runtime.datasets import BATCH_ROWS, MODES, Distribution, sample_inputs
from superpose.runtime.depth_report import is_deep, plot_levels, render_levels
from superpose.runtime.dictionary import dictionaries, variance_report
from superpose.runtime.report import error_report
from superpose.runtime.shards import check_output_folder, write_shards
from superpose.runtime.truth_io import save_components, save_dictionaries
from superpose.runtime.verify import verify
from superpose.sweep.executors import LocalExecutor, RayExecutor
from superpose.sweep.frontier import plot_frontier
from superpose.sweep.run import run_sweep
from superpose.sweep.spec import load_spec
from superpose.sweep.summary import render_result

EXIT_USER_ERROR = 2
DEFAULT_PLOT_TARGET = 0.01  # the dotted target line of --plot for lowerings that aim at none (the hub default)


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {value}")
    return value


def _check_output(flag: str, path: str | os.PathLike, suffix: str | None = None) -> None:
    """A UserError now, before any long work, when `path` cannot be written
    (or does not end in `suffix`), rather than a traceback at the end."""
    target = Path(path)
    if suffix is not None and target.suffix.lower() != suffix:
        raise UserError(f"{flag} {path}: the file name must end in {suffix}")
    if target.is_dir():
        raise UserError(f"{flag} {path}: is a directory, not a file")
    folder = target.parent
    if not folder.is_dir():
        raise UserError(f"{flag} {path}: no such directory '{folder}'")
    if not os.access(folder, os.W_OK):
        raise UserError(f"{flag} {path}: cannot write in '{folder}'")


# Every strategy option the compile command has a flag for: option name -> flag.
# A strategy's options (compiler.strategies) are given by these flags; a flag
# its strategy does not take is an error naming the flag.
OPTION_FLAGS = {"target_error": "--target-error", "width": "--width", "embed_dim": "--embed-dim",
                "embedding": "--embedding", "p": "--p", "control": "--no-error-control",
                "superpose": "--superpose-levels"}


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
    out = Path(args.output) if args.output else Path(Path(args.source).stem + ".safetensors")
    _check_output("-o", out)
    circuit = load_circuit(args.source, format=args.format, simplify=not args.keep_gates)
    sparsity = args.sparsity if args.sparsity is not None else circuit.sparsity
    strategy = strategy_named(args.strategy or default_strategy(replace(circuit, sparsity=sparsity)))
    if strategy.needs_sparsity and sparsity is None:
        raise UserError(f"--strategy {strategy.name} needs a sparsity: declare 'sparsity s' in {circuit.name}'s "
                        f"program or pass --sparsity s")
    compiled = compile_circuit(circuit, strategy=strategy.name, seed=args.seed, sparsity=args.sparsity,
                               **_strategy_options(args, strategy))
    save(compiled, out)
    console.print(f"compiled [bold]{compiled.name}[/]: {compiled.n_inputs} inputs, {compiled.n_gates} gates, "
                  f"{len(compiled.layers)} layers, {compiled.n_neurons} neurons -> {out}")
    if compiled.meta.lowering == "chained":
        plans = [f["plan"] for f in compiled.meta.levels]
        console.print(f"chained over {compiled.meta.depth} levels, {plans.count('superposed')} superposed, "
                      f"{plans.count('exact')} exact (fewer neurons), "
                      + ("a threshold reset after each superposed level a later one reads" if compiled.meta.control
                         else "naive chaining: no error control between levels"))
    noise = compiled.meta.figures.get("embedding_noise_std")
    if noise is not None and noise > NOISY_EMBEDDING_STD:
        console.print(f"[yellow]warning:[/] interference through the {compiled.meta.figures['embed_dim']}-dimensional "
                      f"embedding has std up to {noise:.2f} per neuron against a margin of {NOISE_MARGIN}: expect gate "
                      f"errors well above --target-error; use a larger --embed-dim or none", style="yellow")
    _print_sparsity_summary(compiled, console)
    return 0


def _print_sparsity_summary(circuit: CompiledCircuit, console: Console) -> None:
    """The wire sparsity analysis stored at compile time in one line, and a
    warning when intermediate wires are too dense for superposition to pay."""
    levels = circuit.meta.sparsity_levels
    if levels:
        console.print(summary_line(levels, circuit.meta.sparsity))
        warning = too_dense_warning(levels)
        if warning:
            console.print(f"[yellow]warning:[/] {warning}", style="yellow")


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
    circuit = load(args.artifact)
    x = _parse_features(args.on, circuit)
    sparsity = circuit.meta.sparsity
    if sparsity is not None and x.sum() > sparsity:
        console.print(f"[yellow]warning:[/] {int(x.sum())} features on, but {circuit.name} is only "
                      f"guaranteed for at most {sparsity}", style="yellow")
    names, values = ((circuit.gate_names, circuit.gate_values(x)[0]) if args.gates
                     else (circuit.output_names, circuit.run(x)[0]))
    table = Table(title=f"{circuit.name}: {'gates' if args.gates else 'outputs'} with "
                        f"{args.on or 'nothing'} on")
    table.add_column("name")
    table.add_column("readout", justify="right")
    table.add_column("value", justify="right")
    for name, value in zip(names, values):
        table.add_row(name, f"{value:.4f}", str(int(value > THRESHOLD)))
    console.print(table)
    return 0


def _cmd_info(args: argparse.Namespace, console: Console) -> int:
    circuit = load(args.artifact)
    table = Table(title=f"{circuit.name} ({circuit.meta.lowering} lowering)")
    for column in ("layer", "kind", "activation", "width in", "width out", "nonzero weights"):
        table.add_column(column, justify="right" if "width" in column or "weights" in column else "left")
    for i, layer in enumerate(circuit.layers, start=1):
        table.add_row(str(i), layer.kind, "relu" if layer.relu else "linear", str(layer.weight.shape[1]),
                      str(layer.width), str(layer.weight.nnz))
    console.print(table)
    neurons = circuit.n_neurons
    console.print(f"inputs {circuit.n_inputs}, gates {circuit.n_gates}, outputs {circuit.n_outputs}, "
                  f"layers {len(circuit.layers)}, neurons {neurons}, gates per neuron "
                  f"{circuit.n_gates / neurons if neurons else float('nan'):.2f}")
    facts = circuit.meta.scalars()
    console.print(", ".join(f"{k} {v}" for k, v in sorted(facts.items())))
    if circuit.meta.sparsity_levels:
        _print_sparsity_levels(circuit, console)
    if circuit.meta.lowering == "chained":
        _print_chain_plans(circuit, console)
    return 0


def _print_chain_plans(circuit: CompiledCircuit, console: Console) -> None:
    """Each level's plan of the chained lowering and where its neurons go."""
    table = Table(title="levels of the chained lowering (superposed or exact: the one with fewer neurons)")
    columns = {"level": "level", "plan": "plan", "gates": "gates", "hub_pairs": "hub pairs",
               "hub_neurons": "hub neurons", "pairs_moved_to_exact": "moved to exact", "carried": "carried",
               "reset_neurons": "reset neurons", "neurons": "neurons", "superposed_neurons": "superposed plan",
               "exact_neurons": "exact plan"}
    for label in columns.values():
        table.add_column(label, justify="left" if label == "plan" else "right")
    for facts in circuit.meta.levels:
        table.add_row(*(str(facts.get(key, "-")) for key in columns))
    console.print(table)


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
    console.print(table)
    if len(rows) > most:
        console.print(f"... and {len(rows) - most} more levels")


def _write_atomically(path: str, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


def _cmd_report(args: argparse.Namespace, console: Console) -> int:
    for flag, path, suffix in (("--json", args.json, None), ("--csv", args.csv, None), ("--plot", args.plot, ".png")):
        if path:
            _check_output(flag, path, suffix)
    circuit = load(args.artifact)
    report = error_report(circuit, samples=args.samples, max_active=args.max_active, seed=args.seed,
                          progress=console.is_terminal, confirm=args.confirm)
    report.render(console, top=args.top)
    _print_sparsity_summary(circuit, console)
    levels = report.levels()
    if is_deep(levels):
        render_levels(levels, console)
    if args.plot:
        lowering = circuit.meta.lowering
        label = "naive chaining" if lowering == "chained" and circuit.meta.control is False else lowering
        plot_levels({label: levels}, args.plot, title=f"{circuit.name}: gate error against depth",
                    target=circuit.meta.target_error or DEFAULT_PLOT_TARGET)
        console.print(f"wrote {args.plot}")
    if args.json:
        _write_atomically(args.json, report.to_json())
    if args.csv:
        buffer = io.StringIO()
        report.write_csv(buffer)
        _write_atomically(args.csv, buffer.getvalue())
    return 0


def _cmd_convert(args: argparse.Namespace, console: Console) -> int:
    _check_output("-o", args.output)
    circuit = load_netlist(args.source, format=args.format)
    _write_atomically(args.output, emit_dsl(circuit))
    console.print(f"wrote {args.output}: {circuit.n_inputs} inputs, {len(circuit.gate_names)} gates")
    return 0


def _cmd_verify(args: argparse.Namespace, console: Console) -> int:
    if args.budget_seconds is not None and args.budget_seconds < 0:
        raise UserError(f"--budget-seconds must be >= 0, got {args.budget_seconds}")
    if args.json:
        _check_output("--json", args.json)
    circuit = load(args.artifact)
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
    console.print(table)
    if len(verdicts) > args.rows:
        console.print(f"... and {len(verdicts) - args.rows} more (--rows to show them, --json for all)")
    console.print(result.summary())
    if args.json:
        _write_atomically(args.json, json.dumps(result.to_json(), indent=1))
    return result.exit_code


def _cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    table = args.output or Path(args.spec).stem + ".csv"
    _check_output("-o", table, ".csv")
    if args.plot:
        _check_output("--plot", args.plot, ".png")
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
    _check_output("-o", args.output, ".safetensors")
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
    console.print(table)
    twins = sum(int((d.twin >= 0).sum()) for d in dicts)
    console.print(f"{sum(map(len, dicts))} features over {len(dicts)} layers, {twins} in twin groups -> {args.output}")
    save_dictionaries(dicts, circuit.name, args.output, rows)
    return 0


def _cmd_components(args: argparse.Namespace, console: Console) -> int:
    _check_output("-o", args.output, ".safetensors")
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
                          help="the lowering (default: hub with a sparsity, else exact): "
                               + "; ".join(f"{s.name}: {s.summary}" for s in STRATEGIES.values()))
    lowering.add_argument("--exact", dest="strategy", action="store_const", const="exact",
                          help="the same as --strategy exact")
    p.add_argument("--no-error-control", dest="control", action="store_const", const=False,
                   help="with --strategy chained: no threshold resets between levels (naive chaining, the "
                        "baseline whose error grows with depth)")
    p.add_argument("--superpose-levels", dest="superpose", choices=list(LEVEL_PLANS),
                   help="with --strategy chained: superpose a level only where that takes fewer neurons than "
                        "exact ones, resets included (auto, default), or every level (always)")
    p.add_argument("--target-error", type=_probability,
                   help="hub, chained: per-gate error to aim for on the stratified distribution (default 0.01)")
    p.add_argument("--width", type=_positive_int,
                   help="hub, paper-uand: neurons of the superposed gate layer (default: chosen to meet "
                        "--target-error)")
    p.add_argument("--embed-dim", dest="embed_dim", type=_positive_int,
                   help="hub, paper-uand: embed the inputs in this many dimensions first (default: read them "
                        "uncompressed)")
    p.add_argument("--embedding", choices=list(EMBEDDINGS),
                   help="input code for --embed-dim: random signs or low-coherence (alternating projection)")
    p.add_argument("--p", type=_probability,
                   help="paper-uand: probability that a neuron reads a feature (default: log(m)^2/sqrt(width)/10)")
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
    p.add_argument("--json", metavar="FILE", help="write every gate's figures as JSON")
    p.add_argument("--csv", metavar="FILE", help="write every gate's figures as CSV")
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
    p.add_argument("--json", metavar="FILE", help="write every verdict as JSON")
    p.set_defaults(handler=_cmd_verify)

    p = commands.add_parser("convert", help="write a netlist (.bench, .aag, .aig, .blif) as a DSL program",
                            description="Convert a netlist into an equivalent, readable superpose program.")
    p.add_argument("source", help="netlist file")
    p.add_argument("-o", "--output", required=True, help="program (.sbp) to write")
    p.add_argument("--format", choices=["bench", "aiger", "blif"], help="input format (default: from extension)")
    p.set_defaults(handler=_cmd_convert)

    p = commands.add_parser("run", help="run a compiled circuit on one input and print its outputs",
                            description="Run a compiled circuit on one input: the named features on, "
                                        "every other feature off. Prints each output's readout and value.")
    p.add_argument("artifact", help="compiled .safetensors file")
    p.add_argument("--on", default="", metavar="A,B,...",
                   help="comma-separated input features that are on, e.g. fur,flies or tok[3] (default: none)")
    p.add_argument("--gates", action="store_true", help="print every gate, not only the outputs")
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
    p.set_defaults(handler=_cmd_info)
    _add_truth_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `superpose` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    console = Console()
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    try:
        return handler(args, console)
    except UserError as error:
        print(f"superpose {args.command}: {error}" if "\n" not in str(error) else str(error), file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
