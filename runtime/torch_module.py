"""The compiled circuit as a torch.nn.Module: nn.Linear and nn.ReLU, float32.

forward(x) gives the outputs; gate_values(x) every gate; both (batch, n).
Each readout block becomes an nn.Linear over the rows it actually reads, so a
circuit with many gates does not need dense (n_gates x width) matrices.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from superpose.network import CompiledCircuit, Readout


def _linear(weight: sp.spmatrix | np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    dense = weight.toarray() if sp.issparse(weight) else np.asarray(weight)
    linear = nn.Linear(dense.shape[1], dense.shape[0], bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(dense.astype(np.float32)))
        if bias is not None:
            linear.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=np.float32)))
    return linear


class ReadoutModule(nn.Module):
    """sum over layers of (the rows a block reads) @ h_l, scattered into place, plus a bias."""

    def __init__(self, readout: Readout):
        super().__init__()
        self.layer_indices: list[int] = []
        self.linears = nn.ModuleList()
        for l in sorted(readout.blocks):
            block = readout.blocks[l]
            self.layer_indices.append(l)
            self.linears.append(_linear(block.weight, None))
            self.register_buffer(f"rows_{l}", torch.from_numpy(block.rows.astype(np.int64)))
        self.bias = nn.Parameter(torch.from_numpy(readout.bias.astype(np.float32)).clone())

    def forward(self, activations: list[torch.Tensor]) -> torch.Tensor:
        out = self.bias.expand(activations[0].shape[0], -1).clone()
        for l, linear in zip(self.layer_indices, self.linears):
            out.index_add_(1, getattr(self, f"rows_{l}"), linear(activations[l]))
        return out


class CircuitModule(nn.Module):
    """A CompiledCircuit in torch. x: (batch, n_inputs) float -> (batch, n_outputs)."""

    def __init__(self, circuit: CompiledCircuit):
        super().__init__()
        self.input_names = list(circuit.input_names)
        self.gate_names = list(circuit.gate_names)
        self.output_names = list(circuit.output_names)
        self.layers = nn.ModuleList(
            nn.Sequential(_linear(layer.weight, layer.bias), nn.ReLU()) if layer.relu
            else nn.Sequential(_linear(layer.weight, layer.bias))
            for layer in circuit.layers)
        self.gate_readout = ReadoutModule(circuit.gate_readout)
        self.output_readout = ReadoutModule(circuit.output_readout)

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[h_0 = x, h_1, ..., h_L], h_l: (batch, width_l)."""
        hs = [x.to(torch.float32)]
        for layer in self.layers:
            hs.append(layer(hs[-1]))
        return hs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_readout(self.activations(x))

    def gate_values(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_inputs) -> (batch, n_gates)."""
        return self.gate_readout(self.activations(x))


def to_torch(circuit: CompiledCircuit) -> CircuitModule:
    """The circuit as a torch.nn.Module of nn.Linear and nn.ReLU (float32, CPU):
    model(x) gives the outputs, model.gate_values(x) every gate."""
    return CircuitModule(circuit)
