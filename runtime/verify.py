"""Verification: is every gate right on every input with at most s features on?

`verify` gives every gate a verdict:
  proved          right on every such input; `margin` is the worst distance of
                  its readout to THRESHOLD on the right side (exact after
                  enumeration, a guaranteed lower bound after bounds)
  counterexample  an input on which it is wrong, confirmed by running the
                  circuit and the reference interpreter
  unknown         the budget ran out first (or the gate's support has too many
                  patterns); `bounds` are its readout's bounds on the support
                  pattern that came closest to failing

Methods, cheapest first:
  exhaustive  every input with <= s features on, in batches: an input with j
              features on makes the first pre-activation a bias plus j columns
  bounds      sound bounds (runtime/bounds.py) per pattern of the gate's own
              support, with at most s - |pattern| other features on
  search      beam search over which free features to turn on, steered by the
              coefficients of the bounds, for a readout on the wrong side
"auto" enumerates small input spaces outright; otherwise it bounds, searches,
and enumerates for the gates still open if that fits in the budget.
"""
from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from runtime.bounds import BoundPropagator, PatternSet, fold
from runtime.circuit import THRESHOLD, CompiledCircuit, Layer
from runtime.errors import UserError

if TYPE_CHECKING:
    from compiler.ir import Circuit

Status = Literal["proved", "counterexample", "unknown"]
Method = Literal["auto", "exhaustive", "bounds"]

EXHAUSTIVE_FIRST = 100_000      # input spaces this small are enumerated before anything else
MAX_PATTERNS_PER_GATE = 4096    # gates with more support patterns are left to enumeration
MAX_TABLE_SUPPORT = 40          # support bits that fit in a pattern key next to the gate index
CELLS_PER_BATCH = 1 << 23       # numbers per working array: sets every batch size
FLOAT_SLACK = 1e-4              # bounds must clear THRESHOLD by this much: float32 rounding of the circuit
SEARCH_CANDIDATES = 32          # free features tried at each step of the search
BEAM_WIDTH = 8                  # partial inputs kept per pattern at each step
MAX_SEARCH_DEPTH = 8            # most free features the search turns on
PROGRESS_MIN_INPUTS = 1_000_000  # enumerations shorter than this show no progress bar
CONFIRM_BATCH = 4096            # inputs per call of the interpreter when confirming finds
PROJECT_AFTER = 0.5             # seconds of enumeration before its total time is projected


@dataclass(frozen=True)
class Counterexample:
    """An input on which a gate is wrong: `on` the features on (all others off),
    `expected` the interpreter's value, `readout` the circuit's (true when > THRESHOLD)."""
    on: tuple[str, ...]
    expected: bool
    readout: float


@dataclass(frozen=True)
class GateVerdict:
    """The verdict on one gate.

    method: what settled it ("exhaustive", "bounds", "search"; "" when unknown).
    margin: proved: the worst readout distance to THRESHOLD on the right side;
            counterexample: that distance on the counterexample (<= 0).
    bounds, pattern, expected: unknown: the readout's (lower, upper) bounds on
            the support pattern closest to failing, that pattern (its features
            on), and the value the gate should have there (None: the gate has too
            many patterns to split on, so the bounds cover every input).
    """
    gate: str
    status: Status
    method: str = ""
    margin: float | None = None
    counterexample: Counterexample | None = None
    bounds: tuple[float, float] | None = None
    pattern: tuple[str, ...] | None = None
    expected: bool | None = None


@dataclass
class VerifyResult:
    """Verdicts for every gate of `circuit` over inputs with at most `max_active`
    features on (None: every input)."""
    circuit: str
    max_active: int | None
    gates: list[GateVerdict]
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        return {status: sum(g.status == status for g in self.gates)
                for status in ("proved", "counterexample", "unknown")}

    @property
    def exit_code(self) -> int:
        """0: all proved; 1: a counterexample; 3: something unknown, no counterexample."""
        counts = self.counts
        return 1 if counts["counterexample"] else 3 if counts["unknown"] else 0

    def summary(self) -> str:
        counts = self.counts
        return (f"{self.circuit}, {len(self.gates)} gates: proved {counts['proved']}, counterexample "
                f"{counts['counterexample']}, unknown {counts['unknown']} (max active "
                f"{'all' if self.max_active is None else self.max_active}, {self.seconds:.1f} s)")

    def to_json(self) -> dict:
        return {"circuit": self.circuit, "max_active": self.max_active, "seconds": self.seconds,
                "counts": self.counts, "exit_code": self.exit_code, "gates": [asdict(g) for g in self.gates]}


def verify(circuit: CompiledCircuit, max_active: int | None = None, budget: float | None = None, *,
           method: Method = "auto", progress: bool | None = None) -> VerifyResult:
    """Verify every gate of `circuit` on the inputs with at most s features on.

    s: max_active, else circuit.meta["sparsity"], else every input is allowed.
    budget: seconds (None: no limit); what is open when it runs out is unknown.
    method: "auto" (see the module docstring), "exhaustive" (enumeration only)
    or "bounds" (bounds and search, no enumeration).
    progress: a progress bar on long enumerations (None: when stderr is a tty).
    """
    start = time.monotonic()
    deadline = math.inf if budget is None else start + budget
    program = circuit.program
    if program is None:
        raise UserError(f"{circuit.name} carries no program, so there is nothing to verify it against")
    declared = max_active if max_active is not None else circuit.meta.get("sparsity")
    if declared is not None and declared < 0:
        raise UserError(f"max active must be >= 0, got {declared}")
    s = circuit.n_inputs if declared is None else min(int(declared), circuit.n_inputs)
    show = progress if progress is not None else sys.stderr.isatty()
    table = _PatternTable.build(program, s)
    ledger = _Ledger(circuit, program, table)
    everything = np.arange(circuit.n_gates)
    if method == "exhaustive" or (method == "auto" and _count_inputs(circuit.n_inputs, s) <= EXHAUSTIVE_FIRST):
        _enumerate(circuit, table, s, everything, ledger, deadline, show)
    else:
        open_patterns = _bound(circuit, table, s, ledger, deadline)
        _search(circuit, s, open_patterns, ledger, deadline)
        if method == "auto" and (ledger.status == _UNKNOWN).any():
            _enumerate(circuit, table, s, np.flatnonzero(ledger.status == _UNKNOWN), ledger, deadline, show)
    return VerifyResult(circuit.name, None if declared is None else s, ledger.verdicts(),
                        time.monotonic() - start)


def _count_inputs(n_inputs: int, s: int) -> int:
    return sum(math.comb(n_inputs, j) for j in range(s + 1))


# --- the oracle: every gate on every pattern of its support -------------------------------------

@dataclass(frozen=True)
class _PatternTable:
    """Every pattern with at most s features on of every narrow gate's support,
    and the gate's value on it (from the interpreter's semantics, gate cone
    only): the oracle of enumeration, and the sets bounds and search split on.

    gate: (P,) int, sorted; on: (P, width) features on, padded with -1;
    mask: (P,) int64, bit i set when the i-th support feature is on;
    value: (P,) bool; keys: (P,) int64 sorted, gate << MAX_TABLE_SUPPORT | mask;
    narrow: (n_gates,) bool, the gates in the table; supports: sorted feature
    indices of every gate.
    """
    gate: np.ndarray
    on: np.ndarray
    mask: np.ndarray
    value: np.ndarray
    keys: np.ndarray
    narrow: np.ndarray
    supports: list[np.ndarray]

    @classmethod
    def build(cls, program: "Circuit", s: int) -> "_PatternTable":
        from compiler.ir import Lit
        from compiler.multilinear import count_patterns, evaluate_cone
        all_supports = program.supports()
        signals = program.gate_signals
        supports = [np.array(sorted(all_supports[signal]), dtype=np.int64) for signal in signals]
        narrow = np.array([k.size <= MAX_TABLE_SUPPORT and count_patterns(k.size, s) <= MAX_PATTERNS_PER_GATE
                           for k in supports], dtype=bool)
        width = min(s, max((supports[g].size for g in np.flatnonzero(narrow)), default=0))
        positions: dict[int, np.ndarray] = {}
        gates, ons, masks, values = [], [], [], []
        for g in np.flatnonzero(narrow):
            support = supports[g]
            if support.size not in positions:
                positions[support.size] = _position_patterns(support.size, min(s, support.size), width)
            pos = positions[support.size]
            on = np.append(support, -1)[pos]  # position -1 (padding) reads the -1 appended
            gates.append(np.full(len(pos), g))
            ons.append(on)
            masks.append((np.where(pos >= 0, 1 << np.maximum(pos, 0), 0)).sum(axis=1))
            patterns = [tuple(int(f) for f in row if f >= 0) for row in on]
            values.append(evaluate_cone(program, Lit(signals[g]), patterns))
        if not gates:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, np.zeros((0, width), np.int64), empty, np.zeros(0, bool), empty, narrow, supports)
        gate, mask = np.concatenate(gates), np.concatenate(masks).astype(np.int64)
        keys = (gate.astype(np.int64) << MAX_TABLE_SUPPORT) | mask
        order = np.argsort(keys, kind="stable")
        return cls(gate[order], np.concatenate(ons)[order], mask[order], np.concatenate(values)[order],
                   keys[order], narrow, supports)

    def lookup(self, gates: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """(n,) bool: the value of narrow gate gates[i] on the pattern masks[i]."""
        keys = (gates.astype(np.int64) << MAX_TABLE_SUPPORT) | masks.astype(np.int64)
        return self.value[np.searchsorted(self.keys, keys)]

    def incidence(self, targets: np.ndarray, n_inputs: int) -> sp.csr_matrix:
        """(T, n_inputs) float64: 2**i where the feature is the i-th of the gate's support."""
        sizes = [self.supports[g].size for g in targets]
        rows = np.repeat(np.arange(len(targets)), sizes)
        cols = np.concatenate([self.supports[g] for g in targets]) if len(targets) else np.zeros(0, np.int64)
        bits = np.concatenate([2.0 ** np.arange(k) for k in sizes]) if len(targets) else np.zeros(0)
        return sp.csr_matrix((bits, (rows, cols)), shape=(len(targets), n_inputs))


def _position_patterns(k: int, s: int, width: int) -> np.ndarray:
    """(n, width) every subset of range(k) with at most s elements, padded with -1."""
    rows = [c + (-1,) * (width - j) for j in range(s + 1) for c in itertools.combinations(range(k), j)]
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


# --- what is known so far ----------------------------------------------------------------------

_UNKNOWN, _PROVED, _COUNTEREXAMPLE = 0, 1, 2


class _Ledger:
    """Per gate: status, the method that settled it, its margin, its
    counterexample, and the worst pattern bounds seen (for unknowns)."""

    def __init__(self, circuit: CompiledCircuit, program: "Circuit", table: _PatternTable):
        self.circuit, self.program, self.table = circuit, program, table
        n = circuit.n_gates
        self.status = np.zeros(n, dtype=np.int8)
        self.method = [""] * n
        self.margin = np.full(n, np.nan)
        self.counterexample: dict[int, Counterexample] = {}
        self.worst_bound: dict[int, tuple[float, float, float, tuple[int, ...], bool | None]] = {}

    def prove(self, gates: np.ndarray, margins: np.ndarray, method: str) -> None:
        for g, margin in zip(gates.tolist(), margins.tolist()):
            if self.status[g] == _UNKNOWN:
                self.status[g], self.method[g], self.margin[g] = _PROVED, method, margin

    def note_bound(self, gate: int, margin: float, lower: float, upper: float, on: tuple[int, ...],
                   expected: bool | None) -> None:
        if gate not in self.worst_bound or margin < self.worst_bound[gate][0]:
            self.worst_bound[gate] = (margin, lower, upper, on, expected)

    def confirm(self, gates: np.ndarray, inputs: list[tuple[int, ...]], method: str) -> np.ndarray:
        """Run the circuit and the interpreter on inputs[i]; record a counterexample
        for gates[i] where they disagree. Returns (n,) the margins found."""
        from compiler.interpret import gate_values
        x = np.zeros((len(inputs), self.circuit.n_inputs), dtype=np.float32)
        for row, on in enumerate(inputs):
            x[row, list(on)] = 1.0
        rows = np.arange(len(inputs))
        readout = self.circuit.gate_values(x)[rows, gates]
        expected = gate_values(self.program, x)[rows, gates]
        margins = np.where(expected, readout - THRESHOLD, THRESHOLD - readout)
        for g, on, e, r, margin in zip(gates.tolist(), inputs, expected.tolist(), readout.tolist(), margins):
            if (r > THRESHOLD) != e and (self.status[g] != _COUNTEREXAMPLE or margin < self.margin[g]):
                self.status[g], self.method[g], self.margin[g] = _COUNTEREXAMPLE, method, float(margin)
                self.counterexample[g] = Counterexample(self._names(on), bool(e), float(r))
        return margins

    def _names(self, features: tuple[int, ...]) -> tuple[str, ...]:
        return tuple(self.circuit.input_names[f] for f in sorted(features))

    def verdicts(self) -> list[GateVerdict]:
        out = []
        for g, name in enumerate(self.circuit.gate_names):
            if self.status[g] == _PROVED:
                out.append(GateVerdict(name, "proved", self.method[g], float(self.margin[g])))
            elif self.status[g] == _COUNTEREXAMPLE:
                out.append(GateVerdict(name, "counterexample", self.method[g], float(self.margin[g]),
                                       self.counterexample[g]))
            elif g in self.worst_bound:
                _, lower, upper, on, expected = self.worst_bound[g]
                out.append(GateVerdict(name, "unknown", bounds=(lower, upper), pattern=self._names(on),
                                       expected=expected))
            else:
                out.append(GateVerdict(name, "unknown"))
        return out


# --- running the circuit on batches of sparse inputs --------------------------------------------

def _indicator(on: np.ndarray, n_inputs: int) -> sp.csc_matrix:
    """on: (B, j) features on, -1 for none -> x transposed, (n_inputs, B) float32 CSC."""
    keep = on >= 0
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    return sp.csc_matrix((np.ones(int(indptr[-1]), np.float32), on[keep], indptr), shape=(n_inputs, on.shape[0]))


def _forward(layers: list[Layer], x_t: sp.csc_matrix) -> list[np.ndarray | sp.spmatrix]:
    """[h_0 = x_t, h_1, ..., h_L], h_l: (width_l, B) float32. The first layer
    multiplies sparse by sparse: each column of x_t has only j ones."""
    hs: list[np.ndarray | sp.spmatrix] = [x_t]
    for layer in layers:
        z = layer.weight @ hs[-1]
        z = z.toarray() if sp.issparse(z) else np.asarray(z)
        z += layer.bias[:, None]
        hs.append(np.maximum(z, 0.0, out=z) if layer.relu else z)
    return hs


def _readout(blocks: list[sp.csr_matrix], bias: np.ndarray, hs: list[np.ndarray | sp.spmatrix]) -> np.ndarray:
    """(T, B) float32: the readout rows in `blocks` on the batch."""
    out: np.ndarray | None = None
    for block, h in zip(blocks, hs):
        if block.nnz:
            product = block @ h
            product = np.asarray(product.toarray() if sp.issparse(product) else product, dtype=np.float32)
            out = product if out is None else np.add(out, product, out=out)
    if out is None:
        out = np.zeros((len(bias), hs[0].shape[1]), dtype=np.float32)
    if bias.any():
        out += bias[:, None]
    return out


def _readout_rows(blocks: list[sp.csr_matrix], bias: np.ndarray, gates: np.ndarray,
                  hs: list[np.ndarray | sp.spmatrix]) -> np.ndarray:
    """(B,): the readout of gate gates[b] on input b."""
    out = bias[gates].astype(np.float64)
    for block, h in zip(blocks, hs):
        if block.nnz:
            out += np.asarray(block[gates].multiply(h.T).sum(axis=1)).ravel()
    return out


# --- method 1: enumerate every input --------------------------------------------------------------

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


def _batch_margins_from_table(out: np.ndarray, table: _PatternTable, targets: np.ndarray,
                              baseline: np.ndarray, incidence: sp.csr_matrix, x_t: sp.csc_matrix,
                              on: np.ndarray, worst: _WorstInputs) -> None:
    """Fold the batch's margins into `worst`. out: (T, B) readouts, clobbered.
    A gate keeps its baseline value (no support feature on) except where its
    support is touched: those few entries are looked up in the table."""
    touched = (incidence @ x_t).tocoo()
    rows, cols = touched.row, touched.col
    expected = table.lookup(targets[rows], touched.data.astype(np.int64))
    readout = out[rows, cols]
    worst.update(rows, np.where(expected, readout - THRESHOLD, THRESHOLD - readout), on[cols])
    flip = np.flatnonzero(baseline)
    out[flip] *= -1.0
    out[rows, cols] = -np.inf
    # margin = THRESHOLD - out on baseline-false rows, out - THRESHOLD = -(-out) - THRESHOLD on the others
    offset = np.where(baseline, -THRESHOLD, THRESHOLD)
    margins = offset - out.max(axis=1)
    better = np.flatnonzero(margins < worst.margin)
    if better.size:
        worst.update(better, margins[better], on[out[better].argmax(axis=1)])


def _batch_margins_from_interpreter(out: np.ndarray, program: "Circuit", targets: np.ndarray,
                                    x_t: sp.csc_matrix, on: np.ndarray, worst: _WorstInputs) -> None:
    """Fold the batch's margins into `worst`, with the interpreter as oracle."""
    from compiler.interpret import gate_values
    expected = gate_values(program, x_t.T.toarray())[:, targets].T
    margins = np.where(expected, out - THRESHOLD, THRESHOLD - out)
    columns = margins.argmin(axis=1)
    worst.update(np.arange(len(targets)), margins[np.arange(len(targets)), columns], on[columns])


@contextmanager
def _progress(total: int, description: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A callable that advances a rich progress bar (on stderr), or does nothing."""
    if not enabled or total < PROGRESS_MIN_INPUTS:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _enumerate(circuit: CompiledCircuit, table: _PatternTable, s: int, targets: np.ndarray, ledger: _Ledger,
               deadline: float, show_progress: bool) -> bool:
    """Run every input with at most s features on and settle every target gate;
    stop early (returning False, settling nothing) when the projected time
    runs past the deadline."""
    m = circuit.n_inputs
    total = _count_inputs(m, s)
    blocks = [block[targets] for block in circuit.gate_readout.blocks]
    bias = circuit.gate_readout.bias[targets]
    from_table = bool(table.narrow[targets].all())
    if from_table:
        incidence = table.incidence(targets, m)
        baseline = table.lookup(targets, np.zeros(len(targets), dtype=np.int64))
    worst = _WorstInputs(len(targets), s)
    batch = max(64, CELLS_PER_BATCH // (sum(circuit.widths[1:]) + len(targets)))
    start, done = time.monotonic(), 0
    with _progress(total, f"enumerating {total:,} inputs", show_progress) as advance:
        for on in _input_batches(m, s, batch):
            x_t = _indicator(on, m)
            out = _readout(blocks, bias, _forward(circuit.layers, x_t))
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
    wrong = worst.margin <= 0
    ledger.prove(targets[~wrong], worst.margin[~wrong], "exhaustive")
    if wrong.any():
        inputs = [tuple(int(f) for f in row if f >= 0) for row in worst.on[wrong]]
        margins = ledger.confirm(targets[wrong], inputs, "exhaustive")
        ledger.prove(targets[wrong], margins, "exhaustive")  # float rounding at exactly THRESHOLD
    return True


# --- method 2: bounds per support pattern ---------------------------------------------------------

@dataclass(frozen=True)
class _OpenPatterns:
    """Support patterns that bounds could not settle, one per row.

    gate: (K,); on: (K, width) the features on, padded with -1; expected: (K,)
    bool; margin: (K,) the bound's; free_on: (K,) how many other features may
    be on; candidates: (K, SEARCH_CANDIDATES) the free features whose bound
    coefficients push the readout hardest to the wrong side, most harmful
    first, padded with -1.
    """
    gate: np.ndarray
    on: np.ndarray
    expected: np.ndarray
    margin: np.ndarray
    free_on: np.ndarray
    candidates: np.ndarray


def _bound(circuit: CompiledCircuit, table: _PatternTable, s: int, ledger: _Ledger,
           deadline: float) -> _OpenPatterns:
    """Bound every gate on every pattern of its support; prove the gates whose
    every pattern stays clear of THRESHOLD. Gates without a table get one set,
    every input, so that their unknown verdicts carry bounds."""
    m = circuit.n_inputs
    wide = np.flatnonzero(~table.narrow)
    gates = np.concatenate([table.gate, wide]).astype(np.int64)
    on = np.concatenate([table.on, np.full((wide.size, table.on.shape[1]), -1, np.int64)])
    expected = np.concatenate([table.value.astype(np.int8), np.full(wide.size, -1, np.int8)])  # -1: varies
    max_fixed = max((table.supports[g].size for g in np.flatnonzero(table.narrow)), default=0)
    propagator = BoundPropagator(fold(circuit), max_fixed, s)
    chunk = max(1, CELLS_PER_BATCH // (4 * sum(propagator.net.widths)))
    n = len(gates)
    lower, upper, margins = np.full(n, np.nan), np.full(n, np.nan), np.full(n, -np.inf)
    free_on = s - (on >= 0).sum(axis=1)
    candidates = np.full((n, SEARCH_CANDIDATES), -1, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    for begin in range(0, n, chunk):
        sel = slice(begin, begin + chunk)
        e = expected[sel]
        sets = _pattern_sets(table, gates[sel], on[sel], e >= 0, s, m)
        bounds = propagator.readout_bounds(gates[sel], sets)
        lower[sel], upper[sel], done[sel] = bounds.lower, bounds.upper, True
        margins[sel] = np.where(e == 1, bounds.lower - THRESHOLD,
                                np.where(e == 0, THRESHOLD - bounds.upper, -np.inf))
        rows = np.flatnonzero((margins[sel] <= FLOAT_SLACK) & (e >= 0))
        push = np.where((e[rows] == 1)[:, None], bounds.lower_coef[rows], -bounds.upper_coef[rows])
        push[sets.fixed[rows]] = np.inf
        candidates[begin + rows] = _most_negative(push, SEARCH_CANDIDATES)
        if time.monotonic() > deadline:
            break
    worst = np.full(circuit.n_gates, np.inf)
    np.minimum.at(worst, gates, margins)
    proved = np.flatnonzero(worst > FLOAT_SLACK)
    ledger.prove(proved, worst[proved], "bounds")
    rows = np.flatnonzero(done & (margins <= FLOAT_SLACK))
    for r in rows:
        ledger.note_bound(int(gates[r]), float(margins[r]), float(lower[r]), float(upper[r]),
                          tuple(int(f) for f in on[r] if f >= 0), None if expected[r] < 0 else bool(expected[r]))
    rows = rows[expected[rows] >= 0]
    return _OpenPatterns(gates[rows], on[rows], expected[rows] == 1, margins[rows], free_on[rows], candidates[rows])


def _most_negative(values: np.ndarray, k: int) -> np.ndarray:
    """(n, k): per row, the columns of the k smallest finite values, smallest
    first, padded with -1."""
    k_here = min(k, values.shape[1])
    columns = np.argpartition(values, k_here - 1, axis=1)[:, :k_here] if k_here else values[:, :0].astype(int)
    columns = np.take_along_axis(columns, np.argsort(np.take_along_axis(values, columns, 1), 1, kind="stable"), 1)
    columns = np.where(np.isfinite(np.take_along_axis(values, columns, 1)), columns, -1)
    return np.pad(columns, ((0, 0), (0, k - k_here)), constant_values=-1)


def _pattern_sets(table: _PatternTable, gates: np.ndarray, on: np.ndarray, pinned: np.ndarray, s: int,
                  n_inputs: int) -> PatternSet:
    """The input sets of some patterns: their gate's support pinned (where
    `pinned`), at most s - |on| other features on."""
    n = len(gates)
    on_dense = np.zeros((n, n_inputs + 1), dtype=bool)
    on_dense[np.arange(n)[:, None], np.where(on >= 0, on, n_inputs)] = True
    fixed = np.zeros((n, n_inputs), dtype=bool)
    for i in np.flatnonzero(pinned):
        fixed[i, table.supports[gates[i]]] = True
    return PatternSet(on_dense[:, :n_inputs], fixed, s - (on >= 0).sum(axis=1))


# --- method 3: search for counterexamples -----------------------------------------------------

def _search(circuit: CompiledCircuit, s: int, open_patterns: _OpenPatterns, ledger: _Ledger,
            deadline: float) -> None:
    """Beam search over the open patterns, those closest to failing first;
    the wrong inputs found (the worst per gate) are confirmed and recorded.
    A gate with a find is not searched further."""
    depth = min(s, MAX_SEARCH_DEPTH)
    group = max(1, CELLS_PER_BATCH // (sum(circuit.widths) * BEAM_WIDTH * SEARCH_CANDIDATES))
    order = np.argsort(open_patterns.margin, kind="stable")
    found: dict[int, tuple[float, tuple[int, ...]]] = {}
    for begin in range(0, len(order), group):
        if time.monotonic() > deadline:
            break
        rows = order[begin:begin + group]
        rows = rows[[int(g) not in found for g in open_patterns.gate[rows]]]
        if not rows.size:
            continue
        margins, features = _beam_search(circuit, open_patterns, rows, depth)
        for row, margin, on in zip(rows, margins, features):
            gate = int(open_patterns.gate[row])
            if margin <= 0 and (gate not in found or margin < found[gate][0]):
                found[gate] = (float(margin), tuple(int(f) for f in on if f >= 0))
    gates = sorted(found)
    for begin in range(0, len(gates), CONFIRM_BATCH):
        batch = gates[begin:begin + CONFIRM_BATCH]
        ledger.confirm(np.array(batch), [found[g][1] for g in batch], "search")


def _beam_search(circuit: CompiledCircuit, open_patterns: _OpenPatterns, rows: np.ndarray, max_depth: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For the patterns in rows (K,): the smallest margin found and its input
    (K, width) padded with -1. A state is a set of candidate ranks, kept
    increasing so that each set is tried once; each step adds one candidate
    to each of the BEAM_WIDTH best states of the step before."""
    m = circuit.n_inputs
    k = len(rows)
    pinned, candidates = open_patterns.on[rows], open_patterns.candidates[rows]
    expected, gates = open_patterns.expected[rows], open_patterns.gate[rows]
    reach = np.minimum(open_patterns.free_on[rows], max_depth)
    best = np.full(k, np.inf)
    best_on = np.full((k, pinned.shape[1] + max_depth), -1, dtype=np.int64)
    owner, states = np.arange(k), np.zeros((k, 0), dtype=np.int64)  # depth 0: the pattern alone
    for depth in range(max_depth + 1):
        if depth:
            last = states[:, -1] if depth > 1 else np.full(len(owner), -1)
            ranks = np.arange(candidates.shape[1])
            ok = ((ranks[None, :] > last[:, None]) & (candidates[owner] >= 0)
                  & (depth <= reach[owner])[:, None])
            parent, rank = np.nonzero(ok)
            if not parent.size:
                break
            owner, states = owner[parent], np.concatenate([states[parent], rank[:, None]], axis=1)
        on = np.concatenate([pinned[owner], np.take_along_axis(candidates[owner], states, 1)], axis=1)
        hs = _forward(circuit.layers, _indicator(on, m))
        readout = _readout_rows(circuit.gate_readout.blocks, circuit.gate_readout.bias, gates[owner], hs)
        margins = np.where(expected[owner], readout - THRESHOLD, THRESHOLD - readout)
        order = np.lexsort((margins, owner))
        first = np.r_[True, owner[order][1:] != owner[order][:-1]]
        place = np.arange(order.size) - np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
        heads = order[first]
        better = margins[heads] < best[owner[heads]]
        best[owner[heads][better]] = margins[heads][better]
        best_on[owner[heads][better], :on.shape[1]] = on[heads][better]
        kept = order[place < BEAM_WIDTH]
        owner, states = owner[kept], states[kept]
    return best, best_on
