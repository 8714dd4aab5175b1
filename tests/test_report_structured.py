"""The report under structured co-activity (issue 13, item 0): the
neighbourhood fill is the default everywhere a report samples, the uniform fill
stays available by name, --worst-case puts verify's worst counterexample next
to the sampled figures, the report's fast forward pass gives the full pass's
numbers bit for bit, and the Done-when relation between report and verify
holds on the default compile of a circuits-T program.

The relation (README, "Verify circuits"): on the default compile, verify
refutes only gates whose confirmed report error is above 0, and proves no gate
the report saw wrong; with every gate's confirmed error <= the target, verify
finds no counterexample beyond what the report's error allows.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from superpose.compiler import HubOptions, compile_circuit, compile_source
from superpose.compiler.co_activity import DEFAULT_FILL
from superpose.compiler.generators.circuits import circuits_circuit
from superpose.compiler.generators.uand import random_pairs_circuit
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.runtime.artifact import save
from superpose.runtime.cli import main
from superpose.runtime.report import error_report
from superpose.runtime.verify import verify
from superpose.sweep import load_spec

ALIASES = """sparsity 2
input a, b, c, d, e
alias = a                # read from the inputs themselves (layer 0)
both = a & b
late = both & !c | d & e # read from a later layer
output alias, both, late
"""
CIRCUITS = dict(n_circuits=64, levels=3, width=4, inputs=8, sparsity=4, seed=0)  # issue 13's shape, CI-sized
DONE_SAMPLES, DONE_CONFIRM = 1000, 50


def _artifacts() -> list[CompiledCircuit]:
    """Programs and lowerings whose cones differ: one hub layer, exact layers
    with an input alias, chained layers with resets, an input embedding."""
    small = circuits_circuit(8, levels=3, width=4, inputs=8, sparsity=4)
    uand = random_pairs_circuit(64, 256, 3)
    return [compile_circuit(uand, seed=0), compile_circuit(uand, seed=0, embed_dim=32),
            compile_source(ALIASES, strategy="exact"), compile_source(ALIASES),
            compile_circuit(small, strategy="exact"), compile_circuit(small, strategy="chained", superpose="always")]


@pytest.mark.parametrize("index", range(6))
def test_the_cone_pass_gives_the_full_forward_pass_bit_for_bit(index: int) -> None:
    circuit = _artifacts()[index]
    rng = np.random.default_rng(index)
    x = (rng.random((64, circuit.n_inputs)) < 3 / circuit.n_inputs).astype(np.float32)
    full = circuit.gate_readout.read_columns(circuit.forward_columns(np.ascontiguousarray(x.T))).T
    assert np.array_equal(circuit.read(x, circuit.gate_readout), full)
    some = np.array(sorted(rng.choice(circuit.n_gates, size=min(3, circuit.n_gates), replace=False)))
    assert np.array_equal(circuit.read(sp.csr_matrix(x), circuit.gate_readout.select(some)), full[:, some])
    # each value on its own rows only: gate some[i] on rows i*k .. (i+1)*k - 1
    per_value = 64 // some.size
    rows = x[:some.size * per_value]
    own = circuit.read_own(sp.csr_matrix(rows), circuit.gate_readout.select(some))
    expected = full[:some.size * per_value][np.arange(some.size * per_value), np.repeat(some, per_value)]
    assert np.array_equal(own, expected)
    # any value on any row (verify's search reads one gate per candidate, gates repeating), dense rows too
    owner = rng.integers(0, some.size, size=64)
    for inputs in (x, sp.csr_matrix(x)):
        assert np.array_equal(circuit.read_own(inputs, circuit.gate_readout.select(some), owner),
                              full[np.arange(64), some[owner]])


def test_the_default_fill_is_the_neighbourhood_and_uniform_stays_by_name(tmp_path: Path) -> None:
    compiled = compile_circuit(circuits_circuit(8, levels=2, width=4, inputs=8, sparsity=4), strategy="hub")
    default = error_report(compiled, samples=40)
    assert DEFAULT_FILL == "neighbourhood" and default.fill == "neighbourhood"
    assert default.errors().tolist() == error_report(compiled, samples=40, fill="neighbourhood").errors().tolist()
    artifact = tmp_path / "c.safetensors"
    save(compiled, str(artifact))
    for flags, fill in (([], "neighbourhood"), (["--fill", "uniform"], "uniform")):
        out = tmp_path / f"{fill}.json"
        assert main(["report", str(artifact), "--samples", "40", "--json", str(out), *flags]) == 0
        assert json.loads(out.read_text())["fill"] == fill
    uniform = json.loads((tmp_path / "uniform.json").read_text())["gates"]
    assert [g["error"] for g in uniform] == error_report(compiled, samples=40, fill="uniform").errors().tolist()


def test_the_report_header_names_its_fill(tmp_path: Path, capsys) -> None:
    artifact = tmp_path / "c.safetensors"
    save(compile_source(ALIASES), str(artifact))
    for flags, fill in (([], "neighbourhood"), (["--fill", "uniform"], "uniform")):
        assert main(["report", str(artifact), "--samples", "20", *flags]) == 0
        assert f"{fill} fill" in capsys.readouterr().out


def test_the_sweep_measures_with_the_default_fill_unless_its_spec_names_one(tmp_path: Path) -> None:
    program = "programs = [{generator = 'uand', m = 16, n_gates = 8, sparsity = 2}]\n"
    (tmp_path / "default.toml").write_text(program, encoding="utf-8")
    (tmp_path / "uniform.toml").write_text("fill = 'uniform'\n" + program, encoding="utf-8")
    (tmp_path / "bad.toml").write_text("fill = 'clustered'\n" + program, encoding="utf-8")
    default, uniform = (load_spec(tmp_path / f"{name}.toml").cells[0] for name in ("default", "uniform"))
    assert default.measurement.fill == "neighbourhood" and uniform.measurement.fill == "uniform"
    assert default.key != uniform.key  # a table keeps both
    assert main(["sweep", str(tmp_path / "bad.toml"), "-o", str(tmp_path / "t.csv")]) == 2


def test_worst_case_is_a_real_counterexample_next_to_the_sampled_figures(tmp_path: Path, capsys) -> None:
    """A hub layer with a co-tenant under structured activity: verify's worst
    counterexample, run through the circuit, is on the wrong side as printed."""
    compiled = compile_circuit(circuits_circuit(16, levels=2, width=4, inputs=8, sparsity=4), strategy="hub",
                               target_error=0.2)
    artifact, out = tmp_path / "c.safetensors", tmp_path / "r.json"
    save(compiled, str(artifact))
    assert main(["report", str(artifact), "--samples", "100", "--worst-case", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "worst case found by verify's search" in printed
    rows = json.loads(out.read_text())["worst_case"]
    overall = rows[-1]
    assert overall["level"] == "all" and overall["gates"] == compiled.n_gates
    assert sum(r["gates"] for r in rows[:-1]) == compiled.n_gates
    assert overall["counterexamples"] + overall["proved"] + overall["unknown"] == compiled.n_gates
    assert overall["counterexamples"] > 0, "this packing is meant to have a co-tenant that misfires"
    x = np.zeros((1, compiled.n_inputs), dtype=np.float32)
    x[0, [compiled.input_names.index(name) for name in overall["on"]]] = 1
    readout = float(compiled.gate_values(x)[0, compiled.gate_names.index(overall["gate"])])
    assert readout == pytest.approx(overall["readout"], abs=1e-5)
    assert (readout > THRESHOLD) != overall["expected"]
    assert overall["margin"] == min(r["margin"] for r in rows[:-1] if r["margin"] is not None)


def test_worst_case_on_exact_weights_finds_nothing(tmp_path: Path) -> None:
    artifact, out = tmp_path / "c.safetensors", tmp_path / "r.json"
    save(compile_source(ALIASES, strategy="exact"), str(artifact))
    assert main(["report", str(artifact), "--samples", "20", "--worst-case", "--json", str(out)]) == 0
    overall = json.loads(out.read_text())["worst_case"][-1]
    assert overall["counterexamples"] == 0 and overall["gate"] is None and overall["proved"] == overall["gates"]
    assert json.loads(out.read_text())["worst_case"] is not None
    assert main(["report", str(artifact), "--samples", "20", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["worst_case"] is None
    assert main(["report", str(artifact), "--worst-case", "--worst-case-budget", "-1"]) == 2


@pytest.fixture(scope="module", params=[None, "hub"], ids=["default", "flattened"])
def done_when(request):
    """Issue 13, Done-when 1: the default compile of many small circuits with
    8 inputs each at sparsity 4 (exact, since the confirmed flattened layer
    has more neurons than gates here) and the flattened (hub) compile itself,
    each with its confirmed report (default fill) and verify."""
    compiled = compile_circuit(circuits_circuit(**CIRCUITS), strategy=request.param, seed=0)
    report = error_report(compiled, samples=DONE_SAMPLES, confirm=DONE_CONFIRM)
    return compiled, report, verify(compiled, progress=False)


def test_done_when_verify_refutes_only_gates_the_report_sees_wrong(done_when) -> None:
    compiled, report, verdicts = done_when
    assert report.fill == "neighbourhood"
    error = {g.name: g.error for g in report.gates}
    assert verdicts.counts["unknown"] == 0
    refuted = {v.gate for v in verdicts.gates if v.status == "counterexample"}
    proved = {v.gate for v in verdicts.gates if v.status == "proved"}
    assert {g for g in refuted if error[g] == 0} == set(), "verify found errors the report's distribution misses"
    assert {g for g in proved if error[g] > 0} == set(), "the report saw a wrong readout on a proved gate"


def test_done_when_every_gate_is_within_the_target(done_when) -> None:
    compiled, report, _ = done_when
    # the exact lowering sizes nothing for a target: the default --target-error is the one the user holds it to
    target = compiled.meta.target_error if compiled.meta.target_error is not None else HubOptions().target_error
    assert report.errors().max() <= target
