"""Named gates that are constant on every input the sparsity allows.

`g = a & b & c` under `sparsity 2` can never be true: the lowering compiles it
to nothing, and a report cannot sample a true case of it. The sparsity
analysis (sparsity.py) already evaluates every wire on each of its support
patterns of at most s features, so a wire true on none of them (or on all)
is constant there. Such gates are recorded in the artifact's
meta.constant_gates and named in a compile-time warning with their
position. Constants written as such (`g = 1`, an empty support) are meant:
they are not listed. Gates too wide for the analysis to enumerate are not
known, and not listed either.
"""
from __future__ import annotations

from superpose.compiler.ir import Circuit
from superpose.compiler.sparsity import SparsityReport


def constant_gates(circuit: Circuit, report: SparsityReport) -> list[dict]:
    """[{"gate", "value", "where"}] of every named gate with a nonempty support
    that is constant under report.max_active; "where" is file:line:column or None."""
    supports = circuit.supports()
    found = []
    for signal in circuit.gate_signals:
        value = int(report.constant[signal])
        if value >= 0 and supports[signal]:
            node = circuit.node_of(signal)
            found.append({"gate": node.name, "value": value, "where": None if node.loc is None else str(node.loc)})
    return found


def constant_gate_warnings(rows: list[dict], sparsity: int | None) -> list[str]:
    """One sentence per constant gate (rows as constant_gates returns them)."""
    return [f"{row['where'] + ': ' if row['where'] else ''}gate '{row['gate']}' is "
            f"{'always' if row['value'] else 'never'} true with at most {sparsity} inputs on: it compiles to "
            f"the constant {row['value']}, and a report can only measure its one side" for row in rows]
