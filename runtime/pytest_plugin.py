"""pytest plugin `superpose` (registered through the pytest11 entry point).

1. `assert_circuit(circuit, max_active=None, max_error=0.0)`: verify a
   compiled circuit and fail with the gate, the input, the expected and the
   computed values and the margin. Importable, and a fixture of that name.
2. Programs (.sbp) that carry expectations in comments become tests:
       # expect: fur flies -> bird=1 busy=0     features on -> gate or output values
       # verify: max-active 2                   every gate proved (also: budget SECONDS)
   Each such line is one test item; files without them are not collected.
   An expectation is checked on the interpreter (is the program right?) and
   on the compiled circuit (is the compilation right?).

pytest loads this plugin in every run of any project that has superpose
installed, so at import it loads only pytest and the standard library: the
compiler, the runtime and numpy are imported where a `.sbp` file is compiled
or a circuit checked (the allow-listed function-level imports of
tests/test_layering.py).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from superpose.network import CompiledCircuit
    from superpose.runtime.verify import GateVerdict

EXPECT = re.compile(r"#\s*expect:\s*(?P<spec>.*)$")
VERIFY = re.compile(r"#\s*verify:\s*(?P<spec>.*)$")
SHOWN_FAILURES = 10  # failing gates spelled out in a message


class CircuitCheckFailed(AssertionError):
    """A circuit disagrees with its program; str() is the whole report."""


def assert_circuit(circuit: "CompiledCircuit", max_active: int | None = None, max_error: float = 0.0,
                   budget: float | None = None) -> None:
    """Fail unless at most `max_error` (a share of the gates) are not proved
    right on every input with at most `max_active` features on (default: the
    circuit's sparsity). Counterexamples and unknowns both count."""
    __tracebackhide__ = True  # pytest: the failure is the message, not this frame
    from superpose.runtime.verify import verify  # deferred: see the module docstring
    result = verify(circuit, max_active=max_active, budget=budget, progress=False)
    failing = [g for g in result.gates if g.status != "proved"]
    if len(failing) > max_error * len(result.gates):
        lines = [f"{len(failing)} of {len(result.gates)} gates of {circuit.name} are not proved "
                 f"(allowed: {max_error:.2%}); {result.summary()}"]
        lines += [f"  {_describe(g)}" for g in failing[:SHOWN_FAILURES]]
        if len(failing) > SHOWN_FAILURES:
            lines.append(f"  ... and {len(failing) - SHOWN_FAILURES} more")
        raise CircuitCheckFailed("\n".join(lines))


def _describe(verdict: "GateVerdict") -> str:
    cex = verdict.counterexample
    if cex is not None:
        return (f"{verdict.gate}: with {', '.join(cex.on) or 'nothing'} on, expected {int(cex.expected)}, "
                f"the circuit reads {cex.readout:.4f} (margin {verdict.margin:+.4f})")
    if verdict.bounds is not None:
        return (f"{verdict.gate}: unknown, readout in [{verdict.bounds[0]:.4f}, {verdict.bounds[1]:.4f}] "
                f"with {', '.join(verdict.pattern or ()) or 'no support feature'} on")
    return f"{verdict.gate}: unknown, not reached within the budget"


@pytest.fixture(name="assert_circuit")
def assert_circuit_fixture() -> Any:
    """The `assert_circuit` helper, as a fixture."""
    return assert_circuit


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".sbp":
        lines = file_path.read_text(errors="replace").splitlines()
        if any(EXPECT.search(line) or VERIFY.search(line) for line in lines):
            return ProgramFile.from_parent(parent, path=file_path)
    return None


class ProgramFile(pytest.File):
    """A program with expectation comments; compiled once for all its items."""

    _compiled: "CompiledCircuit | None" = None

    def compiled(self) -> "CompiledCircuit":
        if self._compiled is None:
            from superpose.compiler.pipeline import compile_file  # deferred: see the module docstring
            self._compiled = compile_file(self.path)
        return self._compiled

    def collect(self):
        for number, line in enumerate(self.path.read_text(errors="replace").splitlines(), start=1):
            if match := EXPECT.search(line):
                yield ExpectItem.from_parent(self, name=f"line {number}: {match['spec'].strip()}",
                                             line=number, spec=match["spec"])
            elif match := VERIFY.search(line):
                yield VerifyItem.from_parent(self, name=f"line {number}: verify {match['spec'].strip()}",
                                             line=number, spec=match["spec"])


class _CommentItem(pytest.Item):
    """A test written as a comment on `line` of a program file."""

    def __init__(self, *, line: int, spec: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.line, self.spec = line, spec.strip()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CircuitCheckFailed):
            return f"{self.path.name}:{self.line}: {self.spec}\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line - 1, f"{self.path.name}:{self.line}: {self.spec}"


class ExpectItem(_CommentItem):
    """`# expect: A B -> g=1 h=0`: with exactly A and B on, g is 1 and h is 0."""

    def runtest(self) -> None:
        import numpy as np  # deferred: see the module docstring

        from superpose.compiler.interpret import gate_values, output_values
        from superpose.network import THRESHOLD
        circuit = self.parent.compiled()
        on, wanted = parse_expectation(self.spec, circuit)
        x = np.zeros((1, circuit.n_inputs), dtype=np.float32)
        x[0, [circuit.input_names.index(name) for name in on]] = 1.0
        program = circuit.program
        readouts = {**dict(zip(circuit.output_names, circuit.run(x)[0])),
                    **dict(zip(circuit.gate_names, circuit.gate_values(x)[0]))}
        truth = {**dict(zip(circuit.output_names, output_values(program, x)[0])),
                 **dict(zip(circuit.gate_names, gate_values(program, x)[0]))}
        problems = []
        for name, value in wanted.items():
            readout = float(readouts[name])
            margin = readout - THRESHOLD if value else THRESHOLD - readout
            if bool(truth[name]) != value:
                problems.append(f"  {name}: expected {int(value)}, but the program computes {int(truth[name])}")
            elif (readout > THRESHOLD) != value:
                problems.append(f"  {name}: expected {int(value)}, the circuit reads {readout:.4f} "
                                f"(value {int(readout > THRESHOLD)}, margin {margin:+.4f})")
        if problems:
            raise CircuitCheckFailed(f"  inputs on: {', '.join(on) or 'nothing'}\n" + "\n".join(problems))


class VerifyItem(_CommentItem):
    """`# verify: max-active 2 [budget 10]`: every gate proved on those inputs."""

    def runtest(self) -> None:
        options = parse_verify_options(self.spec)
        assert_circuit(self.parent.compiled(), max_active=options.get("max-active"),
                       budget=options.get("budget"))


def parse_expectation(spec: str, circuit: "CompiledCircuit") -> tuple[list[str], dict[str, bool]]:
    """'fur flies -> bird=1 busy=0' -> (['fur', 'flies'], {'bird': True, 'busy': False})."""
    if "->" not in spec:
        raise CircuitCheckFailed(f"  an expectation reads 'FEATURES -> NAME=0|1 ...', got {spec!r}")
    left, right = spec.split("->", 1)
    on = [name for name in re.split(r"[\s,]+", left.strip()) if name and name not in ("nothing", "none")]
    unknown = [name for name in on if name not in circuit.input_names]
    if unknown:
        raise CircuitCheckFailed(f"  {', '.join(unknown)}: not an input of {circuit.name}")
    wanted: dict[str, bool] = {}
    for item in right.split():
        name, _, value = item.partition("=")
        if value not in ("0", "1"):
            raise CircuitCheckFailed(f"  {item!r}: expected NAME=0 or NAME=1")
        if name not in circuit.gate_names and name not in circuit.output_names:
            raise CircuitCheckFailed(f"  {name}: not a gate or output of {circuit.name}")
        wanted[name] = value == "1"
    return on, wanted


def parse_verify_options(spec: str) -> dict[str, Any]:
    """'max-active 2 budget 10' -> {'max-active': 2, 'budget': 10.0}."""
    words = spec.split()
    kinds = {"max-active": int, "budget": float}
    options: dict[str, Any] = {}
    for key, value in zip(words[::2], words[1::2] + [""] * (len(words) % 2)):
        try:
            options[key] = kinds[key](value)
        except (KeyError, ValueError):
            raise CircuitCheckFailed(f"  verify options are 'max-active N' and 'budget SECONDS', "
                                     f"got {spec!r}") from None
    return options
