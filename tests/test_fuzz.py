"""The fuzz suite (issue 11): random inputs that must each get a clean answer.

- valid random programs compile, under every lowering, to networks that agree
  with the interpreter on every input (exact) or every allowed sparse input
  (hub, chained); the paper-uand baseline, a random construction with a known
  error, must compile deterministically and export to torch faithfully;
- mutated programs and random text compile, or give a CompileError whose
  diagnostics carry a position;
- random bytes and mutated real netlists, for every importer, import or give a
  CompileError; what imports converts to a program that computes the same;
- mutated artifacts (bytes, header values and types, shapes, tensor data) load
  or give an ArtifactError, and the CLI's info, run and report exit cleanly;
- absurd command-line options end in exit status 0-3, never a traceback.

Each property runs tests.fuzz_strategies.EXAMPLES examples (a few in CI; set
SUPERPOSE_FUZZ_EXAMPLES for long runs), and any example slower than 30 s fails.
"""
from __future__ import annotations

import itertools
import json
import os
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from safetensors.numpy import load as load_tensors, save as save_tensors

from superpose import compiler
import superpose
from superpose.compiler import CompileError
from superpose.compiler.emit_dsl import emit_dsl
from superpose.compiler.netlists import NETLIST_SUFFIXES, load_netlist
from superpose.runtime import artifact
from superpose.runtime.artifact import ArtifactError, to_bytes
from superpose.runtime.cli import main
from tests.fuzz_strategies import FUZZ, mutated, mutated_bytes, programs

NETLISTS = Path(__file__).resolve().parent / "fuzz_netlists"
ANIMALS = Path(__file__).resolve().parents[1] / "programs" / "animals.sbp"
CLEAN_EXITS = {0, 1, 2, 3}  # success, counterexample, user error, unknown


def _all_inputs(n_inputs: int, max_active: int | None) -> np.ndarray:
    """(count, n_inputs) bool: every input, or every input with at most max_active on."""
    most = n_inputs if max_active is None else max_active
    rows = [np.isin(np.arange(n_inputs), on) for k in range(most + 1)
            for on in itertools.combinations(range(n_inputs), k)]
    return np.array(rows, dtype=bool).reshape(-1, n_inputs)


def _agrees_with_interpreter(text: str, **options) -> None:
    circuit = compiler.circuit_from_source(text)
    compiled = compiler.compile_circuit(circuit, **options)
    x = _all_inputs(circuit.n_inputs, None if options.get("strategy") == "exact" else circuit.sparsity)
    computed = compiled.run(x.astype(np.float32)) > 0.5
    expected = compiler.output_values(circuit, x)
    wrong = np.argwhere(computed != expected)
    assert not wrong.size, (f"input {x[wrong[0, 0]].astype(int)} output {circuit.output_names[wrong[0, 1]]}: "
                            f"network {computed[tuple(wrong[0])]}, interpreter {expected[tuple(wrong[0])]}")


# Valid programs, every lowering.

@FUZZ
@given(programs(sparse=False) | programs(sparse=True))
def test_exact_lowering_matches_the_interpreter_on_every_input(text):
    _agrees_with_interpreter(text, strategy="exact")


@FUZZ
@given(programs(sparse=True))
def test_superposed_lowering_matches_the_interpreter_on_every_sparse_input(text):
    _agrees_with_interpreter(text)


@FUZZ
@given(programs(sparse=True))
def test_chained_lowering_matches_the_interpreter_on_every_sparse_input(text):
    _agrees_with_interpreter(text, strategy="chained")


@FUZZ
@given(programs(sparse=True), st.integers(0, 2 ** 32 - 1))
def test_paper_uand_compiles_deterministically_and_exports_faithfully(text, seed):
    first = compiler.compile_source(text, seed=seed, strategy="paper-uand")
    assert to_bytes(first) == to_bytes(compiler.compile_source(text, seed=seed, strategy="paper-uand"))
    x = _all_inputs(first.n_inputs, first.meta.sparsity).astype(np.float32)
    values = first.gate_values(x)
    assert np.isfinite(values).all()
    exported = superpose.to_torch(first).gate_values(torch.from_numpy(x)).detach().numpy()
    assert np.allclose(exported, values, atol=1e-4)


# Invalid programs: a CompileError with a position.

def _compiles_or_positioned_error(text: str) -> None:
    try:
        circuit = compiler.circuit_from_source(text, "fuzz.sbp", max_gates=10_000)
    except CompileError as error:
        assert error.diagnostics and error.diagnostics[0].loc is not None, str(error)
        return
    if circuit.n_inputs <= 10:
        x = _all_inputs(circuit.n_inputs, None)
        computed = compiler.compile_circuit(circuit, strategy="exact").run(x.astype(np.float32)) > 0.5
        assert np.array_equal(computed, compiler.output_values(circuit, x))


@FUZZ
@given(data=st.data())
def test_mutated_programs_compile_or_fail_with_a_position(data):
    _compiles_or_positioned_error(data.draw(programs(sparse=data.draw(st.booleans())).flatmap(mutated)))


@FUZZ
@given(st.text(max_size=200))
def test_random_text_compiles_or_fails_with_a_position(text):
    _compiles_or_positioned_error(text)


# Netlists: random bytes and mutated real files, every importer.

FORMATS = {"bench": ".bench", "aiger ASCII": ".aag", "aiger binary": ".aig", "blif": ".blif"}
HEADERS = {".bench": b"", ".aag": b"aag ", ".aig": b"aig ", ".blif": b".model m\n"}


def _imports_or_compile_error(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        circuit = load_netlist(path, max_gates=100_000)
    except CompileError as error:
        assert str(error) and len(str(error)) < 20_000
        return
    try:
        program = emit_dsl(circuit)
    except CompileError as error:
        assert "no inputs" in str(error) or "no outputs" in str(error)
        return
    converted = compiler.circuit_from_source(program, "converted.sbp")
    x = np.random.default_rng(0).random((64, circuit.n_inputs)) < 0.5
    assert np.array_equal(compiler.output_values(converted, x), compiler.output_values(circuit, x))


@FUZZ
@given(st.sampled_from(sorted(FORMATS.values())), st.binary(max_size=300))
def test_random_bytes_import_or_give_a_compile_error(tmp_path_factory, suffix, data):
    _imports_or_compile_error(tmp_path_factory.mktemp("net"), suffix, HEADERS[suffix] + data)


@FUZZ
@given(st.sampled_from(sorted(p.name for p in NETLISTS.iterdir() if p.suffix in NETLIST_SUFFIXES)), st.data())
def test_mutated_real_netlists_import_or_give_a_compile_error(tmp_path_factory, name, data):
    original = (NETLISTS / name).read_bytes()
    if name.endswith(".aig"):
        mutation = mutated_bytes(original)
    else:
        mutation = mutated(original.decode()).map(str.encode)
    _imports_or_compile_error(tmp_path_factory.mktemp("net"), Path(name).suffix, data.draw(mutation))


# Artifacts: mutated bytes, header values, shapes and tensors.

@pytest.fixture(scope="module")
def artifact_bytes() -> bytes:
    return to_bytes(compiler.compile_file(ANIMALS))


def _header(data: bytes) -> tuple[dict, dict]:
    """(safetensors header, superpose metadata) of an artifact's bytes."""
    size = struct.unpack("<Q", data[:8])[0]
    outer = json.loads(data[8:8 + size])
    return outer, json.loads(outer["__metadata__"][artifact.METADATA_KEY])


def _with_metadata(data: bytes, header: dict) -> bytes:
    return save_tensors(load_tensors(data), metadata={artifact.METADATA_KEY: json.dumps(header)})


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                     max_size=3), max_leaves=6)


def _paths(value, prefix=()):
    """Every (key path) inside a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value[:4]):
            yield from _paths(item, prefix + (i,))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _loads_or_artifact_error(tmp_path: Path, data: bytes) -> None:
    """The artifact loads and runs, or is an ArtifactError; the CLI's commands
    that read it (info, run, report) exit cleanly either way."""
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(data)
    for command in (["info"], ["run", "--on", ""], ["report", "--samples", "4"]):
        _clean_exit([command[0], str(path), *command[1:]])
    try:
        circuit = artifact.load(path)
    except ArtifactError:
        return
    x = np.zeros((2, circuit.n_inputs), dtype=np.float32)
    x[1, :min(2, circuit.n_inputs)] = 1
    assert circuit.run(x).shape == (2, circuit.n_outputs)
    assert circuit.gate_values(x).shape == (2, circuit.n_gates)


@FUZZ
@given(data=st.data())
def test_mutated_artifact_bytes_load_or_give_an_artifact_error(tmp_path_factory, artifact_bytes, data):
    _loads_or_artifact_error(tmp_path_factory.mktemp("art"), data.draw(mutated_bytes(artifact_bytes)))


@FUZZ
@given(st.data(), JSON_VALUES)
def test_mutated_artifact_metadata_loads_or_gives_an_artifact_error(tmp_path_factory, artifact_bytes, data, value):
    _, header = _header(artifact_bytes)
    path = data.draw(st.sampled_from(list(_paths({k: v for k, v in header.items() if k != "program"}))
                                     + [("program",), ("program", "nodes"), ("program", "outputs")]))
    _loads_or_artifact_error(tmp_path_factory.mktemp("art"), _with_metadata(artifact_bytes, _replaced(header, path, value)))


@FUZZ
@given(data=st.data())
def test_artifacts_with_other_tensor_shapes_or_data_load_or_give_an_artifact_error(tmp_path_factory, artifact_bytes,
                                                                                  data):
    tensors = load_tensors(artifact_bytes)
    name = data.draw(st.sampled_from(sorted(tensors)))
    shape = data.draw(st.lists(st.integers(0, 6), min_size=0, max_size=3))
    dtype = data.draw(st.sampled_from([np.float32, np.int64, np.float64, np.int32]))
    fill = data.draw(st.sampled_from([0, 1, -1, 2 ** 40, np.nan, np.inf]))
    with np.errstate(invalid="ignore"):
        tensors[name] = np.full(shape, fill).astype(dtype)
    _, header = _header(artifact_bytes)
    _loads_or_artifact_error(tmp_path_factory.mktemp("art"),
                             save_tensors(tensors, metadata={artifact.METADATA_KEY: json.dumps(header)}))


# Absurd command-line options.

NUMBERS = ["0", "1", "-1", "2", "99999999999999999999999", "1e400", "nan", "inf", "-inf", "0.5", "", "abc", "0x10"]


def _clean_exit(argv: list[str]) -> int:
    try:
        code = main(argv)
    except SystemExit as done:  # argparse refusing an option
        code = done.code
    assert code in CLEAN_EXITS, f"{argv} exited {code}"
    return code


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    superpose.save(compiler.compile_file(ANIMALS), folder / "animals.safetensors")
    os.mkfifo(folder / "fifo")
    (folder / "dir").mkdir()
    if os.geteuid() == 0:  # a private /dev/full: writing over it must be refused, never done
        os.mknod(folder / "full", 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return folder


OUTPUTS = ["{d}/out.safetensors", "{d}/fifo", "{d}/full", "{d}/dir", "{d}/dir/", "{d}/missing/x.safetensors", "",
           "-", "/proc/x.safetensors", "/sys/x.safetensors", "{d}/x.txt"]


@FUZZ
@given(data=st.data())
def test_absurd_cli_options_exit_cleanly(cli_folder, data, capsys):
    artifact_path = str(cli_folder / "animals.safetensors")
    number = st.sampled_from(NUMBERS)
    output = st.sampled_from(OUTPUTS).map(lambda p: p.format(d=cli_folder))
    command = data.draw(st.sampled_from(["compile", "report", "verify", "run", "info", "convert"]))
    if command == "compile":
        argv = ["compile", str(ANIMALS), "-o", data.draw(output)]
        for flag in data.draw(st.lists(st.sampled_from(["--sparsity", "--width", "--embed-dim", "--target-error",
                                                        "--p", "--seed", "--max-gates"]), max_size=2, unique=True)):
            argv += [flag, data.draw(number)]
        argv += data.draw(st.sampled_from([[], ["--exact"], ["--strategy", "chained"], ["--strategy", "paper-uand"],
                                           ["--json", data.draw(output)]]))
    elif command == "report":
        argv = ["report", artifact_path, "--samples", data.draw(st.sampled_from(["-1", "0", "1", "2", "3", "1e3",
                                                                                "99999999999999999999999"]))]
        for flag in data.draw(st.lists(st.sampled_from(["--max-active", "--seed", "--top", "--confirm",
                                                        "--max-samples"]), max_size=2, unique=True)):
            argv += [flag, data.draw(number)]
        argv += data.draw(st.sampled_from([[], ["--json", data.draw(output)], ["--csv", data.draw(output)],
                                           ["--plot", data.draw(output)]]))
    elif command == "verify":
        argv = ["verify", artifact_path, "--budget-seconds", data.draw(st.sampled_from(["-1", "0", "nan", "inf", "2"])),
                "--max-active", data.draw(number), "--rows", data.draw(number)]
    elif command == "run":
        argv = ["run", artifact_path, "--on", data.draw(st.sampled_from(["", ",", "fur,,flies", "nope", "tok[99]",
                                                                          "fur,fur", "é", "fur," * 50]))]
    elif command == "info":
        argv = ["info", data.draw(st.sampled_from([artifact_path, str(ANIMALS), str(cli_folder), "/dev/null", ""]))]
    else:
        argv = ["convert", str(NETLISTS / "c17.bench"), "-o", data.draw(output), "--max-gates", data.draw(number)]
    _clean_exit(argv)
    capsys.readouterr()
    assert stat.S_ISFIFO(os.stat(cli_folder / "fifo").st_mode)
    if os.geteuid() == 0:
        assert stat.S_ISCHR(os.stat(cli_folder / "full").st_mode)
