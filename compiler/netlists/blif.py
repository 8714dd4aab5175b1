"""Combinational BLIF (one .model of .names covers) -> Circuit.

A cover is a sum of products: each row is a product of its input literals
('1' reads the input, '0' reads it negated, '-' skips it), and the .names
output is the OR of the rows (an on-set, rows ending in 1) or its negation (an
off-set, rows ending in 0). The products are anonymous AND nodes feeding the
named node of the output; a one-row cover is its product itself, a one-literal
product a BUF. `.names x` with the row `1` is constant 1, with no row constant 0.
Latches, .subckt and library gates are refused.
"""
from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Op
from superpose.compiler.netlists.netlist import Expr, Gate, Netlist, Ref, syntax_error, token_loc

REFUSED = {
    ".latch": "a sequential element: only combinational netlists are supported",
    ".mlatch": "a sequential element: only combinational netlists are supported",
    ".subckt": "a hierarchical instance: only flat netlists are supported",
    ".gate": "a library gate: only .names covers are supported",
    ".exdc": "an external don't-care network, which is not supported",
}
SYNTAX_WORDS = {"CUBE": "cover row characters (0 1 -)", "DIRECTIVE": "a directive such as .names",
                "NAME": "a signal name"}


@cache
def _parser() -> Lark:
    return Lark.open(str(Path(__file__).with_name("blif.lark")), parser="lalr")


def parse_blif(text: str, filename: str) -> Circuit:
    """The circuit a BLIF file describes; CompileError (file:line:column) if malformed."""
    try:
        tree = _parser().parse(text if text.endswith("\n") else text + "\n")
    except UnexpectedInput as err:
        raise syntax_error(err, _parser(), filename, text, SYNTAX_WORDS) from None
    netlist = Netlist(Path(filename).stem, text)
    ended = seen_model = False
    for block in tree.children:
        assert isinstance(block, Tree)
        directive, *rest = block.children
        assert isinstance(directive, Token)
        names = [token for token in rest if isinstance(token, Token)]
        rows = [row for row in rest if isinstance(row, Tree)]
        where = token_loc(filename, directive)
        if ended or (directive == ".model" and seen_model):
            raise CompileError(netlist.error(
                f"{directive} after the first model: only one .model per file is supported", where))
        if directive in REFUSED:
            element = " ".join([directive, *names])
            raise CompileError(netlist.error(f"'{element}' is {REFUSED[directive]}", where))
        if rows and directive != ".names":
            first_row = rows[0].children[0]
            assert isinstance(first_row, Token)
            raise CompileError(netlist.error("a cover row must follow a .names line",
                                             token_loc(filename, first_row)))
        if directive == ".model":
            seen_model = True
        elif directive == ".inputs":
            netlist.inputs += [(str(name), token_loc(filename, name)) for name in names]
        elif directive == ".outputs":
            netlist.outputs += [(str(name), Ref(str(name), loc=token_loc(filename, name))) for name in names]
        elif directive == ".names":
            if not names:
                raise CompileError(netlist.error(".names needs at least its output signal", where))
            *ins, out = names
            inputs = [Ref(str(name), loc=token_loc(filename, name)) for name in ins]
            netlist.gates.append(Gate(str(out), _cover(inputs, rows, netlist, filename), token_loc(filename, out)))
        elif directive == ".end":
            ended = True
        else:
            raise CompileError(netlist.error(f"unknown directive {str(directive)!r}", where))
    return netlist.to_circuit()


def _cover(inputs: list[Ref], rows: list[Tree], netlist: Netlist, filename: str) -> Expr:
    """The function a cover's rows define, over the .names inputs."""
    if not rows:
        return Expr(Op.CONST, k=0)
    products: list[Ref | Expr] = []
    always_true = False  # a row of don't-cares only
    on_set = None
    for row in rows:
        fields: list[Token] = row.children  # type: ignore[assignment]
        bits, out = (fields[0], fields[-1]) if inputs else ("", fields[0])
        if len(fields) != (2 if inputs else 1) or len(bits) != len(inputs) or out not in ("0", "1"):
            raise CompileError(netlist.error(f"a cover row here is {len(inputs)} input bit(s) (0, 1 or -), "
                                             "a space, then the output bit (0 or 1)",
                                             token_loc(filename, fields[0])))
        if on_set is not None and (out == "1") != on_set:
            raise CompileError(netlist.error("a cover mixes rows of its on-set (output 1) and off-set (output 0)",
                                             token_loc(filename, out)))
        on_set = out == "1"
        literals = tuple(replace(ref, negated=bit == "0") for ref, bit in zip(inputs, bits) if bit != "-")
        if not literals:
            always_true = True
        products.append(literals[0] if len(literals) == 1 else Expr(Op.AND, literals))
    if always_true:
        return Expr(Op.CONST, k=int(bool(on_set)))
    if len(products) > 1:
        return Expr(Op.OR, tuple(products), negated=not on_set)
    product = products[0]
    if isinstance(product, Ref):
        return Expr(Op.BUF, (product,), negated=not on_set)
    assert isinstance(product, Expr)
    return replace(product, negated=not on_set)
