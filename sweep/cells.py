"""One cell of a sweep: a program compiled with one set of options and one
seed, then measured. `run_cell` is the whole job of a worker (a local process
or a Ray task); its row is what `superpose compile` then `superpose report`
(and `superpose verify`) print for the same cell.

A cell's `key` hashes everything its row depends on: the program (label and
contents or generator parameters), the options, the seed, the measuring
settings and the code version (a hash of superpose's own source files), so a
resumed sweep can skip a cell whose key is already in its table.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from superpose.compiler.co_activity import DEFAULT_FILL
from superpose.compiler.pipeline import compile_circuit
from superpose.compiler.strategies import STRATEGIES
from superpose.errors import UserError
from superpose.runtime.report import error_report
from superpose.runtime.verify import verify
from superpose.sweep.programs import Program

OPTIONS = ("target_error", "width", "embed_dim", "embedding")  # the cell's fields that are strategies' options
SOURCE_FOLDERS = ("compiler", "runtime", "sweep")               # the package folders whose code decides a row
KEY_CHARS = 16                                                  # hex digits of a key kept: 64 bits


@dataclass(frozen=True)
class Measurement:
    """How every cell is measured (the same for a whole sweep, so rows compare)."""
    samples: int = 1000                      # stratified samples per gate (report --samples)
    confirm: int = 0                         # worst gates re-measured on 10x fresh samples (report --confirm)
    max_active: int | None = None            # features on at once (None: the program's sparsity)
    verify_budget_s: float | None = None     # verify with this budget in seconds (None: no verify)
    fill: str = DEFAULT_FILL                 # how the report fills the free active slots (report --fill)


@dataclass(frozen=True)
class Cell:
    """A point of the grid. `seed` drives the compile and the report's samples.
    An option (OPTIONS) the strategy does not take is None (the exact lowering
    takes none, paper-uand no target error); `embedding` is None without `embed_dim`."""
    program: Program
    strategy: str
    target_error: float | None
    width: int | None
    sparsity: int | None        # overrides the program's (compile --sparsity); None keeps it
    embed_dim: int | None
    embedding: str | None
    seed: int
    measurement: Measurement
    code_version: str

    @cached_property
    def key(self) -> str:
        """Hex hash of everything the cell's row depends on."""
        identity = {f.name: getattr(self, f.name) for f in fields(self)}
        identity.update(program=self.program.identity(), measurement=asdict(self.measurement))
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_CHARS]

    def describe(self) -> str:
        """One line naming the cell, for messages."""
        knobs = [f"{name} {value}" for name, value in (("target", self.target_error), ("width", self.width),
                                                        ("sparsity", self.sparsity), ("embed_dim", self.embed_dim))
                 if value is not None]
        return f"{self.program.label}, {self.strategy}{''.join(', ' + k for k in knobs)}, seed {self.seed}"


def make_cell(program: Program, strategy: str, target_error: float, width: int | None, sparsity: int | None,
              embed_dim: int | None, embedding: str, seed: int, measurement: Measurement) -> Cell:
    """A cell with the options its strategy does not take set to None, so that
    grid points differing only there are one cell; CompileError for an option
    value the strategy refuses (its options type's own message)."""
    takes = STRATEGIES[strategy].option_names
    given = {"target_error": target_error, "width": width, "embed_dim": embed_dim,
             "embedding": None if embed_dim is None else embedding}
    cell = Cell(program, strategy, sparsity=sparsity, seed=seed, measurement=measurement,
                code_version=code_version(), **{name: given[name] if name in takes else None for name in OPTIONS})
    STRATEGIES[strategy].options(**strategy_options(cell))
    return cell


def strategy_options(cell: Cell) -> dict[str, Any]:
    """The cell's options as keywords of compile_circuit (those it leaves None keep their defaults)."""
    return {name: getattr(cell, name) for name in OPTIONS if getattr(cell, name) is not None}


@cache
def code_version() -> str:
    """Hex hash of superpose's source files (the package root's own modules, such
    as network.py, and every .py and .lark file under SOURCE_FOLDERS), computed
    once per process: a row computed by other code is never taken for this code's."""
    root = Path(__file__).resolve().parents[1]  # the package root: the folder holding compiler/, runtime/, sweep/
    files = sorted(root.glob("*.py")) + sorted(path for folder in SOURCE_FOLDERS for pattern in ("*.py", "*.lark")
                                               for path in (root / folder).rglob(pattern))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:KEY_CHARS]


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: the cell's row, or the user error that stopped it."""
    key: str
    row: dict[str, Any] | None
    error: str | None = None


def run_cell(cell: Cell) -> Outcome:
    """Compile, report (and verify) one cell in this process. A UserError (a
    CompileError among them) becomes the Outcome's error; anything else is a
    bug and propagates."""
    if code_version() != cell.code_version:
        return Outcome(cell.key, None, f"this worker runs superpose code {code_version()}, the sweep "
                                       f"{cell.code_version}: install the same version everywhere")
    try:
        return Outcome(cell.key, measure_cell(cell))
    except UserError as error:
        return Outcome(cell.key, None, str(error))


def measure_cell(cell: Cell) -> dict[str, Any]:
    """The cell's row (table.COLUMNS): sizes, error summary and timings."""
    circuit = cell.program.circuit()
    started = time.perf_counter()
    compiled = compile_circuit(circuit, strategy=cell.strategy, seed=cell.seed, sparsity=cell.sparsity,
                               **strategy_options(cell))
    compiled_at = time.perf_counter()
    m = cell.measurement
    report = error_report(compiled, samples=m.samples, max_active=m.max_active, seed=cell.seed, confirm=m.confirm,
                          fill=m.fill)
    reported_at = time.perf_counter()
    summary = report.summary()
    row = {"key": cell.key, "program": cell.program.label, "strategy": cell.strategy,
           "target_error": cell.target_error, "width": cell.width, "sparsity": compiled.meta.sparsity,
           "embed_dim": cell.embed_dim, "embedding": cell.embedding, "seed": cell.seed, "samples": m.samples,
           "confirm": m.confirm, "max_active": report.max_active, "inputs": compiled.n_inputs,
           "gates": compiled.n_gates, "layers": len(compiled.layers), "neurons": compiled.n_neurons,
           "gates_per_neuron": summary["gates_per_neuron"], "features_per_dim": summary["features_per_dim"],
           "mean_error": summary["mean_error"], "p99_error": summary["p99_error"],
           "max_error": summary["max_error"], "compile_s": compiled_at - started,
           "report_s": reported_at - compiled_at, "verify_budget_s": m.verify_budget_s,
           "proved": None, "counterexamples": None, "unknown": None, "verify_s": None,
           "code_version": cell.code_version}
    if m.verify_budget_s is not None:
        result = verify(compiled, max_active=m.max_active, budget=m.verify_budget_s, progress=False)
        row.update(proved=result.counts["proved"], counterexamples=result.counts["counterexample"],
                   unknown=result.counts["unknown"], verify_s=time.perf_counter() - reported_at)
    return row
