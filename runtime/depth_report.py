"""Per-layer view of an ErrorReport: gate error against depth.

Groups gates by `meta["layer_of_gate"]` (the level where each gate is computed;
0 for input aliases and constants), and gives for each level the mean, p99 and
max error and the gates per neuron of that level's layers (when the lowering
records them in `meta["levels"]`). A table for the terminal or markdown, and a
matplotlib plot.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.report import ErrorReport


@dataclass
class LevelError:
    level: int
    gates: int
    mean_error: float
    p99_error: float
    max_error: float
    neurons: int | None
    gates_per_neuron: float | None


def has_levels(facts: dict) -> bool:
    """Whether a circuit's meta says at which level each gate is computed."""
    return bool(facts.get("layer_of_gate"))


def level_errors(report: ErrorReport) -> list[LevelError]:
    """One row per level that computes at least one gate, shallowest first."""
    layer_of_gate = report.facts.get("layer_of_gate")
    if not layer_of_gate:
        return []
    by_name = {g.name: g.error for g in report.gates}
    names = report.facts.get("gate_names")
    errors = np.array([g.error for g in report.gates]) if names is None else np.array([by_name[n] for n in names])
    levels = np.asarray(layer_of_gate)
    facts = {f["level"]: f for f in report.facts.get("levels", [])}
    rows = []
    for level in sorted(set(levels.tolist())):
        e = errors[levels == level]
        f = facts.get(level, {})
        rows.append(LevelError(int(level), int(e.size), float(e.mean()), float(np.percentile(e, 99)),
                               float(e.max()), f.get("neurons"), f.get("gates_per_neuron")))
    return rows


def render_levels(rows: list[LevelError], console) -> None:
    """Print the per-level table with rich."""
    from rich.table import Table
    table = Table(title="gate error by level")
    for column in ("level", "gates", "mean error", "p99 error", "max error", "neurons", "gates/neuron"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r.level), str(r.gates), f"{r.mean_error:.3%}", f"{r.p99_error:.3%}", f"{r.max_error:.3%}",
                      "-" if r.neurons is None else str(r.neurons),
                      "-" if r.gates_per_neuron is None else f"{r.gates_per_neuron:.2f}")
    console.print(table)


def plot_levels(series: dict[str, list[LevelError]], path: str, title: str = "gate error against depth") -> None:
    """Save a plot of mean and max gate error per level, one line pair per series."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (label, rows) in enumerate(series.items()):
        color = f"C{i}"
        levels = [r.level for r in rows]
        ax.plot(levels, [100 * r.mean_error for r in rows], "o-", color=color, label=f"{label}: mean")
        ax.plot(levels, [100 * r.max_error for r in rows], "s--", color=color, alpha=0.6, label=f"{label}: max")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":", label="1% target")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("level (depth of the gate)")
    ax.set_ylabel("gate error (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
