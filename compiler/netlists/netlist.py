"""The format-neutral netlist every importer fills in, and its one way into a `Circuit`.

An importer only records what the file says: inputs, named gates (each an
expression over signal names, in file order) and outputs. `Netlist.to_circuit`
then does what all formats share: it reports redefined and undefined signals,
orders the gates so that each reads only earlier ones (a combinational cycle is
an error naming its gates), and numbers the signals.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from superpose.compiler.errors import CompileError, Diagnostic, diagnostic_at
from superpose.compiler.ir import Circuit, Lit, Loc, Node, Op


@dataclass(frozen=True)
class Ref:
    """A read of a named signal (input or gate), through a NOT when `negated`."""
    name: str
    negated: bool = False
    loc: Loc | None = None


@dataclass(frozen=True)
class Expr:
    """`op` over its operands, negated as a whole when `negated`.

    A named gate's top expression becomes its node; a negated one becomes an
    anonymous node read by a named BUF through a NOT (so NAND is an AND read
    negated). Nested expressions become anonymous nodes, shared when equal.
    """
    op: Op
    operands: tuple[Ref | Expr, ...] = ()
    k: int = 0
    negated: bool = False


@dataclass(frozen=True)
class Gate:
    """A named gate defined at `loc` (None where the format has no lines)."""
    name: str
    expr: Expr
    loc: Loc | None = None


@dataclass
class Netlist:
    """What a netlist file says, before any checking.

    `text` is the file's text, for the source line under a diagnostic.
    outputs: (output name, what it reads) pairs.
    """
    name: str
    text: str
    inputs: list[tuple[str, Loc | None]] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    outputs: list[tuple[str, Ref | Expr]] = field(default_factory=list)

    def error(self, message: str, loc: Loc | None) -> Diagnostic:
        """A diagnostic at `loc`, showing the offending line of the file."""
        if loc is None:
            return Diagnostic(message)
        return diagnostic_at(message, loc.file, self.text, loc.line, loc.column)

    def to_circuit(self) -> Circuit:
        """Check the names, order the gates topologically and number the signals."""
        gates = self._check_names()
        builder = _Builder(Circuit(self.name, [name for name, _ in self.inputs]))
        for gate in self._topological_order(gates):
            builder.add_gate(gate)
        builder.circuit.outputs = [(name, builder.lit(read)) for name, read in self.outputs]
        builder.circuit.validate()
        return builder.circuit

    def _check_names(self) -> dict[str, Gate]:
        """The gates by name; every redefined or undefined signal and repeated
        output reported together."""
        defined: dict[str, Loc | None] = {}
        errors: list[Diagnostic] = []
        for name, loc in self.inputs + [(gate.name, gate.loc) for gate in self.gates]:
            if name in defined:
                first = defined[name]
                where = f" (first defined on line {first.line})" if first else ""
                errors.append(self.error(f"signal {name!r} is defined twice{where}", loc))
            else:
                defined[name] = loc
        outputs: set[str] = set()
        for name, read in self.outputs:
            if name in outputs:
                errors.append(self.error(f"output {name!r} is declared twice",
                                         read.loc if isinstance(read, Ref) else None))
            outputs.add(name)
        reads = [ref for gate in self.gates for ref in _refs(gate.expr)]
        reads += [ref for _, read in self.outputs for ref in _refs(read)]
        errors += [self.error(f"undefined signal {ref.name!r}", ref.loc)
                   for ref in reads if ref.name not in defined]
        if errors:
            raise CompileError(errors)
        return {gate.name: gate for gate in self.gates}

    def _topological_order(self, gates: dict[str, Gate]) -> list[Gate]:
        """Gates in an order where each comes after the gates it reads; file order
        is kept where the file is already ordered. Iterative: netlists are deep."""
        done: set[str] = set()
        order: list[Gate] = []
        for root in gates.values():
            if root.name in done:
                continue
            path = [root]
            on_path = {root.name}
            pending = [iter(_refs(root.expr))]
            while pending:
                for ref in pending[-1]:
                    read = gates.get(ref.name)
                    if read is None or read.name in done:
                        continue
                    if read.name in on_path:
                        cycle = path[path.index(read):] + [read]
                        raise CompileError(self.error(
                            "combinational cycle: " + " -> ".join(g.name for g in cycle), read.loc))
                    path.append(read)
                    on_path.add(read.name)
                    pending.append(iter(_refs(read.expr)))
                    break
                else:
                    gate = path.pop()
                    on_path.discard(gate.name)
                    pending.pop()
                    done.add(gate.name)
                    order.append(gate)
        return order


def _refs(read: Ref | Expr) -> Iterator[Ref]:
    """Every signal name an expression reads."""
    if isinstance(read, Ref):
        yield read
    else:
        for operand in read.operands:
            yield from _refs(operand)


class _Builder:
    """Appends nodes to a circuit, gates in an order already topological."""

    def __init__(self, circuit: Circuit):
        self.circuit = circuit
        self.signal = {name: i for i, name in enumerate(circuit.input_names)}
        self.anonymous: dict[tuple[Op, tuple[Lit, ...], int], int] = {}

    def add_gate(self, gate: Gate) -> None:
        expr = gate.expr
        if expr.op is Op.BUF or not expr.negated:
            node = Node(expr.op, self._operands(expr), expr.k, gate.name, gate.loc)
        else:
            inner = self.lit(Expr(expr.op, expr.operands, expr.k))
            node = Node(Op.BUF, (~inner,), 0, gate.name, gate.loc)
        self.signal[gate.name] = self._append(node)

    def lit(self, read: Ref | Expr) -> Lit:
        """The literal reading `read`, adding anonymous nodes for expressions."""
        if isinstance(read, Ref):
            return Lit(self.signal[read.name], read.negated)
        if read.op is Op.BUF:
            return self._operands(read)[0]
        operands = tuple(self.lit(operand) for operand in read.operands)
        key = (read.op, operands, read.k)
        if key not in self.anonymous:
            self.anonymous[key] = self._append(Node(read.op, operands, read.k))
        return Lit(self.anonymous[key], read.negated)

    def _operands(self, expr: Expr) -> tuple[Lit, ...]:
        """Operand literals; a negated BUF folds its NOT into its operand."""
        operands = tuple(self.lit(operand) for operand in expr.operands)
        return (~operands[0],) if expr.op is Op.BUF and expr.negated else operands

    def _append(self, node: Node) -> int:
        self.circuit.nodes.append(node)
        return self.circuit.n_signals - 1


def token_loc(file: str, token: Token) -> Loc:
    """Where a Lark token stands in `file`."""
    return Loc(file, token.line, token.column)


def syntax_error(err: UnexpectedInput, parser: Lark, file: str, text: str,
                 words: dict[str, str]) -> CompileError:
    """A Lark parse error as a diagnostic: where, what was found, what was expected.
    `words` names the grammar's pattern terminals for a reader: NAME -> 'a signal name'."""
    line, column = err.line, err.column
    if isinstance(err, UnexpectedCharacters):
        message = f"unexpected character {err.char!r}"
    elif isinstance(err, UnexpectedEOF) or err.token.type == "$END":
        message = "unexpected end of file"
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    else:
        message = f"unexpected {'end of line' if err.token.type == '_NL' else repr(str(err.token))}"
    if isinstance(err, (UnexpectedToken, UnexpectedEOF)) and err.expected:
        message += ", expected " + " or ".join(sorted(_terminal(parser, name, words) for name in err.expected))
    return CompileError(diagnostic_at(message, file, text, line, column))


def _terminal(parser: Lark, name: str, words: dict[str, str]) -> str:
    """A Lark terminal as a reader would name it: its text where it is fixed."""
    if name in words:
        return words[name]
    if name == "$END":
        return "end of file"
    if name == "_NL":
        return "end of line"
    pattern = parser.get_terminal(name).pattern
    return repr(pattern.value) if isinstance(pattern, PatternStr) else name.lower()
