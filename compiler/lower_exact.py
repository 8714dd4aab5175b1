"""Exact lowering: circuit -> layers of Linear + ReLU, one set of neurons per gate.

Levelise the gate DAG; level l becomes ReLU layer l. A signal that a later
level still needs is carried forward by one neuron per layer (ReLU(v) = v on
{0, 1}). NOT costs nothing: it is folded into the weights and bias of whatever
reads it (v -> 1 - v). Every signal is then an affine function of the neurons
of the layer where it lives, and so is every gate's readout.

Gate forms, with t = the sum of the operand literals (an integer):
  AND of n        ReLU(t - (n-1))                                  1 neuron
  OR              1 - ReLU(1 - t)                                  1 neuron
  XOR (parity)    ReLU(t) - 2 ReLU(t-1) + 2 ReLU(t-2) - ...        n neurons
  atleast(k, n)   ReLU(t - k + 1) - ReLU(t - k)                    2 neurons
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from superpose.compiler.ir import Circuit, Lit, Op
from superpose.network import CompiledCircuit, Layer, Readout, sparse_rows


@dataclass(frozen=True)
class ExactOptions:
    """Options of strategy "exact": none; the lowering is determined by the circuit."""


@dataclass(frozen=True)
class Affine:
    """A value as `coeffs . h_layer + const`; an empty `coeffs` is a constant,
    readable at any layer."""
    layer: int
    coeffs: tuple[tuple[int, float], ...]
    const: float

    def negated(self) -> "Affine":
        return Affine(self.layer, tuple((j, -c) for j, c in self.coeffs), 1.0 - self.const)


@dataclass
class _LayerBuilder:
    """Accumulates one ReLU layer's neurons as sparse rows."""
    rows: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    bias: list[float] = field(default_factory=list)

    def neuron(self, terms: list[Affine], scale: float, offset: float) -> int:
        """Add ReLU(scale * sum(terms) + offset); return its index."""
        coeffs: dict[int, float] = {}
        const = offset
        for term in terms:
            for j, c in term.coeffs:
                coeffs[j] = coeffs.get(j, 0.0) + scale * c
            const += scale * term.const
        self.rows.append(tuple(sorted((j, c) for j, c in coeffs.items() if c != 0.0)))
        self.bias.append(const)
        return len(self.rows) - 1


def _resolve_buffers(circuit: Circuit) -> list[Lit]:
    """For every signal, the literal of a non-BUF signal it equals."""
    base: list[Lit] = [Lit(i) for i in range(circuit.n_inputs)]
    for i, node in enumerate(circuit.nodes):
        if node.op is Op.BUF:
            lit = node.operands[0]
            target = base[lit.signal]
            base.append(Lit(target.signal, target.negated != lit.negated))
        else:
            base.append(Lit(circuit.n_inputs + i))
    return base


def _last_use(circuit: Circuit, base: list[Lit], level: np.ndarray) -> np.ndarray:
    """(n_signals,) the deepest level at which each base signal is read by a gate."""
    last = np.full(circuit.n_signals, -1, dtype=np.int64)
    for i, node in enumerate(circuit.nodes):
        if node.op in (Op.BUF, Op.CONST):
            continue
        for lit in node.operands:
            s = base[lit.signal].signal
            last[s] = max(last[s], level[circuit.n_inputs + i])
    return last


def _gate_neurons(builder: _LayerBuilder, op: Op, k: int, terms: list[Affine], layer: int) -> Affine:
    """Emit the neurons of one gate; return its value as an affine of them."""
    n = len(terms)
    if op is Op.ATLEAST and k == n:
        op = Op.AND
    elif op is Op.ATLEAST and k == 1:
        op = Op.OR
    if op is Op.AND:
        j = builder.neuron(terms, 1.0, -(n - 1))
        return Affine(layer, ((j, 1.0),), 0.0)
    if op is Op.OR:
        j = builder.neuron(terms, -1.0, 1.0)
        return Affine(layer, ((j, -1.0),), 1.0)
    if op is Op.XOR:
        coeffs = tuple((builder.neuron(terms, 1.0, -float(step)), 1.0 if step == 0 else 2.0 * (-1) ** step)
                       for step in range(n))
        return Affine(layer, coeffs, 0.0)
    if op is Op.ATLEAST:
        upper = builder.neuron(terms, 1.0, -(k - 1))
        lower = builder.neuron(terms, 1.0, -float(k))
        return Affine(layer, ((upper, 1.0), (lower, -1.0)), 0.0)
    raise ValueError(f"cannot lower {op}")


def _resolve(base: list[Lit], lit: Lit) -> Lit:
    target = base[lit.signal]
    return Lit(target.signal, target.negated != lit.negated)


def lower_exact(circuit: Circuit) -> CompiledCircuit:
    """Lower `circuit` to exact ReLU layers (see the module docstring)."""
    level = circuit.levels()
    base = _resolve_buffers(circuit)
    last_use = _last_use(circuit, base, level)
    depth = int(level.max(initial=0))
    # home[s]: base signal s where it is computed; latest[s]: its most recent carried copy
    home: dict[int, Affine] = {i: Affine(0, ((i, 1.0),), 0.0) for i in range(circuit.n_inputs)}
    nodes_by_level: list[list[int]] = [[] for _ in range(depth + 1)]
    for i, node in enumerate(circuit.nodes):
        s = circuit.n_inputs + i
        if node.op is Op.CONST:
            home[s] = Affine(0, (), float(node.k))
        elif node.op is not Op.BUF:
            nodes_by_level[level[s]].append(s)
    latest = dict(home)

    def literal_at(lit: Lit, layer: int) -> Affine:
        value = latest[lit.signal]
        assert not value.coeffs or value.layer == layer, f"signal {lit.signal} not carried to layer {layer}"
        return value.negated() if lit.negated else value

    builders = [_LayerBuilder() for _ in range(depth)]
    for layer, builder in enumerate(builders, start=1):
        computed = {}
        for s in nodes_by_level[layer]:
            node = circuit.nodes[s - circuit.n_inputs]
            terms = [literal_at(_resolve(base, lit), layer - 1) for lit in node.operands]
            computed[s] = _gate_neurons(builder, node.op, node.k, terms, layer)
        for s, value in sorted(latest.items()):
            if value.coeffs and value.layer == layer - 1 and last_use[s] > layer:
                latest[s] = Affine(layer, ((builder.neuron([value], 1.0, 0.0), 1.0),), 0.0)
        home.update(computed)
        latest.update(computed)

    def read(lit: Lit) -> Affine:
        lit = _resolve(base, lit)
        return home[lit.signal].negated() if lit.negated else home[lit.signal]

    widths = [circuit.n_inputs] + [len(b.rows) for b in builders]
    layers = [Layer(sparse_rows(b.rows, widths[i]), np.asarray(b.bias, dtype=np.float32), relu=True)
              for i, b in enumerate(builders)]
    return CompiledCircuit(
        name=circuit.name, input_names=list(circuit.input_names), gate_names=circuit.gate_names,
        output_names=circuit.output_names, layers=layers,
        gate_readout=readout_from_affines([read(Lit(s)) for s in circuit.gate_signals], widths),
        output_readout=readout_from_affines([read(lit) for _, lit in circuit.outputs], widths),
        meta={"lowering": "exact", "sparsity": circuit.sparsity}, program=circuit,
    )


def readout_from_affines(values: list[Affine], widths: list[int]) -> Readout:
    """A Readout whose row i is `values[i]`, each read from its own layer."""
    blocks: list[list[tuple[int, int, float]]] = [[] for _ in widths]
    for row, value in enumerate(values):
        blocks[value.layer].extend((row, j, c) for j, c in value.coeffs)
    bias = np.asarray([v.const for v in values], dtype=np.float32)
    return Readout.from_entries(blocks, len(values), widths, bias)
