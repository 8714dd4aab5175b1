"""Fewer nodes and fewer levels, the same outputs.

Two rewrites, both exact:
  - buffers go: a reader of a BUF reads the BUF's operand instead (NOTs fold
    into the literal), so chains of inverters and buffers vanish;
  - a gate read by exactly one other gate, through a plain literal, merges into
    it when they are the same op (AND into AND, OR into OR), or through a
    negated literal when De Morgan makes them the same (NOT AND into OR, NOT OR
    into AND). Chains of 2-input ANDs (an AIGER's whole body) become wide ANDs,
    each merge saving a level.
Nodes that outputs read are never removed; gates no output depends on are.
Intermediate gate names therefore survive only where their gate does.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

from superpose.compiler.ir import Circuit, Lit, Op

DE_MORGAN = {Op.AND: Op.OR, Op.OR: Op.AND}  # NOT(AND(x)) = OR(NOT x), and back


def simplify(circuit: Circuit) -> Circuit:
    """An equivalent circuit: same inputs, outputs (names and values) and sparsity."""
    operands = _without_buffers(circuit)
    _merge_single_readers(circuit, operands)
    return _live_subcircuit(circuit, operands)


def _without_buffers(circuit: Circuit) -> dict[int, tuple[Lit, ...]]:
    """signal -> operands of every node kept, with BUFs (but those outputs read) bypassed."""
    pinned = {lit.signal for _, lit in circuit.outputs}
    alias: dict[int, Lit] = {}  # bypassed BUF -> the literal it stands for

    def resolve(lit: Lit) -> Lit:
        target = alias.get(lit.signal, Lit(lit.signal))
        return ~target if lit.negated else target

    operands: dict[int, tuple[Lit, ...]] = {}
    for signal, node in enumerate(circuit.nodes, circuit.n_inputs):
        resolved = tuple(resolve(lit) for lit in node.operands)
        if node.op is Op.BUF and signal not in pinned:
            alias[signal] = resolved[0]
        else:
            operands[signal] = resolved
    return operands


def _merge_single_readers(circuit: Circuit, operands: dict[int, tuple[Lit, ...]]) -> None:
    """Widen each AND/OR with the operands of same-op gates only it reads (in place).
    In topological order, so a merged gate has already absorbed its own chain."""
    pinned = {lit.signal for _, lit in circuit.outputs}
    readers = Counter(lit.signal for ops in operands.values() for lit in ops)
    for signal, ops in operands.items():
        op = circuit.nodes[signal - circuit.n_inputs].op
        if op not in DE_MORGAN:
            continue
        wide: list[Lit] = []
        for lit in ops:
            source = circuit.node_of(lit.signal)
            mergeable = (source is not None and lit.signal in operands and lit.signal not in pinned
                         and readers[lit.signal] == 1
                         and source.op is (DE_MORGAN[op] if lit.negated else op))
            if mergeable:
                wide += [~inner if lit.negated else inner for inner in operands[lit.signal]]
            else:
                wide.append(lit)
        operands[signal] = tuple(wide)


def _live_subcircuit(circuit: Circuit, operands: dict[int, tuple[Lit, ...]]) -> Circuit:
    """The kept nodes the outputs depend on, renumbered."""
    live: set[int] = set()
    stack = [lit.signal for _, lit in circuit.outputs]
    while stack:
        signal = stack.pop()
        if signal not in live and signal in operands:
            live.add(signal)
            stack += [lit.signal for lit in operands[signal]]
    kept = sorted(live)
    renumber = {signal: signal for signal in range(circuit.n_inputs)}
    renumber.update((signal, circuit.n_inputs + i) for i, signal in enumerate(kept))

    def moved(lit: Lit) -> Lit:
        return Lit(renumber[lit.signal], lit.negated)

    nodes = [replace(circuit.nodes[signal - circuit.n_inputs],
                     operands=tuple(moved(lit) for lit in operands[signal])) for signal in kept]
    outputs = [(name, moved(lit)) for name, lit in circuit.outputs]
    return Circuit(circuit.name, list(circuit.input_names), nodes, outputs, circuit.sparsity)
