"""Syntax tree -> Circuit: loops expanded, names resolved, every error collected.

Three steps over the program:
  1. expand   loops unrolled into (statement, loop variables) instances, in
              execution order;
  2. declare  every input, gate and vector element is located, so a later
              read can tell "used before its definition" from "undefined",
              and vectors know their lengths;
  3. build    instances in order: inputs become signals, each assignment one
              named node (sub-expressions anonymous nodes, NOT folded into
              literals, same-operator chains flattened).
Errors do not stop the walk: each is recorded with its position, and all are
raised together, in source order, as one CompileError.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from superpose.compiler.errors import CompileError, Diagnostic, diagnostic_at
from superpose.compiler.ir import Circuit, Lit, Loc, Node, Op
from superpose.compiler.limits import MAX_GATES, over_limit_message
from superpose.compiler.parse import (AtLeast, Assign, Chain, Const, Expr, For, Header, IndexBinOp,
                            IndexDecimal, IndexExpr, IndexInt, IndexName, IndexNeg, Input,
                            Not, Output, Program, Ref, Sparsity, Statement)

Env = dict[str, int]  # loop variable -> its value in this iteration

_MAX_REPORTED = 50  # errors shown in full; past this they are only counted

_PLACEHOLDER = Lit(0)  # stands in for a signal that failed to resolve; the circuit is never returned


def check(program: Program, source_text: str, max_gates: int = MAX_GATES) -> Circuit:
    """Lower a parsed program to a Circuit; raise CompileError listing every
    problem. More than `max_gates` signals after loop expansion (or a vector
    longer than that) is an error."""
    try:
        return _Checker(program.file, source_text, max_gates).run(program)
    except RecursionError:
        line, column = _deepest_parenthesis(source_text)
        raise CompileError(diagnostic_at("expressions are nested too deeply", program.file, source_text,
                                         line, column)) from None


@dataclass
class _Symbol:
    """A declared name: an input or a gate, a scalar (length None) or a vector."""
    is_input: bool
    loc: Loc                          # where it is first defined
    length: int | None = None
    first_signal: int = 0             # inputs: the signal of the scalar or of element 0
    element_locs: dict[int, Loc] = field(default_factory=dict)  # gate vectors


def _element(name: str, index: int | None) -> str:
    """The signal name of a scalar or of one vector element: 'fur', 'tok[3]'."""
    return name if index is None else f"{name}[{index}]"


def _elements(name: str, symbol: _Symbol) -> list[str]:
    """The signal names a declared name stands for, in index order."""
    return [name] if symbol.length is None else [f"{name}[{i}]" for i in range(symbol.length)]


class _Checker:
    def __init__(self, file: str, text: str, max_gates: int = MAX_GATES):
        self.file = file
        self.text = text
        self.max_gates = max_gates
        self.expanded = 0  # statement instances so far; past max_gates inside a loop, an error
        self.errors: dict[tuple[Loc, str], str | None] = {}  # insertion-ordered set (loops repeat errors),
        # each with the unknown name to suggest a close match for: looked up only for the errors shown,
        # as every lookup scans every known name
        self.symbols: dict[str, _Symbol] = {}
        self.failed: set[str] = set()  # names whose definition had an error: no follow-up errors
        self.input_names: list[str] = []
        self.circuit_name: str | None = None
        self.sparsity: int | None = None
        self.declared_at: dict[str, Loc] = {}  # 'circuit' / 'sparsity' -> where declared
        self.outputs: list[Ref] = []
        self.nodes: list[Node] = []
        self.values: dict[str, Lit] = {}       # signal names defined so far -> their literal
        self.shared: dict[tuple[Op, tuple[Lit, ...], int], Lit] = {}  # anonymous nodes, reused

    def run(self, program: Program) -> Circuit:
        instances = []
        for statement, env in self._expand(program.statements, {}):
            self._declare(statement, env)  # as the loops unroll, so range() sees the names above it
            instances.append((statement, env))
        self._check_vectors_complete()
        self._check_sparsity()
        for statement, env in instances:
            self._build(statement, env)
        outputs = self._resolve_outputs()
        problems = self._located_problems() + self._program_problems(program)
        if problems:
            raise CompileError(problems)
        return Circuit(self.circuit_name or _default_name(self.file), self.input_names,
                       self.nodes, outputs, self.sparsity)

    def _error(self, message: str, loc: Loc, unknown: str | None = None) -> None:
        """Record a problem; `unknown`: a name to suggest a close known one for."""
        self.errors[(loc, message)] = unknown

    def _located_problems(self) -> list[Diagnostic]:
        """The errors in source order, the first _MAX_REPORTED of them in full."""
        errors = sorted(self.errors, key=lambda error: (error[0].line, error[0].column))
        problems = [diagnostic_at(message + (_suggestion(unknown, self.symbols) if unknown else ""),
                                  loc.file, self.text, loc.line, loc.column)
                    for loc, message in errors[:_MAX_REPORTED]
                    for unknown in [self.errors[(loc, message)]]]
        if len(errors) > _MAX_REPORTED:
            problems.append(Diagnostic(f"... and {len(errors) - _MAX_REPORTED} more errors"))
        return problems

    # 1. expand

    def _expand(self, statements: tuple[Statement, ...], env: Env,
                 outermost: For | None = None) -> Iterator[tuple[Statement, Env]]:
        """Every statement instance in execution order; a CompileError at the
        outermost loop as soon as they pass max_gates (before memory grows)."""
        for statement in statements:
            if not isinstance(statement, For):
                self.expanded += 1
                if self.expanded > self.max_gates and outermost is not None:
                    raise CompileError(diagnostic_at(over_limit_message("the loops expand to", self.max_gates),
                                                     self.file, self.text, outermost.loc.line,
                                                     outermost.loc.column))
                yield statement, env
                continue
            if statement.var in env:
                self._error(f"loop variable '{statement.var}' is already used by an enclosing loop",
                            statement.loc)
                continue
            bounds = [self._range_bound(b, env) for b in (statement.start, statement.stop) if b]
            if None in bounds:
                self.failed.update(_targets(statement.body))
                continue
            for value in range(*bounds):
                yield from self._expand(statement.body, {**env, statement.var: value}, outermost or statement)

    def _range_bound(self, bound: IndexExpr, env: Env) -> int | None:
        value = self._index(bound, env)
        if value is not None and value < 0:
            self._error(f"range bounds must not be negative, got {value}", bound.loc)
            return None
        return value

    def _index(self, expr: IndexExpr, env: Env) -> int | None:
        """The integer value of an index expression, or None after reporting why not."""
        match expr:
            case IndexInt(value):
                return value
            case IndexDecimal(text, loc):
                self._error(f"expected an integer, found {text}", loc)
                return None
            case IndexName(name, loc):
                if name in env:
                    return env[name]
                if name in self.symbols:
                    self._error(f"'{name}' is a signal; an index is built from integers "
                                "and loop variables", loc)
                else:
                    self._error(f"undefined loop variable '{name}'{_suggestion(name, env)}", loc)
                return None
            case IndexNeg(operand):
                value = self._index(operand, env)
                return None if value is None else -value
            case IndexBinOp(op, left, right, loc):
                a, b = self._index(left, env), self._index(right, env)
                if a is None or b is None:
                    return None
                if op == "//" and b == 0:
                    self._error("division by zero in an index", loc)
                    return None
                return a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a // b
        raise AssertionError(expr)

    # 2. declare

    def _declare(self, statement: Statement, env: Env) -> None:
        match statement:
            case Header(name, loc):
                if self._declare_once("circuit", "the circuit name", loc):
                    self.circuit_name = name
            case Sparsity(value, loc):
                if self._declare_once("sparsity", "sparsity", loc):
                    self.sparsity = self._index(value, env)
            case Input(name, size, loc):
                self._declare_input(name, None if size is None else self._index(size, env), size, loc)
            case Output(target):
                self.outputs.append(target)
            case Assign(target):
                self._declare_gate(target, env)

    def _declare_once(self, key: str, what: str, loc: Loc) -> bool:
        if key in self.declared_at:
            self._error(f"{what} is already declared on line {self.declared_at[key].line}", loc)
            return False
        self.declared_at[key] = loc
        return True

    def _declare_input(self, name: str, length: int | None, size: IndexExpr | None, loc: Loc) -> None:
        if size is not None and (length is None or not 1 <= length <= self.max_gates):
            if length is not None:
                self._error(f"a vector needs 1 to {self.max_gates:,} elements, got {length} (--max-gates "
                            f"raises the limit)", size.loc)
            self.failed.add(name)
            return
        if name in self.symbols:
            self._redefined(name, length is not None, loc)
            return
        self.symbols[name] = _Symbol(True, loc, length, first_signal=len(self.input_names))
        self.input_names += _elements(name, self.symbols[name])

    def _declare_gate(self, target: Ref, env: Env) -> None:
        name, loc = target.name, target.loc
        if target.index is None:
            if name in self.symbols:
                self._redefined(name, False, loc)
            else:
                self.symbols[name] = _Symbol(False, loc)
            return
        index = self._target_index(target, env)
        if index is None:
            self.failed.add(name)
            return
        symbol = self.symbols.setdefault(name, _Symbol(False, loc, length=0))
        if symbol.is_input or symbol.length is None:
            self._redefined(name, True, loc)
        elif index in symbol.element_locs:
            first = symbol.element_locs[index]
            self._error(f"'{name}[{index}]' is already defined on line {first.line}", loc)
        else:
            symbol.element_locs[index] = loc
            symbol.length = max(symbol.length, index + 1)

    def _target_index(self, target: Ref, env: Env) -> int | None:
        index = self._index(target.index, env)
        if index is not None and index < 0:
            self._error(f"index {index} is negative; vector elements are numbered from 0",
                        target.index.loc)
            return None
        if index is not None and index >= self.max_gates:
            self._error(f"index {index} is too large; a vector has at most {self.max_gates:,} elements "
                        f"(--max-gates raises the limit)", target.index.loc)
            return None
        return index

    def _redefined(self, name: str, as_vector: bool, loc: Loc) -> None:
        """Report a second definition of `name`."""
        first = self.symbols[name]
        message = f"'{name}' is already defined on line {first.loc.line}"
        if (first.length is not None) != as_vector:
            message += " as a vector" if first.length is not None else " as a scalar"
        self._error(message, loc)

    def _check_vectors_complete(self) -> None:
        for name, symbol in self.symbols.items():
            if symbol.is_input or symbol.length is None or len(symbol.element_locs) == symbol.length:
                continue
            missing = [i for i in range(symbol.length) if i not in symbol.element_locs]
            shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
            plural = "s" if len(missing) > 1 else ""
            self._error(f"vector '{name}' has no element{plural} {shown}; "
                        f"elements 0..{symbol.length - 1} must all be defined", symbol.loc)

    def _check_sparsity(self) -> None:
        if self.sparsity is None:
            return
        loc = self.declared_at["sparsity"]
        if self.sparsity < 1:
            self._error(f"sparsity must be at least 1, got {self.sparsity}", loc)
        elif self.sparsity > len(self.input_names):
            self._error(f"sparsity {self.sparsity} is more than the number of inputs "
                        f"({len(self.input_names)})", loc)

    # 3. build

    def _build(self, statement: Statement, env: Env) -> None:
        match statement:
            case Input(name):
                symbol = self.symbols.get(name)
                if symbol is not None and symbol.is_input and symbol.loc == statement.loc:
                    for offset, element in enumerate(_elements(name, symbol)):
                        self.values[element] = Lit(symbol.first_signal + offset)
            case Assign(target, value):
                self._build_assign(target, value, env)

    def _build_assign(self, target: Ref, value: Expr, env: Env) -> None:
        index = None if target.index is None else self._target_index(target, env)
        name = _element(target.name, index)
        inner, negated = _strip_not(value)
        if isinstance(inner, (Chain, AtLeast)) and not negated:
            op, operands, k = self._gate(inner, env)
        elif isinstance(inner, Const):
            op, operands, k = Op.CONST, (), self._const_value(inner) ^ negated
        else:
            op, operands, k = Op.BUF, (self._lit(value, env),), 0
        if name in self.values or (target.index is not None and index is None):
            return  # a redefinition or a bad target, reported in step 2
        self.nodes.append(Node(op, operands, k, name, target.loc))
        self.values[name] = Lit(len(self.input_names) + len(self.nodes) - 1)

    def _lit(self, expr: Expr, env: Env) -> Lit:
        """The literal an expression reads, adding anonymous nodes as needed."""
        match expr:
            case Not():
                inner, negated = _strip_not(expr)  # a loop, not recursion: `!!!!...a` may be long
                lit = self._lit(inner, env)
                return ~lit if negated else lit
            case Ref():
                return self._read(expr, env)
            case Const():
                return self._anonymous(Op.CONST, (), self._const_value(expr))
            case Chain() | AtLeast():
                return self._anonymous(*self._gate(expr, env))
        raise AssertionError(expr)

    def _gate(self, expr: Chain | AtLeast, env: Env) -> tuple[Op, tuple[Lit, ...], int]:
        """(op, operands, k) of the node an operator expression becomes."""
        if isinstance(expr, Chain):
            return expr.op, tuple(self._chain_operands(expr, env)), 0
        k = self._index(expr.k, env)
        operands: list[Lit] = []
        for arg in expr.args:
            vector = self._whole_vector(arg)
            operands += self._vector_lits(arg, vector) if vector else [self._lit(arg, env)]
        if not operands:
            self._error("atleast needs at least one argument after k", expr.loc)
        elif k is not None and not 1 <= k <= len(operands):
            self._error(f"atleast threshold must be between 1 and the number of arguments "
                        f"({len(operands)}), got {k}", expr.k.loc)
        return Op.ATLEAST, tuple(operands), k or 0

    def _chain_operands(self, chain: Chain, env: Env) -> list[Lit]:
        """Operands of a chain, with parenthesised chains of the same operator spliced in."""
        lits: list[Lit] = []
        for operand in chain.operands:
            if isinstance(operand, Chain) and operand.op is chain.op:
                lits += self._chain_operands(operand, env)
            else:
                lits.append(self._lit(operand, env))
        return lits

    def _anonymous(self, op: Op, operands: tuple[Lit, ...], k: int) -> Lit:
        key = (op, operands, k)
        if key not in self.shared:
            self.nodes.append(Node(op, operands, k))
            self.shared[key] = Lit(len(self.input_names) + len(self.nodes) - 1)
        return self.shared[key]

    def _const_value(self, const: Const) -> int:
        if const.value not in (0, 1):
            self._error(f"a constant must be 0 or 1, got {const.value}", const.loc)
        return const.value & 1

    def _whole_vector(self, arg: Expr) -> _Symbol | None:
        """The vector an atleast argument names without an index, if it does."""
        if isinstance(arg, Ref) and arg.index is None:
            symbol = self.symbols.get(arg.name)
            if symbol is not None and symbol.length is not None:
                return symbol
        return None

    def _vector_lits(self, ref: Ref, vector: _Symbol) -> list[Lit]:
        return [self._defined(ref.name, i, vector, ref.loc) for i in range(vector.length)]

    def _read(self, ref: Ref, env: Env) -> Lit:
        """The literal a name in an expression reads, or a placeholder after an error."""
        symbol = self.symbols.get(ref.name)
        if symbol is None:
            if ref.name in env:
                self._error(f"loop variable '{ref.name}' is an integer; it can only be used in an index",
                            ref.loc)
            elif ref.name not in self.failed:
                self._error(f"undefined name '{ref.name}'", ref.loc, unknown=ref.name)
            return _PLACEHOLDER
        if ref.index is None:
            if symbol.length is not None:
                self._error(f"'{ref.name}' is a vector; read one element, e.g. {ref.name}[0]", ref.loc)
                return _PLACEHOLDER
            return self._defined(ref.name, None, symbol, ref.loc)
        index = self._element_index(ref, symbol, env)
        return _PLACEHOLDER if index is None else self._defined(ref.name, index, symbol, ref.loc)

    def _element_index(self, ref: Ref, symbol: _Symbol, env: Env) -> int | None:
        """The index in `name[index]` if it picks an element of a vector; None after an error."""
        if symbol.length is None:
            self._error(f"'{ref.name}' is a scalar and cannot be indexed", ref.loc)
            return None
        index = self._index(ref.index, env)
        if index is not None and not 0 <= index < symbol.length:
            self._error(f"index {index} is out of range for '{ref.name}' "
                        f"(elements 0..{symbol.length - 1})", ref.index.loc)
            return None
        return index

    def _defined(self, name: str, index: int | None, symbol: _Symbol, loc: Loc) -> Lit:
        """The literal of a declared signal, or an error if its definition comes later."""
        element = _element(name, index)
        if element in self.values:
            return self.values[element]
        defined = symbol.loc if index is None else symbol.element_locs.get(index, symbol.loc)
        self._error(f"'{element}' is used before its definition on line {defined.line}", loc)
        return _PLACEHOLDER

    # outputs and the program as a whole

    def _resolve_outputs(self) -> list[tuple[str, Lit]]:
        """(name, literal) of every output, vectors expanded, once the whole program is built."""
        outputs: dict[str, Lit] = {}
        for ref in self.outputs:
            for element in self._output_elements(ref):
                if element in outputs:
                    self._error(f"'{element}' is already an output", ref.loc)
                else:
                    outputs[element] = self.values.get(element, _PLACEHOLDER)
        return list(outputs.items())

    def _output_elements(self, ref: Ref) -> list[str]:
        symbol = self.symbols.get(ref.name)
        if symbol is None:
            if ref.name not in self.failed:
                self._error(f"unknown output '{ref.name}'", ref.loc, unknown=ref.name)
            return []
        if ref.index is None:
            return _elements(ref.name, symbol)
        index = self._element_index(ref, symbol, {})
        return [] if index is None else [_element(ref.name, index)]

    def _program_problems(self, program: Program) -> list[Diagnostic]:
        """Problems of the whole program, reported at its first line."""
        start = Loc(self.file, 1, 1)
        if not program.statements:
            return [Diagnostic("program is empty", start)]
        problems = []
        if not self.input_names:
            problems.append(Diagnostic("program has no inputs", start))
        if not self.outputs:
            problems.append(Diagnostic("program has no outputs", start))
        return problems


def _strip_not(expr: Expr) -> tuple[Expr, bool]:
    """The expression under any leading NOTs, and whether their count is odd."""
    negated = False
    while isinstance(expr, Not):
        expr, negated = expr.operand, not negated
    return expr, negated


def _targets(statements: tuple[Statement, ...]) -> Iterator[str]:
    """Names assigned anywhere in a block."""
    for statement in statements:
        if isinstance(statement, Assign):
            yield statement.target.name
        elif isinstance(statement, For):
            yield from _targets(statement.body)


def _suggestion(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest known name, if one is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _deepest_parenthesis(text: str) -> tuple[int, int]:
    """(line, column), 1-based, of the first '(' at the deepest nesting in `text`."""
    depth = deepest = 0
    where = (1, 1)
    for line_number, line in enumerate(text.splitlines(), start=1):
        for column, char in enumerate(line.split("#", 1)[0], start=1):
            depth += (char == "(") - (char == ")")
            if depth > deepest:
                deepest, where = depth, (line_number, column)
    return where


def _default_name(file: str) -> str:
    """A circuit without a header is named after its file ('circuit' for a string)."""
    return "circuit" if file.startswith("<") else Path(file).stem
