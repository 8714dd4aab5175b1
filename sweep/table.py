"""The results table: one CSV row per cell, one column per variable (tidy data).

Floats are written with repr, so a value read back is the float that was
measured, bit for bit; an empty field is None (a knob the cell does not have,
or verification not asked for). The file is rewritten atomically after every
finished cell: an interrupted sweep leaves a whole table, and running it again
skips the cells whose key is already there.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from superpose.errors import UserError
from superpose.runtime.output_files import write_atomically


@dataclass(frozen=True)
class Column:
    name: str
    kind: Callable[[str], Any]   # parses the text of a field
    meaning: str


COLUMNS = (
    Column("key", str, "hash of the cell's inputs: program, options, seed, measuring settings, code version"),
    Column("program", str, "the program's label (a file as the spec names it, or a generator and its parameters)"),
    Column("strategy", str, "hub, paper-uand, chained or exact"),
    Column("target_error", float, "compile --target-error (empty for exact)"),
    Column("width", int, "compile --width (empty: chosen by the compiler)"),
    Column("sparsity", int, "the compiled circuit's sparsity: the program's, or the sweep's override"),
    Column("embed_dim", int, "compile --embed-dim (empty: inputs read uncompressed)"),
    Column("embedding", str, "compile --embedding, with embed_dim"),
    Column("seed", int, "seed of the compile and of the report's samples"),
    Column("samples", int, "stratified samples per gate"),
    Column("confirm", int, "worst gates re-measured on 10x fresh samples"),
    Column("max_active", int, "features on at once in the report's samples"),
    Column("inputs", int, "input features"),
    Column("gates", int, "gates measured"),
    Column("layers", int, "layers of the network"),
    Column("neurons", int, "ReLU neurons"),
    Column("gates_per_neuron", float, "gates / neurons"),
    Column("features_per_dim", float, "input features per embedding dimension (1 without an embedding)"),
    Column("mean_error", float, "mean gate error on the stratified distribution"),
    Column("p99_error", float, "99th percentile of the gate errors"),
    Column("max_error", float, "worst gate's error"),
    Column("compile_s", float, "compile time, seconds"),
    Column("report_s", float, "report time, seconds"),
    Column("verify_budget_s", float, "verify's budget in seconds (empty: not verified)"),
    Column("proved", int, "gates verify proved"),
    Column("counterexamples", int, "gates verify found a counterexample for"),
    Column("unknown", int, "gates verify left open when the budget ran out"),
    Column("verify_s", float, "verify time, seconds"),
    Column("code_version", str, "hash of superpose's source files that computed the row"),
)
NAMES = [c.name for c in COLUMNS]
TIMINGS = ("compile_s", "report_s", "verify_s")  # the columns that differ between two runs of the same cell


def _text(value: Any) -> str:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_table(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """Write `rows` (dicts over COLUMNS' names; missing ones are empty) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NAMES)
    writer.writerows([_text(row.get(name)) for name in NAMES] for row in rows)
    write_atomically(path, buffer.getvalue().encode("utf-8"))


def read_table(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a table write_table wrote, typed per COLUMNS (empty -> None);
    [] when there is no file; UserError for a file that is not such a table."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            lines = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path}: cannot read it as a sweep table: {error}") from None
    if not lines or lines[0] != NAMES:
        raise UserError(f"{path}: not a results table of this version of superpose sweep (its header differs); "
                        f"move it away or write to another file with -o")
    rows = []
    for number, fields in enumerate(lines[1:], start=2):
        if len(fields) != len(COLUMNS):
            raise UserError(f"{path}:{number}: {len(fields)} fields where a row has {len(COLUMNS)}")
        try:
            rows.append({c.name: c.kind(text) if text else None for c, text in zip(COLUMNS, fields)})
        except ValueError as error:
            raise UserError(f"{path}:{number}: {error}") from None
    return rows
