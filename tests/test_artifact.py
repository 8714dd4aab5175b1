"""Artifacts: byte-identical for the same program and seed, atomic, and clear
errors for truncated or foreign files."""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import superpose
from superpose import compiler
from superpose.errors import OutputError
from superpose.metadata import META_SCHEMA, CircuitMeta
from superpose.runtime.artifact import to_bytes
from tests.programs_table import PROGRAMS


@pytest.mark.parametrize("strategy", ["exact", "hub"])
def test_same_seed_same_bytes(strategy: str) -> None:
    path = PROGRAMS / "bigrams.sbp"
    first = to_bytes(compiler.compile_file(path, seed=3, strategy=strategy))
    assert first == to_bytes(compiler.compile_file(path, seed=3, strategy=strategy))


def test_seed_changes_random_choices() -> None:
    text = "sparsity 2\ninput x[64]\nfor i in range(63):\n    g[i] = x[i] & x[i + 1]\noutput g"
    options = compiler.HubOptions(embed_dim=32)
    a = to_bytes(compiler.compile_source(text, seed=1, options=options))
    b = to_bytes(compiler.compile_source(text, seed=2, options=options))
    assert a != b


def test_truncated_file_is_refused(tmp_path) -> None:
    path = tmp_path / "a.safetensors"
    superpose.save(compiler.compile_file(PROGRAMS / "animals.sbp"), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(superpose.ArtifactError, match="truncated|corrupt|not a readable"):
        superpose.load(path)


def test_foreign_safetensors_is_refused(tmp_path) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(superpose.ArtifactError, match="not a superpose circuit"):
        superpose.load(path)


def test_garbage_and_missing_files_are_refused(tmp_path) -> None:
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"\x00\x01not safetensors at all")
    with pytest.raises(superpose.ArtifactError):
        superpose.load(path)
    with pytest.raises(superpose.ArtifactError, match="no such file"):
        superpose.load(tmp_path / "missing.safetensors")


def test_failed_write_leaves_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "a.safetensors"
    circuit = compiler.compile_file(PROGRAMS / "animals.sbp")
    superpose.save(circuit, path)
    before = path.read_bytes()
    monkeypatch.setattr("superpose.runtime.output_files.os.replace",
                        lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OutputError, match="disk full"):
        superpose.save(circuit, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]


def _with_header(path, source, change) -> None:
    """Write to `path` the artifact `source` with its JSON header changed by `change(header)`."""
    with safe_open(str(source), framework="np") as f:
        header = json.loads(f.metadata()["superpose"])
    change(header)
    save_file(load_file(str(source)), str(path), metadata={"superpose": json.dumps(header)})


def test_an_index_tensor_of_floats_is_refused_without_a_warning(tmp_path) -> None:
    # a cast of NaN to an index printed scipy's RuntimeWarning before the format check refused it
    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    superpose.save(compiler.compile_file(PROGRAMS / "animals.sbp"), good)
    with safe_open(str(good), framework="np") as f:
        metadata = f.metadata()
    tensors = load_file(str(good))
    name = next(n for n in sorted(tensors) if n.endswith(".indices"))
    tensors[name] = np.full(tensors[name].shape, np.nan, dtype=np.float32)
    save_file(tensors, str(bad), metadata=metadata)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(superpose.ArtifactError, match=rf"{re.escape(name)}' is corrupt: float32, not integers"):
            superpose.load(bad)


def test_metadata_round_trips_typed(tmp_path) -> None:
    compiled = compiler.compile_file(PROGRAMS / "bigrams.sbp", seed=4)
    superpose.save(compiled, tmp_path / "a.safetensors")
    again = superpose.load(tmp_path / "a.safetensors").meta
    assert isinstance(again, CircuitMeta) and again == compiled.meta
    assert again.schema == META_SCHEMA and again.seed == 4 and again.strategy == "hub"
    assert again.sparsity_levels and again.figures["danger_limit"] == compiled.meta.figures["danger_limit"]


@pytest.mark.parametrize("meta, problem", [
    ([1, 2], "must be a JSON object, not list"), ("exact", "not str"), (3, "not int"), (None, "not NoneType"),
    ({"lowering": "exact", "strategy": "exact", "sparsity": None}, "schema None"),
    ({"lowering": "exact", "strategy": "exact", "schema": META_SCHEMA}, "lacks sparsity"),
    ({"lowering": "exact", "strategy": "exact", "sparsity": "2", "schema": META_SCHEMA}, "sparsity has the wrong type"),
    ({"lowering": "exact", "strategy": "exact", "sparsity": 2, "colour": "red", "schema": META_SCHEMA},
     "unknown metadata fields: colour"),
])
def test_malformed_metadata_is_an_artifact_error(tmp_path, meta, problem) -> None:
    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    superpose.save(compiler.compile_file(PROGRAMS / "animals.sbp"), good)
    _with_header(bad, good, lambda header: header.update(meta=meta))
    with pytest.raises(superpose.ArtifactError, match="bad metadata") as error:
        superpose.load(bad)
    assert problem in str(error.value)
