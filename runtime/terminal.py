"""Human output of the CLI: rich on a terminal, plain and unwrapped when piped.

On a terminal, rich draws boxed tables, colours and progress bars that fit
the window. Piped or logged, the same output is read by `grep`, `less` and
colleagues: lines are never wrapped (rich would wrap at 80 columns and split
paths), tables lose their box drawing and keep every header whole, and
progress bars are not shown at all.
"""
from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

PIPED_WIDTH = 100_000  # columns of a console that is not a terminal: wide enough that nothing wraps


def make_console(stderr: bool = False) -> Console:
    """A console on standard output (or error) that wraps only on a terminal."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True)


def print_table(console: Console, table: Table) -> None:
    """Print a table: boxed on a terminal, plain aligned columns otherwise."""
    if not console.is_terminal:
        table.box = None
        table.show_edge = False
        table.title_justify = "left"
    console.print(table)


def stage_progress(console: Console) -> Progress:
    """A spinner with elapsed time for long steps without a known length
    (reading, lowering, writing); shown only on a terminal, gone when done."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                    transient=True, disable=not console.is_terminal)
