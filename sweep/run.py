"""Run a sweep: skip the cells whose key the table already has, run the rest on
an executor, and write each row to the table as it arrives."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from superpose.sweep.cells import Cell
from superpose.sweep.executors import LocalExecutor, RayExecutor
from superpose.sweep.spec import SweepSpec
from superpose.sweep.table import read_table, write_table


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]                  # the spec's cells that have a row, in grid order
    ran: int                                    # cells run now
    skipped: int                                # cells whose row the table already had
    failures: list[tuple[Cell, str]] = field(default_factory=list)  # cells stopped by a user error, and why


def run_sweep(spec: SweepSpec, table: str | os.PathLike, executor: LocalExecutor | RayExecutor,
              console: Console | None = None, progress: bool = False) -> SweepResult:
    """Run every cell of `spec` whose key `table` lacks; the table is rewritten
    (atomically) after each finished cell: its earlier rows first, in their
    order, then this spec's in grid order."""
    rows = {row["key"]: row for row in read_table(table)}
    order = list(rows) + [cell.key for cell in spec.cells if cell.key not in rows]
    todo = [cell for cell in spec.cells if cell.key not in rows]
    failures: list[tuple[Cell, str]] = []
    if todo:
        cells = {cell.key: cell for cell in todo}
        with executor, Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=console, disable=not progress) as bar:
            task = bar.add_task(f"sweep on {executor.description}", total=len(todo))
            for outcome in executor.outcomes(todo):
                if outcome.row is None:
                    failures.append((cells[outcome.key], outcome.error))
                else:
                    rows[outcome.key] = outcome.row
                    write_table(table, [rows[key] for key in order if key in rows])
                bar.advance(task)
    return SweepResult([rows[cell.key] for cell in spec.cells if cell.key in rows], len(todo),
                       len(spec.cells) - len(todo), failures)
