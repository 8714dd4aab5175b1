"""The toolkit every lowering builds with: affine rows, rows to CSR, readouts.

An `Affine` is a value read linearly from one activation, (row, bias) with
row: unit -> weight; a lowering builds each neuron's pre-activation as an
Affine over the previous layer, and reads each gate as an Affine over the
layer where it lives, placed there as (layer, Affine). Buffer resolution,
which the analyses need too, is ir.resolve_buffers.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from superpose.compiler.errors import CompileError
from superpose.network import Layer, Readout, csr_from_sorted

ENTRY_CHUNK = 1 << 22  # matrix entries csr_entries looks up at a time (scipy builds an index per chunk)

Affine = tuple[dict[int, float], float]  # (unit -> weight over one activation, bias)
ReadoutTerms = tuple[float, list[tuple[int, int, float]]]  # (bias, [(activation index, unit, weight)])


def combine(terms: list[tuple[float, Affine]], offset: float = 0.0) -> Affine:
    """sum(c * affine) + offset as one affine row, without zero weights."""
    row: dict[int, float] = {}
    bias = offset
    for c, (weights, b) in terms:
        for unit, w in weights.items():
            row[unit] = row.get(unit, 0.0) + c * w
        bias += c * b
    return {u: w for u, w in row.items() if w != 0.0}, bias


def negate(value: Affine) -> Affine:
    """1 - value: a NOT costs no neuron, it is folded into whatever reads it."""
    row, bias = value
    return {u: -w for u, w in row.items()}, 1.0 - bias


def csr_from_rows(rows: list[dict[int, float]], n_columns: int) -> sp.csr_matrix:
    """(len(rows), n_columns) float32 CSR, column indices sorted, from rows
    given as unit -> weight."""
    ordered = [sorted(row.items()) for row in rows]
    indptr = np.cumsum([0] + [len(row) for row in rows])
    columns = np.fromiter((c for row in ordered for c, _ in row), np.int64, int(indptr[-1]))
    values = np.fromiter((w for row in ordered for _, w in row), np.float32, int(indptr[-1]))
    return csr_from_sorted(values, columns, indptr, (len(rows), n_columns))


def relu_layer(rows: list[Affine], width_in: int, kind: str) -> Layer:
    """ReLU(row . h + bias) for every row, over an activation of width_in units."""
    return Layer(csr_from_rows([row for row, _ in rows], width_in), np.asarray([b for _, b in rows], np.float32),
                 relu=True, kind=kind)


def readout_from_terms(values: list[ReadoutTerms], widths: list[int]) -> Readout:
    """A Readout whose row i is values[i]: a bias and weights on units of any
    activation (widths: of h_0 .. h_L). Repeated (activation, unit) pairs add up."""
    entries: list[list[tuple[int, int, float]]] = [[] for _ in widths]
    for r, (_, terms) in enumerate(values):
        for layer, unit, weight in terms:
            entries[layer].append((r, unit, weight))
    return Readout.from_entries(entries, len(values), widths, np.asarray([b for b, _ in values], np.float32))


def readout_from_affines(values: list[tuple[int, Affine]], widths: list[int]) -> Readout:
    """A Readout whose row i reads values[i] = (layer, Affine) from that one layer."""
    return readout_from_terms([(bias, [(layer, unit, w) for unit, w in row.items()])
                               for layer, (row, bias) in values], widths)


def check_target_error(target_error: float) -> None:
    """CompileError unless 0 < target_error < 1."""
    if not 0.0 < target_error < 1.0:
        raise CompileError(f"target_error must be strictly between 0 and 1, got {target_error}")


def csr_entries(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(len(rows),) float64: matrix[rows[i], cols[i]], looked up in chunks (scipy builds a dense index per chunk)."""
    out = np.empty(rows.size)
    for start in range(0, rows.size, ENTRY_CHUNK):
        part = slice(start, start + ENTRY_CHUNK)
        out[part] = np.asarray(matrix[rows[part], cols[part]]).ravel()
    return out
