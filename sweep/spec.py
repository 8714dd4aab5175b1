"""A sweep's spec: a TOML file naming programs and the axes of a grid.

    # frontier.toml
    samples = 1000                  # stratified samples per gate (report --samples; default 1000)
    confirm = 0                     # worst gates re-measured on 10x fresh samples (report --confirm)
    max_active = 3                  # features on at once when measuring (default: each program's sparsity)
    verify_budget_seconds = 30      # also run verify with this budget (default: no verify)
    fill = "uniform"                # the report's fill (report --fill; default "neighbourhood")

    programs = ["programs/large.sbp",                                   # a file, relative to this spec
                {generator = "uand", m = 1024, n_gates = 8192, sparsity = 3, label = "uand-8k"}]
    strategies = ["hub", "paper-uand"]  # hub, paper-uand, chained, exact (default ["hub"])
    targets = [0.01, 0.02]          # --target-error values (default [0.01])
    widths = ["auto", 1024]         # --width values; "auto": chosen by the compiler (default)
    sparsities = ["program", 2]     # "program": the program's own (default); a number overrides it
    embed_dims = ["none", 256]      # --embed-dim values; "none": inputs read uncompressed (default)
    embeddings = ["random"]         # --embedding values, used with an embed_dim (default ["random"])
    seeds = [0, 1, 2]               # each seeds the compile and the report's samples (default [0])

    [[grid]]                        # optional: several grids, each taking the axes above and overriding some
    strategies = ["exact"]

The cells are the product of the axes, for each grid. A strategy leaves out
the options it does not take (compiler.strategies: exact takes none,
paper-uand no target error), so cells that come out the same are run once; an
axis the spec sets that no strategy of its grid takes is an error.
Generators and their parameters: superpose.compiler.generators.
"""
from __future__ import annotations

import difflib
import itertools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from superpose.compiler.co_activity import DEFAULT_FILL, FILLS
from superpose.compiler.errors import CompileError, Diagnostic, diagnostic_at
from superpose.compiler.ir import Loc
from superpose.compiler.lower_superposed import EMBEDDINGS
from superpose.compiler.strategies import STRATEGIES
from superpose.sweep.cells import Cell, Measurement, make_cell
from superpose.sweep.programs import Program, file_program, generated_program

AXES = ("programs", "strategies", "targets", "widths", "sparsities", "embed_dims", "embeddings", "seeds")
SETTINGS = ("samples", "confirm", "max_active", "verify_budget_seconds", "fill")
DEFAULTS: dict[str, list] = {"strategies": ["hub"], "targets": [0.01], "widths": ["auto"],
                             "sparsities": ["program"], "embed_dims": ["none"], "embeddings": ["random"],
                             "seeds": [0]}
NONE_WORDS = {"widths": "auto", "sparsities": "program", "embed_dims": "none"}  # the word for "no value" per axis
OPTION_AXES = {"targets": "target_error", "widths": "width", "embed_dims": "embed_dim", "embeddings": "embedding"}
TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
TOML_END = " (at end of document)"


@dataclass(frozen=True)
class SweepSpec:
    """A checked spec: its file and the cells of all its grids."""
    path: Path
    cells: list[Cell]     # in grid order, each key once


class _Spec:
    """The text of one spec file and messages that point into it."""

    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    def error(self, message: str, key: str | None = None, grid: int | None = None) -> CompileError:
        """A CompileError at the line that sets `key` (at top level, or in the
        `grid`-th [[grid]] table, counting from 1) when the text shows one."""
        loc = self._locate(key, grid) if key else None
        where = key if grid is None or key is None else f"grid {grid}: {key}"
        text = f"{where}: {message}" if where else message
        if loc is None:
            return CompileError(Diagnostic(f"{self.path}: {text}"))
        return CompileError(diagnostic_at(text, str(self.path), self.text, loc.line, loc.column))

    def _locate(self, key: str, grid: int | None) -> Loc | None:
        tables, table = 0, None  # table: None at top level, else the number of the [[grid]] we are in
        for number, line in enumerate(self.text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                tables += stripped.startswith("[[grid]]")
                table = tables if stripped.startswith("[[grid]]") else -1
            elif table == grid and re.match(rf"{re.escape(key)}\s*=", stripped):
                return Loc(str(self.path), number, line.index(key) + 1)
        return None


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a spec; every program is read (files) or made (generators)
    once here, so that a bad one stops the sweep before any cell runs.
    CompileError (a UserError) with the file and, where it can, the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CompileError(f"{path}: cannot read the spec: {error}") from None
    spec = _Spec(path, text)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CompileError(_toml_diagnostic(str(error), path, text)) from None
    has_grids = "grid" in document
    grids = document.pop("grid", [{}])
    _check_keys(spec, document, AXES + SETTINGS + ("grid",), None)
    if not isinstance(grids, list) or not grids or not all(isinstance(g, dict) for g in grids):
        raise spec.error("must be [[grid]] tables, each setting some axes", "grid")
    measurement = _measurement(spec, document)
    programs: dict[str, Program] = {}
    cells: dict[str, Cell] = {}
    for number, grid in enumerate(grids, start=1):
        _check_keys(spec, grid, AXES, number)
        axes = {axis: _axis(spec, axis, grid, document, number if axis in grid else None) for axis in AXES}
        _check_options_are_taken(spec, axes, grid if has_grids else document, number if has_grids else None)
        entries = [_program(spec, entry, number if "programs" in grid else None, programs)
                   for entry in axes["programs"]]
        for program, strategy, target, width, sparsity, embed_dim, embedding, seed in itertools.product(
                entries, *(axes[axis] for axis in AXES[1:])):
            try:
                cell = make_cell(program, strategy, target, width, sparsity, embed_dim, embedding, seed, measurement)
            except CompileError as error:
                raise spec.error(f"strategy {strategy}: {error}", "strategies",
                                 number if "strategies" in grid else None) from None
            cells.setdefault(cell.key, cell)
    return SweepSpec(path, list(cells.values()))


def _toml_diagnostic(message: str, path: Path, text: str) -> Diagnostic:
    """tomllib's message with its "(at line L, column C)" or "(at end of
    document)" turned into a position with the line and a caret."""
    position = TOML_POSITION.search(message)
    if position is not None:
        line, column = int(position[1]), int(position[2])
    elif message.endswith(TOML_END):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    else:
        return Diagnostic(f"{path}: not valid TOML: {message}")
    message = TOML_POSITION.sub("", message).removesuffix(TOML_END)
    return diagnostic_at(f"not valid TOML: {message}", str(path), text, line, column)


def _check_options_are_taken(spec: _Spec, axes: dict[str, list], given: dict, grid: int | None) -> None:
    """An option axis the spec sets (in this grid's table, or at top level
    when there are no grids) that no strategy of the grid takes is a mistake,
    not a value to ignore."""
    for axis, option in OPTION_AXES.items():
        if axis in given and any(value is not None for value in axes[axis]) and \
                not any(option in STRATEGIES[s].option_names for s in axes["strategies"]):
            raise spec.error(f"no strategy of this grid ({', '.join(axes['strategies'])}) takes {option}", axis, grid)


def _check_keys(spec: _Spec, table: dict, allowed: tuple[str, ...], grid: int | None) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(allowed)}"
            raise spec.error(f"unknown key{hint}", key, grid)


def _measurement(spec: _Spec, document: dict) -> Measurement:
    def number(key: str, least: int, default: Any, kind: type = int) -> Any:
        if key not in document:
            return default
        value = document[key]
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int) or value < least:
            raise spec.error(f"must be a {'number' if kind is float else 'whole number'} >= {least}, got {value!r}",
                             key)
        return kind(value)

    fill = document.get("fill", DEFAULT_FILL)
    if fill not in FILLS:
        raise spec.error(f"must be one of {', '.join(repr(f) for f in FILLS)}, got {fill!r}", "fill")
    return Measurement(samples=number("samples", 2, 1000), confirm=number("confirm", 0, 0),
                       max_active=number("max_active", 1, None),
                       verify_budget_s=number("verify_budget_seconds", 0, None, float), fill=fill)


def _axis(spec: _Spec, axis: str, grid: dict, document: dict, number: int | None) -> list:
    """An axis' values from the grid, else the top level, else DEFAULTS; the
    axis' "no value" word (NONE_WORDS) becomes None."""
    values = grid.get(axis, document.get(axis, DEFAULTS.get(axis)))
    if values is None:
        raise spec.error("missing: list the programs to compile (files, or {generator = ...} tables)",
                         None if number is None else axis, number)
    if not isinstance(values, list) or not values:
        raise spec.error("must be a non-empty list", axis, number)
    if axis == "programs":
        return values
    return [_axis_value(spec, axis, value, number) for value in values]


def _axis_value(spec: _Spec, axis: str, value: Any, number: int | None) -> Any:
    if axis in NONE_WORDS and value == NONE_WORDS[axis]:
        return None
    whole = isinstance(value, int) and not isinstance(value, bool)
    if axis == "strategies" and value in STRATEGIES or axis == "embeddings" and value in EMBEDDINGS:
        return value
    if axis == "targets" and isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1:
        return float(value)
    if axis == "seeds" and whole and value >= 0 or axis in NONE_WORDS and whole and value >= 1:
        return value
    wanted = {"strategies": f"one of {', '.join(STRATEGIES)}", "embeddings": f"one of {', '.join(EMBEDDINGS)}",
              "targets": "numbers strictly between 0 and 1", "seeds": "whole numbers >= 0"}.get(
        axis, f"whole numbers >= 1 or \"{NONE_WORDS.get(axis)}\"")
    raise spec.error(f"{value!r} is not allowed: the values must be {wanted}", axis, number)


def _program(spec: _Spec, entry: Any, number: int | None, seen: dict[str, Program]) -> Program:
    """A `programs` entry: a file path (relative to the spec), or a table with
    `file` or `generator` (and its parameters), optionally a `label`."""
    table = {"file": entry} if isinstance(entry, str) else entry
    if not isinstance(table, dict) or ("file" in table) == ("generator" in table):
        raise spec.error(f"{entry!r}: each entry is a file name or a table with either file = ... or "
                         f"generator = ...", "programs", number)
    options = dict(table)
    label = options.pop("label", None)
    try:
        if "file" in options:
            if set(options) != {"file"}:
                raise CompileError(f"{entry!r}: a file entry takes only file and label")
            program = file_program(spec.path.parent / options["file"], label or options["file"])
        else:
            program = generated_program(options.pop("generator"), options, label)
        if program.label in seen:
            if seen[program.label] != program:
                raise CompileError(f"two different programs are labelled {program.label!r}")
            return seen[program.label]
        program.circuit()  # a generator that cannot make its circuit stops the sweep here, before any cell runs
    except CompileError as error:
        if _points_into_a_file(error):
            raise  # an error inside a program file already names its file, line and column
        raise spec.error(str(error), "programs", number) from None
    seen[program.label] = program
    return program


def _points_into_a_file(error: CompileError) -> bool:
    """Whether the error points into a file (a program's), rather than being about the spec."""
    return any(d.loc is not None for d in error.diagnostics)
