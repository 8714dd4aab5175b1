"""The worst case next to the sampled figures: `superpose report --worst-case`.

A report samples; for fixed weights the interference is systematic, so the
worst input of a gate can be rarer than any sample. This runs verify's search
(runtime/verify: enumeration, sound bounds, branch and bound, within a time
budget) over every gate, and keeps, for each level of the report (and
overall), the counterexample the furthest on the wrong side of THRESHOLD:
the gate, the input set, its readout against the expected value, with how
many gates of the level have a counterexample, were proved, or stayed
unknown when the budget ran out.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from rich.console import Console
from rich.table import Table

from superpose.network import CompiledCircuit
from superpose.runtime.terminal import print_table
from superpose.runtime.verify import verify
from superpose.runtime.verify.verdicts import GateVerdict

OVERALL = "all"  # the level label of the row over every gate


@dataclass
class WorstCase:
    """One level's (or all gates') verdict counts and its worst counterexample
    (None fields when verify found none there)."""
    level: int | str
    gates: int
    counterexamples: int
    proved: int
    unknown: int
    gate: str | None = None
    on: tuple[str, ...] | None = None
    readout: float | None = None
    expected: bool | None = None
    margin: float | None = None          # the readout's distance to THRESHOLD on the right side (< 0: wrong)
    sampled_error: float | None = None   # that gate's error in the report


def _row(level: int | str, verdicts: list[GateVerdict], sampled: dict[str, float]) -> WorstCase:
    """The counts of `verdicts` and the one counterexample with the lowest margin."""
    found = [v for v in verdicts if v.counterexample is not None]
    row = WorstCase(level, len(verdicts), len(found), sum(v.status == "proved" for v in verdicts),
                    sum(v.status == "unknown" for v in verdicts))
    if found:
        worst = min(found, key=lambda v: (v.margin, v.gate))
        row.gate, row.on = worst.gate, worst.counterexample.on
        row.readout, row.expected = worst.counterexample.readout, worst.counterexample.expected
        row.margin, row.sampled_error = worst.margin, sampled.get(worst.gate)
    return row


def worst_cases(circuit: CompiledCircuit, levels: list[int] | None, max_active: int | None,
                budget: float | None, sampled: dict[str, float]) -> list[WorstCase]:
    """Verify every gate (inputs with at most max_active features on, within
    `budget` seconds) and summarise: one row per level of `levels` ((n_gates,)
    the report's level of every gate; None: no per-level rows), then the row
    over all gates. `sampled`: gate name -> its error in the report."""
    verdicts = verify(circuit, max_active=max_active, budget=budget, progress=False).gates
    rows = []
    if levels:
        for level in sorted(set(levels)):
            rows.append(_row(level, [v for v, at in zip(verdicts, levels) if at == level], sampled))
    rows.append(_row(OVERALL, verdicts, sampled))
    return rows


def worst_cases_json(rows: list[WorstCase]) -> list[dict]:
    return [asdict(r) for r in rows]


def render_worst_cases(rows: list[WorstCase], console: Console, budget: float | None) -> None:
    """The worst-case table, one row per level and one over all gates."""
    limit = "no time limit" if budget is None else f"budget {budget:g} s"
    table = Table(title=f"worst case found by verify's search ({limit}): per level, the counterexample "
                        f"furthest on the wrong side")
    for column in ("level", "gates", "counterexamples", "proved", "unknown", "worst gate", "input on",
                   "readout", "expected", "sampled error"):
        table.add_column(column, justify="left" if column in ("worst gate", "input on") else "right")
    for r in rows:
        found = r.gate is not None
        table.add_row(str(r.level), f"{r.gates:,}", f"{r.counterexamples:,}", f"{r.proved:,}", f"{r.unknown:,}",
                      r.gate if found else "-", (", ".join(r.on) or "nothing") if found else "-",
                      f"{r.readout:.4f}" if found else "-", str(int(r.expected)) if found else "-",
                      f"{r.sampled_error:.4%}" if found and r.sampled_error is not None else "-")
    print_table(console, table)
