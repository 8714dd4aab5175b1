"""`verify`: the methods in order, within a time budget."""
from __future__ import annotations

import math
import sys
import time
from typing import Literal

import numpy as np

from superpose.compiler.multilinear import count_patterns
from superpose.errors import UserError
from superpose.network import CompiledCircuit
from superpose.runtime.bounds import BoundPropagator, fold
from superpose.runtime.verify.bounding import bound_patterns
from superpose.runtime.verify.branching import branch_and_bound
from superpose.runtime.verify.enumeration import enumerate_inputs
from superpose.runtime.verify.table import PatternTable
from superpose.runtime.verify.verdicts import UNKNOWN, Ledger, VerifyResult

Method = Literal["auto", "exhaustive", "bounds"]

EXHAUSTIVE_FIRST = 100_000      # input spaces this small are enumerated before anything else


def verify(circuit: CompiledCircuit, max_active: int | None = None, budget: float | None = None, *,
           method: Method = "auto", progress: bool | None = None) -> VerifyResult:
    """Verify every gate of `circuit` on the inputs with at most s features on.

    s: max_active, else circuit.meta.sparsity, else every input is allowed.
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
    declared = max_active if max_active is not None else circuit.meta.sparsity
    if declared is not None and declared < 0:
        raise UserError(f"max active must be >= 0, got {declared}")
    s = circuit.n_inputs if declared is None else min(int(declared), circuit.n_inputs)
    show = progress if progress is not None else sys.stderr.isatty()
    table = PatternTable.build(program, s)
    ledger = Ledger(circuit, program)
    everything = np.arange(circuit.n_gates)
    if method == "exhaustive" or (method == "auto" and count_patterns(circuit.n_inputs, s) <= EXHAUSTIVE_FIRST):
        enumerate_inputs(circuit, table, s, everything, ledger, deadline, show)
    else:
        max_fixed = max((table.supports[g].size for g in np.flatnonzero(table.narrow)), default=0)
        propagator = BoundPropagator(fold(circuit), max_fixed, s)
        open_sets = bound_patterns(circuit, table, s, propagator, ledger, deadline)
        branch_and_bound(circuit, table, s, propagator, open_sets, ledger, deadline)
        if method == "auto" and (ledger.status == UNKNOWN).any():
            enumerate_inputs(circuit, table, s, np.flatnonzero(ledger.status == UNKNOWN), ledger, deadline, show)
    return VerifyResult(circuit.name, None if declared is None else s, ledger.verdicts(),
                        time.monotonic() - start)
