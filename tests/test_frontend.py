"""The DSL front end: syntax, lowering into the IR, and semantics checked
against the reference interpreter."""
from __future__ import annotations

import itertools
from pathlib import Path
from textwrap import dedent

import numpy as np
import pytest

from superpose.compiler.frontend import circuit_from_file, circuit_from_source
from superpose.compiler.generators import layered_source
from superpose.compiler.interpret import output_values
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.parse import parse_source

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "programs").glob("*.sbp"))


def build(source: str) -> Circuit:
    return circuit_from_source(dedent(source))


def node(circuit: Circuit, name: str) -> Node:
    return next(n for n in circuit.nodes if n.name == name)


def operand_node(circuit: Circuit, lit: Lit) -> Node:
    return circuit.node_of(lit.signal)


def outputs_when(circuit: Circuit, *on: str) -> dict[str, bool]:
    """Output values when exactly the named inputs are on."""
    x = np.array([[name in on for name in circuit.input_names]])
    return dict(zip(circuit.output_names, output_values(circuit, x)[0].tolist()))


def truth_table(circuit: Circuit) -> np.ndarray:
    """(2**n_inputs, n_outputs) bool over every input combination."""
    x = np.array(list(itertools.product([0, 1], repeat=circuit.n_inputs)))
    return output_values(circuit, x)


# Semantics: every expression agrees with Python on every input.

@pytest.mark.parametrize("expr, python", [
    ("a | b & c", lambda a, b, c: a or (b and c)),
    ("a & b | c", lambda a, b, c: (a and b) or c),
    ("a ^ b & c", lambda a, b, c: a != (b and c)),
    ("a | b ^ c", lambda a, b, c: a or (b != c)),
    ("!a & b", lambda a, b, c: (not a) and b),
    ("!(a & b) | c", lambda a, b, c: not (a and b) or c),
    ("!!a ^ !b", lambda a, b, c: a != (not b)),
    ("(a | b) & c", lambda a, b, c: (a or b) and c),
    ("a ^ b ^ c", lambda a, b, c: (a + b + c) % 2 == 1),
    ("atleast(2, a, b, c)", lambda a, b, c: a + b + c >= 2),
    ("atleast(1, !a, b & c)", lambda a, b, c: (not a) or (b and c)),
    ("!(a ^ b)", lambda a, b, c: a == b),
    ("a & 1 | 0", lambda a, b, c: a),
])
def test_expression_semantics(expr: str, python) -> None:
    circuit = build(f"input a, b, c\nx = {expr}\noutput x\n")
    expected = [[python(*map(bool, row))] for row in itertools.product([0, 1], repeat=3)]
    np.testing.assert_array_equal(truth_table(circuit), np.array(expected, dtype=bool))


# Lowering: the shape of the nodes.

def test_precedence_builds_the_expected_nodes() -> None:
    circuit = build("input a, b, c, d\nx = a | b ^ c & !d\noutput x\n")
    top = node(circuit, "x")
    assert top.op is Op.OR and top.operands[0] == Lit(0)
    xor = operand_node(circuit, top.operands[1])
    assert xor.op is Op.XOR and xor.operands[0] == Lit(1) and xor.name is None
    conj = operand_node(circuit, xor.operands[1])
    assert conj.op is Op.AND and conj.operands == (Lit(2), Lit(3, negated=True))


@pytest.mark.parametrize("expr", ["a & b & c", "(a & b) & c", "a & (b & c)", "((a & b) & c)"])
def test_same_operator_chains_flatten(expr: str) -> None:
    circuit = build(f"input a, b, c\nx = {expr}\noutput x\n")
    assert circuit.nodes == [Node(Op.AND, (Lit(0), Lit(1), Lit(2)), name="x", loc=circuit.nodes[0].loc)]


def test_flattening_stops_at_names_negations_and_other_operators() -> None:
    circuit = build("""\
        input a, b, c
        ab = a & b
        x = ab & c
        y = !(a & b) & c
        z = (a | b) & c
        output x, y, z
        """)
    assert len(node(circuit, "x").operands) == 2
    y = node(circuit, "y")
    assert y.operands[0].negated and operand_node(circuit, y.operands[0]).op is Op.AND
    assert operand_node(circuit, node(circuit, "z").operands[0]).op is Op.OR


def test_not_folds_into_literals() -> None:
    circuit = build("input a, b\nx = !a & !!b\ny = !!(a | b)\noutput x, y\n")
    assert node(circuit, "x").operands == (Lit(0, negated=True), Lit(1))
    assert node(circuit, "y") == Node(Op.OR, (Lit(0), Lit(1)), name="y", loc=node(circuit, "y").loc)
    assert len(circuit.nodes) == 2  # no node for any NOT


def test_aliases_and_named_negations_are_buffers() -> None:
    circuit = build("input a, b\nalias = a\nnope = !b\nsame = !(a ^ b)\noutput alias, nope, same\n")
    assert node(circuit, "alias").op is Op.BUF and node(circuit, "alias").operands == (Lit(0),)
    assert node(circuit, "nope").operands == (Lit(1, negated=True),)
    same = node(circuit, "same")
    assert same.op is Op.BUF and same.operands[0].negated
    assert operand_node(circuit, same.operands[0]).op is Op.XOR


def test_constants_and_shared_subexpressions() -> None:
    circuit = build("input a, b, c\non = 1\nx = (a & b) | c\ny = (a & b) | !c\noutput on, x, y\n")
    assert node(circuit, "on") == Node(Op.CONST, (), 1, "on", node(circuit, "on").loc)
    assert node(circuit, "x").operands[0] == node(circuit, "y").operands[0]
    assert sum(n.name is None for n in circuit.nodes) == 1


def test_atleast_takes_a_threshold_and_whole_vectors() -> None:
    circuit = build("input t[3], u\nx = atleast(2, t, u)\noutput x\n")
    assert node(circuit, "x") == Node(Op.ATLEAST, (Lit(0), Lit(1), Lit(2), Lit(3)), 2, "x",
                                      node(circuit, "x").loc)


def test_named_gates_carry_the_target_position() -> None:
    circuit = circuit_from_source("input a, b\n\n  # comment\nx = a & b\nfor i in range(2):\n    v[i] = a\n"
                                  "output x, v\n", "f.sbp")
    assert str(node(circuit, "x").loc) == "f.sbp:4:1"
    assert str(node(circuit, "v[1]").loc) == "f.sbp:6:5"


# Loops, vectors and index arithmetic.

def test_nested_loops_single_line_bodies_and_range_bounds() -> None:
    circuit = build("""\
        input t[6]
        for i in range(2, 4):
            for j in range(2): grid[(i - 2) * 2 + j] = t[i] & t[j]
            row[i - 2] = t[i]
        for k in range(3, 3): never[k] = t[k]
        output grid[3], row
        """)
    assert circuit.gate_names == ["grid[0]", "grid[1]", "row[0]", "grid[2]", "grid[3]", "row[1]"]
    assert node(circuit, "grid[3]").operands == (Lit(3), Lit(1))
    assert circuit.output_names == ["grid[3]", "row[0]", "row[1]"]


@pytest.mark.parametrize("index, value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 // 2", 3), ("-1 + 5", 4), ("10 - 2 - 3", 5),
    ("-(2 - 9)", 7), ("-7 // 2 + 6", 2),
])
def test_index_arithmetic(index: str, value: int) -> None:
    circuit = build(f"input t[10]\nx = t[{index}]\noutput x\n")
    assert node(circuit, "x").operands == (Lit(value),)


def test_loop_body_may_read_earlier_iterations() -> None:
    circuit = build("""\
        input t[4]
        acc[0] = t[0]
        for i in range(1, 4):
            acc[i] = acc[i - 1] ^ t[i]
        output acc[3]
        """)
    table = truth_table(circuit)[:, 0]
    parity = [sum(bits) % 2 == 1 for bits in itertools.product([0, 1], repeat=4)]
    assert table.tolist() == parity


def test_vector_outputs_expand_and_inputs_can_be_outputs() -> None:
    circuit = build("input a, t[2]\nfor i in range(2): v[i] = t[i] & a\noutput v, a\noutput t\n")
    assert circuit.output_names == ["v[0]", "v[1]", "a", "t[0]", "t[1]"]
    assert circuit.outputs[2:] == [("a", Lit(0)), ("t[0]", Lit(1)), ("t[1]", Lit(2))]


def test_inputs_names_header_and_sparsity() -> None:
    circuit = circuit_from_source("circuit demo\nsparsity 2\ninput a, t[2]\ninput b\noutput b\n", "x.sbp")
    assert circuit.input_names == ["a", "t[0]", "t[1]", "b"]
    assert (circuit.name, circuit.sparsity) == ("demo", 2)
    assert circuit.outputs == [("b", Lit(3))]
    assert circuit_from_source("input a\noutput a\n", "dir/rules.sbp").name == "rules"
    assert circuit_from_source("input a\noutput a\n").name == "circuit"
    assert circuit_from_source("input a\noutput a\n").sparsity is None


def test_layout_comments_continuations_and_line_endings() -> None:
    text = ("# header\r\n\r\ninput a, b   # two\r\nx = atleast(1,\r\n    a,\r\n  b)\r\n"
            "for i in range(2):\r\n\r\n    # inside\r\n\ty[i] = a\r\noutput x, y")
    circuit = circuit_from_source(text)
    assert circuit.output_names == ["x", "y[0]", "y[1]"]


def test_files_keep_the_name_they_were_given_and_drop_a_byte_order_mark(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rules.sbp").write_bytes("\ufeffinput a\nx = a\noutput x\n".encode())
    circuit = circuit_from_file("rules.sbp")  # the front end drops the mark (for compile_source too)
    assert circuit.input_names == ["a"] and str(circuit.nodes[0].loc) == "rules.sbp:2:1"


def test_parse_tree_carries_positions() -> None:
    program = parse_source("input a\nfor i in range(3):\n    v[i] = a & !a\n", "p.sbp")
    loop = program.statements[1]
    assert (loop.var, str(loop.loc), str(loop.stop.loc)) == ("i", "p.sbp:2:5", "p.sbp:2:16")
    assign = loop.body[0]
    assert str(assign.value.operands[1].loc) == "p.sbp:3:16"


# The example programs.

@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_every_program_compiles(path: Path) -> None:
    circuit = circuit_from_file(path)
    assert circuit.outputs and circuit.name
    if path.name != "xor_logic.sbp":
        assert 2 <= circuit.sparsity <= 4


def test_animals_semantics() -> None:
    circuit = circuit_from_file(ROOT / "programs" / "animals.sbp")
    assert circuit.name == "animals" and circuit.sparsity == 3
    got = outputs_when(circuit, "feathers", "flies", "tok[3]", "tok[4]")
    assert got["bird"] and got["pet"] and got["odd"] and got["pair[3]"] and got["deep"]
    assert not got["fish"] and not got["busy"] and not got["same"] and not got["pair[2]"]
    got = outputs_when(circuit, "swims", "fur", "flies")
    assert got["busy"] and got["same"] and not got["fish"] and not got["bird"]


def test_chain_semantics() -> None:
    circuit = circuit_from_file(ROOT / "programs" / "chain.sbp")
    assert circuit.levels().max() >= 4
    assert outputs_when(circuit, "request", "owner")["served"]
    assert not outputs_when(circuit, "request", "owner", "locked")["served"]
    got = outputs_when(circuit, "request", "admin", "override")
    assert got["granted"] and got["served"] and not got["audit"]


def test_adder_adds() -> None:
    circuit = circuit_from_file(ROOT / "programs" / "xor_logic.sbp")
    for a, b, carry in [(0, 0, 0), (5, 9, 1), (15, 15, 1), (7, 8, 0)]:
        on = [f"a[{i}]" for i in range(4) if a >> i & 1] + [f"b[{i}]" for i in range(4) if b >> i & 1]
        got = outputs_when(circuit, *on, *(["carry_in"] if carry else []))
        total = sum(got[f"sum[{i}]"] << i for i in range(4)) + (got["carry[4]"] << 4)
        assert total == a + b + carry and got["equal"] == (a == b)


def test_bigrams_semantics() -> None:
    circuit = circuit_from_file(ROOT / "programs" / "bigrams.sbp")
    got = outputs_when(circuit, "first[2]", "second[3]")
    assert got["san_francisco"] and got["place"] and got["bigram[15]"] and got["step[2]"]
    assert not got["repeated"] and sum(got.values()) == 4
    assert outputs_when(circuit, "first[4]", "second[4]")["repeated"]


def test_large_program_matches_its_generator() -> None:
    assert (ROOT / "programs" / "large.sbp").read_text(encoding="utf-8") == layered_source(1000)
    assert len(circuit_from_file(ROOT / "programs" / "large.sbp").gate_names) == 1000
