"""Reading a program file: UTF-8 text, or a CompileError saying why not."""
from __future__ import annotations

import os

from superpose.compiler.errors import CompileError, Diagnostic, diagnostic_at


def read_source(path: str | os.PathLike) -> tuple[str, str]:
    """(text, display_name) of a source file; display_name is the path as given."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise CompileError(Diagnostic(f"{name}: no such file")) from None
    except IsADirectoryError:
        raise CompileError(Diagnostic(f"{name}: is a directory, not a program file")) from None
    except OSError as error:
        raise CompileError(Diagnostic(f"{name}: cannot read: {error.strerror}")) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CompileError(_not_utf8(data, error.start, name)) from None
    return text, name


def _not_utf8(data: bytes, bad: int, name: str) -> Diagnostic:
    """Point at the first byte that is not UTF-8 (columns count characters)."""
    line_start = data.rfind(b"\n", 0, bad) + 1
    line = data.count(b"\n", 0, bad) + 1
    column = len(data[line_start:bad].decode("utf-8")) + 1
    text = data.decode("utf-8", errors="replace")
    return diagnostic_at(f"file is not UTF-8 text (byte 0x{data[bad]:02x})", name, text, line, column)
