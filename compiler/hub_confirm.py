"""Confirmation of a one-layer superposed compile on its compiled weights.

The hub packing aims each pair's *predicted* error at the target itself (no
safety share): what the prediction misses (structured co-activity, OR's
overcount, gates of mixed types, sampling of the report) is caught here.
Every gate is measured on the compiled circuit on the report's stratified
distribution (compiler/sampling.program_gate_samples) with the report's error
rule (sampling.stratified_rates) under every fill of co_activity.FILLS
(uniform and neighbourhood), keeping the worst of the fills, so the guarantee
holds whichever fill a report uses.

A confirmed gate must stay within the target where a user checks it, the
confirmed report, which re-measures its worst gates on REPORT_SAMPLES fresh
inputs: a gate whose true error sits at the target reads over it there half
the time. So gates are held to the *pass bound*, the target less REPORT_Z of
the report's standard errors (pass_bound), and judged on the Wilson bounds of
their measured error (sampling.wilson_upper), CONFIDENCE_Z standard errors
out, not on the point estimate: a gate *passes* a fill when the upper bound is
within the pass bound, which is the same as
    measured + CONFIDENCE_Z * sqrt(bound * (1 - bound) / samples) <= bound
(the Wilson interval is the set of rates within z standard errors of the
measurement); it *fails* when the lower bound is above the pass bound. The
others are borderline: they are measured again on fresh samples, the counts
of every round pooled, in rounds of STAGE_SAMPLES (cumulative: 1,000,
doubling up to 32,000 per gate and fill). So a gate that is clearly in or clearly out
costs the screen alone, and only the gates near the target are confirmed on
many samples (which narrow the bound by as much as the report's margin takes
off it); whatever is still not within the pass bound after the last round is
returned for repair (lower_superposed.lower_hub). Pooling is conservative: a
gate is re-measured because its first figure was high, and those samples stay.
"""
from __future__ import annotations

import math

import numpy as np

from superpose.compiler.co_activity import FILLS
from superpose.compiler.sampling import StratifiedRates, program_gate_samples, stratified_rates, wilson_upper
from superpose.network import THRESHOLD, CompiledCircuit

SCREEN_SAMPLES = 1000  # stratified inputs per gate and fill in the screening pass (the report's default)
# pooled samples per gate and fill after each round: the screen, then the borderline gates only
STAGE_SAMPLES = tuple(SCREEN_SAMPLES * 2 ** k for k in range(6))  # doubling: a gate stops as soon as it is clear
CONFIDENCE_Z = 2.0     # standard errors a measured rate must sit below the pass bound (one-sided, ~97.7%)
REPORT_SAMPLES = 10_000  # a confirmed report's re-measurement of its worst gates: 1,000 samples x 10, its defaults
REPORT_Z = 1.0         # the report's standard errors kept between a passed gate and the target


def measured_rates(circuit: CompiledCircuit, gates: np.ndarray, samples: int, seed: int, fill: str
                   ) -> StratifiedRates:
    """The rates of every listed gate, (len(gates),) each, on `samples`
    stratified inputs of its own, read on the compiled weights as the report
    reads them (CompiledCircuit.read_own)."""
    parts = []
    for batch, inputs, wanted, owner in program_gate_samples(circuit.program, samples, circuit.meta.sparsity,
                                                             seed, gates, fill):
        values = circuit.read_own(inputs, circuit.gate_readout.select(batch), owner)
        parts.append(stratified_rates(values > THRESHOLD, wanted, owner, batch.size))
    return StratifiedRates.concatenate(parts, gates.size)


def stratified_errors(circuit: CompiledCircuit, gates: np.ndarray, samples: int, seed: int, fill: str
                      ) -> np.ndarray:
    """(len(gates),) every listed gate's error on `samples` stratified inputs
    of its own: the mean of its false-positive and false-negative rates (the
    rate of the one side a constant gate has), as the report measures it."""
    return measured_rates(circuit, gates, samples, seed, fill).error


def worst_fill_errors(circuit: CompiledCircuit, gates: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """(len(gates),) the larger of every gate's errors under the fills of co_activity.FILLS."""
    return np.max([stratified_errors(circuit, gates, samples, seed + i, fill) for i, fill in enumerate(FILLS)],
                  axis=0)


def pass_bound(target: float) -> float:
    """The error a confirmed gate is held to: the target less REPORT_Z
    standard errors of the confirmed report's re-measurement (module docstring)."""
    return target - REPORT_Z * math.sqrt(target * (1.0 - target) / REPORT_SAMPLES)


def passes(errors: np.ndarray, target: float, samples: int) -> np.ndarray:
    """(k,) bool: measured `errors` (on `samples` each) within the pass bound
    of `target` with confidence: their Wilson upper bound is (module docstring)."""
    return wilson_upper(errors, samples, CONFIDENCE_Z) <= pass_bound(target)


def confirmable(target: float) -> float:
    """The largest error a gate can have and still pass on its last round
    with some certainty: the pass bound less CONFIDENCE_Z standard errors at
    the last round's pooled sample count. What the packing aims at, so that
    the gates it predicts within the target are not repaired for sampling noise alone."""
    bound = pass_bound(target)
    return bound - CONFIDENCE_Z * math.sqrt(bound * (1.0 - bound) / STAGE_SAMPLES[-1])


def confirm(circuit: CompiledCircuit, gates: np.ndarray, target: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Measure the listed gates, (k,) int, of `circuit` under every fill, in
    rounds (module docstring): returns (k,) the measured errors (the worst
    fill's, on every sample a gate got) and the bool mask of the gates that
    do not pass. The seeds come from `rng`, so the confirmation is as
    deterministic as the compile."""
    if not gates.size:
        return np.zeros(0), np.zeros(0, dtype=bool)
    seeds, bound = rng.integers(0, 2 ** 31, size=len(STAGE_SAMPLES)), pass_bound(target)
    wrong = np.zeros((len(FILLS), gates.size))   # wrong samples so far, per fill and gate
    drawn = np.zeros((len(FILLS), gates.size))   # samples so far
    open_ = np.ones((len(FILLS), gates.size), dtype=bool)  # (fill, gate) still borderline
    failing = np.zeros(gates.size, dtype=bool)
    for stage, (total, seed) in enumerate(zip(STAGE_SAMPLES, seeds)):
        samples = total - (STAGE_SAMPLES[stage - 1] if stage else 0)
        for i, fill in enumerate(FILLS):
            todo = np.flatnonzero(open_[i] & ~failing)
            if todo.size:
                # the error is the share of wrong samples (half are drawn on each side): counts pool
                rates = measured_rates(circuit, gates[todo], samples, int(seed) + i, fill)
                wrong[i, todo] += np.rint(rates.error * samples)
                drawn[i, todo] += samples
        rate = wrong / np.maximum(drawn, 1)
        failing |= (open_ & (wilson_upper(rate, drawn, -CONFIDENCE_Z) > bound)).any(axis=0)
        open_ &= wilson_upper(rate, drawn, CONFIDENCE_Z) > bound
    failing |= open_.any(axis=0)
    return (wrong / np.maximum(drawn, 1)).max(axis=0), failing
