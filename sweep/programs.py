"""The programs of a sweep: a file's contents, or a generator and its parameters.

A file travels by value (its bytes go with every cell), so a worker on another
machine of a Ray cluster needs no copy of it; a generated program travels as its
name and parameters and is made again where it runs (generators are
deterministic). Either way `Program.circuit()` gives the same IR everywhere.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from superpose.compiler.errors import CompileError
from superpose.compiler.frontend import circuit_from_source
from superpose.compiler.generators.registry import generate_circuit, generator_parameters
from superpose.compiler.ir import Circuit
from superpose.compiler.netlists.load import NETLIST_SUFFIXES, parse_netlist
from superpose.compiler.netlists.simplify import simplify
from superpose.compiler.source import read_source


@dataclass(frozen=True)
class Program:
    """One program. `label` names it in the results table; `identity()` is
    what a cell's key hashes of it."""
    label: str
    generator: str | None = None
    parameters: tuple[tuple[str, Any], ...] = ()  # the generator's, every default filled in
    file_name: str | None = None                  # the path the spec gave, for error messages
    file_format: str | None = None                # "sbp", or a netlist format ("bench", "aiger", "blif")
    data: bytes = b""                             # the file's contents (a program's as UTF-8 text)

    def circuit(self) -> Circuit:
        """The program as an IR circuit; netlists simplified as `superpose compile` does by default."""
        if self.generator is not None:
            return generate_circuit(self.generator, dict(self.parameters))
        if self.file_format == "sbp":
            return circuit_from_source(self.data.decode("utf-8"), self.file_name)
        return simplify(parse_netlist(self.data, self.file_name, self.file_format))

    def identity(self) -> dict[str, Any]:
        """What determines the program: its label, and the generator with its
        parameters or the file's format and the SHA-256 of its contents."""
        if self.generator is not None:
            return {"label": self.label, "generator": self.generator, "parameters": dict(self.parameters)}
        return {"label": self.label, "format": self.file_format, "sha256": hashlib.sha256(self.data).hexdigest()}


def file_program(path: str | os.PathLike, label: str) -> Program:
    """A program or netlist file, read now; CompileError if it cannot be read
    (a program that is not UTF-8 is shown at its first bad byte)."""
    suffix = Path(path).suffix.lower()
    file_format = NETLIST_SUFFIXES.get(suffix, "sbp")
    if file_format == "sbp":
        text, name = read_source(path)
        return Program(label, file_name=name, file_format="sbp", data=text.encode("utf-8"))
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise CompileError(f"{os.fspath(path)}: cannot read: {error.strerror}") from None
    return Program(label, file_name=os.fspath(path), file_format=file_format, data=data)


def generated_program(generator: str, given: dict[str, Any], label: str | None = None) -> Program:
    """A generated program; its default label lists the generator and every
    parameter. CompileError on an unknown generator or bad parameters."""
    parameters = generator_parameters(generator, given)
    if label is None:
        label = " ".join([generator] + [f"{k}={v}" for k, v in parameters.items() if v is not None])
    return Program(label, generator=generator, parameters=tuple(parameters.items()))
