"""What verification concludes: a verdict per gate, and the ledger that
collects them while the methods run (runtime/verify/verifier.py orders the methods)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from superpose.compiler.interpret import gate_values
from superpose.compiler.ir import Circuit
from superpose.network import THRESHOLD, CompiledCircuit

Status = Literal["proved", "counterexample", "unknown"]

CELLS_PER_BATCH = 1 << 23       # numbers per working array: sets every batch size of verification


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


UNKNOWN, PROVED, COUNTEREXAMPLE = 0, 1, 2


class Ledger:
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
            if self.status[g] == UNKNOWN:
                self.status[g], self.method[g], self.margin[g] = PROVED, method, margin

    def notebound_patterns(self, gate: int, margin: float, lower: float, upper: float, on: tuple[int, ...],
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
                if (r > THRESHOLD) != e and (self.status[g] != COUNTEREXAMPLE or margin < self.margin[g]):
                    self.status[g], self.method[g], self.margin[g] = COUNTEREXAMPLE, method, float(margin)
                    self.counterexample[g] = Counterexample(self._names(on), bool(e), float(r))
        return margins

    def _names(self, features: tuple[int, ...]) -> tuple[str, ...]:
        return tuple(self.circuit.input_names[f] for f in sorted(features))

    def verdicts(self) -> list[GateVerdict]:
        out = []
        for g, name in enumerate(self.circuit.gate_names):
            if self.status[g] == PROVED:
                out.append(GateVerdict(name, "proved", self.method[g], float(self.margin[g])))
            elif self.status[g] == COUNTEREXAMPLE:
                out.append(GateVerdict(name, "counterexample", self.method[g], float(self.margin[g]),
                                       self.counterexample[g]))
            elif g in self.worst_bound:
                _, lower, upper, on, expected = self.worst_bound[g]
                out.append(GateVerdict(name, "unknown", bounds=(lower, upper), pattern=self._names(on),
                                       expected=expected))
            else:
                out.append(GateVerdict(name, "unknown"))
        return out


def margin(readout: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Distance of the readout to THRESHOLD on the right side, negative when
    wrong: a readout of exactly THRESHOLD is false, so on the true side its 0
    becomes the tiniest negative number, and a tie at 0 surfaces the wrong one."""
    margin = np.where(expected, readout - THRESHOLD, THRESHOLD - readout)
    return true_side_zero(margin, expected)


def true_side_zero(margin: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.where(expected & (margin == 0), -np.finfo(margin.dtype).smallest_subnormal, margin)
