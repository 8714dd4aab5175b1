"""Per-gate weight components: ground truth for parameter decomposition (APD/SPD).

Every hidden layer's weights and biases are split, neuron by neuron, into one
component per gate plus a shared remainder: a neuron belongs to gate g when g
is the only named gate whose value depends on it (the gates the neuron serves
in the neuron table, superpose.neurons, and every gate downstream of them in the
program); a neuron several gates depend on (a shared hub neuron, a wire two
gates read) goes to the remainder. The gate readout is split the same way:
row g (and its bias) is gate g's. So, exactly,

    W_l = sum_g component_g(W_l) + remainder(W_l)     (and likewise b_l, the readout)

and removing gate g's component silences g's readout while leaving the
computation of every other gate untouched in the clean network (in
superposition, other gates change only through interference with the removed
neurons, which the tests bound by the target error).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from superpose.network import CompiledCircuit, Readout, ReadoutBlock
from superpose.neurons import neuron_table

SHARED = -1  # owner of a neuron several gates (or none) depend on: the remainder


def sole_dependent_gate(program) -> np.ndarray:
    """(n_signals,) int64: for each signal the index (in gate_names order) of
    the only named gate whose value depends on it, SHARED if there are several
    or none. Dependence is the program's fan-out cone, the signal included."""
    gate_index = {signal: i for i, signal in enumerate(program.gate_signals)}
    readers: list[list[int]] = [[] for _ in range(program.n_signals)]
    for i, node in enumerate(program.nodes):
        for lit in node.operands:
            readers[lit.signal].append(program.n_inputs + i)
    NONE, MANY = -2, -3
    dependents = np.full(program.n_signals, NONE, dtype=np.int64)
    for signal in reversed(range(program.n_signals)):  # readers have larger numbers: already known
        found = {gate_index[signal]} if signal in gate_index else set()
        for reader in readers[signal]:
            found.add(int(dependents[reader])) if dependents[reader] != NONE else None
        found.discard(NONE)
        dependents[signal] = MANY if MANY in found or len(found) > 1 else found.pop() if found else NONE
    return np.where(dependents >= 0, dependents, SHARED)


@dataclass
class Components:
    """owners[l]: (width of layer l + 1,) int64, the gate owning each neuron of
    circuit.layers[l] (SHARED: the remainder); readout_owner: (n_gates,) the
    gate owning each gate-readout row (itself). gate_names names the owners."""
    circuit: CompiledCircuit
    owners: list[np.ndarray]
    readout_owner: np.ndarray

    @property
    def gate_names(self) -> list[str]:
        return self.circuit.gate_names

    def layer_component(self, layer: int, owner: int) -> tuple[sp.csr_matrix, np.ndarray]:
        """(weight (width, width_in) CSR, bias (width,)) of circuit.layers[layer]
        kept on the neurons `owner` owns (SHARED: the remainder), zero elsewhere."""
        keep = (self.owners[layer] == owner).astype(np.float32)
        source = self.circuit.layers[layer]
        return sp.csr_matrix(sp.diags(keep) @ source.weight), source.bias * keep

    def readout_component(self, owner: int) -> Readout:
        """The gate readout kept on the rows `owner` owns."""
        return _kept_rows(self.circuit.gate_readout, self.readout_owner == owner)

    def share_owned(self) -> float:
        """The share of hidden neurons that belong to a single gate (not the remainder)."""
        owners = np.concatenate(self.owners) if self.owners else np.zeros(0)
        return float((owners != SHARED).mean()) if owners.size else float("nan")

    def without(self, gate: int) -> CompiledCircuit:
        """A copy of the circuit with gate `gate`'s component removed (its
        neurons' weights and biases and its readout row set to zero)."""
        ablated = copy.copy(self.circuit)
        ablated.layers = []
        for layer, owners in zip(self.circuit.layers, self.owners):
            keep = (owners != gate).astype(np.float32)
            ablated.layers.append(replace(layer, weight=sp.csr_matrix(sp.diags(keep) @ layer.weight),
                                               bias=layer.bias * keep))
        ablated.gate_readout = _kept_rows(self.circuit.gate_readout, self.readout_owner != gate)
        return ablated


def _kept_rows(readout: Readout, keep: np.ndarray) -> Readout:
    """The readout with the values where keep (n_values,) bool is False set to zero (weights and bias)."""
    blocks = {}
    for l, block in readout.blocks.items():
        kept = keep[block.rows]
        if kept.any():
            blocks[l] = ReadoutBlock(block.rows[kept], sp.csr_matrix(block.weight[np.flatnonzero(kept)]))
    return Readout(blocks, readout.bias * keep)


def components(circuit: CompiledCircuit) -> Components:
    """The per-gate decomposition of the circuit's layers and gate readout."""
    if circuit.program is None:
        raise ValueError(f"{circuit.name}: the artifact carries no program, so gates have no dependencies")
    sole = sole_dependent_gate(circuit.program)
    owners = []
    for roles in neuron_table(circuit):
        owner = np.full(len(roles), SHARED, dtype=np.int64)
        for j, role in enumerate(roles):
            gates = {int(sole[s]) for s in role.serves}
            if len(gates) == 1 and SHARED not in gates:
                owner[j] = gates.pop()
        owners.append(owner)
    return Components(circuit, owners, np.arange(circuit.n_gates, dtype=np.int64))
