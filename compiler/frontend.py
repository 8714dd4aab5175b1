"""The DSL front end: read -> parse -> check -> a validated Circuit."""
from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

from superpose.compiler.check import check
from superpose.compiler.ir import Circuit
from superpose.compiler.limits import MAX_GATES
from superpose.compiler.parse import parse_source
from superpose.compiler.source import read_source


def circuit_from_source(text: str, filename: str = "<string>", max_gates: int = MAX_GATES) -> Circuit:
    """Compile program text to the IR; CompileError on any problem in it
    (more than `max_gates` signals after loop expansion is one)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the program
    with _gc_paused():
        circuit = check(parse_source(text, filename), text, max_gates)
        circuit.validate()
    return circuit


def circuit_from_file(path: str | os.PathLike, max_gates: int = MAX_GATES) -> Circuit:
    """Compile a program file to the IR; CompileError if it cannot be read or is wrong."""
    text, display_name = read_source(path)
    return circuit_from_source(text, display_name, max_gates)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: the front end allocates millions of
    small objects that all stay alive, and rescanning them doubles its time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
