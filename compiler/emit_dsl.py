"""Circuit -> a program in the superpose language (grammar.lark) that computes it.

    circuit c17
    input N1, N2, N3, N6, N7
    N10 = !(N1 & N3)
    ...
    output N22, N23

Every named gate becomes one assignment; an anonymous node is written inline
where it is read, unless it is read more than once over other anonymous nodes
or nested deeper than MAX_NESTING: then it gets an assignment (`t<signal>`).
Names are kept where the language allows them; others are made valid and
unique (`22` -> `n22`, `G3.1` -> `G3_1`). Names `a[0] .. a[n-1]` become the
vector `a` when they are all the same kind (inputs, or gates) and, for inputs,
declared together in index order: their element names stay exactly as they
were. Other indexed names (`x0 .. x7`) stay scalars. An output that names
something other than the signal it reads (AIGER outputs, negated reads) gets an
assignment under its own name.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit, Node, Op

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ELEMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[(0|[1-9][0-9]*)\]")
CHAIN_OPS = {Op.OR: " | ", Op.XOR: " ^ ", Op.AND: " & "}
PRECEDENCE = {Op.OR: 0, Op.XOR: 1, Op.AND: 2}  # loosest first; atoms bind tightest
ATOM = 3
LINE_WIDTH = 100  # input and output lists wrap onto more statements past this
MAX_NESTING = 4   # parenthesised levels written inline; deeper sub-expressions get a name
Key = int | tuple[str, int]  # what gets a name: a signal, or ("output", i) for an output's own assignment


@cache
def _keywords() -> frozenset[str]:
    """The language's reserved words: every quoted identifier in its grammar."""
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return frozenset(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', grammar))


def emit_dsl(circuit: Circuit) -> str:
    """The program text; `circuit_from_source` of it gives the same outputs.
    CompileError for a circuit the language cannot write (one without inputs
    or outputs: a program needs both)."""
    missing = [what for what, count in (("inputs", circuit.n_inputs), ("outputs", len(circuit.outputs))) if not count]
    if missing:
        raise CompileError(f"{circuit.name} has no {' and no '.join(missing)}: a superpose program needs at least "
                           f"one of each, so it cannot be written as one")
    return _Emitter(circuit).program()


class _Emitter:
    def __init__(self, circuit: Circuit):
        self.circuit = circuit
        readers = Counter(lit.signal for node in circuit.nodes for lit in node.operands)
        readers.update(lit.signal for _, lit in circuit.outputs)
        named = dict(enumerate(circuit.input_names))
        self.assigned = _assigned(circuit, readers)
        named.update((signal, circuit.nodes[signal - circuit.n_inputs].name) for signal in self.assigned)
        # outputs that are not simply the signal of the same name
        self.aliases = [i for i, (name, lit) in enumerate(circuit.outputs)
                        if lit.negated or named.get(lit.signal) != name]
        things: list[tuple[Key, str | None, str]] = (  # (key, wanted name, kind)
            [(signal, name, "input") for signal, name in enumerate(circuit.input_names)]
            + [(signal, named.get(signal), "gate") for signal in self.assigned]
            + [(("output", i), circuit.outputs[i][0], "gate") for i in self.aliases])
        self.vectors = _vectors(things, circuit.input_names)
        self.spelling = _spell(things, self.vectors)

    def program(self) -> str:
        circuit = self.circuit
        lines = [f"circuit {_valid(circuit.name)}"]
        if circuit.sparsity is not None:
            lines.append(f"sparsity {circuit.sparsity}")
        lines += _wrapped("input", self._grouped([self.spelling[s] for s in range(circuit.n_inputs)], True))
        lines += [f"{self.spelling[signal]} = {self._node(circuit.nodes[signal - circuit.n_inputs])[0]}"
                  for signal in self.assigned]
        lines += [f"{self.spelling[('output', i)]} = {self._read(circuit.outputs[i][1], 0)}" for i in self.aliases]
        refs = [self.spelling.get(("output", i)) or self.spelling[lit.signal]
                for i, (_, lit) in enumerate(circuit.outputs)]
        lines += _wrapped("output", self._grouped(refs, False))
        return "\n".join(lines) + "\n"

    def _read(self, lit: Lit, context: int) -> str:
        """A literal as an operand of an operator binding `context` tightly."""
        name = self.spelling.get(lit.signal)
        if name is not None:
            return ("!" if lit.negated else "") + name
        node = self.circuit.nodes[lit.signal - self.circuit.n_inputs]  # anonymous: written inline
        if node.op is Op.CONST:
            return str(node.k ^ lit.negated)
        text, precedence = self._node(node)
        if lit.negated:
            return f"!{text}" if precedence == ATOM else f"!({text})"
        return f"({text})" if precedence < context else text

    def _node(self, node: Node) -> tuple[str, int]:
        """The expression a node computes, and how tightly its operator binds."""
        if node.op is Op.CONST:
            return str(node.k), ATOM
        if node.op is Op.BUF:
            return self._read(node.operands[0], ATOM), ATOM
        if node.op is Op.ATLEAST:
            return f"atleast({node.k}, {', '.join(self._read(lit, 0) for lit in node.operands)})", ATOM
        precedence = PRECEDENCE[node.op]
        return CHAIN_OPS[node.op].join(self._read(lit, precedence) for lit in node.operands), precedence

    def _grouped(self, refs: list[str], declare: bool) -> list[str]:
        """Runs `a[0] .. a[n-1]` of a whole vector as `a` (`a[n]` when declaring inputs)."""
        grouped: list[str] = []
        i = 0
        while i < len(refs):
            match = ELEMENT.fullmatch(refs[i])
            length = self.vectors.get(match.group(1), 0) if match and match.group(2) == "0" else 0
            base = match.group(1) if match else ""
            if length and refs[i:i + length] == [f"{base}[{k}]" for k in range(length)]:
                grouped.append(f"{base}[{length}]" if declare else base)
                i += length
            else:
                grouped.append(refs[i])
                i += 1
        return grouped


def _assigned(circuit: Circuit, readers: Counter[int]) -> list[int]:
    """Signals that get an assignment: named gates, and the anonymous nodes that
    are not written inline. Inline are constants, nodes over named signals only
    (cheap to repeat, and the front end shares equal sub-expressions again), and
    nodes read once, up to MAX_NESTING levels deep. Unread anonymous nodes vanish."""
    assigned = []
    nesting: dict[int, int] = {}  # inline node -> depth of the expression written for it
    for signal, node in enumerate(circuit.nodes, circuit.n_inputs):
        depth = 1 + max((nesting.get(lit.signal, 0) for lit in node.operands), default=0)
        if node.name is None and (depth == 1 or readers[signal] == 1 and depth <= MAX_NESTING):
            nesting[signal] = depth
        elif node.name is not None or readers[signal] > 0:
            assigned.append(signal)
    return assigned


def _vectors(things: list[tuple[Key, str | None, str]], input_names: list[str]) -> dict[str, int]:
    """base -> length for the names `base[0] .. base[n-1]` that can be written as a vector."""
    elements: dict[str, list[tuple[int, str]]] = defaultdict(list)
    scalars = {name for _, name, _ in things if name is not None and not ELEMENT.fullmatch(name)}
    for _, name, kind in things:
        match = ELEMENT.fullmatch(name or "")
        if match:
            elements[match.group(1)].append((int(match.group(2)), kind))
    vectors = {}
    for base, found in elements.items():
        indices = sorted(index for index, _ in found)
        kinds = {kind for _, kind in found}
        if base in scalars or base in _keywords() or indices != list(range(len(found))) or len(kinds) > 1:
            continue
        if kinds == {"input"}:  # a vector input declares its elements together, in index order
            start = input_names.index(f"{base}[0]")
            if input_names[start:start + len(found)] != [f"{base}[{i}]" for i in range(len(found))]:
                continue
        vectors[base] = len(found)
    return vectors


def _spell(things: list[tuple[Key, str | None, str]], vectors: dict[str, int]) -> dict[Key, str]:
    """key -> its name in the program: kept where valid, else made valid and unique."""
    spelling: dict[Key, str] = {}
    taken = set(vectors)
    for key, name, _ in things:  # first, every name that can stay as it is
        match = ELEMENT.fullmatch(name or "")
        keep = match.group(1) in vectors if match else \
            name is not None and IDENTIFIER.fullmatch(name) and name not in _keywords()
        if keep and name not in taken:
            spelling[key] = name
            taken.add(name)
    for key, name, _ in things:
        if key not in spelling:
            wanted = _valid(name) if name is not None else f"t{key}"
            spelled, suffix = wanted, 1
            while spelled in taken:
                suffix += 1
                spelled = f"{wanted}_{suffix}"
            spelling[key] = spelled
            taken.add(spelled)
    return spelling


def _valid(name: str) -> str:
    """`name` as an identifier of the language: `22` -> `n22`, `a[3]` -> `a_3`, `in` -> `in_`."""
    valid = re.sub(r"[^A-Za-z0-9_]+", "_", name).rstrip("_") or "n"
    valid = valid if IDENTIFIER.fullmatch(valid) else f"n{valid}"
    return f"{valid}_" if valid in _keywords() else valid


def _wrapped(keyword: str, names: list[str]) -> list[str]:
    """`input a, b, ...` statements, each under LINE_WIDTH characters where names allow."""
    lines: list[str] = []
    for name in names:
        if lines and len(lines[-1]) + len(name) + 2 <= LINE_WIDTH:
            lines[-1] += f", {name}"
        else:
            lines.append(f"{keyword} {name}")
    return lines
