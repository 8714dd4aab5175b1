"""The deep lowering: example programs and a small circuits-T meet the target on
the stratified distribution, error control is what makes superposed levels
work, superposed levels give no wire a neuron of its own except measured
repairs, verify settles a small superposed circuit, the CLI picks a plan by
itself, and the same seed gives the same bytes."""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bench.gen_circuits import circuits_circuit
from superpose import compiler
from superpose.compiler import lower_deep as deep_module
from superpose.compiler.deep_codes import region_design
from superpose.compiler.deep_forms import Clip
from superpose.compiler.deep_hosted import (HOST_SLOPE, STRAY_SHARE, STRAY_SHARE_BEFORE_LAST, HostedForm,
                                            conflict_free_design, hosted_form, lay_out, repack_hosts, stray_reads)
from superpose.compiler.deep_probes import OwnRegionReads, RegionProbes
from superpose.compiler.interpret import evaluate
from superpose.compiler.lower_deep import DeepOptions, _DeepBuilder, _exact_neurons, _lower, lower_deep
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.runtime.artifact import load, save
from superpose.runtime.cli import EXIT_USER_ERROR, main
from superpose.runtime.report import error_report

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
TARGET = 0.01
SAMPLES = 200   # stratified samples per gate
CONFIRM = 30    # worst gates re-measured on 10x fresh samples
SPARSE_PROGRAMS = [p for p in sorted(PROGRAMS.glob("*.sbp")) if compiler.load_circuit(p).sparsity is not None]
# every level superposed, every region probed (48 x at most 163 patterns x 2 fills). Spread at H = 4 on
# T = 48 circuits at sparsity 4 (the densest co-activity circuits-T has, 4 of 48 active); hosted at S = 3 (a
# read tolerates one wrong host of either sign) with 4 clips per host, at sparsity 2 (2 of 48 active: at 4,
# no H and S tried kept every gate within 1%; bench/BENCHMARKS.md `## deep: hosted clips`)
SMALL = {"spread": dict(n_circuits=48, levels=3), "hosted": dict(n_circuits=48, levels=3, sparsity=2)}
SUPERPOSED = {"spread": DeepOptions(design="spread", superpose="always", hosts=(4,)),
              "hosted": DeepOptions(design="hosted", superpose="always", copies=3, hosts=(4,))}
NEURONS_PER_HOST = {"spread": 1, "hosted": 2}  # a hosted clip's host is two ReLUs


@functools.cache
def _small(design: str, control: bool) -> CompiledCircuit:
    return lower_deep(circuits_circuit(**SMALL[design]), dataclasses.replace(SUPERPOSED[design], control=control),
                      np.random.default_rng(0))


@pytest.mark.parametrize("design", sorted(SUPERPOSED))
@pytest.mark.parametrize("path", SPARSE_PROGRAMS, ids=[p.stem for p in SPARSE_PROGRAMS])
def test_example_programs_meet_the_target(path, design):
    compiled = compiler.compile_circuit(compiler.load_circuit(path), options=DeepOptions(design=design))
    assert compiled.meta.lowering == "deep"
    report = error_report(compiled, samples=SAMPLES, confirm=CONFIRM)
    assert report.summary()["max_error"] <= TARGET


@pytest.mark.parametrize("design", sorted(SUPERPOSED))
def test_superposed_circuits_meet_the_target(design):
    compiled = _small(design, control=True)
    assert [f["plan"] for f in compiled.meta.levels] == ["superposed"] * SMALL[design]["levels"]
    report = error_report(compiled, samples=SAMPLES, confirm=CONFIRM)
    worst = report.worst(1)[0]
    assert report.summary()["max_error"] <= TARGET, f"{worst.name}: {worst.error:.2%}"


@pytest.mark.parametrize("design", sorted(SUPERPOSED))
def test_without_error_control_the_superposed_circuits_miss_the_target(design):
    # the same layout with slope-1 clips, no on-indicators (spread), thresholds with no room for a stray read
    # (hosted) and no repair: what the margins buy
    compiled = _small(design, control=False)
    assert compiled.meta.control is False and compiled.meta.figures["repair_share"] == 0.0
    assert error_report(compiled, samples=50).summary()["max_error"] > 10 * TARGET


@pytest.mark.parametrize("design", sorted(SUPERPOSED))
def test_no_wire_owns_a_neuron_of_a_superposed_level_except_repairs(design):
    compiled = _small(design, control=True)
    for k, facts in enumerate(compiled.meta.levels, start=1):
        block = compiled.gate_readout.layer_matrix(k, compiled.layers[k - 1].width).tocsc()
        readers = np.diff(block.indptr)           # gates reading each unit of layer k
        # a unit one gate alone reads: a repaired small neuron's own, or a shared one the repair left one tenant
        # (the hosted repair moves a clip to fresh co-tenants first, a repair pool next, and then a host of its own)
        own = (facts["repaired_small_neurons"] - facts.get("repacked_small_neurons", 0)
               - facts.get("repair_pool_small_neurons", 0))
        assert facts["dedicated_neurons"] == own * NEURONS_PER_HOST[design]
        assert (readers == 1).sum() == facts["dedicated_neurons"] + facts["single_tenant_neurons"]
        assert (readers >= 2).sum() == facts["shared_neurons"]
    levels = compiled.meta.levels
    assert compiled.meta.figures["repair_share"] == pytest.approx(sum(f["repaired_small_neurons"] for f in levels)
                                                          / sum(f["small_neurons"] for f in levels))
    owned = sum(f["dedicated_neurons"] + f["single_tenant_neurons"] for f in levels)
    assert compiled.meta.figures["owned_neuron_share"] == pytest.approx(owned / sum(f["neurons"] for f in levels))


@pytest.mark.parametrize("circuit", [compiler.load_circuit(p) for p in SPARSE_PROGRAMS]
                         + [circuits_circuit(8, levels=3, sparsity=2, seed=0)],
                         ids=[p.stem for p in SPARSE_PROGRAMS] + ["circuits_T"])
def test_the_exact_network_is_counted_as_it_would_be_built(circuit):
    """lower_deep compares a mixed plan with the all-exact network by a count, building it only when it wins."""
    options = DeepOptions(hosts=())
    assert _exact_neurons(circuit, options) == _lower(circuit, options, np.random.default_rng(0), 0).n_neurons


def test_region_design_overlap():
    regions = np.repeat(np.arange(60), 3)
    placed, n_large = region_design(regions, 6, 8, np.random.default_rng(0))
    sets = [set(row) for row in placed.tolist()]
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            assert len(sets[i] & sets[j]) <= (0 if regions[i] == regions[j] else 1)
    assert placed.max() < n_large


@pytest.mark.parametrize("design", sorted(SUPERPOSED))
def test_verify_settles_a_small_superposed_circuit(design):
    from superpose.runtime.verify import verify
    circuit = circuits_circuit(24, levels=2, sparsity=2)  # C(192, <= 2) inputs: verify enumerates them all
    compiled = lower_deep(circuit, SUPERPOSED[design], np.random.default_rng(0))
    assert {f["plan"] for f in compiled.meta.levels} == {"superposed"}
    counts = verify(compiled).counts
    assert counts["unknown"] == 0 and sum(counts.values()) == len(circuit.gate_signals)


@pytest.mark.parametrize("design", sorted(SUPERPOSED))
def test_same_seed_same_bytes(tmp_path, design):
    circuit = circuits_circuit(16, levels=2)
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.safetensors")
        save(lower_deep(circuit, SUPERPOSED[design], np.random.default_rng(3)), str(paths[-1]))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_cli_picks_the_deep_plan_with_no_flags(tmp_path, capsys):
    out = tmp_path / "thresholds.safetensors"
    assert main(["compile", str(PROGRAMS / "thresholds.sbp"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "plan: deep" in " ".join(printed.split())
    assert load(str(out)).meta.lowering == "deep"
    assert main(["info", str(out)]) == 0
    assert "levels of the deep lowering" in " ".join(capsys.readouterr().out.split())


def test_cli_refuses_options_deep_ignores(tmp_path, capsys):
    out = tmp_path / "x.safetensors"
    assert main(["compile", str(PROGRAMS / "thresholds.sbp"), "--strategy", "deep", "--width", "8",
                 "-o", str(out)]) == EXIT_USER_ERROR
    assert "--width does not apply to --strategy deep" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_hosted_thresholds_leave_room_for_one_stray_read():
    # AND, OR, AND-NOT (a & !b) at S = 2: one stray read is 1/2
    stray, slope = 0.5, HOST_SLOPE
    and_form = hosted_form(Clip(9, ((1, 1.0), (2, 1.0)), 0.0, 1.5, 1.0), stray, slope)
    or_form = hosted_form(Clip(9, ((1, 1.0), (2, 1.0)), 0.0, 0.5, 1.0), stray, slope)
    and_not = hosted_form(Clip(9, ((1, 1.0), (2, -1.0)), 1.0, 1.5, 1.0), stray, slope)
    assert (and_form.threshold, or_form.threshold) == (1.75, 0.75)
    assert and_not.terms == ((1, 1.0), (2, -0.5)) and and_not.threshold == pytest.approx(0.625)
    rng = np.random.default_rng(0)
    for _ in range(200):  # any clip it shares: every clean value, strayed by one read, on its own side
        n = int(rng.integers(1, 5))
        weights = rng.choice([-1.0, 1.0], size=n)
        clip = Clip(0, tuple((i, float(w)) for i, w in enumerate(weights)), float(rng.integers(0, 3)),
                    float(rng.integers(-1, 4)) + 0.5, 1.0)
        form = hosted_form(clip, stray, slope)
        if not form.shareable:
            continue
        scaled = np.array([w for _, w in form.terms])
        for bits in itertools.product((0.0, 1.0), repeat=n):
            a = np.array(bits)
            truth = a @ weights + clip.constant >= clip.threshold
            for strayed in [a] + [a + stray * (np.arange(n) == i) * (a == 0) for i in range(n)]:
                value = strayed @ scaled
                assert (value > form.threshold + 0.5 / slope) if truth else (value < form.threshold - 0.5 / slope)


def test_a_level_with_no_clip_that_may_share_is_exact():
    # S = 1: one stray host reads as a whole unit, so no threshold has room for it and no clip shares a host
    compiled = lower_deep(circuits_circuit(**SMALL["hosted"]),
                          DeepOptions(design="hosted", superpose="always", copies=1, hosts=(4,)), np.random.default_rng(0))
    assert [f["plan"] for f in compiled.meta.levels] == ["exact"] * SMALL["hosted"]["levels"]


def _touching_items(n: int, n_regions: int, seed: int) -> tuple[np.ndarray, list[frozenset[int]]]:
    """n items of random regions, each touching its own and up to 4 others."""
    rng = np.random.default_rng(seed)
    regions = rng.integers(0, n_regions, n)
    return regions, [frozenset({int(r)} | set(rng.integers(0, n_regions, rng.integers(0, 5)).tolist())) for r in regions]


def test_co_tenants_stay_out_of_each_others_touch_and_two_regions_share_at_most_one_host():
    regions, touch = _touching_items(400, 300, seed=0)
    placed, n_hosts = conflict_free_design(regions, touch, 2, 6, np.random.default_rng(1))
    tenants = [np.flatnonzero((placed == h).any(axis=1)) for h in range(n_hosts)]
    assert max(t.size for t in tenants) <= 6 and all(len(set(placed[j])) == 2 for j in range(400))
    shared: dict[frozenset[int], int] = {}
    for t in tenants:
        for a, b in itertools.combinations(t.tolist(), 2):
            assert regions[a] not in touch[b] and regions[b] not in touch[a]  # no circuit strays its own host
            pair = frozenset({int(regions[a]), int(regions[b])})
            shared[pair] = shared.get(pair, 0) + 1
    assert shared and max(shared.values()) == 1


def test_the_layout_prefers_co_tenants_no_one_region_reaches_together():
    """Where it is easy (small touches, many regions), no region reaches two tenants of one host."""
    rng = np.random.default_rng(0)
    regions = rng.integers(0, 400, 300)
    touch = [frozenset({int(r)} | set(rng.integers(0, 400, rng.integers(1, 3)).tolist())) for r in regions]
    placed, n_hosts = conflict_free_design(regions, touch, 2, 4, np.random.default_rng(1))
    for h in range(n_hosts):
        tenants = np.flatnonzero((placed == h).any(axis=1)).tolist()
        assert all(not touch[a] & touch[b] for a, b in itertools.combinations(tenants, 2))


def test_a_pool_that_passes_at_no_h_gets_hosts_of_its_own_and_the_others_still_share(monkeypatch):
    """With a budget, one failing pool no longer makes its whole level exact."""
    captured = []
    real = deep_module._hosted_candidate

    def capture(deep, measure, hosted, rep, budget, rng):
        captured.append((deep, measure, hosted, rep))
        return real(deep, measure, hosted, rep, budget, rng)

    monkeypatch.setattr(deep_module, "_hosted_candidate", capture)
    lower_deep(circuits_circuit(100, levels=1, sparsity=2, seed=0), DeepOptions(design="hosted", superpose="always"),
               np.random.default_rng(0))
    deep, measure, hosted, rep = captured[0]  # level 1
    measure.probes.advance(measure.probes.inputs)  # back to the probes' state before level 1
    pools = hosted.pools()
    failing = max(pools)
    monkeypatch.setattr(deep_module, "stray_reads",  # the pool `failing` misses its stray budget at every H
                        lambda activation, layout, *rest: {k: math.inf if k == failing else 0.0 for k in layout.pools})
    for budget in (10**9, None):
        level, _, _ = real(deep, measure, hosted, rep, budget, np.random.default_rng(0))
        alone = [len(level.layout.hosts[h]) == 1 for j in pools[failing] for h in level.layout.of_clip[j]]
        shared = [len(level.layout.hosts[h]) > 1 for key in pools if key != failing
                  for j in pools[key] for h in level.layout.of_clip[j]]
        assert any(shared)
        assert all(alone) if budget is not None else np.mean(alone) < 0.5  # without one: the sparsest H, shared


def test_only_the_level_before_the_last_has_the_looser_stray_budget(monkeypatch):
    """Strays read by the last level alone cascade no further: that level's budget is STRAY_SHARE_BEFORE_LAST."""
    shares = []
    real = deep_module._hosted_candidate

    def capture(deep, measure, hosted, rep, budget, rng):
        shares.append(hosted.stray_share)
        return real(deep, measure, hosted, rep, budget, rng)

    monkeypatch.setattr(deep_module, "_hosted_candidate", capture)
    lower_deep(circuits_circuit(24, levels=4, sparsity=2, seed=0), DeepOptions(design="hosted", superpose="always"),
               np.random.default_rng(0))
    assert shares == [STRAY_SHARE, STRAY_SHARE, STRAY_SHARE_BEFORE_LAST, STRAY_SHARE]
    assert STRAY_SHARE_BEFORE_LAST > STRAY_SHARE


def test_the_repair_repacks_into_the_places_left_then_a_repair_pool_then_hosts_of_their_own():
    # 60 clips of one threshold, one region each, laid out at H = 9, S = 2
    forms = [HostedForm(((j, 1.0),), 0.75, True) for j in range(60)]
    regions, touch = np.arange(60), [frozenset({j}) for j in range(60)]
    before = lay_out(forms, regions, touch, 2, {0.75: 9}, layout_seed=7)
    repacked = set(range(10))
    after = lay_out(forms, regions, touch, 2, {0.75: 9}, layout_seed=7, repacked=repacked)
    hosts_before = [frozenset(t) for t in before.hosts]
    assert len(after.hosts) == len(before.hosts)  # the repacked clips fill the places they left: no host opened
    for j in range(60):
        assert len(after.of_clip[j]) == 2
        for h in after.of_clip[j]:
            tenants = set(after.hosts[h])
            assert len(tenants) <= 9
            if j not in repacked:  # its pool's layout, less the repacked co-tenants, plus repacked newcomers
                assert any(tenants - repacked == t - repacked and j in t for t in hosts_before)
    # fresh co-tenants: no repacked clip keeps both of its hosts' tenants as they were
    for j in repacked:
        old = {frozenset(before.hosts[h]) - {j} for h in before.of_clip[j]}
        assert old != {frozenset(after.hosts[h]) - {j} for h in after.of_clip[j]}
    # the second stage: a repair pool of fresh, fewer co-tenants; the others keep their places, less those gone
    pooled = {3, 4, 5, 6, 20, 30}
    pool_stage = lay_out(forms, regions, touch, 2, {0.75: 9}, layout_seed=7, repacked=repacked, pooled=pooled)
    kept = {frozenset(t) - pooled for t in after.hosts} - {frozenset()}
    for j in range(60):
        assert len(pool_stage.of_clip[j]) == 2
        for h in pool_stage.of_clip[j]:
            tenants = frozenset(pool_stage.hosts[h])
            if j in pooled:
                assert tenants <= pooled and len(tenants) <= repack_hosts(9) < 9
            else:
                assert tenants in kept
    # the third: hosts of their own, and only removes co-tenants
    alone = {3, 20, 40}
    last = lay_out(forms, regions, touch, 2, {0.75: 9}, layout_seed=7, repacked=repacked, pooled=pooled, alone=alone)
    kept = {frozenset(t) - alone for t in pool_stage.hosts} - {frozenset()}
    for j in range(60):
        if j in alone:  # a host of its own, at its own threshold
            assert len(last.of_clip[j]) == 1
            h = last.of_clip[j][0]
            assert last.hosts[h] == [j] and last.threshold[h] == 0.75
        else:
            assert all(frozenset(last.hosts[h]) in kept for h in last.of_clip[j])
    assert np.all(last.threshold == 0.75)


def test_stray_reads_count_false_clips_with_a_lit_host_that_a_later_level_reads():
    # two hosts of 3 clips each, S = 1 for brevity; host 0 lit on row 0 (its clip 0 true), host 1 lit on row 1 with
    # no clip of its true (a false light): clips 1, 2 stray on row 0; 3, 4, 5 on row 1, but clip 5 is read by no
    # later level
    layout = lay_out([HostedForm(((j, 1.0),), 0.75, True) for j in range(6)], np.arange(6),
                     [frozenset({j}) for j in range(6)], 1, {0.75: 3}, layout_seed=0)
    lit = np.zeros((2, 2 * len(layout.hosts)))
    lit[0, 2 * layout.of_clip[0][0]] = lit[1, 2 * layout.of_clip[3][0]] = 1.0
    true_signals = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=bool))
    read_later = np.array([True] * 5 + [False])
    hosts_of = {j: layout.of_clip[j][0] for j in range(6)}
    expected = sum(1 for row, host in ((0, hosts_of[0]), (1, hosts_of[3])) for j in range(6)
                   if hosts_of[j] == host and read_later[j] and not true_signals[row, j])
    assert stray_reads(sp.csr_matrix(lit), layout, np.arange(6), true_signals, read_later) == {0.75: expected / 2}


def test_cli_compiles_the_hosted_design(tmp_path, capsys):
    out = tmp_path / "thresholds.safetensors"
    assert main(["compile", str(PROGRAMS / "thresholds.sbp"), "--strategy", "deep", "--deep-design", "hosted",
                 "--superpose-levels", "always", "-o", str(out)]) == 0
    assert "(hosted design)" in " ".join(capsys.readouterr().out.split())
    compiled = load(str(out))
    assert compiled.meta.figures["design"] == "hosted" and compiled.meta.figures["copies"] == 2
    assert main(["info", str(out)]) == 0
    assert "hosted design; repair share" in " ".join(capsys.readouterr().out.split())


def _probes(rows: int):
    circuit = circuits_circuit(6, levels=2, sparsity=2, seed=0)
    deep = _DeepBuilder(circuit, DeepOptions(design="hosted"), False)
    return circuit, deep.regions, RegionProbes(circuit, deep.regions.inputs, rows, 256, 2, 12, np.random.default_rng(1))


def test_probes_cover_every_region_with_a_sample_of_patterns_while_it_fits():
    circuit, regions, every = _probes(10_000)  # every pattern of every region fits (k inputs: 1 + k + k(k - 1)/2)
    patterns = {r: 1 + len(ins) + math.comb(len(ins), 2) for r, ins in regions.inputs.items()}
    rows = {r: 2 * (1 + len(ins)) + math.comb(len(ins), 2) for r, ins in regions.inputs.items()}  # 2 fills unless full
    assert every.regions == sorted(regions.inputs) and every.n == sum(rows.values())
    circuit, regions, capped = _probes(6 * 2 * 12)  # 12 patterns of each region, the empty one among them
    assert capped.regions == sorted(regions.inputs)
    for region in capped.regions:
        rows = capped.region == region
        own = capped.inputs[np.flatnonzero(rows)][:, regions.inputs[region]]
        assert np.unique(capped.pattern[rows]).size == min(12, patterns[region]) and (own.sum(axis=1) == 0).any()
    circuit, regions, sampled = _probes(100)  # under 12 patterns each: a sample of regions, all their patterns
    assert 0 < len(sampled.regions) < len(regions.inputs)
    assert all(np.unique(sampled.pattern[sampled.region == r]).size == patterns[r] for r in sampled.regions)


def test_probe_errors_read_each_signal_on_its_own_region_and_weigh_patterns_equally_per_side():
    circuit, regions, probes = _probes(10_000)
    watched = list(range(circuit.n_inputs, circuit.n_signals))
    reads = OwnRegionReads(probes, watched, regions.of[watched])
    rng = np.random.default_rng(2)
    activation = sp.random(probes.n, 30, density=0.2, format="csr", random_state=3, dtype=np.float32)
    readout = sp.random(len(watched), 30, density=0.1, format="csr", random_state=4)
    constant = rng.normal(size=len(watched))
    dense = (activation @ readout.T).toarray() + constant
    values = reads.values(activation, readout, constant)
    assert np.allclose(values, dense[reads.pair_row, reads.pair_col])
    truth = evaluate(circuit, probes.inputs.toarray())
    values = truth[reads.pair_row, np.asarray(watched)[reads.pair_col]] + rng.choice([0.0, 0.7, -0.7], size=values.size,
                                                                                       p=[0.9, 0.05, 0.05])
    errors = reads.errors(values)
    for j, signal in enumerate(watched):  # the rule, column by column
        mine = np.flatnonzero(reads.pair_col == j)
        rows = reads.pair_row[mine]
        assert np.array_equal(rows, np.flatnonzero(probes.region == regions.of[signal]))
        wrong = (values[mine] > 0.5) != truth[rows, signal]
        rate = {p: wrong[probes.pattern[rows] == p].mean() for p in np.unique(probes.pattern[rows])}
        side = {p: truth[rows[probes.pattern[rows] == p][0], signal] for p in rate}
        expected = sum(np.mean([rate[p] for p in rate if side[p] == s]) for s in (True, False)
                       if any(side[p] == s for p in rate)) / 2
        assert errors[j] == pytest.approx(expected)


def _shared_neurons_reading_negatively(compiled: CompiledCircuit) -> int:
    """Neurons hosting two or more clips of which one reads a wire with a negative weight."""
    return sum(1 for layer in compiled.meta.neurons for kind, _, serves, _, weights, *_ in layer
               if kind == "shared" and len(serves) > 1 and min(weights) < 0)


def test_without_shared_negation_no_clip_with_a_negated_read_shares_a_host():
    # the ablation of bench/bench_misreads.py: a co-tenant's negated read can switch off a true clip's host
    options = dataclasses.replace(SUPERPOSED["hosted"], share_negated=False)
    compiled = lower_deep(circuits_circuit(**SMALL["hosted"]), options, np.random.default_rng(0))
    assert compiled.meta.figures["share_negated"] is False
    assert "superposed" in [f["plan"] for f in compiled.meta.levels]
    assert _shared_neurons_reading_negatively(compiled) == 0
    assert _shared_neurons_reading_negatively(_small("hosted", control=True)) > 0  # the default shares them
    and_not = Clip(9, ((1, 1.0), (2, -1.0)), 1.0, 1.5, 1.0)
    alone = hosted_form(and_not, 0.5, HOST_SLOPE, share_negated=False)
    assert not alone.shareable and alone.terms == hosted_form(and_not, 0.5, HOST_SLOPE).terms  # still placed


def test_share_negated_applies_to_the_hosted_design_only():
    with pytest.raises(compiler.CompileError, match="hosted design only"):
        DeepOptions(design="spread", share_negated=False)


def test_a_read_of_one_host_lit_of_two_is_decided_by_the_weights():
    # at S = 2 a stray (one host of a false clip lit) or a switched-off host of a true clip reads 1/2, the
    # threshold itself: the gate readout puts it below by its weights, not by the rounding of the batch it is read
    # in (a stored complement, 1 - v, above)
    compiled = lower_deep(circuits_circuit(24, levels=2, sparsity=2), DeepOptions(superpose="always", hosts=(4,)),
                          np.random.default_rng(0))
    readout, checked = compiled.gate_readout, 0
    for k, facts in enumerate(compiled.meta.levels, start=1):
        assert facts["plan"] == "superposed"
        block = readout.blocks[k]
        for row, gate in enumerate(block.rows.tolist()):
            entries = block.weight[row]
            hosts = {unit // 2: w for unit, w in zip(entries.indices.tolist(), entries.data.tolist()) if unit % 2 == 0}
            if len(hosts) != 2:  # a clip on a host of its own cannot read 1/2
                continue
            bias = float(readout.bias[gate])
            for weight in hosts.values():  # a lit host's two ReLUs differ by 1: it reads its first ReLU's weight
                assert abs(bias + weight - THRESHOLD) >= 2.0**-12
            assert abs(bias + sum(hosts.values()) - (1.0 - bias)) <= 2.0**-9  # both lit: 1, or 0 if complemented
            checked += 1
    assert checked > 50
