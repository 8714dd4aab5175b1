"""Resource limits of the compiler: a program or netlist larger than these is
refused with a clear error instead of exhausting memory. Each is a default:
raise it with the flag or keyword argument named beside it."""
from __future__ import annotations

# Signals (input elements and gates) a program may have after its loops are
# expanded, and that a netlist header may declare; also the most elements of
# one vector. 10^5-gate programs compile in about a minute, so a million is
# room to spare, while a typo such as range(1000000000) stops at once instead
# of growing memory without bound. Raise it: --max-gates N, or max_gates=N in
# compile_source / compile_file / load_circuit.
MAX_GATES = 1_000_000


def over_limit_message(what: str, max_gates: int) -> str:
    """The sentence for something larger than `max_gates` signals."""
    return (f"{what} more than {max_gates:,} gates, the limit (raise it with --max-gates N, "
            f"or max_gates=N in the Python API)")
