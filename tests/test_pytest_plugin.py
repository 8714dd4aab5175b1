"""The pytest plugin, run on a temporary project: `# expect:` and `# verify:`
comments in .sbp files become test items, and `assert_circuit` fails with
the gate, the input, the expected and computed values and the margin."""
from __future__ import annotations

import superpose.runtime.pytest_plugin  # noqa: F401  loaded before pytester's in-process runs, which must not re-import numpy

pytest_plugins = ["pytester"]

GOOD = """\
circuit animals
sparsity 2
input fur, feathers, flies, swims
bird = feathers & flies
busy = atleast(2, fur, flies, swims)
output bird, busy
# expect: feathers flies -> bird=1 busy=0
# expect: fur, flies -> bird=0 busy=1
# expect: nothing -> bird=0
# verify: max-active 2
"""

WRONG = """\
circuit wrong
input a, b
both = a & b
output both
# expect: a -> both=1
"""

UNCHECKED = """\
circuit unchecked
input a, b
either = a | b    # a comment, but no expectation
"""

CIRCUIT_TESTS = """\
from superpose import compiler
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.lower_exact import lower_exact


def _pair(broken):
    nodes = [Node(Op.AND, (Lit(0), Lit(1)), name="both"), Node(Op.OR, (Lit(2), Lit(3)), name="either")]
    compiled = lower_exact(Circuit("pair", ["a", "b", "c", "d"], nodes, [], 2))
    if broken:
        weight = compiled.layers[0].weight.tolil()
        weight[0, 1], weight[0, 2] = 0.8, 0.7  # 'both' now fires on a and c, and only there
        compiled.layers[0].weight = weight.tocsr()
    return compiled


def test_right(assert_circuit):
    assert_circuit(_pair(broken=False))


def test_broken(assert_circuit):
    assert_circuit(_pair(broken=True), max_active=2)


def test_broken_within_allowance(assert_circuit):
    assert_circuit(_pair(broken=True), max_error=0.5)
"""


def _run(pytester):
    # The installed entry point would register the plugin a second time.
    return pytester.runpytest("-p", "no:superpose", "-p", "superpose.runtime.pytest_plugin", "-p", "no:cacheprovider")


def test_program_expectations_and_assert_circuit(pytester) -> None:
    pytester.makefile(".sbp", good=GOOD, wrong=WRONG, unchecked=UNCHECKED)
    pytester.makepyfile(test_circuits=CIRCUIT_TESTS)
    result = _run(pytester)
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines([
        "*wrong.sbp:5: a -> both=1",
        "  inputs on: a",
        "  both: expected 1, but the program computes 0",
    ])
    result.stdout.fnmatch_lines([
        "*1 of 2 gates of pair are not proved (allowed: 0.00%)*",
        "*  both: with a, c on, expected 0, the circuit reads 0.7000 (margin -0.2000)",
    ])
    assert "unchecked.sbp" not in result.stdout.str()


def test_bad_expectation_is_reported(pytester) -> None:
    pytester.makefile(".sbp", typo=GOOD.replace("busy=0", "bussy=0"))
    result = _run(pytester)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*bussy: not a gate or output of animals"])
