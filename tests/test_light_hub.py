"""Strategy light-hub: pairwise ANDs for inputs in superposition, measured on
the compiled weights under both fills and against the interpreter, its
confirmation, and the pieces it is built of (zero-forced code reads, the
leak-free plan without a code, pairs kept apart from their neighbourhoods)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import superpose
from superpose import compiler
from superpose.compiler.embeddings import random_sign_embedding, tight_frame_embedding, zero_forced_rows
from superpose.compiler.errors import CompileError
from superpose.compiler.generators import random_pairs_circuit
from superpose.compiler.interpret import gate_values
from superpose.compiler.co_activity import FILLS, neighbourhoods_of
from superpose.compiler.light_hub import light_rows, neuron_features, plan_light
from superpose.compiler.lowering import csr_from_rows
from superpose.compiler.lower_light_hub import LightHubOptions, folded, lower_light_hub
from superpose.network import THRESHOLD
from superpose.runtime.artifact import to_bytes
from superpose.runtime.cli import EXIT_USER_ERROR, main

M, GATES, SPARSITY, EMBED_DIM = 256, 512, 3, 171  # 1.5 features per dimension
TARGET = 0.02
# 2 features per dimension, where the prediction alone, aimed at this target, misses it (the code's leak has
# heavier tails than its Gaussian model) and confirmation does not: see test_confirmation_is_what_holds_the_target
NEEDS_CONFIRMATION = dict(embed_dim=128, target_error=0.03)


@pytest.fixture(scope="module")
def program() -> compiler.Circuit:
    return random_pairs_circuit(M, GATES, SPARSITY, 0, name="pairs")


@pytest.fixture(scope="module")
def light(program) -> superpose.CompiledCircuit:
    return compiler.compile_circuit(program, strategy="light-hub", embed_dim=EMBED_DIM, target_error=TARGET)


def worst_of_both_fills(compiled: superpose.CompiledCircuit) -> float:
    """The worst gate's error under either fill, as a confirmed report measures
    it, its worst gates re-measured on 40,000 samples: the compile holds gates
    one report standard error (at 10,000 samples) under the target, so a
    10,000-sample re-measurement of a gate near that bound can read over the
    target by chance (g474 at 2%: 2.09% there, 1.73% on 80,000 samples)."""
    return max(superpose.error_report(compiled, samples=4000, seed=4, confirm=40, fill=fill).summary()["max_error"]
               for fill in FILLS)


def test_light_hub_meets_its_target_through_a_code_where_hub_does_not(program, light):
    """Measured on the compiled weights (the code layer included): every gate
    within the target under the default (neighbourhood) fill and the uniform
    one, with more gates than neurons; the hub lowering of the same program
    through the same code is far off."""
    assert light.layers[0].kind == "embed" and light.layers[0].weight.shape == (EMBED_DIM, M)
    assert worst_of_both_fills(light) <= TARGET
    figures = light.meta.figures
    assert figures["confirmed"] and figures["confirmed_max_error"] <= TARGET and 0 <= figures["repair_share"] < 0.1
    assert light.meta.figures["features_per_neuron"] >= 4 and GATES / light.n_neurons > 1.5
    hub = compiler.compile_circuit(program, strategy="hub", embed_dim=EMBED_DIM, target_error=TARGET)
    assert superpose.error_report(hub, samples=200, seed=4).summary()["max_error"] > 5 * TARGET


def test_light_hub_agrees_with_the_interpreter_on_sparse_inputs(program, light):
    rng = np.random.default_rng(7)
    active = np.argsort(rng.random((4000, M)), axis=1)[:, :SPARSITY]
    x = np.zeros((4000, M))
    np.put_along_axis(x, active, 1.0, axis=1)
    x[:, :2] = 0.0  # and some inputs with fewer features on
    x[::2, active[::2, 0]] = 0.0
    expected = gate_values(program, x.astype(bool)).astype(bool)
    computed = light.gate_values(x) > THRESHOLD
    assert expected.any() and (computed != expected).mean() <= TARGET


def test_zero_forced_rows_read_their_own_features_exactly():
    """Through E^T a neuron mis-weighs its own features by their overlaps;
    zero-forced weights read each with exactly its weight."""
    code = random_sign_embedding(40, 12, np.random.default_rng(1))
    rows = sp.csr_matrix(np.array([[1.0 if f in (3, 9, 17) else 0.0 for f in range(40)],
                                   [2.0 if f == 5 else (1.0 if f == 30 else 0.0) for f in range(40)]]))
    read = zero_forced_rows(rows, code) @ code
    assert read[0, [3, 9, 17]] == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    assert read[1, [5, 30]] == pytest.approx([2.0, 1.0], abs=1e-5)
    assert not np.allclose((rows @ code.T) @ code, rows.toarray(), atol=1e-3)  # the plain read is off


def program_pairs(program: compiler.Circuit) -> list[tuple[int, int]]:
    """The pair of input features of every gate (the program is pairwise ANDs)."""
    return [tuple(sorted(lit.signal for lit in gate.operands)) for gate in program.nodes]


def test_confirmation_is_what_holds_the_target(program):
    """The prediction alone (confirm=False, aimed at the target) packs 5
    features to a neuron and a gate misses the target; confirmed, every gate
    holds it under both fills."""
    alone = lower_light_hub(program, LightHubOptions(confirm=False, **NEEDS_CONFIRMATION), np.random.default_rng(0))
    confirmed = lower_light_hub(program, LightHubOptions(**NEEDS_CONFIRMATION), np.random.default_rng(0))
    target = NEEDS_CONFIRMATION["target_error"]
    assert alone.meta.figures["confirmed"] is False and worst_of_both_fills(alone) > target
    assert worst_of_both_fills(confirmed) <= target


def test_pairs_are_kept_apart_from_their_neighbourhoods(program):
    """A light hub fires on any two of its features: a neuron never holds a
    feature of a pair's neighbourhood beside it (the neighbourhood fill turns
    those on with the pair's features), and, through a code, reads the
    neighbours that would leak much into it at weight 0."""
    near_of = neighbourhoods_of(program)
    pairs = program_pairs(program)
    near = {pair: set(near_of.of(list(pair)).tolist()) for pair in pairs}
    code = random_sign_embedding(M, EMBED_DIM, np.random.default_rng(0))
    plan = plan_light(pairs, 8, M, SPARSITY, code, near)
    assert sorted(p for n in plan.neurons for p in n.pairs) == sorted(pairs)
    for neuron, silenced in zip(plan.neurons, plan.silenced):
        features = set(neuron_features(neuron))
        assert len(features) <= 8 and len(features) == 2 * len(neuron.pairs)
        assert all(not (features & near[pair]) for pair in neuron.pairs)
        assert silenced <= set().union(*(near[pair] for pair in neuron.pairs))  # only neighbours are silenced
    assert sum(map(len, plan.silenced)) > 0
    read = zero_forced_rows(csr_from_rows(light_rows(plan.neurons, plan.silenced), M), code) @ code  # (neurons, M)
    own, silent = np.zeros(read.shape, dtype=bool), np.zeros(read.shape, dtype=bool)
    for j, (neuron, silenced) in enumerate(zip(plan.neurons, plan.silenced)):
        own[j, neuron_features(neuron)] = True
        silent[j, sorted(silenced)] = True
    assert np.abs(read[silent]).max() < 1e-4 < np.abs(read[~silent & ~own]).max()


def test_folding_the_code_into_the_gate_layer_keeps_every_value(light):
    """What confirmation measures (the code multiplied into the gate layer) is
    the compiled circuit's function."""
    rng = np.random.default_rng(5)
    x = (rng.random((500, M)) < SPARSITY / M).astype(np.float32)
    flat = folded(light)
    assert len(flat.layers) == 1 and flat.layers[0].weight.shape == (light.n_neurons, M)
    assert flat.gate_values(x) == pytest.approx(light.gate_values(x), abs=1e-4)


def test_without_a_code_there_is_no_leak_and_the_threshold_is_symmetric(program):
    plan = plan_light(program_pairs(program), 6, M, SPARSITY, None)
    assert not plan.leak_std.any() and not plan.leak_mean.any()
    assert np.allclose(plan.thresholds, 0.5)
    assert all(len(set(n.hubs) | n.leaves) <= 6 for n in plan.neurons)
    assert sorted(p for n in plan.neurons for p in n.pairs) == sorted(program_pairs(program))


def test_a_smaller_target_reads_fewer_features_per_neuron(program, light):
    tight = compiler.compile_circuit(program, strategy="light-hub", embed_dim=EMBED_DIM, target_error=TARGET / 4)
    assert tight.meta.figures["features_per_neuron"] < light.meta.figures["features_per_neuron"]
    assert tight.meta.figures["predicted_max_error"] <= TARGET / 4 < light.meta.figures["predicted_max_error"]


def test_a_fixed_width_is_kept(program):
    compiled = compiler.compile_circuit(program, strategy="light-hub", embed_dim=EMBED_DIM, width=200)
    assert compiled.layers[-1].width <= 200
    with pytest.raises(CompileError, match="width is too small"):
        compiler.compile_circuit(program, strategy="light-hub", embed_dim=EMBED_DIM, width=2)


def test_same_program_options_and_seed_give_the_same_bytes(program, light):
    again = compiler.compile_circuit(program, strategy="light-hub", embed_dim=EMBED_DIM, target_error=TARGET)
    assert to_bytes(again) == to_bytes(light)


def test_options_light_hub_does_not_have_are_refused(tmp_path, capsys):
    text = "sparsity 2\ninput x[8]\ng = x[0] & x[1]\nh = x[2] & x[3]\noutput g, h"
    with pytest.raises(CompileError, match="not an option of strategy 'light-hub'"):
        superpose.compile_source(text, strategy="light-hub", p=0.1)
    source, out = tmp_path / "p.sbp", tmp_path / "p.safetensors"
    source.write_text(text)
    assert main(["compile", str(source), "-o", str(out), "--strategy", "light-hub", "--p", "0.1"]) \
        == EXIT_USER_ERROR
    assert "--p does not apply to --strategy light-hub" in capsys.readouterr().err and not out.exists()
    assert main(["compile", str(source), "-o", str(out), "--strategy", "light-hub", "--embed-dim", "6",
                 "--target-error", "0.05"]) == 0
    assert superpose.load(out).meta.strategy == "light-hub"


def test_reading_only_the_units_a_readout_needs_changes_no_value(light):
    """CompiledCircuit.read computes only the last layer's units its readout
    reads (and multiplies code layers densely): the same values as the whole
    forward pass."""
    rng = np.random.default_rng(3)
    x = (rng.random((300, M)) < 3 / M).astype(np.float32)
    x_t = sp.csr_matrix(x.T)
    whole = light.gate_readout.read_columns(light.forward_columns(x_t))
    assert light.read_columns(x_t, light.gate_readout) == pytest.approx(whole, abs=1e-4)


def test_a_tight_frame_spreads_any_read_evenly_and_leaks_less_than_random_signs(program):
    """Rows of a random orthogonal matrix, columns normalised: E E^T close to
    (m / d) I, so the light hub neurons leak less than through random signs."""
    code = tight_frame_embedding(M, EMBED_DIM, np.random.default_rng(0))
    assert np.allclose(np.linalg.norm(code, axis=0), 1.0, atol=1e-5)
    eigenvalues = np.linalg.eigvalsh(code.astype(np.float64) @ code.T)
    assert eigenvalues.min() > 0.8 * M / EMBED_DIM and eigenvalues.max() < 1.2 * M / EMBED_DIM
    random = random_sign_embedding(M, EMBED_DIM, np.random.default_rng(0))
    leak = {name: np.sqrt((plan_light(program_pairs(program), 4, M, SPARSITY, embedding).leak_std ** 2).mean())
            for name, embedding in (("random", random), ("tight", code))}
    assert leak["tight"] < 0.85 * leak["random"]


def test_compile_and_info_report_the_confirmation_and_no_confirm_skips_it(tmp_path, capsys):
    source, out = tmp_path / "p.sbp", tmp_path / "p.safetensors"
    source.write_text("sparsity 2\ninput x[8]\ng = x[0] & x[1]\nh = x[2] & x[3]\noutput g, h")
    compile_args = ["compile", str(source), "-o", str(out), "--strategy", "light-hub", "--embed-dim", "6",
                    "--target-error", "0.05"]
    assert main(compile_args) == 0
    line = "light-hub: every gate confirmed on the compiled weights under the uniform and neighbourhood fills"
    assert line in capsys.readouterr().out
    assert main(["info", str(out)]) == 0 and line in capsys.readouterr().out
    assert main(compile_args + ["--no-confirm"]) == 0 and line not in capsys.readouterr().out
    assert superpose.load(out).meta.figures["confirmed"] is False
