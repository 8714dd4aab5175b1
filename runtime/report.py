"""Per-gate error of a compiled circuit on the stratified test distribution
(compiler/sampling.py), measured on the actual weights.

For every gate: false-positive rate (true readout on inputs where the gate is
false), false-negative rate, error = their mean (the misclassification rate on
the half-true, half-false distribution), mean absolute readout error, and the
smallest margin to THRESHOLD on the right side (negative: a wrong sample).

A gate that is constant on the allowed inputs (`g = a & b & c` with at most 2
features on) has no true (or no false) side to sample: it is marked
(`constant`), its unmeasurable rate is None (null in JSON), and its error is
the rate of the one side it has.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field, fields
from typing import Sequence, TextIO

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from superpose.compiler.co_activity import DEFAULT_FILL, FILLS
from superpose.compiler.sampling import StratifiedRates, program_gate_samples, stratified_rates
from superpose.errors import UserError
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.runtime.depth_report import LevelError, gate_levels, level_errors
from superpose.runtime.json_output import strict_json
from superpose.runtime.terminal import print_table

MAX_SAMPLES = 1_000_000  # samples per gate: a gate's samples are drawn at once, ~100 bytes each (and 10x that
# when confirmed), so more would exhaust memory; raise it with --max-samples or max_samples=


@dataclass
class GateError:
    """One gate's figures; a rate is None where the gate has no such side
    (`constant`: the value a gate constant on the allowed inputs takes)."""
    name: str
    false_positive_rate: float | None
    false_negative_rate: float | None
    error: float
    mean_abs_error: float
    min_margin: float
    samples: int
    mean_squared_error: float   # of the readout against 0/1: what CiS2's closed form predicts
    constant: int | None = None

    def describe_constant(self) -> str:
        return f"{self.name} ({'always' if self.constant else 'never'} true)"


@dataclass
class ErrorReport:
    """Per-gate figures, worst first in `worst()`, and the circuit's size."""
    circuit: str
    gates: list[GateError]
    samples_per_gate: int
    max_active: int | None
    n_neurons: int
    features_per_dim: float
    facts: dict = field(default_factory=dict)
    gate_levels: list[int] | None = None   # (len(gates),) level of every measured gate (depth_report.gate_levels)
    fill: str = DEFAULT_FILL               # how the free active slots were filled (compiler/co_activity.py)
    worst_case: list[dict] | None = None   # verify's worst counterexample per level, when asked (runtime/worst_case.py)
    circuit_gates: int | None = None       # the circuit's gate count when `gates` holds only a sample of them

    def errors(self) -> np.ndarray:
        return np.array([g.error for g in self.gates])

    def summary(self) -> dict:
        errors = self.errors()
        return {"gates": len(self.gates), "samples_per_gate": self.samples_per_gate,
                "mean_error": float(errors.mean()) if errors.size else 0.0,
                "p99_error": float(np.percentile(errors, 99)) if errors.size else 0.0,
                "max_error": float(errors.max(initial=0.0)),
                "gates_per_neuron": self.total_gates() / self.n_neurons if self.n_neurons else None,
                "features_per_dim": self.features_per_dim, "neurons": self.n_neurons,
                "constant_gates": sum(g.constant is not None for g in self.gates),
                **({} if self.circuit_gates is None else {"circuit_gates": self.circuit_gates})}

    def total_gates(self) -> int:
        """The circuit's gates, measured or not (a sampled report measures some)."""
        return len(self.gates) if self.circuit_gates is None else self.circuit_gates

    def worst(self, n: int | None = None) -> list[GateError]:
        ranked = sorted(self.gates, key=lambda g: (-g.error, g.min_margin, g.name))
        return ranked if n is None else ranked[:n]

    def levels(self) -> list[LevelError]:
        """Gate error per level, shallowest first (depth_report.level_errors)."""
        return level_errors(self.errors(), self.gate_levels, self.facts.get("levels", []),
                            np.array([g.mean_squared_error for g in self.gates]))

    def to_json(self) -> str:
        """Strict JSON (no NaN: what cannot be measured is null)."""
        return strict_json({"circuit": self.circuit, "max_active": self.max_active, "fill": self.fill,
                            "summary": self.summary(),
                            "facts": self.facts, "levels": [asdict(r) for r in self.levels()],
                            "worst_case": self.worst_case,
                            "gates": [asdict(g) for g in self.gates]})

    def __str__(self) -> str:
        s = self.summary()
        worst = self.worst(1)
        sampled = "" if self.circuit_gates is None else f" (sampled of {self.circuit_gates:,})"
        return (f"{self.circuit}: {s['gates']} gates{sampled}, {self.samples_per_gate} stratified samples each, max active "
                f"{self.max_active}; error mean {s['mean_error']:.4%}, p99 {s['p99_error']:.4%}, max "
                f"{s['max_error']:.4%}" + (f" ({worst[0].name})" if worst else "")
                + (f"; {s['constant_gates']} constant" if s["constant_gates"] else ""))

    def write_csv(self, stream: TextIO) -> None:
        writer = csv.DictWriter(stream, fieldnames=[f.name for f in fields(GateError)], lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(g) for g in self.gates)

    def render(self, console: Console, top: int = 15) -> None:
        confirmed = self.facts.get("confirmed_gates", 0)
        note = f"; the {confirmed} worst re-measured on {CONFIRM_FACTOR}x fresh samples" if confirmed else ""
        sampled = "" if self.circuit_gates is None else f" sampled of {self.circuit_gates:,}"
        table = Table(title=f"{self.circuit}: worst gates of {len(self.gates):,}{sampled} "
                            f"({self.samples_per_gate} stratified samples each{note}, max active {self.max_active}, "
                            f"{self.fill} fill)")
        table.add_column("samples", justify="right")
        for column in ("gate", "error", "false pos", "false neg", "mean |err|", "min margin"):
            table.add_column(column, justify="left" if column == "gate" else "right")
        rate = lambda value: "-" if value is None else f"{value:.4%}"
        for g in self.worst(top):
            table.add_row(str(g.samples), g.name if g.constant is None else g.describe_constant(), f"{g.error:.4%}",
                          rate(g.false_positive_rate), rate(g.false_negative_rate),
                          f"{g.mean_abs_error:.4f}", f"{g.min_margin:+.4f}")
        print_table(console, table)
        s = self.summary()
        per_neuron = "-" if s["gates_per_neuron"] is None else f"{s['gates_per_neuron']:.2f}"
        console.print(f"gate error: mean {s['mean_error']:.4%}, p99 {s['p99_error']:.4%}, max {s['max_error']:.4%}"
                      f" | gates per neuron {per_neuron} | features per dimension "
                      f"{s['features_per_dim']:.2f} | {s['neurons']} neurons")
        constant = [g.describe_constant() for g in self.gates if g.constant is not None]
        if constant:
            console.print(f"[yellow]constant with at most {self.max_active} features on[/] (no other side to "
                          f"sample, measured on the one they have): {', '.join(constant)}", highlight=False)


def gate_samples(circuit: CompiledCircuit, n_samples: int, max_active: int | None, seed: int,
                 gates: list[int] | None = None, fill: str = DEFAULT_FILL):
    """compiler.sampling.program_gate_samples on the circuit's program (batches
    of (gate indices, inputs CSR, wanted, owner))."""
    if circuit.program is None:
        raise UserError(f"{circuit.name}: the artifact carries no program, so there is no ground truth to measure")
    return program_gate_samples(circuit.program, n_samples, max_active, seed, gates, fill)


CONFIRM_FACTOR = 10  # re-measured gates get this many times the samples
CONFIRM_SEED_OFFSET = 1_000_003  # ... drawn from this seed plus the report's: fresh, not the samples that ranked them


def _measure(circuit: CompiledCircuit, samples: int, max_active: int | None, seed: int,
             gates: list[int] | None, bar: Progress, label: str, fill: str) -> dict[int, GateError]:
    task = bar.add_task(label, total=circuit.n_gates if gates is None else len(gates))
    results: dict[int, GateError] = {}
    for batch, inputs, wanted, owner in gate_samples(circuit, samples, max_active, seed, gates, fill):
        # a gate's samples are consecutive: each gate is read on its own samples only
        values = circuit.read_own(inputs, circuit.gate_readout.select(batch))
        rates = stratified_rates(values > THRESHOLD, wanted, owner, batch.size)
        values, wanted = values.reshape(batch.size, -1), wanted.reshape(batch.size, -1)
        for i, g in enumerate(batch):
            results[int(g)] = _gate_error(circuit.gate_names[g], values[i], wanted[i], rates, i)
        bar.advance(task, batch.size)
    return results


def error_report(circuit: CompiledCircuit, samples: int = 1000, max_active: int | None = None,
                 seed: int = 0, progress: bool = False, confirm: int = 0,
                 max_samples: int = MAX_SAMPLES, fill: str = DEFAULT_FILL,
                 gates: Sequence[int] | None = None) -> ErrorReport:
    """Measure every gate on `samples` stratified inputs (half true, half false).
    max_active defaults to the declared sparsity. The worst of many noisy
    estimates is biased upward (the worst gate is partly the unluckiest), so
    `confirm` > 0 re-measures that many worst gates on CONFIRM_FACTOR x
    `samples` fresh inputs (another seed) and keeps those figures. More than
    `max_samples` per gate is refused; max_active is capped at the number of
    inputs. `fill` says how a gate's other active inputs are drawn:
    "neighbourhood" (the default), each with probability 1/2 from the inputs
    that share a computation with its own, or "uniform" from all inputs
    (compiler/co_activity.py). `gates` (gate indices) measures only those, a
    sample of a circuit too large to measure whole: the report then lists them
    alone, in index order, and its summary counts the circuit's gates per
    neuron from all of them."""
    if samples < 2:
        raise UserError(f"samples must be at least 2, got {samples}")
    if samples > max_samples:
        raise UserError(f"--samples {samples:,}: at most {max_samples:,} samples per gate (they are drawn at once); "
                        f"raise the limit with --max-samples N (max_samples= in Python)")
    if fill not in FILLS:
        raise UserError(f"fill must be one of {', '.join(FILLS)}, got {fill!r}")
    if max_active is None:
        max_active = circuit.meta.sparsity
    if max_active is not None:
        max_active = min(int(max_active), circuit.n_inputs)
    measured = range(circuit.n_gates) if gates is None else _gate_sample(circuit, gates)
    with Progress(disable=not progress, transient=True) as bar:
        results = _measure(circuit, samples, max_active, seed, None if gates is None else list(measured), bar,
                           "measuring gates", fill)
        if confirm > 0:
            worst = sorted(results, key=lambda g: (-results[g].error, results[g].min_margin))[:confirm]
            results.update(_measure(circuit, samples * CONFIRM_FACTOR, max_active, seed + CONFIRM_SEED_OFFSET,
                                    sorted(worst), bar, "re-measuring the worst gates", fill))
    facts = dict(circuit.meta.to_json(), confirmed_gates=min(confirm, len(measured)))
    levels = gate_levels(circuit)
    return ErrorReport(circuit.name, [results[g] for g in measured], samples, max_active,
                       circuit.n_neurons, circuit.meta.features_per_dim, facts,
                       None if levels is None else [levels[g] for g in measured], fill,
                       circuit_gates=None if gates is None else circuit.n_gates)


def _gate_sample(circuit: CompiledCircuit, gates: Sequence[int]) -> list[int]:
    """The distinct gate indices of `gates`, sorted; a clear error for one out of range."""
    chosen = sorted({int(g) for g in gates})
    if not chosen:
        raise UserError("gates: measure at least one gate")
    if chosen[0] < 0 or chosen[-1] >= circuit.n_gates:
        bad = chosen[0] if chosen[0] < 0 else chosen[-1]
        raise UserError(f"gates: indices run from 0 to {circuit.n_gates - 1}, got {bad}")
    return chosen


def _gate_error(name: str, values: np.ndarray, wanted: np.ndarray, rates: StratifiedRates, i: int) -> GateError:
    """The figures of gate i of `rates` from its samples, values and wanted
    (n,); sampling puts every sample of a gate constant on the allowed inputs
    on the one side it has."""
    rate = lambda value: None if np.isnan(value) else float(value)
    false_pos, false_neg = rate(rates.false_positive[i]), rate(rates.false_negative[i])
    margin = np.where(wanted, values - THRESHOLD, THRESHOLD - values)
    constant = None if false_pos is not None and false_neg is not None else int(wanted[0])
    return GateError(name, false_pos, false_neg, float(rates.error[i]),
                     float(np.abs(values - wanted).mean()), float(margin.min()), int(values.size),
                     float(np.square(values - wanted).mean()), constant)
