"""Ground truth for interpretability methods: hook points and run_with_cache,
the neuron table, per-layer dictionaries, activation datasets and shards,
per-gate weight components."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from safetensors.numpy import load_file

from superpose import compiler, runtime
from superpose.compiler.interpret import evaluate
from superpose.errors import UserError
from superpose.network import THRESHOLD, CompiledCircuit
from superpose.neurons import neuron_table, wire_weights
from superpose.runtime.cli import main as cli
from superpose.runtime.components import SHARED, components
from superpose.runtime.datasets import Distribution, batches, sample_inputs
from superpose.runtime.dictionary import dictionaries, explained_variance, variance_report
from superpose.runtime.report import gate_samples
from superpose.runtime.torch_module import to_torch
from superpose.runtime.truth_io import load_dictionaries, save_dictionaries
from tests.programs_table import program_cases


def uand_source(m: int = 24, n_gates: int = 60, sparsity: int = 3, seed: int = 0) -> str:
    """A one-layer U-AND program: n_gates distinct random ANDs of two of m inputs."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < n_gates:
        a, b = sorted(rng.choice(m, size=2, replace=False).tolist())
        pairs.add((a, b))
    lines = [f"sparsity {sparsity}", f"input x[{m}]"] + [f"g{i} = x[{a}] & x[{b}]" for i, (a, b) in enumerate(sorted(pairs))]
    return "\n".join(lines + ["output " + ", ".join(f"g{i}" for i in range(n_gates))])


def lowerings(name: str, source: str) -> list[tuple[str, CompiledCircuit]]:
    """The exact lowering of every program; with a sparsity also the hub, chained and deep ones."""
    circuit = compiler.circuit_from_source(source, f"{name}.sbp")
    compiled = [("exact", compiler.compile_circuit(circuit, strategy="exact"))]
    if circuit.sparsity is not None:
        compiled.append(("hub", compiler.compile_source(source, filename=f"{name}.sbp", strategy="hub")))
        if circuit.n_signals < 400:  # large.sbp: the chained lowering alone takes longer than this file
            compiled.append(("chained", compiler.compile_source(
                source, filename=f"{name}.sbp", options=compiler.ChainOptions(superpose="always"))))
            compiled.append(("deep", compiler.compile_source(
                source, filename=f"{name}.sbp", options=compiler.DeepOptions(superpose="always", hosts=(4,)))))
    return compiled


CASES = [(f"{name}-{lowering}", compiled) for name, source in program_cases() + [("uand", uand_source())]
         for lowering, compiled in lowerings(name, source)]
IDS = [label for label, _ in CASES]


def sparse_inputs(circuit: CompiledCircuit, n: int, seed: int = 0) -> np.ndarray:
    """(n, n_inputs) float32 rows with at most the sparsity on (any count without one)."""
    rng = np.random.default_rng(seed)
    m = circuit.n_inputs
    s = circuit.program.sparsity or m
    x = np.zeros((n, m), dtype=np.float32)
    for row in x:
        row[rng.choice(m, size=rng.integers(0, s + 1), replace=False)] = 1.0
    return x


# --- hooks and the neuron table ------------------------------------------------------------------

def test_hook_names_are_stable_and_complete() -> None:
    compiled = dict(CASES)["chain-chained"]
    model = to_torch(compiled)
    expected = ["hook_input"] + [f"layers.{i}.hook_{part}" for i in range(len(compiled.layers))
                                 for part in ("pre", "post")] + ["hook_gates", "hook_outputs"]
    assert list(model.hook_points) == expected
    assert list(model.state_dict())[:2] == ["layers.0.0.weight", "layers.0.0.bias"]  # parameter names unchanged


@pytest.mark.parametrize("label,compiled", CASES, ids=IDS)
def test_run_with_cache_equals_activations(label: str, compiled: CompiledCircuit) -> None:
    x = sparse_inputs(compiled, 200)
    hs = compiled.activations(x)
    model = to_torch(compiled)
    outputs, cache = model.run_with_cache(torch.from_numpy(x))
    np.testing.assert_array_equal(cache["hook_input"].numpy(), x)
    for i, layer in enumerate(compiled.layers):
        np.testing.assert_allclose(cache[f"layers.{i}.hook_post"].numpy(), hs[i + 1], atol=1e-5)
        pre = np.asarray(hs[i] @ layer.weight.T.toarray()) + layer.bias
        np.testing.assert_allclose(cache[f"layers.{i}.hook_pre"].numpy(), pre, atol=1e-5)
    np.testing.assert_allclose(outputs.detach().numpy(), compiled.run(x), atol=1e-5)
    np.testing.assert_allclose(cache["hook_gates"].numpy(), compiled.gate_values(x), atol=1e-5)


@pytest.mark.parametrize("label,compiled", CASES, ids=IDS)
def test_neuron_table_describes_the_weights(label: str, compiled: CompiledCircuit, tmp_path) -> None:
    """The roles' wire coordinates are the weights: on every input for a layer
    reading clean wires (every exact layer, the first layer of each lowering)."""
    table = neuron_table(compiled)
    assert [len(roles) for roles in table] == [layer.width for layer in compiled.layers]
    program = compiled.program
    x = sparse_inputs(compiled, 300, seed=1)
    hs, values = compiled.activations(x), evaluate(program, x).astype(np.float64)
    for i, (layer, roles) in enumerate(zip(compiled.layers, table)):
        if label.endswith("-exact") or i == 0:
            weights, bias = wire_weights(roles, program.n_signals)
            pre = np.asarray(hs[i] @ layer.weight.T.toarray()) + layer.bias
            np.testing.assert_allclose(pre, values @ weights.T.toarray() + bias, atol=1e-5)
    runtime.save(compiled, tmp_path / "c.safetensors")
    assert neuron_table(runtime.load(tmp_path / "c.safetensors")) == table
    labels = to_torch(compiled).neuron_labels
    assert [len(l) for l in labels] == [len(r) for r in table] and all(isinstance(t, str) for l in labels for t in l)


def test_hub_neurons_say_which_pairs_they_host() -> None:
    compiled = dict(CASES)["uand-hub"]
    roles = neuron_table(compiled)[0]
    hosted = {pair for role in roles if role.kind == "hub" for pair in role.pairs}
    gates = {tuple(sorted(lit.signal for lit in compiled.program.node_of(s).operands))
             for s in compiled.program.gate_signals}
    assert hosted == gates  # every AND on shared neurons, nothing else by design
    assert all(len(role.hubs) >= 1 for role in roles if role.kind == "hub")


# --- dictionaries ----------------------------------------------------------------------------------

def test_write_vectors_reconstruct_single_gate_inputs_exactly() -> None:
    compiled = dict(CASES)["uand-hub"]
    d = dictionaries(compiled)[0]
    program = compiled.program
    x = np.zeros((compiled.n_gates, compiled.n_inputs), dtype=np.float32)
    for row, signal in enumerate(program.gate_signals):
        x[row, [lit.signal for lit in program.node_of(signal).operands]] = 1.0
    np.testing.assert_allclose(d.reconstruct(evaluate(program, x)), compiled.activations(x)[1], atol=1e-5)
    assert sorted(d.kinds.count(k) for k in ("gate",)) == [compiled.n_gates]


@pytest.mark.parametrize("label,compiled", [c for c in CASES if c[0].endswith("-exact")],
                         ids=[l for l in IDS if l.endswith("-exact")])
def test_exact_layers_are_reconstructed_on_every_input(label: str, compiled: CompiledCircuit) -> None:
    """A neuron of one construction is expanded over every subset of its wires: exact."""
    x = sparse_inputs(compiled, 300, seed=2)
    hs, values = compiled.activations(x), evaluate(compiled.program, x)
    for d in dictionaries(compiled):
        np.testing.assert_allclose(d.reconstruct(values), hs[d.layer], atol=1e-4)


def test_explained_variance_report_matches_a_recount() -> None:
    compiled = dict(CASES)["large-hub"]  # 1,000 gates: its hub neurons compute extra conjunctions
    dicts = dictionaries(compiled)
    inputs = sample_inputs(compiled, 2000, Distribution("uniform"), np.random.default_rng(3))
    report = variance_report(compiled, dicts, inputs)
    h = compiled.activations(inputs)[1]
    values = evaluate(compiled.program, inputs.toarray() != 0)
    features = dicts[0].features
    for label, kinds in (("gates", {"gate"}), ("all", {f.kind for f in features})):
        recon = np.tile(dicts[0].bias, (h.shape[0], 1)).astype(np.float64)
        for f in features:
            if f.kind in kinds:
                recon[values[:, list(f.signals)].all(axis=1)] += f.write
        recount = 1 - ((h - recon) ** 2).sum() / ((h - h.mean(axis=0)) ** 2).sum()
        assert report[0][label] == pytest.approx(recount, abs=1e-6)
    assert "conjunction" in dicts[0].kinds
    assert report[0]["gates"] < report[0]["designed"] < report[0]["all"] <= 1.0 + 1e-9
    assert explained_variance(h, h) == 1.0


def test_twin_groups_are_the_features_with_equal_write_vectors() -> None:
    d = dictionaries(dict(CASES)["uand-hub"])[0]
    write = d.write.toarray()
    for i in range(len(d)):
        same = np.flatnonzero(np.all(np.abs(write - write[i]) < 1e-5, axis=1))
        assert (d.twin[i] >= 0) == (same.size > 1)
        assert set(np.flatnonzero(d.twin == d.twin[i])) == set(same) or same.size == 1


def test_dictionary_file_round_trip(tmp_path) -> None:
    compiled = dict(CASES)["chain-chained"]
    dicts = dictionaries(compiled)
    save_dictionaries(dicts, compiled.name, tmp_path / "d.safetensors")
    for a, b in zip(dicts, load_dictionaries(tmp_path / "d.safetensors")):
        assert a.names == b.names and a.kinds == b.kinds
        np.testing.assert_array_equal(a.write.toarray(), b.write.toarray())
        np.testing.assert_array_equal(a.signals, b.signals)
        np.testing.assert_array_equal(a.twin, b.twin)


def test_dictionary_cli(tmp_path) -> None:
    artifact = tmp_path / "u.safetensors"
    runtime.save(dict(CASES)["uand-hub"], artifact)
    assert cli(["dictionary", str(artifact), "-o", str(tmp_path / "d.safetensors"), "--samples", "300"]) == 0
    assert len(load_dictionaries(tmp_path / "d.safetensors")[0]) > 0
    assert cli(["dictionary", str(artifact), "-o", str(tmp_path / "x.safetensors"), "--modes", "nope"]) == 2
    assert not (tmp_path / "x.safetensors").exists()


# --- datasets ------------------------------------------------------------------------------------

MODES = [Distribution("uniform"), Distribution("enriched"), Distribution("stratified"), Distribution("zipf", 1.2),
         Distribution("probabilities", probabilities=tuple([0.0, 0.5] * 12))]


@pytest.mark.parametrize("distribution", MODES, ids=[d.mode for d in MODES])
def test_datasets_are_deterministic_sparse_and_labelled_by_the_interpreter(distribution: Distribution) -> None:
    compiled = dict(CASES)["uand-hub"]
    first = list(batches(compiled, 700, distribution, batch_size=256, seed=5))
    again = list(batches(compiled, 700, distribution, batch_size=256, seed=5))
    other = list(batches(compiled, 700, distribution, batch_size=256, seed=6))
    assert [b.gates.shape[0] for b in first] == [256, 256, 188]
    for a, b in zip(first, again):
        assert (a.inputs != b.inputs).nnz == 0 and np.array_equal(a.activations[1], b.activations[1])
    assert any((a.inputs != b.inputs).nnz for a, b in zip(first, other))
    for b in first:
        x = b.inputs.toarray()
        assert x.sum(axis=1).max() <= 3
        np.testing.assert_array_equal(b.gates, compiler.gate_values(compiled.program, x))
        np.testing.assert_allclose(b.activations[1], compiled.activations(x)[1])
        if distribution.mode == "enriched":
            assert b.gates.any(axis=1).all()
        if distribution.mode == "probabilities":
            assert not x[:, 0::2].any()


def test_bad_distributions_are_user_errors() -> None:
    compiled = dict(CASES)["uand-hub"]
    for distribution in (Distribution("nope"), Distribution("probabilities", probabilities=(0.5,))):
        with pytest.raises(UserError):
            next(batches(compiled, 10, distribution))


def test_activations_cli_writes_the_iterators_rows_in_shards(tmp_path) -> None:
    compiled = dict(CASES)["chain-chained"]
    artifact = tmp_path / "c.safetensors"
    runtime.save(compiled, artifact)
    out = tmp_path / "acts"
    assert cli(["activations", str(artifact), "--samples", "1000", "-o", str(out), "--mode", "stratified",
                "--layers", "1,3", "--shard-rows", "300", "--batch-size", "100", "--seed", "4"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [300, 300, 300, 100] and manifest["layers"] == [1, 3]
    shards = [load_file(str(out / s["file"])) for s in manifest["shards"]]
    expected = list(batches(compiled, 1000, Distribution("stratified"), [1, 3], batch_size=100, seed=4))
    np.testing.assert_array_equal(np.concatenate([s["inputs"] for s in shards]),
                                  np.concatenate([b.inputs.toarray() for b in expected]))
    np.testing.assert_array_equal(np.concatenate([s["activations.3"] for s in shards]),
                                  np.concatenate([b.activations[3] for b in expected]))
    np.testing.assert_array_equal(np.concatenate([s["gates"] for s in shards]).astype(bool),
                                  np.concatenate([b.gates for b in expected]))
    assert cli(["activations", str(artifact), "--samples", "10", "-o", str(out)]) == 2  # never overwritten
    assert cli(["activations", str(artifact), "--samples", "10", "-o", str(tmp_path / "n"), "--layers", "99"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acts", "c.safetensors"]  # nothing half-written


# --- weight components ---------------------------------------------------------------------------

COMPONENT_CASES = [c for c in CASES if c[0].split("-")[0] in ("uand", "chain", "bigrams", "animals")]


@pytest.mark.parametrize("label,compiled", COMPONENT_CASES, ids=[l for l, _ in COMPONENT_CASES])
def test_components_sum_to_the_weights(label: str, compiled: CompiledCircuit) -> None:
    parts = components(compiled)
    owners = sorted(set(np.concatenate(parts.owners + [parts.readout_owner]).tolist()))
    for i, layer in enumerate(compiled.layers):
        weight = sum((parts.layer_component(i, o)[0] for o in owners), sp.csr_matrix(layer.weight.shape))
        bias = sum(parts.layer_component(i, o)[1] for o in owners)
        assert abs(weight - layer.weight).max() == 0 and np.array_equal(bias, layer.bias)
    readouts = [parts.readout_component(o) for o in owners]
    for l, width in enumerate(compiled.widths):
        block = compiled.gate_readout.layer_matrix(l, width)
        assert abs(sum((r.layer_matrix(l, width) for r in readouts), sp.csr_matrix(block.shape)) - block).max() == 0
    np.testing.assert_array_equal(sum(r.bias for r in readouts), compiled.gate_readout.bias)


@pytest.mark.parametrize("label,compiled", COMPONENT_CASES, ids=[l for l, _ in COMPONENT_CASES])
def test_removing_a_gates_component_changes_that_gate_and_no_other(label: str,
                                                                   compiled: CompiledCircuit) -> None:
    """On the stratified distribution (each gate on its own samples): the
    ablated gate is wrong on its true half, every other gate's decision
    changes on at most the target error of its samples."""
    target = compiled.meta.target_error or 0.0
    parts = list(gate_samples(compiled, 64, compiled.program.sparsity, seed=0))
    inputs = sp.vstack([p[1] for p in parts], format="csr")
    wanted = np.concatenate([p[2] for p in parts])
    gate_of = np.concatenate([p[0][p[3]] for p in parts])
    rows = np.arange(inputs.shape[0])
    before = compiled.gate_values(inputs)[rows, gate_of] > THRESHOLD
    for gate in np.random.default_rng(0).choice(compiled.n_gates, size=min(12, compiled.n_gates), replace=False):
        after = components(compiled).without(int(gate)).gate_values(inputs)[rows, gate_of] > THRESHOLD
        changed = np.bincount(gate_of, weights=before != after, minlength=compiled.n_gates) / 64
        if wanted[gate_of == gate].any() and np.abs(compiled.gate_readout.bias[gate]) < THRESHOLD:
            assert changed[gate] >= 0.5 * wanted[gate_of == gate].mean()
        changed[gate] = 0.0
        assert changed.max() <= target, (compiled.gate_names[gate], compiled.gate_names[int(changed.argmax())])
    # uand, and bigrams under the calibrated hub packing (its pairs all share hub neurons), own no neuron alone
    assert any((o != SHARED).any() for o in components(compiled).owners) or label.startswith(("uand", "bigrams-hub"))


def test_components_cli(tmp_path) -> None:
    artifact = tmp_path / "c.safetensors"
    runtime.save(dict(CASES)["chain-exact"], artifact)
    assert cli(["components", str(artifact), "-o", str(tmp_path / "parts.safetensors")]) == 0
    tensors = load_file(str(tmp_path / "parts.safetensors"))
    assert tensors["gate_readout.owner"].tolist() == list(range(dict(CASES)["chain-exact"].n_gates))
    assert "layers.0.owner" in tensors
