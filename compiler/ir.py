"""The circuit IR: a DAG of boolean gates over numbered signals.

Every front end (the DSL, the netlist importers) produces a `Circuit`; every
back end (the interpreter, the exact and superposed lowerings) consumes one.

Signals are numbered: 0 .. n_inputs-1 are the inputs, then one signal per
`Node`, in topological order (a node only reads signals numbered below its own).
A `Lit` is a signal, possibly negated: NOT never becomes a node of its own, it
is folded into the literal that reads it.

What each pass adds (as tracr's nodes.py says for its graph). A Circuit is
never changed after the front end; every later pass computes its own view:
  parse + check (or a netlist importer, then netlists/simplify)
                      -> Circuit: inputs, nodes in topological order, names,
                         outputs, sparsity; validate() checks the invariants
  compile_circuit(sparsity=s)
                      -> a copy with another sparsity (the caller's is kept)
  levels()            -> (n_signals,) depth of every signal (inputs and constants 0)
  supports()          -> the input features each signal depends on
  resolve_buffers()   -> the non-BUF literal every signal equals
  sparsity.analyse_sparsity
                      -> per level, how many wires can be on at once
  multilinear.polynomials_of
                      -> every signal as a polynomial of its support, truncated to degree s
  sampling.sample_gate
                      -> the stratified test inputs of a gate
  a lowering (strategies.py)
                      -> network.CompiledCircuit: layers, readouts, and
                         metadata.CircuitMeta (what the lowering decided and
                         measured); the Circuit rides along as its `program`
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class Op(str, Enum):
    AND = "and"          # all operands true
    OR = "or"            # any operand true
    XOR = "xor"          # odd number of operands true
    ATLEAST = "atleast"  # at least k operands true
    BUF = "buf"          # exactly one operand: an alias (a named NOT is a BUF of a negated Lit)
    CONST = "const"      # no operands; value is k (0 or 1)


@dataclass(frozen=True, order=True)
class Lit:
    """A signal read directly (negated=False) or through a NOT (negated=True)."""
    signal: int
    negated: bool = False

    def __invert__(self) -> "Lit":
        return Lit(self.signal, not self.negated)


@dataclass(frozen=True)
class Loc:
    """A position in a source file, 1-based, for error messages."""
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Node:
    """One gate. `name` is set for named gates (assignments, netlist gates) and
    None for anonymous sub-expressions. `k` is the threshold of ATLEAST and the
    value of CONST; unused otherwise."""
    op: Op
    operands: tuple[Lit, ...]
    k: int = 0
    name: str | None = None
    loc: Loc | None = None


@dataclass
class Circuit:
    """A boolean program: inputs, gates in topological order, outputs.

    outputs: (name, Lit) pairs; the name is what the user asked for (a gate
    name, an input name, or a vector element such as 'pair[3]').
    sparsity: at most this many inputs are on at once (None: any input allowed).
    """
    name: str
    input_names: list[str]
    nodes: list[Node] = field(default_factory=list)
    outputs: list[tuple[str, Lit]] = field(default_factory=list)
    sparsity: int | None = None

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    @property
    def n_signals(self) -> int:
        return self.n_inputs + len(self.nodes)

    def node_of(self, signal: int) -> Node | None:
        """The node computing `signal`, or None for an input."""
        return None if signal < self.n_inputs else self.nodes[signal - self.n_inputs]

    @property
    def gate_signals(self) -> list[int]:
        """Signals of the named gates, in definition order."""
        return [self.n_inputs + i for i, n in enumerate(self.nodes) if n.name is not None]

    @property
    def gate_names(self) -> list[str]:
        return [n.name for n in self.nodes if n.name is not None]

    @property
    def output_names(self) -> list[str]:
        return [name for name, _ in self.outputs]

    def validate(self) -> None:
        """Check the structural invariants every pass relies on."""
        for i, node in enumerate(self.nodes):
            signal = self.n_inputs + i
            for lit in node.operands:
                if not 0 <= lit.signal < signal:
                    raise ValueError(f"node {signal} reads signal {lit.signal}: not topological")
            if node.op is Op.BUF and len(node.operands) != 1:
                raise ValueError(f"BUF node {signal} needs exactly one operand")
            if node.op is Op.CONST and (node.operands or node.k not in (0, 1)):
                raise ValueError(f"CONST node {signal} must have no operands and k in {{0, 1}}")
            if node.op is Op.ATLEAST and not 1 <= node.k <= len(node.operands):
                raise ValueError(f"ATLEAST node {signal} has k={node.k} for {len(node.operands)} operands")
            if node.op in (Op.AND, Op.OR, Op.XOR) and not node.operands:
                raise ValueError(f"{node.op.value} node {signal} has no operands")
        for name, lit in self.outputs:
            if not 0 <= lit.signal < self.n_signals:
                raise ValueError(f"output {name!r} reads unknown signal {lit.signal}")

    def levels(self) -> np.ndarray:
        """(n_signals,) int: inputs and constants are level 0; a BUF sits at its
        operand's level (it costs no layer); any other gate is one past its
        deepest operand."""
        level = np.zeros(self.n_signals, dtype=np.int64)
        for i, node in enumerate(self.nodes):
            deepest = max((level[lit.signal] for lit in node.operands), default=0)
            level[self.n_inputs + i] = deepest if node.op in (Op.BUF, Op.CONST) else deepest + 1
        return level

    def supports(self) -> list[frozenset[int]]:
        """For every signal, the set of input indices it depends on."""
        support: list[frozenset[int]] = [frozenset([i]) for i in range(self.n_inputs)]
        for node in self.nodes:
            support.append(frozenset().union(*(support[lit.signal] for lit in node.operands)))
        return support


def resolve_buffers(circuit: Circuit) -> list[Lit]:
    """(n_signals,) for every signal, the literal of the non-BUF signal it
    equals: a BUF is an alias, so the passes read through it."""
    base: list[Lit] = [Lit(i) for i in range(circuit.n_inputs)]
    for i, node in enumerate(circuit.nodes):
        base.append(read_through(base, node.operands[0]) if node.op is Op.BUF else Lit(circuit.n_inputs + i))
    return base


def read_through(base: list[Lit], lit: Lit) -> Lit:
    """The literal of a non-BUF signal that `lit` equals (base: resolve_buffers)."""
    target = base[lit.signal]
    return Lit(target.signal, target.negated != lit.negated)


def connected_signals(n_signals: int, edges) -> np.ndarray:
    """(n_signals,) int64: one label per signal, the same for signals joined
    through `edges` ((a, b) pairs of signals), by union-find: each edge hangs
    a's tree under b's root, so the labels are the roots of those trees."""
    parent = list(range(n_signals))

    def root(s: int) -> int:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for a, b in edges:
        parent[root(a)] = root(b)
    return np.array([root(s) for s in range(n_signals)], dtype=np.int64)


def circuit_to_json(circuit: Circuit) -> dict:
    """A compact JSON-able form of the circuit (no source positions), stored in
    artifacts so that a compiled network carries its own ground truth."""
    return {
        "name": circuit.name, "input_names": circuit.input_names, "sparsity": circuit.sparsity,
        "nodes": [[n.op.value, n.k, [[l.signal, int(l.negated)] for l in n.operands], n.name]
                  for n in circuit.nodes],
        "outputs": [[name, lit.signal, int(lit.negated)] for name, lit in circuit.outputs],
    }


def circuit_from_json(data: dict) -> Circuit:
    """Inverse of circuit_to_json; ValueError if the data is malformed."""
    try:
        nodes = [Node(Op(op), tuple(Lit(int(s), bool(neg)) for s, neg in operands), int(k), name)
                 for op, k, operands, name in data["nodes"]]
        circuit = Circuit(str(data["name"]), [str(n) for n in data["input_names"]], nodes,
                          [(str(name), Lit(int(s), bool(neg))) for name, s, neg in data["outputs"]],
                          data["sparsity"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"malformed program: {error}") from None
    circuit.validate()
    return circuit
