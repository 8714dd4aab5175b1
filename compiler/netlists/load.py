"""Reading a netlist file in any of the known formats into the IR."""
from __future__ import annotations

import os
from pathlib import Path

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit
from superpose.compiler.limits import MAX_GATES
from superpose.compiler.netlists.aiger import parse_aiger
from superpose.compiler.netlists.bench import parse_bench
from superpose.compiler.netlists.blif import parse_blif

NETLIST_FORMATS = ("bench", "aiger", "blif")
NETLIST_SUFFIXES = {".bench": "bench", ".aag": "aiger", ".aig": "aiger", ".blif": "blif"}  # suffix -> format


def load_netlist(path: str | os.PathLike, format: str | None = None, max_gates: int = MAX_GATES) -> Circuit:
    """Read a netlist file; the format comes from `format` ("bench", "aiger",
    "blif") or else from the file's suffix. CompileError on a malformed file,
    or one whose header declares more than `max_gates` signals."""
    path = Path(path)
    if format is None:
        format = NETLIST_SUFFIXES.get(path.suffix.lower())
        if format is None:
            raise CompileError(f"{path}: cannot tell the netlist format from the suffix "
                               f"{path.suffix or '(none)'!r}: known suffixes are {', '.join(NETLIST_SUFFIXES)}")
    elif format not in NETLIST_FORMATS:
        raise CompileError(f"{path}: unknown netlist format {format!r}: known formats are "
                           f"{', '.join(NETLIST_FORMATS)}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CompileError(f"{path}: cannot read: {err.strerror}") from None
    return parse_netlist(data, str(path), format, max_gates)


def parse_netlist(data: bytes, name: str, format: str, max_gates: int = MAX_GATES) -> Circuit:
    """A netlist's bytes in `format` ("bench", "aiger" or "blif"); `name` is the
    file name its error messages show. CompileError on a malformed netlist, or
    one whose header declares more than `max_gates` signals."""
    if format == "aiger":
        return parse_aiger(data, name, max_gates)
    parse = parse_bench if format == "bench" else parse_blif
    return parse(data.decode("utf-8", errors="replace"), name)
