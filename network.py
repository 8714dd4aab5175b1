"""The network representation: ReLU layers, the names of what they compute,
readouts, and the forward pass. The bottom of the package: the compiler's
lowerings produce a CompiledCircuit, the runtime (artifact, report, torch
export, verify) consumes one, and this module imports neither.

    h_0 = x                                   (batch, n_inputs)
    h_l = act_l(h_{l-1} @ W_l.T + b_l)        act is ReLU, or identity for a
                                              linear layer (an input embedding)
    gate values = sum_l h_l @ R_l.T + c       one Readout for the gates,
    outputs     = the same with another Readout

A value is true when its readout is above THRESHOLD. Weights stay sparse
(scipy CSR) so that circuits with 10^5 gates fit; `dense()` densifies a matrix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from superpose.compiler.ir import Circuit

THRESHOLD = 0.5  # a gate is true when its readout is above this


def _dense(product: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A matrix product as a dense float32 array."""
    return product.toarray().astype(np.float32, copy=False) if sp.issparse(product) \
        else np.asarray(product, dtype=np.float32)


@dataclass
class Layer:
    """One layer: weight (width_out, width_in) CSR float32, bias (width_out,)."""
    weight: sp.csr_matrix
    bias: np.ndarray
    relu: bool = True
    kind: str = "gates"  # what the layer is for: "embed", "gates", "reset", ...

    @property
    def width(self) -> int:
        return self.weight.shape[0]

    def apply_columns(self, h_t: np.ndarray | sp.spmatrix) -> np.ndarray:
        """act(W h + b) on transposed activations, dense or sparse:
        (width_in, batch) -> (width_out, batch) float32. Sparse weights times
        row-major columns need no copy of the batch."""
        z = _dense(self.weight @ h_t)
        z += self.bias[:, None]
        return np.maximum(z, 0.0, out=z) if self.relu else z


@dataclass
class Readout:
    """Values read linearly from the activations of every layer.

    blocks[l]: (n_values, width of h_l) CSR float32, mostly empty;
    bias: (n_values,) float32.
    """
    blocks: list[sp.csr_matrix]
    bias: np.ndarray

    @classmethod
    def from_entries(cls, entries: list[list[tuple[int, int, float]]], n_values: int,
                     widths: list[int], bias: np.ndarray) -> "Readout":
        """entries[l]: (row, column, value) triples of block l."""
        blocks = []
        for block, width in zip(entries, widths):
            rows, cols, vals = (np.asarray(v) for v in zip(*block)) if block else ([], [], [])
            matrix = sp.coo_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                                   shape=(n_values, width)).tocsr()
            matrix.sum_duplicates()
            blocks.append(matrix)
        return cls(blocks, np.asarray(bias, dtype=np.float32))

    @property
    def n_values(self) -> int:
        return self.bias.shape[0]

    def read_columns(self, hs_t: list[np.ndarray | sp.spmatrix]) -> np.ndarray:
        """hs_t[l]: (width_l, batch), transposed activations -> (n_values, batch) float32."""
        out_t = np.repeat(self.bias[:, None], hs_t[0].shape[1], axis=1)
        for block, h_t in zip(self.blocks, hs_t):
            if block.nnz:
                out_t += _dense(block @ h_t)
        return out_t

    def read_diagonal(self, rows: np.ndarray, hs_t: list[np.ndarray | sp.spmatrix]) -> np.ndarray:
        """(batch,) float64: value rows[b] on activation column b, for checking
        one value per input without the (len(rows), batch) product."""
        out = self.bias[rows].astype(np.float64)
        for block, h_t in zip(self.blocks, hs_t):
            if block.nnz:
                out += np.asarray(block[rows].multiply(h_t.T).sum(axis=1)).ravel()
        return out

    def select(self, rows: np.ndarray) -> "Readout":
        """The readout of only the given values (rows)."""
        return Readout([block[rows] for block in self.blocks], self.bias[rows])


@dataclass
class CompiledCircuit:
    """A compiled boolean program: weights, names, readouts and how it was made.

    meta: JSON-serialisable facts about the compilation (lowering, options,
    seed, measured figures), kept in the artifact.
    program: the IR it was compiled from, the ground truth for reports and
    verification (kept in the artifact too).
    """
    name: str
    input_names: list[str]
    gate_names: list[str]
    output_names: list[str]
    layers: list[Layer]
    gate_readout: Readout
    output_readout: Readout
    meta: dict[str, Any] = field(default_factory=dict)
    program: Circuit | None = None

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    @property
    def n_gates(self) -> int:
        return len(self.gate_names)

    @property
    def n_outputs(self) -> int:
        return len(self.output_names)

    @property
    def widths(self) -> list[int]:
        """Width of every activation h_0 .. h_L (h_0 is the input)."""
        return [self.n_inputs] + [layer.width for layer in self.layers]

    @property
    def n_neurons(self) -> int:
        """ReLU neurons in all layers (linear embedding layers are not neurons)."""
        return sum(layer.width for layer in self.layers if layer.relu)

    def validate(self) -> None:
        """Check that every shape agrees with its neighbours; raise ValueError if not."""
        widths = self.widths
        for i, layer in enumerate(self.layers):
            if layer.weight.shape != (widths[i + 1], widths[i]) or layer.bias.shape != (widths[i + 1],):
                raise ValueError(f"layer {i + 1} has weight {layer.weight.shape} and bias "
                                 f"{layer.bias.shape}, expected ({widths[i + 1]}, {widths[i]})")
        for label, readout, n in (("gate", self.gate_readout, self.n_gates),
                                  ("output", self.output_readout, self.n_outputs)):
            shapes = [b.shape for b in readout.blocks]
            if shapes != [(n, w) for w in widths] or readout.bias.shape != (n,):
                raise ValueError(f"{label} readout has blocks {shapes}, expected {n} rows "
                                 f"over widths {widths}")

    def _inputs(self, x: np.ndarray | sp.spmatrix) -> np.ndarray | sp.spmatrix:
        x = sp.csr_matrix(x, dtype=np.float32) if sp.issparse(x) else np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected inputs of shape (batch, {self.n_inputs}), got {x.shape}")
        return x

    def _columns(self, x: np.ndarray | sp.spmatrix) -> np.ndarray | sp.spmatrix:
        """The checked inputs transposed, (n_inputs, batch): the layout layers work in."""
        x = self._inputs(x)
        return x.T.tocsr() if sp.issparse(x) else np.ascontiguousarray(x.T)

    def forward_columns(self, x_t: np.ndarray | sp.spmatrix) -> list[np.ndarray | sp.spmatrix]:
        """The forward pass on transposed inputs x_t: (n_inputs, batch), dense
        or sparse -> [h_0 = x_t, h_1, ..., h_L], h_l: (width_l, batch)."""
        hs_t = [x_t]
        for layer in self.layers:
            hs_t.append(layer.apply_columns(hs_t[-1]))
        return hs_t

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """x: (batch, n_inputs) of 0/1 -> [h_0, ..., h_L], h_l: (batch, width_l)."""
        return [h.T for h in self.forward_columns(self._columns(x))]

    def read(self, x: np.ndarray | sp.spmatrix, readout: Readout) -> np.ndarray:
        """x: (batch, n_inputs) of 0/1 -> (batch, readout.n_values) float32 (read_columns)."""
        return self.read_columns(self._columns(x), readout).T

    def read_columns(self, x_t: np.ndarray | sp.spmatrix, readout: Readout) -> np.ndarray:
        """x_t: (n_inputs, batch) transposed inputs -> (readout.n_values, batch) float32.

        Same as readout.read_columns(self.forward_columns(x_t)), but holds one
        activation at a time and stops after the last layer the readout reads:
        a deep circuit with wide layers fits in memory, and shallow gates cost
        shallow passes."""
        h_t = x_t
        out_t = np.repeat(readout.bias[:, None], h_t.shape[1], axis=1)
        read_layers = [l for l, block in enumerate(readout.blocks) if block.nnz]
        for l in range(max(read_layers, default=0) + 1):
            if l:
                h_t = self.layers[l - 1].apply_columns(h_t)
            if readout.blocks[l].nnz:
                out_t += _dense(readout.blocks[l] @ h_t)
        return out_t

    def run(self, x: np.ndarray) -> np.ndarray:
        """x: (batch, n_inputs) of 0/1 -> (batch, n_outputs) float32 readouts."""
        return self.read(x, self.output_readout)

    def gate_values(self, x: np.ndarray) -> np.ndarray:
        """x: (batch, n_inputs) of 0/1 -> (batch, n_gates) float32 readouts."""
        return self.read(x, self.gate_readout)
