"""AIGER and-inverter graphs, ASCII (.aag) and binary (.aig) -> Circuit.

A literal is 2*variable + negated; literal 0 is FALSE and 1 is TRUE (they
become anonymous CONST nodes where something reads them). Every AND is a named
gate `n<variable>`; inputs and outputs take their names from the symbol table,
else `i0, i1, ...` and `o0, o1, ...`. Latches and the AIGER 1.9 properties
(bad states, constraints, justice, fairness) are refused: only combinational
circuits compile. Positions are line:column up to the binary AND section of
an .aig file, byte offsets from there on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from superpose.compiler.errors import CompileError, diagnostic_at
from superpose.compiler.ir import Circuit, Loc, Op
from superpose.compiler.limits import MAX_GATES, over_limit_message
from superpose.compiler.netlists.netlist import Expr, Gate, Netlist, Ref

PROPERTIES = ("bad-state properties", "invariant constraints", "justice properties", "fairness constraints")
SYMBOL = re.compile(r"([ilobcjf])(\d+) (.*)")


@dataclass(frozen=True)
class _Literal:
    """A literal as written, and where (None in a binary section)."""
    value: int
    loc: Loc | None = None


class _Reader:
    """Walks the file line by line, and byte by byte through a binary AND section."""

    def __init__(self, data: bytes, filename: str):
        self.data = data
        self.file = filename
        self.text = data.decode("latin-1")
        self.pos = 0
        self.line = 0         # number of the line last read
        self.line_start = 0   # its first byte
        self.line_end = 0     # its newline (or the end of the file)
        self.lines_known = True

    def error(self, message: str, column: int = 1) -> CompileError:
        """An error at `column` of the line last read."""
        if self.lines_known:
            return CompileError(diagnostic_at(message, self.file, self.text, max(self.line, 1), column))
        return CompileError(f"{self.file}: byte {self.line_start + column - 1}: {message}")

    def loc(self, column: int) -> Loc | None:
        return Loc(self.file, self.line, column) if self.lines_known else None

    def read_line(self) -> str | None:
        """The next line without its newline, or None at the end of the file."""
        if self.pos >= len(self.data):
            return None
        end = self.data.find(b"\n", self.pos)
        self.line_end = len(self.data) if end < 0 else end
        self.line_start, self.pos = self.pos, self.line_end + 1
        self.line += 1
        return self.text[self.line_start:self.line_end]

    def fields(self, what: str) -> list[tuple[str, int]]:
        """The next line's whitespace-separated fields as (text, column) pairs."""
        line = self.read_line()
        if line is None:
            raise self.error(f"unexpected end of file, expected {what}", self.line_end - self.line_start + 1)
        return [(m.group(), m.start() + 1) for m in re.finditer(r"\S+", line)]

    def numbers(self, count: int, what: str) -> list[tuple[int, int]]:
        """The next line as exactly `count` unsigned numbers: (value, column) pairs."""
        fields = self.fields(what)
        for text, column in fields:
            if not text.isdigit():
                raise self.error(f"expected {what}, found {text!r}", column)
        if len(fields) != count:
            column = fields[count][1] if len(fields) > count else self.line_end - self.line_start + 1
            raise self.error(f"expected {what}: {count} number(s) on the line, found {len(fields)}", column)
        return [(int(text), column) for text, column in fields]

    def varint(self, what: str, most: int) -> int:
        """One number of the binary AND section: 7 bits per byte, low bits
        first; more bytes than a number up to `most` needs is an error (a
        run of 0xff bytes would otherwise build an integer of any size)."""
        value, shift, start = 0, 0, self.pos
        while True:
            if self.pos >= len(self.data):
                raise CompileError(f"{self.file}: byte {start}: truncated binary AND section, expected {what}")
            if shift > most.bit_length():
                raise CompileError(f"{self.file}: byte {start}: {what} runs over {self.pos - start} bytes, "
                                   f"more than a literal up to {most} needs")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value


def parse_aiger(data: bytes, filename: str, max_gates: int = MAX_GATES) -> Circuit:
    """The circuit an AIGER file (ASCII or binary) describes; CompileError if
    malformed or if its header declares more than `max_gates` signals."""
    reader = _Reader(data, filename)
    binary, (max_var, n_inputs, n_latches, n_outputs, n_ands), properties = _header(reader)
    if max_var + n_outputs > max_gates:
        raise reader.error(over_limit_message(f"the header declares {max_var:,} variables and {n_outputs:,} "
                                              "outputs:", max_gates))
    defined_on: dict[int, int] = {}  # variable -> line of its definition (ASCII only)
    if binary:
        input_vars = list(range(1, n_inputs + 1))
    else:
        input_vars = [_define(reader, max_var, defined_on, 1, "an input literal")[0].value // 2
                      for _ in range(n_inputs)]
    if n_latches:
        reader.fields("a latch")
        raise reader.error("latch l0 is a sequential element: only combinational circuits are supported")
    if properties:
        raise properties
    outputs = [_literal(reader, reader.numbers(1, "an output literal")[0], max_var) for _ in range(n_outputs)]
    reader.lines_known = not (binary and n_ands)  # a binary AND section has no lines
    if binary:
        ands = [_and_binary(reader, n_inputs + 1 + i) for i in range(n_ands)]
    else:
        ands = [_define(reader, max_var, defined_on, 3, "an AND 'lhs rhs0 rhs1'") for _ in range(n_ands)]
    input_symbols, output_symbols = _symbols(reader, n_inputs, n_outputs)

    netlist = Netlist(Path(filename).stem, reader.text)
    names: dict[int, str] = {}  # variable -> signal name
    for i, var in enumerate(input_vars):
        name, loc = input_symbols.get(i, (f"i{i}", None))
        names[var] = name
        netlist.inputs.append((name, loc))
    input_names = set(names.values())
    for lhs, *_ in ands:
        name = f"n{lhs.value // 2}"
        while name in input_names:  # a symbol may have given an input this name
            name += "_"
        names[lhs.value // 2] = name

    def read(lit: _Literal) -> Ref | Expr:
        var, negated = divmod(lit.value, 2)
        if var == 0:
            return Expr(Op.CONST, k=lit.value)
        if var not in names:
            raise CompileError(netlist.error(
                f"literal {lit.value} reads variable {var}, which no input or AND defines", lit.loc))
        return Ref(names[var], bool(negated), lit.loc)

    netlist.gates = [Gate(names[lhs.value // 2], Expr(Op.AND, (read(rhs0), read(rhs1))), lhs.loc)
                     for lhs, rhs0, rhs1 in ands]
    netlist.outputs = [(output_symbols.get(i, (f"o{i}", None))[0], read(lit)) for i, lit in enumerate(outputs)]
    return netlist.to_circuit()


def _header(reader: _Reader) -> tuple[bool, list[int], CompileError | None]:
    """(binary?, [M, I, L, O, A], the refusal of any AIGER 1.9 properties) from
    'aag M I L O A [B C J F]'. Properties are refused after latches, which say more."""
    fields = reader.fields("an AIGER header 'aag M I L O A'")
    if not fields or fields[0][0] not in ("aag", "aig"):
        raise reader.error("expected an AIGER header 'aag M I L O A' or 'aig M I L O A'")
    counts = fields[1:]
    if not 5 <= len(counts) <= 9 or not all(text.isdigit() for text, _ in counts):
        raise reader.error(f"bad header: expected '{fields[0][0]} M I L O A' with 5 to 9 counts")
    refusals = [reader.error(f"the header declares {text} {kind}: only combinational circuits without "
                             "properties are supported", column)
                for kind, (text, column) in zip(PROPERTIES, counts[5:]) if int(text)]
    max_var, n_inputs, n_latches, _, n_ands = numbers = [int(text) for text, _ in counts[:5]]
    binary = fields[0][0] == "aig"
    defined = n_inputs + n_latches + n_ands
    if max_var < defined or binary and max_var != defined:
        raise reader.error(f"bad header counts: M is {max_var} but I + L + A is {defined}"
                           + (" (a binary file needs them equal)" if binary else ""), counts[0][1])
    return binary, numbers, refusals[0] if refusals else None


def _literal(reader: _Reader, field: tuple[int, int], max_var: int) -> _Literal:
    value, column = field
    if value > 2 * max_var + 1:
        raise reader.error(f"literal {value} is out of range: M = {max_var} allows at most {2 * max_var + 1}",
                           column)
    return _Literal(value, reader.loc(column))


def _define(reader: _Reader, max_var: int, defined_on: dict[int, int], count: int,
            what: str) -> list[_Literal]:
    """An ASCII input line (count 1) or AND line (count 3: lhs rhs0 rhs1): its
    literals, the first being the one it defines."""
    fields = reader.numbers(count, what)
    lhs, *rhs = (_literal(reader, field, max_var) for field in fields)
    column = fields[0][1]
    if lhs.value < 2 or lhs.value % 2:
        raise reader.error(f"{lhs.value} cannot be defined: it must be an even literal of at least 2", column)
    var = lhs.value // 2
    if var in defined_on:
        raise reader.error(f"variable {var} (literal {lhs.value}) is already defined on line {defined_on[var]}",
                           column)
    defined_on[var] = reader.line
    return [lhs, *rhs]


def _and_binary(reader: _Reader, var: int) -> list[_Literal]:
    """The AND gate of variable `var`: two deltas, with lhs > rhs0 >= rhs1."""
    lhs, start = 2 * var, reader.pos
    delta0 = reader.varint(f"the first delta of AND n{var}", lhs)
    delta1 = reader.varint(f"the second delta of AND n{var}", lhs)
    rhs0, rhs1 = lhs - delta0, lhs - delta0 - delta1
    if not 0 <= rhs1 <= rhs0 < lhs:
        raise CompileError(f"{reader.file}: byte {start}: AND n{var} (literal {lhs}) has deltas {delta0}, "
                           f"{delta1}, reading literals {rhs0}, {rhs1}: out of range, as {lhs} > rhs0 >= rhs1 "
                           ">= 0 must hold")
    return [_Literal(lhs), _Literal(rhs0), _Literal(rhs1)]


Symbols = dict[int, tuple[str, Loc | None]]  # index -> (name, where it was given)


def _symbols(reader: _Reader, n_inputs: int, n_outputs: int) -> tuple[Symbols, Symbols]:
    """Input and output names from the symbol table, index -> (name, where); it ends at 'c'."""
    tables: dict[str, Symbols] = {"i": {}, "o": {}}
    sizes = {"i": n_inputs, "o": n_outputs}
    while (line := reader.read_line()) is not None and line.rstrip() != "c":
        match = SYMBOL.fullmatch(line.rstrip("\r"))
        if match is None:
            raise reader.error("expected a symbol such as 'i0 name' or 'o0 name', or 'c' to start comments")
        kind, index = match.group(1), int(match.group(2))
        if index >= sizes.get(kind, 0):
            raise reader.error(f"symbol {kind}{index} names nothing: the header declares "
                               f"{sizes.get(kind, 0)} of kind '{kind}'")
        tables[kind][index] = (match.group(3), reader.loc(1))
    return tables["i"], tables["o"]
