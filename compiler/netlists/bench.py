"""ISCAS .bench netlists -> Circuit.

Every gate is named and gets a node. Negated gate types (NAND, NOR, XNOR)
become their positive gate as an anonymous node, read through a NOT by a named
BUF; NOT is a named BUF of a negated literal. DFF (ISCAS-89) is refused:
only combinational netlists compile.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Op
from superpose.compiler.netlists.netlist import Expr, Gate, Netlist, Ref, syntax_error, token_loc

# gate type -> (op, negated)
GATE_TYPES: dict[str, tuple[Op, bool]] = {
    "AND": (Op.AND, False), "NAND": (Op.AND, True),
    "OR": (Op.OR, False), "NOR": (Op.OR, True),
    "XOR": (Op.XOR, False), "XNOR": (Op.XOR, True),
    "BUF": (Op.BUF, False), "BUFF": (Op.BUF, False), "NOT": (Op.BUF, True),
}
SEQUENTIAL_TYPES = ("DFF",)


@cache
def _parser() -> Lark:
    return Lark.open(str(Path(__file__).with_name("bench.lark")), parser="lalr")


def parse_bench(text: str, filename: str) -> Circuit:
    """The circuit a .bench file describes; CompileError (file:line:column) if malformed."""
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        raise syntax_error(err, _parser(), filename, text, {"NAME": "a signal name"}) from None
    netlist = Netlist(Path(filename).stem, text)
    for statement in tree.children:
        assert isinstance(statement, Tree)
        name = statement.children[0]
        assert isinstance(name, Token)
        if statement.data == "input":
            netlist.inputs.append((str(name), token_loc(filename, name)))
        elif statement.data == "output":
            netlist.outputs.append((str(name), Ref(str(name), loc=token_loc(filename, name))))
        else:
            netlist.gates.append(_gate(statement, filename, netlist))
    return netlist.to_circuit()


def _gate(statement: Tree, filename: str, netlist: Netlist) -> Gate:
    """`name = TYPE(a, b, ...)` as a named gate."""
    name, gate_type, *args = statement.children
    assert isinstance(name, Token) and isinstance(gate_type, Token)
    operands = [arg for arg in args if arg is not None]
    type_loc = token_loc(filename, gate_type)
    kind = gate_type.upper()
    if kind in SEQUENTIAL_TYPES:
        raise CompileError(netlist.error(
            f"{kind} {str(name)!r} is a sequential element: only combinational netlists are supported",
            type_loc))
    if kind not in GATE_TYPES:
        raise CompileError(netlist.error(
            f"unknown gate type {str(gate_type)!r} (known: {', '.join(sorted(GATE_TYPES))})", type_loc))
    op, negated = GATE_TYPES[kind]
    if (op is Op.BUF and len(operands) != 1) or not operands:
        wanted = "exactly one operand" if op is Op.BUF else "at least one operand"
        raise CompileError(netlist.error(f"{kind} needs {wanted}, got {len(operands)}", type_loc))
    refs = tuple(Ref(str(arg), loc=token_loc(filename, arg)) for arg in operands)
    return Gate(str(name), Expr(op, refs, negated=negated), token_loc(filename, name))
