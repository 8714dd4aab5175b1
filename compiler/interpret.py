"""The reference interpreter: the semantics of a Circuit, and the oracle every
backend is tested against. Evaluates every signal, vectorised over a batch."""
from __future__ import annotations

import numpy as np

from superpose.compiler.ir import Circuit, Lit, Op


def evaluate(circuit: Circuit, x: np.ndarray) -> np.ndarray:
    """Value of every signal.

    x: (batch, n_inputs) of 0/1 (any numeric or bool dtype).
    Returns (batch, n_signals) bool: the inputs, then one column per node.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != circuit.n_inputs:
        raise ValueError(f"expected inputs of shape (batch, {circuit.n_inputs}), got {x.shape}")
    values = np.zeros((x.shape[0], circuit.n_signals), dtype=bool)
    values[:, : circuit.n_inputs] = x != 0
    for i, node in enumerate(circuit.nodes):
        values[:, circuit.n_inputs + i] = node_value(node.op, node.k, node.operands, values)
    return values


def _literal(values: np.ndarray, lit: Lit) -> np.ndarray:
    column = values[:, lit.signal]
    return ~column if lit.negated else column


def node_value(op: Op, k: int, operands: tuple[Lit, ...], values: np.ndarray) -> np.ndarray:
    """(batch,) bool: one gate (op, k as in ir.Node) reading the columns of
    `values` (batch, n) that its operand literals name: the semantics of every op."""
    if op is Op.CONST:
        return np.full(values.shape[0], bool(k))
    if op is Op.BUF:
        return _literal(values, operands[0])
    count = np.zeros(values.shape[0], dtype=np.int64)
    for lit in operands:
        count += _literal(values, lit)
    if op is Op.AND:
        return count == len(operands)
    if op is Op.OR:
        return count > 0
    if op is Op.XOR:
        return count % 2 == 1
    if op is Op.ATLEAST:
        return count >= k
    raise ValueError(f"unknown op {op}")


def gate_values(circuit: Circuit, x: np.ndarray) -> np.ndarray:
    """(batch, n_gates) bool: the named gates, in `circuit.gate_names` order."""
    return evaluate(circuit, x)[:, circuit.gate_signals]


def output_values(circuit: Circuit, x: np.ndarray) -> np.ndarray:
    """(batch, n_outputs) bool, in `circuit.output_names` order."""
    values = evaluate(circuit, x)
    return np.stack([_literal(values, lit) for _, lit in circuit.outputs], axis=1) \
        if circuit.outputs else np.zeros((values.shape[0], 0), dtype=bool)
