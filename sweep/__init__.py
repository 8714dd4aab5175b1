"""superpose sweep: a grid of compiles, each measured, in one resumable table.

The stages, in order:
  spec.py       a TOML spec -> the grid's cells (programs.py: files or generators; cells.py: one cell, its key)
  run.py        skip the cells the table has, run the rest on an executor, write rows as they arrive
  executors.py  where cells run: local processes (default) or a Ray cluster, one task per cell
  table.py      the results table: CSV, one row per cell, floats exact
  frontier.py   gates per neuron against the worst gate's error, a curve per strategy
  summary.py    what the command prints

It sits above compiler/ and runtime/ (a cell compiles, then reports) and below
the CLI. This `__init__` imports nothing itself (see superpose._lazy).
"""
from superpose._lazy import lazy_exports

_EXPORTS = {
    "Cell": "superpose.sweep.cells", "Measurement": "superpose.sweep.cells",
    "code_version": "superpose.sweep.cells", "measure_cell": "superpose.sweep.cells",
    "run_cell": "superpose.sweep.cells",
    "LocalExecutor": "superpose.sweep.executors", "RayExecutor": "superpose.sweep.executors",
    "frontier_curves": "superpose.sweep.frontier", "plot_frontier": "superpose.sweep.frontier",
    "SweepResult": "superpose.sweep.run", "run_sweep": "superpose.sweep.run",
    "SweepSpec": "superpose.sweep.spec", "load_spec": "superpose.sweep.spec",
    "COLUMNS": "superpose.sweep.table", "read_table": "superpose.sweep.table",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
