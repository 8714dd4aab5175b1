"""The compiled circuit as a torch.nn.Module: nn.Linear and nn.ReLU, float32.

forward(x) gives the outputs; gate_values(x) every gate; both (batch, n).
Each readout block becomes an nn.Linear over the rows it actually reads, so a
circuit with many gates does not need dense (n_gates x width) matrices.

Hook points (TransformerLens style: identity modules a hook can be attached
to with register_forward_hook, named by their module path): `hook_input`
(the inputs h_0), `layers.{i}.hook_pre` and `layers.{i}.hook_post` (the
pre-activation and activation of layer i, i.e. h_{i+1} = hook_post of
layers.{i}), `hook_gates` and `hook_outputs` (the readouts).
run_with_cache(x) returns the outputs and every hook point's value;
`neuron_roles[i][j]` says what neuron j of layer i serves (superpose.neurons),
`neuron_labels[i][j]` the same in words.

Inputs are cast to the module's dtype (`.double()` works), to_torch takes a
device and dtype, and the module compiles with torch.jit.script.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import List

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from superpose.network import CompiledCircuit, Readout
from superpose.neurons import describe, neuron_table


def _linear(weight: sp.spmatrix | np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    dense = weight.toarray() if sp.issparse(weight) else np.asarray(weight)
    # no random initialisation, since every weight is overwritten; torch still warns that initialising an empty
    # layer (a readout of no rows, a circuit with no gate layer) is a no-op
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        linear = torch.nn.utils.skip_init(nn.Linear, dense.shape[1], dense.shape[0], bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(dense.astype(np.float32)))
        if bias is not None:
            linear.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=np.float32)))
    return linear


class HookPoint(nn.Identity):
    """Returns its input: a named place in the forward pass to attach hooks to."""


def _layer(linear: nn.Linear, relu: bool) -> nn.Sequential:
    """Linear, hook_pre, ReLU, hook_post; the linear and ReLU keep the indices
    0 and 1 of a plain Sequential, so parameter names stay layers.{i}.0.weight."""
    parts = OrderedDict([("0", linear), ("hook_pre", HookPoint())])
    if relu:
        parts["1"] = nn.ReLU()
    parts["hook_post"] = HookPoint()
    return nn.Sequential(parts)


class BlockModule(nn.Module):
    """One network.ReadoutBlock: the values `rows` read from h_layer through `linear`
    (a submodule with its layer as a constant, so that torch.jit.script compiles the loop over them)."""

    def __init__(self, layer: int, weight: sp.csr_matrix, rows: np.ndarray):
        super().__init__()
        self.layer = layer
        self.linear = _linear(weight, None)
        self.register_buffer("rows", torch.from_numpy(rows.astype(np.int64)))

    def forward(self, activations: List[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
        return out.index_add(1, self.rows, self.linear(activations[self.layer]))


class ReadoutModule(nn.Module):
    """sum over layers of (the rows a block reads) @ h_l, scattered into place, plus a bias."""

    def __init__(self, readout: Readout):
        super().__init__()
        self.blocks = nn.ModuleList(BlockModule(l, readout.blocks[l].weight, readout.blocks[l].rows)
                                    for l in sorted(readout.blocks))
        self.bias = nn.Parameter(torch.from_numpy(readout.bias.astype(np.float32)).clone())

    def forward(self, activations: List[torch.Tensor]) -> torch.Tensor:
        out = self.bias.expand(activations[0].shape[0], -1)
        for block in self.blocks:
            out = block(activations, out)
        return out


class CircuitModule(nn.Module):
    """A CompiledCircuit in torch. x: (batch, n_inputs) float -> (batch, n_outputs)."""

    __jit_unused_properties__ = ["hook_points"]  # Python-side only: torch.jit.script skips it

    def __init__(self, circuit: CompiledCircuit):
        super().__init__()
        self.input_names = list(circuit.input_names)
        self.gate_names = list(circuit.gate_names)
        self.output_names = list(circuit.output_names)
        # what every neuron serves: roles (superpose.neurons) and one readable line each
        self.neuron_roles = neuron_table(circuit) if circuit.meta.neurons or not circuit.layers else None
        self.neuron_labels = None if self.neuron_roles is None or circuit.program is None else \
            [[describe(circuit.program, role) for role in layer] for layer in self.neuron_roles]
        self.hook_input = HookPoint()
        self.layers = nn.ModuleList(_layer(_linear(layer.weight, layer.bias), layer.relu) for layer in circuit.layers)
        self.gate_readout = ReadoutModule(circuit.gate_readout)
        self.output_readout = ReadoutModule(circuit.output_readout)
        self.hook_gates = HookPoint()
        self.hook_outputs = HookPoint()

    @property
    def hook_points(self) -> dict[str, HookPoint]:
        """Every hook point by name, in the order the forward pass reaches them."""
        return {name: module for name, module in self.named_modules() if isinstance(module, HookPoint)}

    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """[h_0 = x, h_1, ..., h_L], h_l: (batch, width_l), in the module's dtype."""
        hs = [self.hook_input(x.to(self.output_readout.bias.dtype))]
        for layer in self.layers:
            hs.append(layer(hs[-1]))
        return hs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hook_outputs(self.output_readout(self.activations(x)))

    @torch.jit.export
    def gate_values(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_inputs) -> (batch, n_gates)."""
        return self.hook_gates(self.gate_readout(self.activations(x)))

    def run_with_cache(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(outputs (batch, n_outputs), cache): cache maps every hook point's
        name to its value in this pass, detached; the gates' readouts
        (`hook_gates`, (batch, n_gates)) are computed from the same activations."""
        cache: dict[str, torch.Tensor] = {}
        handles = [module.register_forward_hook(lambda _m, _i, out, name=name: cache.__setitem__(name, out.detach()))
                   for name, module in self.hook_points.items()]
        try:
            hs = self.activations(x)
            self.hook_gates(self.gate_readout(hs))
            outputs = self.hook_outputs(self.output_readout(hs))
        finally:
            for handle in handles:
                handle.remove()
        return outputs, cache


def to_torch(circuit: CompiledCircuit, device: str | torch.device | None = None,
             dtype: torch.dtype | None = None) -> CircuitModule:
    """The circuit as a torch.nn.Module of nn.Linear and nn.ReLU (float32 on the
    CPU unless `device` / `dtype` say otherwise): model(x) gives the outputs,
    model.gate_values(x) every gate; torch.jit.script compiles it."""
    return CircuitModule(circuit).to(device=device, dtype=dtype)
