"""What `superpose sweep` prints when it is done: the spec's rows, the seeds of
each point folded into one line (the table keeps every row)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from superpose.runtime.terminal import print_table
from superpose.sweep.run import SweepResult

MOST_LINES = 40  # points printed


def _options(row: dict[str, Any]) -> str:
    """The cell's options in the words of `superpose compile`'s flags."""
    parts = [f"{flag} {row[name]}" for flag, name in (("target", "target_error"), ("width", "width"),
                                                       ("sparsity", "sparsity"), ("d0", "embed_dim"))
             if row[name] is not None]
    return ", ".join(parts + ([row["embedding"]] if row["embedding"] else []))


def render_result(result: SweepResult, table_path: str, console: Console) -> None:
    """One line per point (mean over its seeds, the max error's range beside it),
    then how many cells ran, were skipped or failed, and why."""
    points: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in result.rows:
        points[row["program"], row["strategy"], _options(row)].append(row)
    table = Table(title=f"sweep: {len(result.rows)} cells, the mean over each point's seeds (every row in "
                        f"{table_path})")
    for column in ("program", "strategy", "options", "seeds", "neurons", "gates/neuron", "mean error", "max error",
                   "max error range"):
        table.add_column(column, justify="left" if column in ("program", "strategy", "options") else "right")
    for (program, strategy, options), rows in list(points.items())[:MOST_LINES]:
        mean = {name: float(np.mean([r[name] for r in rows]))
                for name in ("neurons", "gates_per_neuron", "mean_error", "max_error")}
        worst = [r["max_error"] for r in rows]
        table.add_row(program, strategy, options, str(len(rows)), f"{mean['neurons']:,.0f}",
                      f"{mean['gates_per_neuron']:.2f}", f"{mean['mean_error']:.3%}", f"{mean['max_error']:.3%}",
                      f"{min(worst):.2%} - {max(worst):.2%}")
    if points:
        print_table(console, table)
    if len(points) > MOST_LINES:
        console.print(f"... and {len(points) - MOST_LINES} more points in {table_path}")
    console.print(f"{result.ran} cells run, {result.skipped} already in {table_path}, {len(result.failures)} failed")
    for cell, message in result.failures:
        console.print(f"[red]failed:[/] {cell.describe()}: {message}")
