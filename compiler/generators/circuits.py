"""circuits-T: T independent small circuits, each deep.

Each circuit owns `inputs` input features of its own (x[t*inputs] ..
x[t*inputs + inputs - 1] for circuit t) and has `levels` levels of `width`
wires. A level-1 wire is a gate over two of the circuit's inputs; a deeper
wire is a gate over two wires of the level before, of the same circuit. Gates
are AND (a & b), AND-NOT (a & !b) and OR (a | b), drawn uniformly. Every gate
is non-constant under the sparsity: some pattern of at most `sparsity` of its
circuit's inputs makes it true (with no input on every gate is false, so none
is constant true); a drawn gate that is constant false is drawn again.

With sparsity s, at most s circuits are active at once, so every level's
wires stay sparse: the setting where carrying values in superposition should pay.
bench/gen_circuits.py writes one as a program.

Gate names: c{t}_{level}_{j}; the outputs are every circuit's last level.
"""
from __future__ import annotations

import numpy as np

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.multilinear import sparse_patterns

GATE_KINDS = ("and", "and_not", "or")  # drawn uniformly
MAX_DRAWS = 1000                        # draws of one gate before the circuit's shape is declared impossible


def pattern_matrix(n: int, sparsity: int) -> np.ndarray:
    """(n_patterns, n) bool: every pattern of at most `sparsity` of n inputs on, smallest first."""
    patterns = sparse_patterns(list(range(n)), sparsity)
    rows = np.zeros((len(patterns), n), dtype=bool)
    for row, on in zip(rows, patterns):
        row[list(on)] = True
    return rows


def _draw_gate(values: np.ndarray, rng: np.random.Generator) -> tuple[str, int, int, np.ndarray]:
    """One non-constant gate over two of `values`' columns ((n_patterns, n_wires) bool):
    (kind, a, b, its values (n_patterns,))."""
    for _ in range(MAX_DRAWS):
        kind = GATE_KINDS[int(rng.integers(len(GATE_KINDS)))]
        a, b = (int(i) for i in rng.choice(values.shape[1], size=2, replace=False))
        out = {"and": values[:, a] & values[:, b], "and_not": values[:, a] & ~values[:, b],
               "or": values[:, a] | values[:, b]}[kind]
        if out.any():
            return kind, a, b, out
    raise CompileError("no non-constant gate found: the circuit's wires are (almost) all constant")


def circuits_circuit(n_circuits: int, levels: int = 8, width: int = 4, inputs: int = 8, sparsity: int = 4,
                     seed: int = 0) -> Circuit:
    """The circuits-T program as an IR circuit; outputs are every circuit's last level."""
    if inputs < 2 or width < 2:
        raise CompileError(f"every gate reads two wires of the level before: inputs and width must be at least 2, "
                           f"got inputs {inputs}, width {width}")
    rng = np.random.default_rng(seed)
    patterns = pattern_matrix(inputs, sparsity)
    circuit = Circuit(f"circuits_{n_circuits}", [f"x[{i}]" for i in range(n_circuits * inputs)],
                      sparsity=sparsity)
    for t in range(n_circuits):
        signals = [t * inputs + i for i in range(inputs)]
        values = patterns
        for level in range(1, levels + 1):
            level_signals, level_values = [], []
            for j in range(width):
                kind, a, b, out = _draw_gate(values, rng)
                operands = (Lit(signals[a]), Lit(signals[b], negated=kind == "and_not"))
                op = Op.OR if kind == "or" else Op.AND
                circuit.nodes.append(Node(op, operands, name=f"c{t}_{level}_{j}"))
                level_signals.append(circuit.n_signals - 1)
                level_values.append(out)
            signals, values = level_signals, np.stack(level_values, axis=1)
        circuit.outputs += [(circuit.nodes[s - circuit.n_inputs].name, Lit(s)) for s in signals]
    circuit.validate()
    return circuit
