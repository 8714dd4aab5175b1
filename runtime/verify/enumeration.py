"""Method 1: run every input with at most s features on, in batches: an input
with j features on makes the first pre-activation a bias plus j columns."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from superpose.compiler.interpret import gate_values
from superpose.compiler.ir import Circuit
from superpose.compiler.multilinear import count_patterns
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.runtime.verify.table import PatternTable
from superpose.runtime.verify.verdicts import CELLS_PER_BATCH, Ledger, margin, true_side_zero

PROGRESS_AFTER = 1.0            # seconds of enumeration before a progress bar appears
PROJECT_AFTER = 0.5             # seconds of enumeration before its total time is projected


def indicator(on: np.ndarray, n_inputs: int) -> sp.csc_matrix:
    """on: (B, j) features on, -1 for none -> x transposed, (n_inputs, B) float32 CSC."""
    keep = on >= 0
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    return sp.csc_matrix((np.ones(int(indptr[-1]), np.float32), on[keep], indptr), shape=(n_inputs, on.shape[0]))


def _input_batches(n_inputs: int, s: int, batch: int) -> Iterator[np.ndarray]:
    """(B, s) features on (padded with -1): every input with at most s on, once."""
    yield np.full((1, s), -1, dtype=np.int64)
    for j in range(1, s + 1):
        combos = itertools.combinations(range(n_inputs), j)
        while True:
            flat = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, batch)), dtype=np.int64)
            if not flat.size:
                break
            on = np.full((flat.size // j, s), -1, dtype=np.int64)
            on[:, :j] = flat.reshape(-1, j)
            yield on


class _WorstInputs:
    """Per target gate, the smallest margin over the inputs seen and one input giving it."""

    def __init__(self, n_targets: int, s: int):
        self.margin = np.full(n_targets, np.inf)
        self.on = np.full((n_targets, s), -1, dtype=np.int64)

    def update(self, rows: np.ndarray, margins: np.ndarray, on: np.ndarray) -> None:
        """rows, margins: (k,) candidate (target row, margin) pairs; on: (k, s) their inputs."""
        order = np.lexsort((margins, rows))
        rows, first = np.unique(rows[order], return_index=True)
        better = margins[order][first] < self.margin[rows]
        self.margin[rows[better]] = margins[order][first][better]
        self.on[rows[better]] = on[order][first][better]


def _batch_margins_from_table(out: np.ndarray, table: PatternTable, targets: np.ndarray,
                              baseline: np.ndarray, incidence: sp.csr_matrix, x_t: sp.csc_matrix,
                              on: np.ndarray, worst: _WorstInputs) -> None:
    """Fold the batch's margins into `worst`. out: (T, B) readouts, clobbered.
    A gate keeps its baseline value (no support feature on) except where its
    support is touched: those few entries are looked up in the table."""
    touched = (incidence @ x_t).tocoo()
    rows, cols = touched.row, touched.col
    expected = table.lookup(targets[rows], touched.data.astype(np.int64))
    worst.update(rows, margin(out[rows, cols], expected), on[cols])
    flip = np.flatnonzero(baseline)
    out[flip] *= -1.0
    out[rows, cols] = -np.inf
    # margin = THRESHOLD - out on baseline-false rows, out - THRESHOLD = -(-out) - THRESHOLD on the others
    margins = true_side_zero(np.where(baseline, -THRESHOLD, THRESHOLD) - out.max(axis=1), baseline)
    better = np.flatnonzero(margins < worst.margin)
    if better.size:
        worst.update(better, margins[better], on[out[better].argmax(axis=1)])


def _batch_margins_from_interpreter(out: np.ndarray, program: Circuit, targets: np.ndarray,
                                    x_t: sp.csc_matrix, on: np.ndarray, worst: _WorstInputs) -> None:
    """Fold the batch's margins into `worst`, with the interpreter as oracle."""
    expected = gate_values(program, x_t.T.toarray())[:, targets].T
    margins = margin(out, expected)
    columns = margins.argmin(axis=1)
    worst.update(np.arange(len(targets)), margins[np.arange(len(targets)), columns], on[columns])


@contextmanager
def _progress(total: int, description: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A callable that advances a rich progress bar on stderr, shown once the
    run has lasted PROGRESS_AFTER seconds (never when not enabled)."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task(description, total=total)
    start = time.monotonic()

    def advance(n: int) -> None:
        bar.advance(task, n)
        if enabled and not bar.live.is_started and time.monotonic() - start > PROGRESS_AFTER:
            bar.start()

    try:
        yield advance
    finally:
        bar.stop()


def enumerate_inputs(circuit: CompiledCircuit, table: PatternTable, s: int, targets: np.ndarray, ledger: Ledger,
               deadline: float, show_progress: bool) -> bool:
    """Run every input with at most s features on and settle every target gate;
    stop early (returning False, settling nothing) when the projected time
    runs past the deadline."""
    m = circuit.n_inputs
    total = count_patterns(m, s)
    readout = circuit.gate_readout.select(targets)
    from_table = bool(table.narrow[targets].all())
    if from_table:
        incidence = table.incidence(targets, m)
        baseline = table.lookup(targets, np.zeros(len(targets), dtype=np.int64))
    worst = _WorstInputs(len(targets), s)
    batch = max(64, CELLS_PER_BATCH // (sum(circuit.widths[1:]) + len(targets) + 1))
    start, done = time.monotonic(), 0
    with _progress(total, f"enumerating {total:,} inputs", show_progress) as advance:
        for on in _input_batches(m, s, batch):
            x_t = indicator(on, m)
            out = circuit.read_columns(x_t, readout)
            if from_table:
                _batch_margins_from_table(out, table, targets, baseline, incidence, x_t, on, worst)
            else:
                _batch_margins_from_interpreter(out, ledger.program, targets, x_t, on, worst)
            done += len(on)
            advance(len(on))
            now = time.monotonic()
            projected = start + (now - start) * total / done if now - start > PROJECT_AFTER else now
            if done < total and max(now, projected) > deadline:
                return False
    wrong = worst.margin < 0
    ledger.prove(targets[~wrong], worst.margin[~wrong], "exhaustive")
    if wrong.any():
        inputs = [tuple(int(f) for f in row if f >= 0) for row in worst.on[wrong]]
        margins = ledger.confirm(targets[wrong], inputs, "exhaustive")
        ledger.prove(targets[wrong], margins, "exhaustive")  # float rounding at exactly THRESHOLD
    return True
