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

from superpose.compiler.ir import Circuit, Lit, Op, read_through, resolve_buffers
from superpose.compiler.lowering import Affine, combine, csr_from_rows, negate, readout_from_affines
from superpose.metadata import CircuitMeta
from superpose.network import CompiledCircuit, Layer
from superpose.neurons import NeuronRole, literal_reads, table_to_json


@dataclass(frozen=True)
class ExactOptions:
    """Options of strategy "exact": none; the lowering is determined by the circuit."""


Placed = tuple[int, Affine]  # a value read from activation h_layer; a constant (empty row) reads at any layer


@dataclass
class _LayerBuilder:
    """Accumulates one ReLU layer's neurons as affine rows over the layer below, and their roles."""
    rows: list[Affine] = field(default_factory=list)
    roles: list[NeuronRole] = field(default_factory=list)

    def neuron(self, terms: list[Affine], lits: list[Lit], scale: float, offset: float,
               kind: str, signal: int, part: str = "") -> int:
        """Add ReLU(scale * sum(terms) + offset), where terms[i] is the value of
        lits[i] over the previous layer, serving `signal`; return its index."""
        self.rows.append(combine([(scale, term) for term in terms], offset))
        self.roles.append(NeuronRole(kind, (signal,), *literal_reads(lits, scale, offset), part))
        return len(self.rows) - 1


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


def _gate_neurons(builder: _LayerBuilder, op: Op, k: int, terms: list[Affine], lits: list[Lit],
                  signal: int) -> Affine:
    """Emit the neurons of gate `signal` (its operands: lits, valued terms over
    the previous layer); return its value as an affine of them."""
    n = len(terms)
    neuron = lambda scale, offset, part: builder.neuron(terms, lits, scale, offset, "gate", signal, part)
    if op is Op.ATLEAST and k == n:
        op = Op.AND
    elif op is Op.ATLEAST and k == 1:
        op = Op.OR
    if op is Op.AND:
        return {neuron(1.0, -(n - 1), "and"): 1.0}, 0.0
    if op is Op.OR:
        return {neuron(-1.0, 1.0, "nor"): -1.0}, 1.0
    if op is Op.XOR:
        return {neuron(1.0, -float(step), f"xor.{step}"): 1.0 if step == 0 else 2.0 * (-1) ** step
                for step in range(n)}, 0.0
    if op is Op.ATLEAST:
        upper = neuron(1.0, -(k - 1), "atleast.upper")
        lower = neuron(1.0, -float(k), "atleast.lower")
        return {upper: 1.0, lower: -1.0}, 0.0
    raise ValueError(f"cannot lower {op}")


def lower_exact(circuit: Circuit) -> CompiledCircuit:
    """Lower `circuit` to exact ReLU layers (see the module docstring)."""
    level = circuit.levels()
    base = resolve_buffers(circuit)
    last_use = _last_use(circuit, base, level)
    depth = int(level.max(initial=0))
    # home[s]: base signal s where it is computed; latest[s]: its most recent carried copy
    home: dict[int, Placed] = {i: (0, ({i: 1.0}, 0.0)) for i in range(circuit.n_inputs)}
    nodes_by_level: list[list[int]] = [[] for _ in range(depth + 1)]
    for i, node in enumerate(circuit.nodes):
        s = circuit.n_inputs + i
        if node.op is Op.CONST:
            home[s] = (0, ({}, float(node.k)))
        elif node.op is not Op.BUF:
            nodes_by_level[level[s]].append(s)
    latest = dict(home)
    # the signals with a neuron copy in the layer below, the only ones a layer may carry on:
    # visiting these instead of every signal so far keeps a deep circuit's lowering linear
    below = {s: value for s, (_, value) in home.items() if value[0]}

    def literal_at(lit: Lit, layer: int) -> Affine:
        at, value = latest[lit.signal]
        assert not value[0] or at == layer, f"signal {lit.signal} not carried to layer {layer}"
        return negate(value) if lit.negated else value

    builders = [_LayerBuilder() for _ in range(depth)]
    for layer, builder in enumerate(builders, start=1):
        computed = {}
        for s in nodes_by_level[layer]:
            node = circuit.nodes[s - circuit.n_inputs]
            lits = [read_through(base, lit) for lit in node.operands]
            terms = [literal_at(lit, layer - 1) for lit in lits]
            computed[s] = (layer, _gate_neurons(builder, node.op, node.k, terms, lits, s))
        carried = {}
        for s, value in sorted(below.items()):
            if last_use[s] > layer:
                carried[s] = ({builder.neuron([value], [Lit(s)], 1.0, 0.0, "carry", s): 1.0}, 0.0)
                latest[s] = (layer, carried[s])
        home.update(computed)
        latest.update(computed)
        below = {**carried, **{s: value for s, (_, value) in computed.items()}}

    def read(lit: Lit) -> Placed:
        lit = read_through(base, lit)
        at, value = home[lit.signal]
        return at, negate(value) if lit.negated else value

    widths = [circuit.n_inputs] + [len(b.rows) for b in builders]
    layers = [Layer(csr_from_rows([row for row, _ in b.rows], widths[i]),
                    np.asarray([bias for _, bias in b.rows], dtype=np.float32), relu=True)
              for i, b in enumerate(builders)]
    return CompiledCircuit(
        name=circuit.name, input_names=list(circuit.input_names), gate_names=circuit.gate_names,
        output_names=circuit.output_names, layers=layers,
        gate_readout=readout_from_affines([read(Lit(s)) for s in circuit.gate_signals], widths),
        output_readout=readout_from_affines([read(lit) for _, lit in circuit.outputs], widths),
        meta=CircuitMeta("exact", "exact", circuit.sparsity, neurons=table_to_json([b.roles for b in builders])),
        program=circuit,
    )
