"""Golden error messages: tests/golden/<case>.sbp must fail to compile with
exactly the text of <case>.err.

To write the .err files after a deliberate change to the messages, run
    SUPERPOSE_UPDATE_GOLDEN=1 python -m pytest tests/test_errors.py
and read the diff.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from superpose.compiler.errors import CompileError
from superpose.compiler.frontend import circuit_from_file, circuit_from_source

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(GOLDEN.glob("*.sbp"))
UPDATE = os.environ.get("SUPERPOSE_UPDATE_GOLDEN") == "1"


def compile_error(path: str) -> CompileError:
    with pytest.raises(CompileError) as caught:
        circuit_from_file(path)
    return caught.value


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden_error(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)  # messages name the file as given: just its name
    error = compile_error(case.name)
    expected = case.with_suffix(".err")
    if UPDATE:
        expected.write_text(str(error) + "\n", encoding="utf-8")
    assert str(error) + "\n" == expected.read_text(encoding="utf-8")
    assert all(d.loc is not None for d in error.diagnostics)


def test_every_golden_case_has_its_expected_text() -> None:
    assert {p.stem for p in GOLDEN.glob("*.err")} == {p.stem for p in CASES}


def test_several_errors_come_in_source_order() -> None:
    error = compile_error(str(GOLDEN / "three_errors.sbp"))
    lines = [d.loc.line for d in error.diagnostics]
    assert len(lines) == 3 and lines == sorted(lines)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sbp"
    assert str(compile_error(str(missing))) == f"{missing}: no such file"


def test_directory(tmp_path: Path) -> None:
    assert str(compile_error(str(tmp_path))) == f"{tmp_path}: is a directory, not a program file"


def test_too_many_errors_are_counted_not_listed() -> None:
    lines = ["input a"] + [f"x{i} = missing{i}" for i in range(60)] + ["output a"]
    with pytest.raises(CompileError) as caught:
        circuit_from_source("\n".join(lines))
    assert len(caught.value.diagnostics) == 51
    assert str(caught.value.diagnostics[-1]) == "... and 10 more errors"
