"""One parameter chooses the lowering: `strategy`, with typed options per
strategy, the same names in the Python API and the CLI, errors in the
library's words, and the caller's circuit left as it was."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

import superpose
from superpose.compiler.errors import CompileError
from superpose.compiler.frontend import circuit_from_source
from superpose.compiler.strategies import STRATEGIES
from superpose.runtime.artifact import to_bytes
from superpose.runtime.cli import EXIT_USER_ERROR, OPTION_FLAGS, build_parser, main

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
DEEP = (PROGRAMS / "chain.sbp").read_text()
PAIRS = "sparsity 2\ninput x[24]\nfor i in range(23):\n    g[i] = x[i] & x[i + 1]\noutput g"


def test_compile_source_takes_a_strategy_and_its_options_as_keywords():
    compiled = superpose.compile_source(DEEP, strategy="chained", target_error=0.001)
    assert compiled.meta.lowering == "chained" and compiled.meta.target_error == 0.001
    by_object = superpose.compile_source(DEEP, options=superpose.ChainOptions(target_error=0.001))
    assert to_bytes(by_object) == to_bytes(compiled)


def test_the_default_is_hub_with_a_sparsity_and_exact_without():
    hub = superpose.compile_source(PAIRS, target_error=0.05)
    assert hub.meta.strategy == "hub" and hub.meta.target_error == 0.05
    assert superpose.compile_source("input a, b\ng = a & b\noutput g").meta.lowering == "exact"


@pytest.mark.parametrize("call, words", [
    (dict(strategy="exact", target_error=0.1), ["target_error", "'exact'"]),
    (dict(strategy="chained", width=8), ["width", "'chained'", "target_error, control, superpose"]),
    (dict(strategy="deepest"), ["unknown strategy 'deepest'", "exact, hub, paper-uand, chained"]),
    (dict(strategy="hub", options=superpose.ChainOptions()), ["HubOptions", "ChainOptions"]),
    (dict(options=superpose.HubOptions(), width=3), ["not both"]),
    (dict(strategy="chained", superpose="sometimes"), ["superpose must be one of auto, always"]),
    (dict(target_error=1.5), ["target_error must be strictly between 0 and 1"]),
    (dict(sparsity=99), ["sparsity must be between 1 and the number of inputs (24)"]),
])
def test_errors_speak_the_library_s_words(call, words):
    with pytest.raises(CompileError) as error:
        superpose.compile_source(PAIRS, **call)
    message = str(error.value)
    assert all(word in message for word in words) and "--" not in message


def test_a_strategy_that_needs_a_sparsity_says_so():
    with pytest.raises(CompileError, match="strategy 'paper-uand' needs a sparsity") as error:
        superpose.compile_source("input a, b\ng = a & b\noutput g", strategy="paper-uand")
    assert "--" not in str(error.value)


def test_the_options_object_names_the_strategy():
    compiled = superpose.compile_source(PAIRS, options=superpose.PaperUandOptions(width=8, p=0.3))
    assert compiled.meta.strategy == "paper-uand" and compiled.layers[-1].width >= 8


def test_the_caller_s_circuit_is_not_changed():
    circuit = circuit_from_source("input a, b, c\ng = a & b\nh = b | c\noutput g, h")
    compiled = superpose.compile_circuit(circuit, sparsity=2)
    assert circuit.sparsity is None
    # the sparsity reached the planner (no plan without one), which took the smaller of flattened and exact
    assert compiled.program.sparsity == 2 and compiled.meta.figures["plan"].startswith(("flattened", "exact"))


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_option_has_a_default_and_a_flag_of_the_same_name(name):
    """The CLI's flag for option `target_error` is --target-error, and so on:
    one set of names (--no-error-control sets `control`, --superpose-levels `superpose`)."""
    strategy = STRATEGIES[name]
    strategy.options()  # every option has a default
    for field in fields(strategy.options):
        assert field.name in OPTION_FLAGS
    compile_command = build_parser()._subparsers._group_actions[0].choices["compile"]
    dests = {action.dest for action in compile_command._actions}
    assert set(OPTION_FLAGS) <= dests and name in compile_command._option_string_actions["--strategy"].choices


def test_cli_flags_build_the_same_circuit_as_the_keywords(tmp_path):
    path = tmp_path / "deep.safetensors"
    assert main(["compile", str(PROGRAMS / "chain.sbp"), "-o", str(path), "--strategy", "chained",
                 "--target-error", "0.001", "--superpose-levels", "always", "--no-error-control"]) == 0
    keywords = superpose.compile_file(PROGRAMS / "chain.sbp", strategy="chained", target_error=0.001,
                                      superpose="always", control=False)
    assert path.read_bytes() == to_bytes(keywords)


def test_exact_flag_is_strategy_exact(tmp_path):
    by_flag, by_name = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert main(["compile", str(PROGRAMS / "animals.sbp"), "-o", str(by_flag), "--exact"]) == 0
    assert main(["compile", str(PROGRAMS / "animals.sbp"), "-o", str(by_name), "--strategy", "exact"]) == 0
    assert by_flag.read_bytes() == by_name.read_bytes()
    assert superpose.load(by_flag).meta.lowering == "exact"


def test_cli_names_the_flags_a_strategy_does_not_take(tmp_path, capsys):
    out = tmp_path / "x.safetensors"
    assert main(["compile", str(PROGRAMS / "animals.sbp"), "-o", str(out), "--exact", "--width", "8"]) \
        == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "--width does not apply to --strategy exact" in err and "--strategy hub or paper-uand" in err
    assert not out.exists()


def test_between_the_pattern_limits_the_default_keeps_the_smaller_of_deep_and_flattened():
    """circuits-T with a gate on all 8 of its circuit's inputs (163 support
    patterns at sparsity 4): flattened and deep are both compiled, and the
    one with fewer neurons is kept (BENCHMARKS.md `## deep`: at T = 2,000
    flattened has 30,750 neurons, deep 42,634)."""
    from superpose.compiler.generators.circuits import circuits_circuit
    from superpose.compiler.plan import choose_plan
    from superpose.runtime.report import error_report

    circuit = circuits_circuit(8, levels=8, seed=3)
    plan = choose_plan(circuit)
    assert plan.strategy == "deep" and plan.try_flattened and "163 support patterns" in plan.reason
    chosen = superpose.compile_circuit(circuit)
    deep = superpose.compile_circuit(circuit, strategy="deep")
    flattened = superpose.compile_circuit(circuit, strategy="hub")
    assert chosen.n_neurons == min(deep.n_neurons, flattened.n_neurons) == flattened.n_neurons < deep.n_neurons
    assert to_bytes(chosen) != to_bytes(deep) and chosen.meta.lowering == flattened.meta.lowering
    assert chosen.meta.figures["plan"].startswith(f"flattened: {flattened.n_neurons} neurons, fewer than the "
                                                  f"{deep.n_neurons} of the deep lowering (deep: a gate depends on 8")
    for fill in ("neighbourhood", "uniform"):
        assert error_report(chosen, samples=200, fill=fill, confirm=20).summary()["max_error"] <= 0.01


def test_past_the_band_only_the_deep_lowering_is_tried():
    from superpose.compiler.generators.chain import chain_circuit
    from superpose.compiler.plan import TRY_FLATTEN_MAX_PATTERNS, choose_plan

    plan = choose_plan(chain_circuit(4, 64, 64, seed=0))  # a gate on 15 inputs: 576 patterns at sparsity 3
    assert plan.strategy == "deep" and not plan.try_flattened
    assert int(plan.reason.split("(")[1].split()[0]) > TRY_FLATTEN_MAX_PATTERNS
