"""Activation datasets: inputs from the program's sparse distribution, the
activations of chosen layers, and every gate's true value (the interpreter's).

Sampling modes (every input has at most s features on, s the sparsity):
  uniform      k uniform in 1..s features on, uniformly chosen. On a wide
               one-layer circuit most hidden rows are then all zero (a random
               pair of features is rarely a gate).
  enriched     a uniformly chosen gate, then an input of its stratified
               distribution on which it is *true* (compiler.sampling): every row
               wakes at least the neurons of one gate.
  stratified   a uniformly chosen gate, then an input of its stratified
               distribution (true or false with probability 1/2 each): the
               distribution the error report measures.
  zipf         feature i (input order) on independently with probability
               proportional to (i + 1)^-exponent, scaled so that s/2 are on
               on average (clipped at 1); more than s on: a random s are kept.
  probabilities  the same with a user-given (n_inputs,) vector of firing
               probabilities.

`batches` is the iterator for training loops; runtime.shards writes them to
disk. The same circuit, mode, options and seed give the same rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import scipy.sparse as sp

from superpose.compiler.interpret import evaluate
from superpose.network import CompiledCircuit
from superpose.errors import UserError
from superpose.compiler.sampling import _distinct_fill, sample_gate

MODES = ("uniform", "enriched", "stratified", "zipf", "probabilities")
BATCH_ROWS = 16384  # rows sampled at once by default: sampling per gate pays per call, ~4x faster per row than 4096
ZIPF_MEAN_SHARE = 0.5  # zipf inputs have s * this many features on on average (before the cap at s)


@dataclass(frozen=True)
class Distribution:
    """How inputs are drawn: a mode of MODES, the Zipf exponent, or the
    per-feature firing probabilities (n_inputs,) for mode "probabilities"."""
    mode: str = "enriched"
    zipf_exponent: float = 1.0
    probabilities: tuple[float, ...] | None = None

    def check(self, circuit: CompiledCircuit) -> None:
        """UserError when the distribution does not fit the circuit."""
        if self.mode not in MODES:
            raise UserError(f"unknown sampling mode {self.mode!r} (choose {', '.join(MODES)})")
        if circuit.program is None:
            raise UserError(f"{circuit.name}: the artifact carries no program, so there are no true labels")
        if self.mode in ("enriched", "stratified") and not circuit.n_gates:
            raise UserError(f"{circuit.name} has no gates to enrich or stratify on")
        if self.mode == "probabilities":
            p = np.asarray(self.probabilities if self.probabilities is not None else [], dtype=float)
            if p.shape != (circuit.n_inputs,) or not np.all((p >= 0) & (p <= 1)):
                raise UserError(f"mode 'probabilities' needs {circuit.n_inputs} firing probabilities in [0, 1], "
                                f"got {p.size}")


def max_active(circuit: CompiledCircuit) -> int:
    """The sparsity the circuit was compiled for, or every input when it has none."""
    return int(circuit.program.sparsity or circuit.n_inputs)


def _csr(active: np.ndarray, n_inputs: int) -> sp.csr_matrix:
    """(n, width) feature indices, -1 padded -> (n, n_inputs) CSR of 0/1."""
    valid = active >= 0
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    return sp.csr_matrix((np.ones(int(indptr[-1]), np.float32), active[valid], indptr), shape=(len(active), n_inputs))


def _uniform(n: int, m: int, s: int, rng: np.random.Generator) -> sp.csr_matrix:
    return _csr(_distinct_fill(rng.integers(1, s + 1, size=n), np.arange(m), rng), m)


def _independent(n: int, p: np.ndarray, s: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Each feature on with its probability; rows with more than s on keep a random s."""
    on = rng.random((n, p.size)) < p[None, :]
    keys = np.where(on, rng.random(on.shape), 2.0)  # the s smallest keys among the features on
    keep = np.argsort(keys, axis=1)[:, :s]
    return _csr(np.where(np.take_along_axis(keys, keep, axis=1) < 2.0, keep, -1), p.size)


def _zipf_probabilities(m: int, s: int, exponent: float) -> np.ndarray:
    weights = (np.arange(m) + 1.0) ** -exponent
    return np.minimum(1.0, s * ZIPF_MEAN_SHARE * weights / weights.sum())


def _gate_rows(circuit: CompiledCircuit, n: int, s: int, true_only: bool, rng: np.random.Generator) -> sp.csr_matrix:
    """n rows, each from the stratified distribution of a uniformly chosen gate
    (only its true side with `true_only`; a gate never true gives its false rows)."""
    program = circuit.program
    supports, signals = program.supports(), program.gate_signals
    gates = rng.integers(0, circuit.n_gates, size=n)
    rows = [sp.csr_matrix((0, circuit.n_inputs), dtype=np.float32)]
    order = []
    for g in np.unique(gates):
        count = int((gates == g).sum())
        drawn = sample_gate(program, signals[g], sorted(supports[signals[g]]), 2 * count if true_only else count, s,
                            rng)
        picked = np.flatnonzero(drawn.wanted) if true_only and drawn.wanted.any() else np.arange(drawn.wanted.size)
        rows.append(drawn.inputs[picked[:count]])
        order.append(np.flatnonzero(gates == g))
    return sp.vstack(rows, format="csr")[np.argsort(np.concatenate(order))]


def sample_inputs(circuit: CompiledCircuit, n: int, distribution: Distribution,
                  rng: np.random.Generator) -> sp.csr_matrix:
    """(n, n_inputs) CSR of 0/1 from the distribution (see the module docstring)."""
    distribution.check(circuit)
    m, s = circuit.n_inputs, max_active(circuit)
    if distribution.mode == "uniform":
        return _uniform(n, m, s, rng)
    if distribution.mode in ("enriched", "stratified"):
        return _gate_rows(circuit, n, s, distribution.mode == "enriched", rng)
    p = _zipf_probabilities(m, s, distribution.zipf_exponent) if distribution.mode == "zipf" \
        else np.asarray(distribution.probabilities, dtype=float)
    return _independent(n, p, s, rng)


@dataclass
class ActivationBatch:
    """One batch of a dataset.
    inputs: (batch, n_inputs) CSR of 0/1; activations: {l: (batch, width_l)
    float32} for the chosen activation indices l (1..L; 0 is the input);
    gates: (batch, n_gates) bool, the interpreter's values."""
    inputs: sp.csr_matrix
    activations: dict[int, np.ndarray]
    gates: np.ndarray


def check_layers(circuit: CompiledCircuit, layers: list[int] | None) -> list[int]:
    """The activation indices to record (default: every layer); UserError for one that does not exist."""
    chosen = list(range(1, len(circuit.layers) + 1)) if layers is None else list(layers)
    bad = [l for l in chosen if not 1 <= l <= len(circuit.layers)]
    if bad:
        raise UserError(f"{circuit.name} has layers 1..{len(circuit.layers)}, not {', '.join(map(str, bad))}")
    return chosen


def batches(circuit: CompiledCircuit, samples: int, distribution: Distribution = Distribution(),
            layers: list[int] | None = None, batch_size: int = BATCH_ROWS, seed: int = 0) -> Iterator[ActivationBatch]:
    """`samples` rows in batches of `batch_size` (the last may be smaller): a
    Python iterator for training loops; memory holds one batch at a time."""
    distribution.check(circuit)
    chosen = check_layers(circuit, layers)
    if samples < 0 or batch_size < 1:
        raise UserError(f"samples must be >= 0 and batch size >= 1, got {samples} and {batch_size}")
    rng = np.random.default_rng(seed)
    program = circuit.program
    for start in range(0, samples, batch_size):
        inputs = sample_inputs(circuit, min(batch_size, samples - start), distribution, rng)
        hs = circuit.activations(inputs)
        truth = np.ascontiguousarray(evaluate(program, inputs.toarray() != 0)[:, program.gate_signals])
        yield ActivationBatch(inputs, {l: np.ascontiguousarray(hs[l]) for l in chosen}, truth)
