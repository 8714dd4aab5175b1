"""Text -> syntax tree: frozen dataclasses, each carrying the Loc it came from.

The grammar is grammar.lark. Lark's LALR parser calls `_Builder` as it reduces,
so the syntax tree is built in the same pass as the parse. A syntax error
becomes a CompileError naming what was expected there, in words.
"""
from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter

from superpose.compiler.errors import CompileError, Diagnostic, diagnostic_at
from superpose.compiler.ir import Loc, Op


# Index expressions: integer arithmetic over literals and loop variables.

@dataclass(frozen=True)
class IndexInt:
    value: int
    loc: Loc


@dataclass(frozen=True)
class IndexDecimal:
    """A number with a fraction where an integer belongs: kept so the checker can say so."""
    text: str
    loc: Loc


@dataclass(frozen=True)
class IndexName:
    """A loop variable."""
    name: str
    loc: Loc


@dataclass(frozen=True)
class IndexNeg:
    operand: IndexExpr
    loc: Loc


@dataclass(frozen=True)
class IndexBinOp:
    """`left op right` with op one of + - * //; loc is the operator's."""
    op: str
    left: IndexExpr
    right: IndexExpr
    loc: Loc


IndexExpr = IndexInt | IndexDecimal | IndexName | IndexNeg | IndexBinOp


# Boolean expressions.

@dataclass(frozen=True)
class Ref:
    """A name, possibly indexed: a signal read, an assignment target or an output."""
    name: str
    index: IndexExpr | None
    loc: Loc


@dataclass(frozen=True)
class Const:
    """0 or 1 in boolean position (the checker rejects other values)."""
    value: int
    loc: Loc


@dataclass(frozen=True)
class Not:
    operand: Expr
    loc: Loc


@dataclass(frozen=True)
class Chain:
    """`a & b & c` (or | or ^) as written: one chain per operator run, at
    least two operands; parentheses make nested chains."""
    op: Op
    operands: tuple[Expr, ...]
    loc: Loc


@dataclass(frozen=True)
class AtLeast:
    """atleast(k, args...); loc is the keyword's."""
    k: IndexExpr
    args: tuple[Expr, ...]
    loc: Loc


Expr = Ref | Const | Not | Chain | AtLeast


# Statements.

@dataclass(frozen=True)
class Header:
    name: str
    loc: Loc


@dataclass(frozen=True)
class Sparsity:
    value: IndexExpr
    loc: Loc


@dataclass(frozen=True)
class Input:
    """One input: a scalar (size None) or a vector of `size` elements."""
    name: str
    size: IndexExpr | None
    loc: Loc


@dataclass(frozen=True)
class Output:
    target: Ref


@dataclass(frozen=True)
class Assign:
    target: Ref
    value: Expr


@dataclass(frozen=True)
class For:
    """for var in range(start, stop): body (start is None for range(stop))."""
    var: str
    start: IndexExpr | None
    stop: IndexExpr
    body: tuple[Statement, ...]
    loc: Loc


Statement = Header | Sparsity | Input | Output | Assign | For


@dataclass(frozen=True)
class Program:
    """A parsed file: its name as given, and its statements in source order."""
    file: str
    statements: tuple[Statement, ...]


def parse_source(text: str, filename: str = "<string>") -> Program:
    """Parse a whole program; raise CompileError at the first syntax error."""
    if not text.endswith("\n"):
        text += "\n"
    parser, builder = _parser()
    try:
        with _PARSE_LOCK:
            builder.file = filename
            statements = parser.parse(text)
    except UnexpectedInput as error:
        raise CompileError(_syntax_diagnostic(error, text, filename)) from None
    except _BadDedent as error:
        line, column = error.token.end_line, error.token.end_column
        raise CompileError(diagnostic_at(
            "this line's indentation matches no enclosing block", filename, text, line, column)) from None
    return Program(filename, statements)


_PARSE_LOCK = threading.Lock()  # the parser, its indenter and its builder hold per-parse state


class _BadDedent(Exception):
    """A line indented to a column no enclosing block started at."""

    def __init__(self, token: Token):
        super().__init__("bad dedent")
        self.token = token


class _Indenter(Indenter):
    """Python-style indentation: _INDENT/_DEDENT around loop bodies."""
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token) -> Iterator[Token]:
        try:
            yield from super().handle_NL(token)
        except DedentError:
            raise _BadDedent(token) from None


@v_args(inline=True)
class _Builder(Transformer):
    """One method per grammar rule, called by the parser as it reduces."""
    file = "<string>"

    def _loc(self, token: Token) -> Loc:
        return Loc(self.file, token.line, token.column)

    def start(self, *statements: Statement | list[Statement]) -> tuple[Statement, ...]:
        return _flatten(statements)

    def header(self, name: Token) -> Header:
        return Header(str(name), self._loc(name))

    def sparsity(self, value: IndexExpr) -> Sparsity:
        return Sparsity(value, value.loc)

    def inputs(self, *items: Input) -> list[Input]:
        return list(items)

    def input_item(self, name: Token, size: IndexExpr | None) -> Input:
        return Input(str(name), size, self._loc(name))

    def outputs(self, *targets: Ref) -> list[Output]:
        return [Output(target) for target in targets]

    def assign(self, target: Ref, value: Expr) -> Assign:
        return Assign(target, value)

    def target(self, name: Token, index: IndexExpr | None) -> Ref:
        return Ref(str(name), index, self._loc(name))

    def for_loop(self, var: Token, first: IndexExpr, second: IndexExpr | None,
                 *body: Statement) -> For:
        start, stop = (None, first) if second is None else (first, second)
        return For(str(var), start, stop, tuple(body), self._loc(var))

    def expr(self, *operands: Expr) -> Chain:
        return Chain(Op.OR, operands, operands[0].loc)

    def xor_chain(self, *operands: Expr) -> Chain:
        return Chain(Op.XOR, operands, operands[0].loc)

    def and_chain(self, *operands: Expr) -> Chain:
        return Chain(Op.AND, operands, operands[0].loc)

    def negation(self, bang: Token, operand: Expr) -> Not:
        return Not(operand, self._loc(bang))

    def constant(self, value: Token) -> Const:
        return Const(int(value), self._loc(value))

    def atleast(self, keyword: Token, k: IndexExpr, *args: Expr) -> AtLeast:
        return AtLeast(k, args, self._loc(keyword))

    def index(self, first: IndexExpr, *rest: Token | IndexExpr) -> IndexExpr:
        return self._left_fold(first, rest)

    def product(self, first: IndexExpr, *rest: Token | IndexExpr) -> IndexExpr:
        return self._left_fold(first, rest)

    def _left_fold(self, first: IndexExpr, rest: tuple) -> IndexExpr:
        """`a op b op c` -> ((a op b) op c), from the alternating operator/operand list."""
        result = first
        for op, operand in zip(rest[::2], rest[1::2]):
            result = IndexBinOp(str(op), result, operand, self._loc(op))
        return result

    def index_negation(self, minus: Token, operand: IndexExpr) -> IndexNeg:
        return IndexNeg(operand, self._loc(minus))

    def index_int(self, value: Token) -> IndexInt:
        return IndexInt(int(value), self._loc(value))

    def index_decimal(self, value: Token) -> IndexDecimal:
        return IndexDecimal(str(value), self._loc(value))

    def index_name(self, name: Token) -> IndexName:
        return IndexName(str(name), self._loc(name))


def _flatten(items: tuple[Statement | list[Statement], ...]) -> tuple[Statement, ...]:
    """`input a, b` and `output a, b` reduce to lists; splice them in."""
    flat: list[Statement] = []
    for item in items:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    return tuple(flat)


@functools.cache
def _parser() -> tuple[Lark, _Builder]:
    builder = _Builder()
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    # The basic lexer keeps keywords reserved everywhere (a contextual one
    # would let `range = a` through but reject `x = range`).
    return Lark(grammar, parser="lalr", lexer="basic", postlex=_Indenter(), transformer=builder), builder


# Syntax errors: Lark names the terminals it expected; say it in words.

_GROUPS = [  # when all of a group is expected, say the group's word instead
    ({"CIRCUIT", "SPARSITY", "INPUT", "OUTPUT", "FOR", "NAME"}, "a statement"),
    ({"NAME", "INT", "BANG", "LPAR", "ATLEAST"}, "an expression"),
    ({"NAME", "INT", "DECIMAL", "MINUS", "LPAR"}, "an integer expression"),
    ({"AMPERSAND", "VBAR", "CIRCUMFLEX"}, "an operator"),
    ({"PLUS", "MINUS", "PRODUCT_OP"}, "an operator"),
]
_SPECIAL = {"_NL", "$END", "_INDENT", "_DEDENT"}  # tokens shown by what they mean, not their text
_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the indented block",
}


# Operators newcomers bring from Python or C, and what this language writes instead.
_FOREIGN_OPERATORS = {"or": "|", "and": "&", "not": "!", "~": "!", "||": "|", "&&": "&"}
_FOREIGN_WORD = re.compile(r"\b(or|and|not)\b")
# Tokens that begin a statement: found right after an unclosed '(', the '(' is the mistake.
_STATEMENT_STARTS = {"CIRCUIT", "SPARSITY", "INPUT", "OUTPUT", "FOR", "$END"}


def _syntax_diagnostic(error: UnexpectedInput, text: str, filename: str) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream]
        hint = f" (use '!' for NOT)" if char == "~" else ""
        return diagnostic_at(f"unexpected character {char!r}{hint}", filename, text, error.line, error.column)
    assert isinstance(error, UnexpectedToken)
    token = error.token
    if token.type in ("_INDENT", "_DEDENT"):  # borrowed from the newline: point past it
        line, column = token.end_line, token.end_column
    else:
        line, column = token.line, token.column
    if token.type == "_INDENT":
        return diagnostic_at("unexpected indentation", filename, text, line, column)
    unclosed = _unclosed_parenthesis(text, line) if _starts_statement(token, text) else None
    if unclosed is not None:
        return diagnostic_at("unclosed '(': expected ')' before the end of the expression",
                             filename, text, *unclosed)
    found = _WORDS[token.type] if token.type in _SPECIAL else f"'{token.value}'"
    message = f"expected {_expected_words(error.interactive_parser.accepts())}, found {found}"
    return diagnostic_at(message + _operator_hint(text, line), filename, text, line, column)


def _operator_hint(text: str, line: int) -> str:
    """' (use '|' for 'or')' when the line uses a Python operator word, else ''."""
    lines = text.splitlines()
    code = lines[line - 1].split("#", 1)[0] if 1 <= line <= len(lines) else ""
    words = _FOREIGN_WORD.findall(code)
    return "".join(f" (use '{_FOREIGN_OPERATORS[word]}' for '{word}')" for word in dict.fromkeys(words))


def _starts_statement(token: Token, text: str) -> bool:
    """Whether `token` can only begin a statement: a keyword, the end of the
    file, or a name that is the first thing on its line."""
    if token.type in _STATEMENT_STARTS:
        return True
    if token.type != "NAME":
        return False
    line = text.splitlines()[token.line - 1]
    return not line[:token.column - 1].strip()


def _unclosed_parenthesis(text: str, before_line: int) -> tuple[int, int] | None:
    """(line, column) of the last '(' left open on the lines before
    `before_line` (an open '(' joins lines, so the statement after it is where
    the parser notices), or None."""
    open_at: list[tuple[int, int]] = []
    for number, line in enumerate(text.splitlines()[:before_line - 1], start=1):
        for column, char in enumerate(line.split("#", 1)[0], start=1):
            if char == "(":
                open_at.append((number, column))
            elif char == ")" and open_at:
                open_at.pop()
    return open_at[-1] if open_at else None


def _expected_words(expected: set[str]) -> str:
    left = set(expected)
    words: list[str] = []
    for group, word in _GROUPS:
        if group <= left:
            left -= group
            if word not in words:
                words.append(word)
    if "a statement" in words:  # blank lines may come before any statement: no need to say so
        left -= {"_NL", "$END"}
    words += sorted(_WORDS.get(name) or f"'{_terminal_text(name)}'" for name in left)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _terminal_text(name: str) -> str:
    """The literal text of a punctuation or keyword terminal, e.g. COMMA -> ','."""
    return _parser()[0].get_terminal(name).pattern.value
