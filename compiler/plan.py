"""Which lowering a program with a sparsity gets when the user names none.

Flattening (lower_superposed: every gate a polynomial of its input features,
one superposed layer) is the densest plan when gates depend on few inputs
(held-out circuits of 3 inputs, 8 levels: 8.4 gates per neuron at 0%). A
gate's polynomial has one term per support pattern, so the flattened layer
grows with them, while the deep lowering computes level by level. Between
FLATTEN_MAX_PATTERNS and TRY_FLATTEN_MAX_PATTERNS neither is known to win
(circuits-T, 8 inputs per circuit at sparsity 4, 163 patterns per gate: the
flattened layer, its hub packing confirmed under both fills, has 2.08 gates
per neuron at T = 2,000 and no sampled gate wrong, the deep lowering 1.50;
BENCHMARKS.md, `## deep`), so both are compiled and the one with fewer
neurons is kept (compiler.pipeline). Beyond it only the deep lowering is
tried: a flattened layer of thousands of terms per gate is not worth
building.
"""
from __future__ import annotations

from dataclasses import dataclass

from superpose.compiler.ir import Circuit
from superpose.compiler.multilinear import count_patterns

# every example program that flattens well has at most 93 support patterns per gate
# (programs/large.sbp; bigrams.sbp 79)
FLATTEN_MAX_PATTERNS = 128
# up to here the flattened layer is compiled beside the deep lowering (circuits-T: 163; 9 inputs at sparsity 4: 256)
TRY_FLATTEN_MAX_PATTERNS = 256


@dataclass(frozen=True)
class Plan:
    """The lowering chosen and a one-line reason for the user."""
    strategy: str  # "hub" (flattened), "deep", or "exact" (compile_circuit: flattened had more neurons)
    reason: str
    try_flattened: bool = False  # "deep": compile the flattened layer too and keep the smaller (compile_circuit)


def choose_plan(circuit: Circuit) -> Plan:
    """Flatten when every gate has at most FLATTEN_MAX_PATTERNS support patterns
    at the circuit's sparsity, else lower deep, level by level (and flattened
    too, to keep the smaller, up to TRY_FLATTEN_MAX_PATTERNS)."""
    supports = circuit.supports()
    widest = max((len(supports[n]) for n in range(circuit.n_inputs, circuit.n_signals)), default=0)
    patterns = count_patterns(widest, circuit.sparsity)
    if patterns <= FLATTEN_MAX_PATTERNS:
        return Plan("hub", f"flattened: every gate depends on at most {widest} inputs ({patterns} support patterns "
                           f"at sparsity {circuit.sparsity}, limit {FLATTEN_MAX_PATTERNS})")
    depth = int(circuit.levels().max(initial=0))
    return Plan("deep", f"deep: a gate depends on {widest} inputs ({patterns} support patterns at sparsity "
                        f"{circuit.sparsity}, over the flattening limit {FLATTEN_MAX_PATTERNS}); one layer per "
                        f"level for {depth} levels, each superposed or exact by measurement",
                patterns <= TRY_FLATTEN_MAX_PATTERNS)
