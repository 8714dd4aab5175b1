"""superpose sweep: a grid of compiles, each measured, in one resumable table.

The stages, in order:
  spec.py       a TOML spec -> the grid's cells (programs.py: files or generators; cells.py: one cell, its key)
  run.py        skip the cells the table has, run the rest on an executor, write rows as they arrive
  executors.py  where cells run: local processes (default) or a Ray cluster, one task per cell
  table.py      the results table: CSV, one row per cell, floats exact
  frontier.py   gates per neuron against the worst gate's error, a curve per strategy
  summary.py    what the command prints

It sits above compiler/ and runtime/ (a cell compiles, then reports) and
nothing below imports it.
"""
from superpose.sweep.cells import Cell, Measurement, code_version, measure_cell, run_cell
from superpose.sweep.executors import LocalExecutor, RayExecutor
from superpose.sweep.frontier import frontier, plot_frontier
from superpose.sweep.run import SweepResult, run_sweep
from superpose.sweep.spec import SweepSpec, load_spec
from superpose.sweep.table import COLUMNS, read_table

__all__ = ["COLUMNS", "Cell", "LocalExecutor", "Measurement", "RayExecutor", "SweepResult", "SweepSpec",
           "code_version", "frontier", "load_spec", "measure_cell", "plot_frontier", "read_table", "run_cell",
           "run_sweep"]
