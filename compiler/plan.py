"""Which lowering a program with a sparsity gets when the user names none.

Flattening (lower_superposed: every gate a polynomial of its input features,
one superposed layer) is the densest plan when gates depend on few inputs
(held-out circuits of 3 inputs, 8 levels: 8.4 gates per neuron at 0%), but a
gate's polynomial has one term per support pattern, and with many patterns
the hub neurons meet circuit-local co-activity they were not sized for
(circuits-T, 8 inputs per circuit at sparsity 4, 163 patterns per gate: 41%
worst error flattened). Beyond that the deep lowering computes level by level.
"""
from __future__ import annotations

from dataclasses import dataclass

from superpose.compiler.ir import Circuit
from superpose.compiler.multilinear import count_patterns

# every example program that flattens well has at most 93 support patterns per gate
# (programs/large.sbp; bigrams.sbp 79); circuits-T's 163 do not
FLATTEN_MAX_PATTERNS = 128


@dataclass(frozen=True)
class Plan:
    """The lowering chosen and a one-line reason for the user."""
    strategy: str  # "hub" (flattened), "deep", or "exact" (compile_circuit: flattened had more neurons)
    reason: str


def choose_plan(circuit: Circuit) -> Plan:
    """Flatten when every gate has at most FLATTEN_MAX_PATTERNS support patterns
    at the circuit's sparsity, else lower deep, level by level."""
    supports = circuit.supports()
    widest = max((len(supports[n]) for n in range(circuit.n_inputs, circuit.n_signals)), default=0)
    patterns = count_patterns(widest, circuit.sparsity)
    if patterns <= FLATTEN_MAX_PATTERNS:
        return Plan("hub", f"flattened: every gate depends on at most {widest} inputs ({patterns} support patterns "
                           f"at sparsity {circuit.sparsity}, limit {FLATTEN_MAX_PATTERNS})")
    depth = int(circuit.levels().max(initial=0))
    return Plan("deep", f"deep: a gate depends on {widest} inputs ({patterns} support patterns at sparsity "
                        f"{circuit.sparsity}, over the flattening limit {FLATTEN_MAX_PATTERNS}); one layer per "
                        f"level for {depth} levels, each superposed or exact by measurement")
