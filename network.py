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
(scipy CSR), and a readout keeps a block R_l only for the layers some value
reads, with rows only for those values (ReadoutBlock), so that memory and
build time stay linear in the circuit: 10^5 gates in 10^5 layers fit.
The forward pass works on transposed activations, (width, batch), so that
sparse weights times row-major columns copy nothing (forward_columns, read_columns).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from superpose.compiler.ir import Circuit
from superpose.metadata import CircuitMeta

if TYPE_CHECKING:
    import torch

THRESHOLD = 0.5  # a gate is true when its readout is above this


def _is_torch_tensor(x: object) -> bool:
    """Whether x is a torch.Tensor, without importing torch (seconds) for numpy inputs."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def csr_from_sorted(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
                    ) -> sp.csr_matrix:
    """A CSR matrix from arrays whose rows already hold sorted, distinct
    columns. Built with the index type scipy would choose, and marked
    canonical, it skips scipy's checks: a deep circuit builds one per layer,
    and those checks cost more than the layer's own work."""
    index = np.int32 if max(indices.size, *shape) < 2 ** 31 else np.int64
    matrix = sp.csr_matrix((data, indices.astype(index), indptr.astype(index)), shape=shape)
    matrix.has_canonical_format = True
    return matrix


def _block(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, width: int) -> ReadoutBlock:
    """The ReadoutBlock of (row, column, value) entries, (n,) each."""
    order = np.lexsort((cols, rows))
    r, c = rows[order], cols[order]
    if ((np.diff(r) == 0) & (np.diff(c) == 0)).any():  # repeated (row, column): scipy adds them, as it always has
        kept, local = np.unique(rows, return_inverse=True)
        matrix = sp.coo_matrix((vals, (local, cols)), shape=(kept.size, width)).tocsr()
        matrix.sum_duplicates()
        return ReadoutBlock(kept, matrix)
    kept, starts = np.unique(r, return_index=True)
    return ReadoutBlock(kept, csr_from_sorted(vals[order], c, np.append(starts, r.size), (kept.size, width)))


def _dense(product: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A matrix product as a dense float32 array."""
    return product.toarray().astype(np.float32, copy=False) if sp.issparse(product) \
        else np.asarray(product, dtype=np.float32)


# a weight with more than this share of nonzeros times a dense batch runs as a dense product: a layer
# reading an input code (every entry nonzero) took 200 s of a 240 s error report as a CSR product
DENSE_WEIGHT_SHARE = 0.25


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
        if self.weight.nnz > DENSE_WEIGHT_SHARE * self.weight.shape[0] * self.weight.shape[1]:
            weight = self.weight.toarray()  # BLAS; scipy's CSR product is one thread and builds a sparse result
            z = (np.ascontiguousarray((h_t.T @ weight.T).T, dtype=np.float32) if sp.issparse(h_t)
                 else weight @ np.asarray(h_t, dtype=np.float32))
        else:
            z = _dense(self.weight @ h_t)
        z += self.bias[:, None]
        return np.maximum(z, 0.0, out=z) if self.relu else z


def _remapped_columns(weight: sp.csr_matrix, kept: np.ndarray) -> sp.csr_matrix:
    """weight (k, n) restricted to the columns `kept` ((j,) sorted, holding
    every column the rows use) -> (k, j): the same entries in the same order,
    renumbered (a monotone map keeps each row's order, so its sums are too)."""
    if kept.size == weight.shape[1]:
        return weight
    position = np.zeros(weight.shape[1], dtype=weight.indices.dtype)
    position[kept] = np.arange(kept.size, dtype=weight.indices.dtype)
    return sp.csr_matrix((weight.data, position[weight.indices], weight.indptr), shape=(weight.shape[0], kept.size))


def _restricted(layer: Layer, rows: np.ndarray, columns: np.ndarray | None) -> Layer:
    """The layer's neurons `rows` ((k,) sorted) reading only the units
    `columns` of its input ((j,) sorted, every unit those rows read; None: all)."""
    weight = layer.weight if rows.size == layer.width else layer.weight[rows]
    if columns is not None:
        weight = _remapped_columns(weight, columns)
    return Layer(weight, layer.bias if rows.size == layer.width else layer.bias[rows], layer.relu, layer.kind)


@dataclass
class ReadoutBlock:
    """The values that read one activation h_l: rows (k,) int64, strictly
    increasing, which of the readout's values; weight (k, width of h_l) CSR float32."""
    rows: np.ndarray
    weight: sp.csr_matrix


@dataclass
class Readout:
    """Values read linearly from the activations of some layers.

    blocks: activation index l -> ReadoutBlock, only for the layers some value
    reads and, in each, only the values that read it: the size is linear in
    the entries however deep the circuit (a chain reads each gate from its own
    layer). bias: (n_values,) float32.
    """
    blocks: dict[int, ReadoutBlock]
    bias: np.ndarray

    @classmethod
    def from_entries(cls, entries: list[list[tuple[int, int, float]]], n_values: int,
                     widths: list[int], bias: np.ndarray) -> "Readout":
        """entries[l]: (row, column, value) triples over h_l; repeated (row,
        column) pairs add up."""
        blocks = {}
        for l, (block, width) in enumerate(zip(entries, widths)):
            if block:
                rows, cols, vals = (np.asarray(v) for v in zip(*block))
                blocks[l] = _block(rows.astype(np.int64), cols.astype(np.int64), vals.astype(np.float32), width)
        return cls(blocks, np.asarray(bias, dtype=np.float32))

    @property
    def n_values(self) -> int:
        return self.bias.shape[0]

    def layer_matrix(self, l: int, width: int) -> sp.csr_matrix:
        """(n_values, width) CSR float32: block l with a row for every value
        (empty rows included: n_values + 1 row pointers, for consumers that
        want whole matrices, such as verification's bounds)."""
        if l not in self.blocks:
            return sp.csr_matrix((self.n_values, width), dtype=np.float32)
        block = self.blocks[l]
        counts = np.zeros(self.n_values, dtype=np.int64)
        counts[block.rows] = np.diff(block.weight.indptr)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return sp.csr_matrix((block.weight.data, block.weight.indices, indptr), shape=(self.n_values, width))

    def add_layer(self, out_t: np.ndarray, l: int, h_t: np.ndarray | sp.spmatrix) -> None:
        """out_t (n_values, batch) += block l times h_t (width_l, batch), in place."""
        block = self.blocks[l]
        out_t[block.rows] += _dense(block.weight @ h_t)

    def read_columns(self, hs_t: list[np.ndarray | sp.spmatrix]) -> np.ndarray:
        """hs_t[l]: (width_l, batch), transposed activations -> (n_values, batch) float32."""
        out_t = np.repeat(self.bias[:, None], hs_t[0].shape[1], axis=1)
        for l in sorted(self.blocks):
            self.add_layer(out_t, l, hs_t[l])
        return out_t

    def select(self, rows: np.ndarray) -> "Readout":
        """The readout of only the given values, rows (k,) distinct, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows)
        blocks = {}
        for l, block in self.blocks.items():
            at = np.minimum(np.searchsorted(rows[order], block.rows), max(rows.size - 1, 0))
            hit = np.flatnonzero(rows[order][at] == block.rows) if rows.size else np.zeros(0, np.int64)
            if hit.size:
                new_rows = order[at[hit]]
                sort = np.argsort(new_rows)
                blocks[l] = ReadoutBlock(new_rows[sort], block.weight[hit[sort]])
        return Readout(blocks, self.bias[rows])


def _gather(h_t: np.ndarray | sp.spmatrix) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function (units (k,), columns (k,)) -> (k,) float32 values
    h_t[units[i], columns[i]] of a dense or sparse (width, batch) activation;
    a sparse one is indexed once, by the sorted keys unit * batch + column of
    its nonzeros."""
    if not sp.issparse(h_t):
        return lambda units, columns: h_t[units, columns]
    coo = h_t.tocoo()
    keys = coo.row.astype(np.int64) * h_t.shape[1] + coo.col
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], np.append(coo.data[order], np.float32(0.0)).astype(np.float32)

    def gathered(units: np.ndarray, columns: np.ndarray) -> np.ndarray:
        wanted = units.astype(np.int64) * h_t.shape[1] + columns
        at = np.searchsorted(keys, wanted)
        found = at < keys.size
        found[found] = keys[at[found]] == wanted[found]
        return values[np.where(found, at, keys.size)]  # the appended 0 where the entry is not stored
    return gathered


def _own_products(weight: sp.csr_matrix, rows: np.ndarray, h_t: np.ndarray | sp.spmatrix, columns: np.ndarray
                  ) -> np.ndarray:
    """(k,) float32: weight row rows[i] times activation column columns[i]
    of h_t (width, batch), for every i, without the (len(rows), batch)
    product. Each sum runs over the row's entries in order from 0 in float32,
    as scipy's product does, so it equals that product's entry bit for bit."""
    starts, lengths = weight.indptr[rows], np.diff(weight.indptr)[rows]
    gather = _gather(h_t)
    total = np.zeros(rows.size, dtype=np.float32)
    for p in range(int(lengths.max(initial=0))):  # the p-th entry of every row that has one
        more = np.flatnonzero(lengths > p)
        entry = starts[more] + p
        total[more] += weight.data[entry] * gather(weight.indices[entry], columns[more])
    return total


@dataclass(repr=False)
class CompiledCircuit:
    """A compiled boolean program: weights, names, readouts and how it was made.

    meta: how it was compiled (lowering, strategy, sparsity, seed, measured
    figures: metadata.CircuitMeta), kept in the artifact.
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
    meta: CircuitMeta
    program: Circuit | None = None

    def __repr__(self) -> str:
        """One line: what it is and how big (the weights are in `layers`)."""
        return (f"CompiledCircuit({self.name!r}: {self.n_inputs} inputs, {self.n_gates} gates, "
                f"{self.n_outputs} outputs, {len(self.layers)} layers, {self.n_neurons} neurons, "
                f"{self.meta.lowering} lowering)")

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
            if readout.bias.shape != (n,):
                raise ValueError(f"{label} readout has bias {readout.bias.shape}, expected ({n},)")
            for l, block in readout.blocks.items():
                rows = block.rows
                if not 0 <= l < len(widths) or block.weight.shape != (rows.size, widths[l]) or rows.ndim != 1 \
                        or (rows.size and (rows[0] < 0 or rows[-1] >= n or (np.diff(rows) <= 0).any())):
                    raise ValueError(f"{label} readout block {l} has weight {block.weight.shape} over rows "
                                     f"{rows.size}, expected increasing rows below {n} over an activation of "
                                     f"the widths {widths[:8]}{'...' if len(widths) > 8 else ''}")

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

    def activations(self, x: np.ndarray | sp.spmatrix) -> list[np.ndarray | sp.spmatrix]:
        """x: (batch, n_inputs) of 0/1 -> [h_0, ..., h_L], h_l: (batch, width_l)
        (views of forward_columns; h_0 stays sparse when x is): the layers'
        activations by name in runtime.torch_module's run_with_cache, and the
        ground truth's datasets and dictionaries."""
        return [h.T for h in self.forward_columns(self._columns(x))]

    def read(self, x: np.ndarray | sp.spmatrix, readout: Readout) -> np.ndarray:
        """x: (batch, n_inputs) of 0/1 -> (batch, readout.n_values) float32 (read_columns)."""
        return self.read_columns(self._columns(x), readout).T

    def read_columns(self, x_t: np.ndarray | sp.spmatrix, readout: Readout) -> np.ndarray:
        """x_t: (n_inputs, batch) transposed inputs -> (readout.n_values, batch) float32.

        Same as readout.read_columns(self.forward_columns(x_t)), but holds one
        activation at a time, stops after the last layer the readout reads, and
        computes only the neurons the readout depends on (`cone`): a deep
        circuit with wide layers fits in memory, shallow gates cost shallow
        passes, and a few gates of a wide circuit cost their own neurons only.
        Every kept neuron sums the same entries in the same order as the whole
        layer would, so the values are bit-identical to the full pass."""
        out_t = np.repeat(readout.bias[:, None], x_t.shape[1], axis=1)
        for l, h_t, weight in self._cone_pass(x_t, readout):
            out_t[readout.blocks[l].rows] += _dense(weight @ h_t)
        return out_t

    def read_own(self, x: np.ndarray | sp.spmatrix, readout: Readout, owner: np.ndarray | None = None) -> np.ndarray:
        """x: (n, n_inputs) of 0/1 -> (n,) float32: row i read by value
        owner[i] of the readout only; owner (n,) int, default: the rows in
        n_values runs of n / n_values, one run per value (a report measures
        each gate on its own samples). The same numbers as
        read(x, readout)[i, owner[i]], without reading every value on every
        row: only the cone of the readout is computed, and each row's value
        sums the same entries in the same order (_own_products)."""
        x_t = self._columns(x)
        if owner is None:
            owner = np.repeat(np.arange(readout.n_values), x_t.shape[1] // readout.n_values)
        out = readout.bias[owner]
        for l, h_t, weight in self._cone_pass(x_t, readout):
            position = np.full(readout.n_values, -1, dtype=np.int64)
            position[readout.blocks[l].rows] = np.arange(readout.blocks[l].rows.size)
            reads = np.flatnonzero(position[owner] >= 0)  # the rows whose value reads this layer
            out[reads] += _own_products(weight, position[owner[reads]], h_t, reads)
        return out

    def _cone_pass(self, x_t: np.ndarray | sp.spmatrix, readout: Readout
                   ) -> Iterator[tuple[int, np.ndarray | sp.spmatrix, sp.csr_matrix]]:
        """Yield (l, h_l restricted to the cone (k_l, batch), readout block l's
        weight over those k_l units) for every layer l the readout reads."""
        needed = self.cone(readout)
        h_t = x_t
        for l in range(len(needed)):
            if l:
                h_t = _restricted(self.layers[l - 1], needed[l], None if l == 1 else needed[l - 1]).apply_columns(h_t)
            if l in readout.blocks:
                weight = readout.blocks[l].weight
                yield l, h_t, weight if l == 0 else _remapped_columns(weight, needed[l])

    def cone(self, readout: Readout) -> list[np.ndarray]:
        """needed[l]: (k_l,) sorted indices of the units of h_l that the
        readout's values depend on, for l = 0 .. the last layer it reads
        (h_0's entry lists every input: inputs are never sliced)."""
        last = max(readout.blocks, default=0)
        needed: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * (last + 1)
        below = np.zeros(0, dtype=np.int64)  # units of h_l that layer l + 1's needed neurons read
        for l in range(last, 0, -1):
            own = readout.blocks[l].weight.indices if l in readout.blocks else np.zeros(0, dtype=np.int64)
            needed[l] = np.union1d(own, below).astype(np.int64)
            below = np.unique(self.layers[l - 1].weight[needed[l]].indices)
        needed[0] = np.arange(self.n_inputs, dtype=np.int64)
        return needed

    def run(self, x: np.ndarray | sp.spmatrix | torch.Tensor) -> np.ndarray | torch.Tensor:
        """x: (batch, n_inputs) of 0/1 -> (batch, n_outputs) float32 readouts
        (a torch tensor for a torch tensor, on its device)."""
        return self._read_like(x, self.output_readout)

    def gate_values(self, x: np.ndarray | sp.spmatrix | torch.Tensor) -> np.ndarray | torch.Tensor:
        """x: (batch, n_inputs) of 0/1 -> (batch, n_gates) float32 readouts
        (a torch tensor for a torch tensor, on its device)."""
        return self._read_like(x, self.gate_readout)

    def _read_like(self, x: np.ndarray | sp.spmatrix | torch.Tensor, readout: Readout) -> np.ndarray | torch.Tensor:
        """`read`, answering a torch tensor with a float32 one on its device
        (computed by the numpy runtime; torch itself is never imported here)."""
        if not _is_torch_tensor(x):
            return self.read(x, readout)
        return x.float().new_tensor(self.read(x.detach().cpu().numpy(), readout))
