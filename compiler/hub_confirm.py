"""Confirmation of a one-layer superposed compile on its compiled weights.

The hub packing aims each pair's *predicted* error at the target itself (no
safety share): what the prediction misses (structured co-activity, OR's
overcount, gates of mixed types, sampling of the report) is caught here.
Every gate is measured on the compiled circuit on the report's stratified
distribution (compiler/sampling.program_gate_samples) under every fill of
co_activity.FILLS (uniform and neighbourhood), keeping the worst of the fills,
so the guarantee holds whichever fill a report uses.

A gate *passes* when its measured error is below the target with confidence:
    measured + CONFIDENCE_Z * sqrt(target * (1 - target) / samples) <= target
(the standard error of a rate of about the target measured on `samples`
inputs). Gates are screened on SCREEN_SAMPLES inputs per fill; those that do
not pass are re-measured on RECHECK_FACTOR x fresh samples, and the ones that
still do not pass are returned for repair (lower_superposed.lower_hub).
"""
from __future__ import annotations

import math

import numpy as np

from superpose.compiler.co_activity import FILLS
from superpose.compiler.sampling import program_gate_samples
from superpose.network import THRESHOLD, CompiledCircuit

SCREEN_SAMPLES = 1000  # stratified inputs per gate and fill in the screening pass (the report's default)
RECHECK_FACTOR = 10    # gates that do not pass the screen are re-measured on this many times the samples
CONFIDENCE_Z = 2.0     # standard errors a measured rate must sit below the target (one-sided, ~97.7%)


def stratified_errors(circuit: CompiledCircuit, gates: np.ndarray, samples: int, seed: int, fill: str
                      ) -> np.ndarray:
    """(len(gates),) every listed gate's error on `samples` stratified inputs
    of its own: the mean of its false-positive and false-negative rates (the
    rate of the one side a constant gate has), as the report measures it.
    `circuit`: ReLU layers with no positive bias (Layer.apply_columns_sparse),
    as the hub lowering builds without an embedding."""
    errors = np.zeros(gates.size)
    position = {int(g): i for i, g in enumerate(gates)}
    for batch, inputs, wanted, owner in program_gate_samples(circuit.program, samples, circuit.meta.sparsity,
                                                             seed, gates, fill):
        activations = [inputs.T]  # one value per input row: its own gate's, on sparse activations
        for layer in circuit.layers:
            activations.append(layer.apply_columns_sparse(activations[-1]))
        wrong = (circuit.gate_readout.read_diagonal(batch[owner], activations) > THRESHOLD) != wanted
        counts = [np.bincount(owner[side], minlength=batch.size) for side in (wanted, ~wanted)]
        misses = [np.bincount(owner[side], wrong[side], minlength=batch.size) for side in (wanted, ~wanted)]
        rates = np.array([m / np.maximum(c, 1) for m, c in zip(misses, counts)])   # (2, batch)
        present = np.array([c > 0 for c in counts])
        errors[[position[int(g)] for g in batch]] = (rates * present).sum(axis=0) / present.sum(axis=0)
    return errors


def worst_fill_errors(circuit: CompiledCircuit, gates: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """(len(gates),) the larger of every gate's errors under the fills of co_activity.FILLS."""
    return np.max([stratified_errors(circuit, gates, samples, seed + i, fill) for i, fill in enumerate(FILLS)],
                  axis=0)


def passes(errors: np.ndarray, target: float, samples: int) -> np.ndarray:
    """(k,) bool: measured `errors` below `target` with confidence (module docstring)."""
    return errors + CONFIDENCE_Z * math.sqrt(target * (1.0 - target) / samples) <= target


def confirmable(target: float) -> float:
    """The largest error a gate can have and still pass on re-measurement
    with some certainty: the target less CONFIDENCE_Z standard errors at the
    re-measured sample count. What the packing aims at, so that the gates it
    predicts within the target are not repaired for sampling noise alone."""
    return target - CONFIDENCE_Z * math.sqrt(target * (1.0 - target) / (SCREEN_SAMPLES * RECHECK_FACTOR))


def confirm(circuit: CompiledCircuit, gates: np.ndarray, target: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Measure the listed gates, (k,) int, of `circuit` under every fill:
    returns (k,) the measured errors (the re-measured figure where a gate was
    re-measured) and the bool mask of the gates that do not pass. The seeds
    come from `rng`, so the confirmation is as deterministic as the compile."""
    if not gates.size:
        return np.zeros(0), np.zeros(0, dtype=bool)
    screen_seed, recheck_seed = (int(x) for x in rng.integers(0, 2 ** 31, size=2))
    errors = worst_fill_errors(circuit, gates, SCREEN_SAMPLES, screen_seed)
    suspects = ~passes(errors, target, SCREEN_SAMPLES)
    recheck = SCREEN_SAMPLES * RECHECK_FACTOR
    if suspects.any():
        errors[suspects] = worst_fill_errors(circuit, gates[suspects], recheck, recheck_seed)
    failing = np.zeros(gates.size, dtype=bool)
    failing[suspects] = ~passes(errors[suspects], target, recheck)
    return errors, failing
