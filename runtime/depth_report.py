"""Per-level view of an ErrorReport: gate error against depth.

Groups gates by their level (`gate_levels`: meta.layer_of_gate when the
lowering records where each gate is computed, else the gate's depth in the
program; 0 for input aliases and constants), and gives for each level the mean,
p99 and max error and the neurons and gates per neuron of that level's layers
(when the lowering records them in `meta.levels`). A table for the terminal,
and a matplotlib plot written atomically.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from superpose.network import CompiledCircuit
from superpose.runtime.output_files import write_atomically
from superpose.runtime.terminal import print_table


@dataclass
class LevelError:
    level: int
    gates: int
    mean_error: float
    p99_error: float
    max_error: float
    neurons: int | None
    gates_per_neuron: float | None
    mean_squared_error: float | None = None   # of the gates' readouts, averaged over the level
    expected_mse: float | None = None         # a lowering's closed-form prediction of it (lower_cis)


def gate_levels(circuit: CompiledCircuit) -> list[int] | None:
    """(n_gates,) the level of every gate: where the lowering computes it
    (meta.layer_of_gate) or, for lowerings that do not say, its depth in
    the program. None when the artifact carries neither."""
    recorded = circuit.meta.layer_of_gate
    if recorded:
        return [int(level) for level in recorded]
    if circuit.program is None:
        return None
    depth = circuit.program.levels()
    return [int(depth[signal]) for signal in circuit.program.gate_signals]


def sample_per_level(levels: list[int], per_level: int, seed: int) -> list[int]:
    """Up to `per_level` gate indices of every level of `levels` ((n_gates,)
    gate_levels), drawn without replacement from a generator seeded by `seed`;
    sorted. A level with fewer gates gives all of them."""
    rng = np.random.default_rng(seed)
    by_level = np.asarray(levels)
    chosen = [rng.choice(np.flatnonzero(by_level == level), size=min(per_level, int((by_level == level).sum())),
                         replace=False) for level in sorted(set(levels))]
    return sorted(int(g) for g in np.concatenate(chosen)) if chosen else []


def level_errors(errors: np.ndarray, levels_of_gates: list[int] | None, level_facts: list[dict],
                 squared_errors: np.ndarray) -> list[LevelError]:
    """One row per level that holds at least one gate, shallowest first.
    errors, squared_errors: (n_gates,) misclassification rates and mean squared
    readout errors in circuit gate order; levels_of_gates: (n_gates,) beside
    it (gate_levels); level_facts: the lowering's per-level facts (meta.levels),
    where the neurons of each level (and any predicted error) come from."""
    if not levels_of_gates:
        return []
    levels = np.asarray(levels_of_gates)
    facts = {f["level"]: f for f in level_facts if isinstance(f, dict) and "level" in f}
    rows = []
    for level in sorted(set(levels.tolist())):
        e = errors[levels == level]
        f = facts.get(level, {})
        per_neuron = f.get("gates_per_neuron")
        rows.append(LevelError(int(level), int(e.size), float(e.mean()), float(np.percentile(e, 99)),
                               float(e.max()), f.get("neurons"),
                               None if per_neuron is None or math.isnan(per_neuron) else float(per_neuron),
                               float(squared_errors[levels == level].mean()), f.get("expected_mse")))
    return rows


def is_deep(rows: list[LevelError]) -> bool:
    """Whether the gates span more than one level of computation (level 0,
    input aliases and constants, costs no layer)."""
    return max((r.level for r in rows), default=0) > 1


def render_levels(rows: list[LevelError], console: Console) -> None:
    """Print the per-level table with rich."""
    table = Table(title="gate error by level (depth of the gate; errors as in the table above)")
    predicted = any(r.expected_mse is not None for r in rows)
    columns = ["level", "gates", "mean error", "p99 error", "max error", "neurons", "gates/neuron"]
    for column in columns + (["readout MSE", "predicted MSE"] if predicted else []):
        table.add_column(column, justify="right")
    for r in rows:
        cells = [str(r.level), str(r.gates), f"{r.mean_error:.3%}", f"{r.p99_error:.3%}", f"{r.max_error:.3%}",
                 "-" if r.neurons is None else str(r.neurons),
                 "-" if r.gates_per_neuron is None else f"{r.gates_per_neuron:.2f}"]
        if predicted:
            cells += [f"{r.mean_squared_error:.4f}", "-" if r.expected_mse is None else f"{r.expected_mse:.4f}"]
        table.add_row(*cells)
    print_table(console, table)


def plot_levels(series: dict[str, list[LevelError]], path: str, title: str = "gate error against depth",
                target: float = 0.01) -> None:
    """Save (atomically, as PNG) a plot of mean and max gate error per level,
    one line pair per series, with the target error as a dotted line."""
    import matplotlib  # heavy (~0.5 s) and needed only for --plot
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (label, rows) in enumerate(series.items()):
        color = f"C{i}"
        levels = [r.level for r in rows]
        ax.plot(levels, [100 * r.mean_error for r in rows], "o-", color=color, label=f"{label}: mean")
        ax.plot(levels, [100 * r.max_error for r in rows], "s--", color=color, alpha=0.6, label=f"{label}: max")
    ax.axhline(100 * target, color="grey", lw=0.8, ls=":", label=f"{100 * target:g}% target")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("level (depth of the gate)")
    ax.set_ylabel("gate error (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_atomically(path, buffer.getvalue())
