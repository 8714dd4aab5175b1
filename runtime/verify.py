"""Verification: is every gate right on every input with at most s features on?

`verify` gives every gate a verdict:
  proved          right on every such input; `margin` is the worst distance of
                  its readout to THRESHOLD on the right side (exact after
                  enumeration, a guaranteed lower bound after bounds)
  counterexample  an input on which it is wrong, confirmed by running the
                  circuit and the reference interpreter
  unknown         the budget ran out first (or the gate's support has too many
                  patterns to split on); `bounds` are its readout's bounds on
                  the support pattern that came closest to failing

Methods, cheapest first:
  exhaustive  every input with <= s features on, in batches: an input with j
              features on makes the first pre-activation a bias plus j columns
  bounds      sound bounds (runtime/bounds.py) per pattern of the gate's own
              support, with at most s - |pattern| other features on
  branching   best-first branch and bound on the sets bounds leave open: each
              set's candidate counterexample (the free features its bound says
              hurt most) is run on the circuit, then the set is split on the
              most harmful free feature, on or off
"auto" enumerates small input spaces outright; otherwise it bounds, branches,
and enumerates for the gates still open if that fits in the budget.
"""
from __future__ import annotations

import heapq
import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from superpose.runtime.bounds import BoundPropagator, PatternSet, fold
from superpose.compiler.interpret import gate_values
from superpose.compiler.ir import Circuit, Lit
from superpose.compiler.multilinear import count_patterns, evaluate_cone
from superpose.errors import UserError
from superpose.network import THRESHOLD, CompiledCircuit, Layer

Status = Literal["proved", "counterexample", "unknown"]
Method = Literal["auto", "exhaustive", "bounds"]

EXHAUSTIVE_FIRST = 100_000      # input spaces this small are enumerated before anything else
MAX_PATTERNS_PER_GATE = 4096    # gates with more support patterns are left to enumeration
MAX_TABLE_SUPPORT = 40          # support bits that fit in a pattern key next to the gate index
CELLS_PER_BATCH = 1 << 23       # numbers per working array: sets every batch size
CONE_CELLS = 1 << 16            # per (sets x cone) array in bounds: small, as the cone is their union
FLOAT_SLACK = 1e-4              # bounds must clear THRESHOLD by this much: float32 rounding of the circuit
MAX_BRANCH_NODES = 2000         # sets branch and bound may split a gate into before giving up on it
PROGRESS_AFTER = 1.0            # seconds of enumeration before a progress bar appears
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

    method: what settled it: "exhaustive", "bounds", "branching", or "search"
            (a counterexample met while branching); "" when unknown.
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
    or "bounds" (bounds and branching, no enumeration).
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
    ledger = _Ledger(circuit, program)
    everything = np.arange(circuit.n_gates)
    if method == "exhaustive" or (method == "auto" and _count_inputs(circuit.n_inputs, s) <= EXHAUSTIVE_FIRST):
        _enumerate(circuit, table, s, everything, ledger, deadline, show)
    else:
        max_fixed = max((table.supports[g].size for g in np.flatnonzero(table.narrow)), default=0)
        propagator = BoundPropagator(fold(circuit), max_fixed, s)
        open_sets = _bound(circuit, table, s, propagator, ledger, deadline)
        _branch(circuit, table, s, propagator, open_sets, ledger, deadline)
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
    and the gate's value on it (compiler.multilinear.evaluate_cone: the
    interpreter's semantics on the gate's cone): the oracle of enumeration,
    and the sets that bounds and branching start from.

    gate: (P,) int, sorted; on: (P, width) features on, padded with -1;
    value: (P,) bool; keys: (P,) int64 sorted, gate << MAX_TABLE_SUPPORT | mask,
    where bit i of mask is set when the i-th support feature is on;
    narrow: (n_gates,) bool, the gates in the table; supports: sorted feature
    indices of every gate.
    """
    gate: np.ndarray
    on: np.ndarray
    value: np.ndarray
    keys: np.ndarray
    narrow: np.ndarray
    supports: list[np.ndarray]

    @classmethod
    def build(cls, program: Circuit, s: int) -> _PatternTable:
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
            return cls(empty, np.zeros((0, width), np.int64), np.zeros(0, bool), empty, narrow, supports)
        gate = np.concatenate(gates)
        keys = (gate.astype(np.int64) << MAX_TABLE_SUPPORT) | np.concatenate(masks).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        return cls(gate[order], np.concatenate(ons)[order], np.concatenate(values)[order], keys[order], narrow,
                   supports)

    def lookup(self, gates: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """(n,) bool: the value of narrow gate gates[i] on the pattern masks[i]."""
        keys = (gates.astype(np.int64) << MAX_TABLE_SUPPORT) | masks.astype(np.int64)
        return self.value[np.searchsorted(self.keys, keys)]

    def incidence(self, targets: np.ndarray, n_inputs: int) -> sp.csr_matrix:
        """(T, n_inputs) float64: 2**i where the feature is the i-th of the gate's support."""
        sizes = [self.supports[g].size for g in targets]
        cols = np.concatenate([self.supports[g] for g in targets] + [np.zeros(0, np.int64)])
        bits = np.concatenate([2.0 ** np.arange(k) for k in sizes] + [np.zeros(0)])
        return sp.csr_matrix((bits, (np.repeat(np.arange(len(targets)), sizes), cols)),
                             shape=(len(targets), n_inputs))


def _position_patterns(k: int, s: int, width: int) -> np.ndarray:
    """(n, width) every subset of range(k) with at most s elements, padded with -1."""
    rows = [c + (-1,) * (width - j) for j in range(s + 1) for c in itertools.combinations(range(k), j)]
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


# --- what is known so far ----------------------------------------------------------------------

_UNKNOWN, _PROVED, _COUNTEREXAMPLE = 0, 1, 2


class _Ledger:
    """Per gate: status, the method that settled it, its margin, its
    counterexample, and the worst pattern bounds seen (for unknowns)."""

    def __init__(self, circuit: CompiledCircuit, program: Circuit):
        self.circuit, self.program = circuit, program
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
        batch = max(1, CELLS_PER_BATCH // (sum(self.circuit.widths) + self.program.n_signals))
        margins = np.zeros(len(inputs))
        for begin in range(0, len(inputs), batch):
            chunk, rows = inputs[begin:begin + batch], np.arange(min(batch, len(inputs) - begin))
            x = np.zeros((len(chunk), self.circuit.n_inputs), dtype=np.float32)
            for row, on in enumerate(chunk):
                x[row, list(on)] = 1.0
            here = gates[begin:begin + batch]
            readout = self.circuit.gate_values(x)[rows, here]
            expected = gate_values(self.program, x)[rows, here]
            margins[begin:begin + batch] = np.where(expected, readout - THRESHOLD, THRESHOLD - readout)
            for g, on, e, r, margin in zip(here.tolist(), chunk, expected.tolist(), readout.tolist(),
                                           margins[begin:begin + batch]):
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
        hs.append(layer.apply_columns(hs[-1]))
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


def _margin(readout: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Distance of the readout to THRESHOLD on the right side, negative when
    wrong: a readout of exactly THRESHOLD is false, so on the true side its 0
    becomes the tiniest negative number, and a tie at 0 surfaces the wrong one."""
    margin = np.where(expected, readout - THRESHOLD, THRESHOLD - readout)
    return _true_side_zero(margin, expected)


def _true_side_zero(margin: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.where(expected & (margin == 0), -np.finfo(margin.dtype).smallest_subnormal, margin)


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
    worst.update(rows, _margin(out[rows, cols], expected), on[cols])
    flip = np.flatnonzero(baseline)
    out[flip] *= -1.0
    out[rows, cols] = -np.inf
    # margin = THRESHOLD - out on baseline-false rows, out - THRESHOLD = -(-out) - THRESHOLD on the others
    margins = _true_side_zero(np.where(baseline, -THRESHOLD, THRESHOLD) - out.max(axis=1), baseline)
    better = np.flatnonzero(margins < worst.margin)
    if better.size:
        worst.update(better, margins[better], on[out[better].argmax(axis=1)])


def _batch_margins_from_interpreter(out: np.ndarray, program: Circuit, targets: np.ndarray,
                                    x_t: sp.csc_matrix, on: np.ndarray, worst: _WorstInputs) -> None:
    """Fold the batch's margins into `worst`, with the interpreter as oracle."""
    expected = gate_values(program, x_t.T.toarray())[:, targets].T
    margins = _margin(out, expected)
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
    batch = max(64, CELLS_PER_BATCH // (sum(circuit.widths[1:]) + len(targets) + 1))
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
    wrong = worst.margin < 0
    ledger.prove(targets[~wrong], worst.margin[~wrong], "exhaustive")
    if wrong.any():
        inputs = [tuple(int(f) for f in row if f >= 0) for row in worst.on[wrong]]
        margins = ledger.confirm(targets[wrong], inputs, "exhaustive")
        ledger.prove(targets[wrong], margins, "exhaustive")  # float rounding at exactly THRESHOLD
    return True


# --- method 2: bounds per support pattern ---------------------------------------------------------

@dataclass(frozen=True)
class _Bounded:
    """What bounding some input sets found, one row per set: margin (K,) the
    bound's distance to THRESHOLD on the right side (proved when > FLOAT_SLACK);
    lower, upper (K,) the readout bounds; ranked (K, s) free features, those
    whose bound coefficients push the readout hardest to the wrong side first
    (-1 padded; all -1 when the set is a single input): the first is the one
    to branch on; `completion` (K, s) the ones that do push that way, up to
    free_on of them, which turned on give the set's candidate counterexample.
    cone_width: the inputs and neurons the readouts depend on (sizes batches)."""
    margin: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ranked: np.ndarray
    completion: np.ndarray
    cone_width: int


def _bound_sets(propagator: BoundPropagator, gates: np.ndarray, sets: PatternSet, expected: np.ndarray,
                s: int) -> _Bounded:
    """Bound the readout of gates[k] on set k; expected: (K,) int8, 1, 0, or -1 (varies)."""
    bounds = propagator.readout_bounds(gates, sets)
    margin = np.where(expected == 1, bounds.lower - THRESHOLD,
                      np.where(expected == 0, THRESHOLD - bounds.upper, -np.inf))
    push = np.where((expected == 1)[:, None], bounds.lower_coef, -bounds.upper_coef)
    push[sets.fixed[:, bounds.inputs].toarray()] = np.inf
    local = _most_negative(push, s)  # columns of push, that is, positions in bounds.inputs
    local[sets.free_on <= 0] = -1
    harmful = (local >= 0) & (np.take_along_axis(push, np.maximum(local, 0), 1) < 0)
    harmful &= np.arange(s)[None, :] < sets.free_on[:, None]
    ranked = np.where(local >= 0, bounds.inputs[np.maximum(local, 0)] if bounds.inputs.size else -1, -1)
    return _Bounded(margin, bounds.lower, bounds.upper, ranked, np.where(harmful, ranked, -1),
                    bounds.cone_width)


def _most_negative(values: np.ndarray, k: int) -> np.ndarray:
    """(n, k): per row, the columns of the k smallest finite values, smallest
    first, padded with -1."""
    k_here = min(k, values.shape[1])
    columns = np.argpartition(values, k_here - 1, axis=1)[:, :k_here] if k_here else values[:, :0].astype(int)
    columns = np.take_along_axis(columns, np.argsort(np.take_along_axis(values, columns, 1), 1, kind="stable"), 1)
    columns = np.where(np.isfinite(np.take_along_axis(values, columns, 1)), columns, -1)
    return np.pad(columns, ((0, 0), (0, k - k_here)), constant_values=-1)


class _Node(NamedTuple):
    """An input set left open: the gate's support pinned to a pattern, and
    free features pinned on (with the pattern's, in `on`) or off (`off`)."""
    gate: int
    on: tuple[int, ...]
    off: tuple[int, ...]
    expected: bool


@dataclass
class _Open:
    """The sets bounds could not settle, with their bounds, and per gate:
    complete (n_gates,) bool, every set of the gate bounded; closed_margin
    (n_gates,) the smallest margin among its settled sets."""
    nodes: list[_Node]
    bounded: _Bounded
    complete: np.ndarray
    closed_margin: np.ndarray


def _bound(circuit: CompiledCircuit, table: _PatternTable, s: int, propagator: BoundPropagator,
           ledger: _Ledger, deadline: float) -> _Open:
    """Bound every gate on every pattern of its support, in chunks; prove the
    gates whose every pattern stays clear of THRESHOLD. Gates without a table
    get one set, every input, so that their unknown verdicts carry bounds."""
    m = circuit.n_inputs
    wide = np.flatnonzero(~table.narrow)
    gates = np.concatenate([table.gate, wide]).astype(np.int64)
    on = np.concatenate([table.on, np.full((wide.size, table.on.shape[1]), -1, np.int64)])
    expected = np.concatenate([table.value.astype(np.int8), np.full(wide.size, -1, np.int8)])  # -1: varies
    n = len(gates)
    margin, lower, upper = np.full(n, -np.inf), np.full(n, np.nan), np.full(n, np.nan)
    ranked, completion = np.full((n, s), -1, dtype=np.int64), np.full((n, s), -1, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    begin, chunk = 0, _first_batch(propagator)
    while begin < n and (begin == 0 or time.monotonic() < deadline):
        sel = slice(begin, begin + chunk)
        sets = _pattern_sets(table, gates[sel], on[sel], expected[sel] >= 0, s, m)
        bounded = _bound_sets(propagator, gates[sel], sets, expected[sel], s)
        margin[sel], lower[sel], upper[sel] = bounded.margin, bounded.lower, bounded.upper
        ranked[sel], completion[sel] = bounded.ranked, bounded.completion
        done[sel] = True
        begin, chunk = begin + chunk, _next_batch(chunk, bounded.cone_width)
    worst = np.full(circuit.n_gates, np.inf)
    np.minimum.at(worst, gates, margin)
    proved = np.flatnonzero(worst > FLOAT_SLACK)
    ledger.prove(proved, worst[proved], "bounds")
    is_open = done & (margin <= FLOAT_SLACK)
    for r in np.flatnonzero(is_open):
        ledger.note_bound(int(gates[r]), float(margin[r]), float(lower[r]), float(upper[r]),
                          tuple(int(f) for f in on[r] if f >= 0), None if expected[r] < 0 else bool(expected[r]))
    complete = np.ones(circuit.n_gates, dtype=bool)
    complete[gates[~done | (expected < 0)]] = False
    closed_margin = np.full(circuit.n_gates, np.inf)
    np.minimum.at(closed_margin, gates[done & ~is_open], margin[done & ~is_open])
    rows = np.flatnonzero(is_open & (expected >= 0))
    nodes = [_Node(int(gates[r]), tuple(int(f) for f in on[r] if f >= 0), (), bool(expected[r])) for r in rows]
    return _Open(nodes, _Bounded(margin[rows], lower[rows], upper[rows], ranked[rows], completion[rows], 0),
                 complete, closed_margin)


def _first_batch(propagator: BoundPropagator) -> int:
    """Sets per batch when every set may see the whole network."""
    return max(1, CELLS_PER_BATCH // (4 * sum(propagator.net.widths)))


def _next_batch(size: int, cone_width: int) -> int:
    """The next batch size, aiming at CONE_CELLS numbers per (sets x cone)
    array; growing at most 4x at a time, since a cone widens as a batch takes
    in more gates."""
    factor = CONE_CELLS / (size * (cone_width + 1))
    return max(1, int(size * (min(4.0, math.sqrt(factor)) if factor > 1 else factor)))


def _pattern_sets(table: _PatternTable, gates: np.ndarray, on: np.ndarray, pinned: np.ndarray, s: int,
                  n_inputs: int) -> PatternSet:
    """The input sets of some patterns: their gate's support pinned (where
    `pinned`), at most s - |on| other features on. on: (K, width), -1 padded."""
    supports = [table.supports[g] if p else np.zeros(0, np.int64) for g, p in zip(gates, pinned)]
    return PatternSet(_rows(on[on >= 0], (on >= 0).sum(axis=1), n_inputs),
                      _rows(np.concatenate(supports + [np.zeros(0, np.int64)]), [len(f) for f in supports],
                            n_inputs),
                      s - (on >= 0).sum(axis=1))


def _node_sets(nodes: list[_Node], table: _PatternTable, s: int, n_inputs: int) -> PatternSet:
    fixed = [np.concatenate([table.supports[node.gate], node.on, node.off]).astype(np.int64) for node in nodes]
    on_counts = np.array([len(node.on) for node in nodes])
    return PatternSet(_rows(np.array([f for node in nodes for f in node.on], dtype=np.int64), on_counts, n_inputs),
                      _rows(np.concatenate(fixed), [len(f) for f in fixed], n_inputs), s - on_counts)


def _rows(features: np.ndarray, counts: list[int] | np.ndarray, n_inputs: int) -> sp.csr_matrix:
    """(len(counts), n_inputs) 0/1 CSR; row i has the next counts[i] features on (repeats allowed)."""
    indptr = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    return sp.csr_matrix((np.ones(features.size, dtype=bool), features, indptr), shape=(len(counts), n_inputs))


# --- method 3: branch and bound, and the counterexamples on the way ---------------------------------

def _branch(circuit: CompiledCircuit, table: _PatternTable, s: int, propagator: BoundPropagator,
            start: _Open, ledger: _Ledger, deadline: float) -> None:
    """Best-first branch and bound over the open sets (as in alpha-beta-CROWN):
    try each set's candidate counterexample (its pinned features plus the free
    ones its bound says hurt most), then split it on the most harmful free
    feature, on or off, and bound both halves. A gate is proved ("branching")
    when all its sets are settled, refuted ("search") when a candidate is
    wrong on the circuit and the interpreter; a gate that needs more than
    MAX_BRANCH_NODES sets is left unknown."""
    m, n_gates = circuit.n_inputs, circuit.n_gates
    found: dict[int, tuple[float, tuple[int, ...]]] = {}  # gate -> (margin, input) of its worst find
    closed = start.closed_margin.copy()  # per gate, the smallest margin of its settled sets
    open_sets, spent = np.zeros(n_gates, dtype=np.int64), np.zeros(n_gates, dtype=np.int64)
    had_open, abandoned = np.zeros(n_gates, dtype=bool), np.zeros(n_gates, dtype=bool)
    had_open[[node.gate for node in start.nodes]] = True
    heap: list[tuple[float, int, _Node, int]] = []  # (bound margin, ticket, set, feature to split on)
    ticket = itertools.count()  # among equal margins: first come, first served
    batch = _first_batch(propagator)  # sets bounded per round
    nodes, bounded = start.nodes, start.bounded
    while True:
        tried = _try_candidates(circuit, nodes, bounded.completion, s)
        for i, node in enumerate(nodes):
            g, split = node.gate, int(bounded.ranked[i, 0])
            wrong = tried[i] < 0
            if wrong and (g not in found or tried[i] < found[g][0]):
                found[g] = (float(tried[i]), node.on + _features(bounded.completion[i]))
            if bounded.margin[i] > FLOAT_SLACK or (split < 0 and not wrong):  # split < 0: a single input
                closed[g] = min(closed[g], bounded.margin[i] if bounded.margin[i] > FLOAT_SLACK else tried[i])
            else:
                open_sets[g] += 1
                heapq.heappush(heap, (float(bounded.margin[i]), next(ticket), node, split))
        nodes = []
        while heap and len(nodes) < batch and time.monotonic() < deadline:
            _, _, node, split = heapq.heappop(heap)
            open_sets[node.gate] -= 1
            abandoned[node.gate] |= spent[node.gate] >= MAX_BRANCH_NODES
            if node.gate in found or abandoned[node.gate] or split < 0:
                continue
            spent[node.gate] += 2
            nodes += [node._replace(on=node.on + (split,)), node._replace(off=node.off + (split,))]
        if not nodes:
            break
        gates = np.array([node.gate for node in nodes])
        expected = np.array([node.expected for node in nodes], dtype=np.int8)
        bounded = _bound_sets(propagator, gates, _node_sets(nodes, table, s, m), expected, s)
        batch = max(2, _next_batch(len(nodes), bounded.cone_width))
    settled = [g for g in np.flatnonzero(had_open & start.complete & (open_sets == 0) & ~abandoned)
               if g not in found]
    ledger.prove(np.array(settled, dtype=np.int64), closed[settled], "branching")
    gates = sorted(found)
    ledger.confirm(np.array(gates, dtype=np.int64), [found[g][1] for g in gates], "search")


def _features(padded: np.ndarray) -> tuple[int, ...]:
    return tuple(int(f) for f in padded if f >= 0)


def _try_candidates(circuit: CompiledCircuit, nodes: list[_Node], completion: np.ndarray, s: int) -> np.ndarray:
    """(K,) the margin of each set's candidate counterexample on the circuit."""
    if not nodes:
        return np.zeros(0)
    on = np.full((len(nodes), s), -1, dtype=np.int64)
    for i, node in enumerate(nodes):
        chosen = node.on + _features(completion[i])
        on[i, :len(chosen)] = chosen
    gates = np.array([node.gate for node in nodes])
    hs = _forward(circuit.layers, _indicator(on, circuit.n_inputs))
    readout = _readout_rows(circuit.gate_readout.blocks, circuit.gate_readout.bias, gates, hs)
    expected = np.array([node.expected for node in nodes])
    return _margin(readout, expected)
