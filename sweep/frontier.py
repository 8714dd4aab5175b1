"""The capacity frontier of a sweep: gates per neuron against the worst gate's
error, one panel per program, one curve per strategy (and per sparsity or
embedding where those vary), one point per target error or width, the seeds'
spread as error bars (from the smallest to the largest value over the seeds)."""
from __future__ import annotations

import io
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from superpose.errors import UserError
from superpose.runtime.output_files import write_atomically

PANELS_PER_ROW = 3


@dataclass(frozen=True)
class FrontierPoint:
    """One point of a curve, over its seeds: (min, mean, max) of each axis."""
    max_error: tuple[float, float, float]
    gates_per_neuron: tuple[float, float, float]
    seeds: int


def _spread(values: list[float]) -> tuple[float, float, float]:
    """(min, mean, max); the mean clipped into [min, max] (rounding can put the
    mean of equal values a hair outside, and error bars cannot be negative)."""
    low, high = min(values), max(values)
    return low, min(max(float(np.mean(values)), low), high), high


def _curve_label(row: dict[str, Any], sparsity_varies: bool) -> str:
    label = row["strategy"]
    if sparsity_varies:
        label += f", sparsity {row['sparsity']}"
    if row["embed_dim"] is not None:
        label += f", d0={row['embed_dim']} {row['embedding']}"
    return label


def frontier_curves(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[FrontierPoint]]]:
    """program -> curve label -> points (over target error and width, in
    increasing max error); rows are the results table's (table.read_table)."""
    sparsities: dict[str, set] = defaultdict(set)
    for row in rows:
        sparsities[row["program"]].add(row["sparsity"])
    seeds: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        label = _curve_label(row, len(sparsities[row["program"]]) > 1)
        seeds[row["program"], label, row["target_error"], row["width"]].append(row)
    curves: dict[str, dict[str, list[FrontierPoint]]] = defaultdict(lambda: defaultdict(list))
    for (program, label, _, _), group in seeds.items():
        curves[program][label].append(FrontierPoint(_spread([r["max_error"] for r in group]),
                                                    _spread([r["gates_per_neuron"] for r in group]), len(group)))
    return {program: {label: sorted(points, key=lambda p: p.max_error[1]) for label, points in by_label.items()}
            for program, by_label in curves.items()}


def plot_frontier(rows: list[dict[str, Any]], path: str | os.PathLike, title: str = "capacity frontier") -> None:
    """Save (atomically, as PNG) the frontier of `rows` (at least one)."""
    if not rows:
        raise UserError(f"{os.fspath(path)}: no rows to plot")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = frontier_curves(rows)
    n_cols = min(len(panels), PANELS_PER_ROW)
    n_rows = math.ceil(len(panels) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(5.5 * n_cols, 4 * n_rows), squeeze=False)
    for ax, (program, curves) in zip(axes.flat, panels.items()):
        for i, (label, points) in enumerate(curves.items()):
            x = np.array([100 * np.array(p.max_error) for p in points])        # (points, 3): min, mean, max in %
            y = np.array([np.array(p.gates_per_neuron) for p in points])
            ax.errorbar(x[:, 1], y[:, 1], xerr=[x[:, 1] - x[:, 0], x[:, 2] - x[:, 1]],
                        yerr=[y[:, 1] - y[:, 0], y[:, 2] - y[:, 1]], fmt="o-", color=f"C{i}", capsize=3,
                        label=f"{label} ({max(p.seeds for p in points)} seeds)")
        ax.set_title(program, fontsize=9)
        ax.set_xlabel("worst gate's error (%)")
        ax.set_ylabel("gates per neuron")
        ax.set_ylim(bottom=0.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_atomically(path, buffer.getvalue())
