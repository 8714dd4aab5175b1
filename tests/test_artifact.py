"""Artifacts: byte-identical for the same program and seed, atomic, and clear
errors for truncated or foreign files."""
from __future__ import annotations

import pytest
from safetensors.numpy import save_file
import numpy as np

import superpose
from superpose import compiler
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
    monkeypatch.setattr("superpose.runtime.artifact.os.replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        superpose.save(circuit, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]
