"""The hub lowering's calibrated packing: every gate within the target on the
confirmed report under both fills (uniform and neighbourhood), because the
compiler confirms every gate near the target on the compiled weights and
repairs what misses (compiler/hub_confirm.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import superpose
from superpose import compiler
from superpose.compiler.co_activity import FILLS
from superpose.compiler.generators import random_pairs_circuit
from superpose.compiler.generators.circuits import circuits_circuit
from superpose.compiler import hub_confirm
from superpose.compiler.hub_confirm import CONFIDENCE_Z, STAGE_SAMPLES, pass_bound, passes
from superpose.compiler import lower_superposed
from superpose.compiler.hub_packing import (choose_danger_limit, pack_pairs, pair_errors, pattern_weights,
                                            search_danger_limit)
from superpose.compiler.sampling import StratifiedRates, stratified_rates, wilson_upper
from superpose.runtime.cli import main

ROOT = Path(__file__).resolve().parents[1]
REPORT_SAMPLES, REPORT_CONFIRM = 1000, 50  # the report's default samples; its worst gates on 10x fresh ones


def worst_over_fills(compiled: superpose.CompiledCircuit) -> float:
    """The largest gate error of the confirmed report under either fill (seeds unrelated to compilation)."""
    return max(superpose.error_report(compiled, samples=REPORT_SAMPLES, seed=4242, confirm=REPORT_CONFIRM,
                                      fill=fill).summary()["max_error"] for fill in FILLS)


def test_calibrated_uand_meets_the_target_under_both_fills() -> None:
    target = 0.05
    compiled = compiler.compile_circuit(random_pairs_circuit(128, 256, 3, 0),
                                        options=compiler.HubOptions(target_error=target))
    assert compiled.meta.figures["confirmed"]
    assert compiled.n_neurons < 256 / 2  # superposed: more than 2 gates per neuron
    assert worst_over_fills(compiled) <= target


@pytest.mark.parametrize("target", [0.01, 0.05])
def test_confirmation_and_repair_are_what_meet_the_target(target: float) -> None:
    """programs/large.sbp builds gates on gates (flattened: mixed polynomials
    over shared inputs, wider supports than their pairs): the
    packing's prediction alone (confirm=False) leaves gates over the target;
    confirmed and repaired, every gate is within it."""
    program = compiler.load_circuit(str(ROOT / "programs" / "large.sbp"))
    alone = compiler.compile_circuit(program, options=compiler.HubOptions(target_error=target, confirm=False))
    confirmed = compiler.compile_circuit(program, options=compiler.HubOptions(target_error=target))
    assert not alone.meta.figures["confirmed"] and confirmed.meta.figures["confirmed"]
    assert worst_over_fills(alone) > target
    assert confirmed.meta.figures["repaired_pairs"] > 0
    assert worst_over_fills(confirmed) <= target


def test_hub_compile_of_circuits_holds_under_the_neighbourhood_fill() -> None:
    """circuits-T flattened: other hubs of one circuit fire together, the
    failure the uniform fill does not see (41% worst gate at T = 512 before)."""
    target = 0.01
    compiled = compiler.compile_circuit(circuits_circuit(64, 3, 4, 8, 4, 0), strategy="hub")
    report = superpose.error_report(compiled, samples=REPORT_SAMPLES, seed=4242, confirm=REPORT_CONFIRM,
                                    fill="neighbourhood")
    assert report.summary()["max_error"] <= target, report.worst(3)
    assert worst_over_fills(compiled) <= target


def test_confirmed_compile_is_deterministic(tmp_path: Path) -> None:
    program = compiler.load_circuit(str(ROOT / "programs" / "large.sbp"))
    paths = [tmp_path / f"{i}.safetensors" for i in range(2)]
    for path in paths:
        superpose.save(compiler.compile_circuit(program, strategy="hub", seed=3), path)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_pattern_weights_price_and_not_three_times_an_and() -> None:
    """A misfire of AND(a, b) costs an AND 1/6 per false pattern ({a}, {b}, {}),
    and a & !b (= a - ab) 1/2 on {a}, its only true pattern."""
    and_weights = pattern_weights({(0, 1): 1.0}, (0, 1), [0, 1], 3)
    and_not_weights = pattern_weights({(0,): 1.0, (0, 1): -1.0}, (0, 1), [0, 1], 3)
    assert np.allclose(and_weights, [1 / 6, 1 / 6, 1 / 6, 0.0])
    assert np.isclose(and_not_weights[0], 0.5) and and_not_weights[0] == and_not_weights.max()


def test_a_gate_passes_only_below_the_target_with_confidence() -> None:
    assert passes(np.array([0.0]), 0.01, 10_000).all()
    assert not passes(np.array([0.0095]), 0.01, 10_000).any()  # within two standard errors of the target
    assert not passes(np.array([0.02]), 0.01, 10_000).any()


def test_compile_and_info_report_the_confirmation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tmp_path / "large.safetensors"
    assert main(["compile", str(ROOT / "programs" / "large.sbp"), "--strategy", "hub", "-o", str(artifact)]) == 0
    figures = superpose.load(str(artifact)).meta.figures
    line = (f"repaired pairs {figures['repaired_pairs']:,} ({figures['repair_share']:.2%} of "
            f"{figures['pair_monomials']:,} pairs")
    assert figures["repaired_pairs"] > 0 and line in capsys.readouterr().out
    assert main(["info", str(artifact)]) == 0
    assert line in capsys.readouterr().out


def test_the_wilson_bound_is_the_pass_rule_and_narrows_with_samples() -> None:
    """passes() is the Wilson test against the pass bound: the upper bound is
    within it exactly when the measured rate is CONFIDENCE_Z standard errors
    (at the bound) below it; a rate measured at 0 still has a bound above 0,
    and more samples narrow it."""
    bound = pass_bound(0.01)
    assert 0.0085 < bound < 0.01  # one standard error of a report's 10,000 samples below the target
    for samples in STAGE_SAMPLES:
        rates = np.linspace(0.0, 0.02, 401)
        edge = bound - CONFIDENCE_Z * np.sqrt(bound * (1 - bound) / samples)
        near_edge = np.abs(rates - edge) < 1e-9
        assert np.array_equal(passes(rates, 0.01, samples)[~near_edge], (rates <= edge)[~near_edge])
    assert 0.0 < wilson_upper(np.array(0.0), 1000, CONFIDENCE_Z) < wilson_upper(np.array(0.0), 100, CONFIDENCE_Z)
    rate = np.array(0.005)
    low, high = wilson_upper(rate, 3000, -CONFIDENCE_Z), wilson_upper(rate, 3000, CONFIDENCE_Z)
    assert low < rate < high and high - low > wilson_upper(rate, 30_000, CONFIDENCE_Z) - wilson_upper(
        rate, 30_000, -CONFIDENCE_Z)


def test_stratified_rates_is_the_report_rule() -> None:
    """Two gates, one with both sides and one constant (every sample true):
    false-positive and false-negative rates, NaN for the side a gate lacks,
    and the error their mean or the one rate."""
    said = np.array([True, False, False, True, True, True, False, True])
    wanted = np.array([True, True, False, False, True, True, True, True])
    owner = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    rates = stratified_rates(said, wanted, owner, 2)
    assert rates.false_positive[0] == 0.5 and rates.false_negative[0] == 0.5 and rates.error[0] == 0.5
    assert np.isnan(rates.false_positive[1]) and rates.false_negative[1] == 0.25 and rates.error[1] == 0.25
    assert rates.n_false.tolist() == [2, 0] and rates.n_true.tolist() == [2, 4]


def test_borderline_gates_are_confirmed_on_more_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """With measurements that return each gate's true error: a gate
    clearly within the target passes on the screen, one clearly over it
    fails there (no re-measurement), one near the pass bound is measured
    again until its Wilson bound decides (pooled samples), and one just under
    the target but over the pass bound goes to repair."""
    truth = {0: 0.001, 1: 0.03, 2: 0.0075, 3: 0.0095}
    drawn: dict[int, int] = {g: 0 for g in truth}

    def exact(circuit: object, gates: np.ndarray, samples: int, seed: int, fill: str) -> StratifiedRates:
        for g in gates:
            drawn[int(g)] += samples
        rate = np.round(np.array([truth[int(g)] for g in gates]) * samples) / samples  # whole wrong samples
        half = np.full(gates.size, samples // 2)
        return StratifiedRates(rate, rate, half, half)

    monkeypatch.setattr(hub_confirm, "measured_rates", exact)
    errors, failing = hub_confirm.confirm(None, np.arange(4), 0.01, np.random.default_rng(0))
    per_fill = {g: n // len(FILLS) for g, n in drawn.items()}
    assert per_fill[0] == per_fill[1] == STAGE_SAMPLES[0] and per_fill[3] == STAGE_SAMPLES[-1]
    assert STAGE_SAMPLES[0] < per_fill[2] and per_fill[2] in STAGE_SAMPLES
    assert failing.tolist() == [False, True, False, True]
    assert np.allclose(errors, [truth[g] for g in range(4)], atol=5e-4)


@pytest.mark.parametrize("first", [2, 4, 16, 64])
def test_the_limit_search_finds_the_same_limit_from_any_first_probe(first: int) -> None:
    """search_danger_limit, started at any limit, finds what choose_danger_limit
    (doubling from 2) finds, and returns that limit's packing and predictions."""
    program = random_pairs_circuit(128, 256, 3, 0)
    pairs = sorted({t for poly in lower_superposed._expand(program, "hub").polys for t in poly if len(t) == 2})
    expected = choose_danger_limit(pairs, 0.02, 128, 3, share=1.0)
    limit, neurons, predicted = search_danger_limit(pairs, 0.02, 128, 3, first=first)
    assert limit == expected and 2 < limit < 64
    assert len(neurons) == len(pack_pairs(pairs, limit)) and predicted == pair_errors(neurons, 128, 3)
