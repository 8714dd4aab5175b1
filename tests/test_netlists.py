"""Netlist importers, simplify and emit_dsl, checked against oracles that share
no code with them: a line-by-line .bench evaluator written here, and py-aiger
(test-only dependency) for AIGER and, through the .aig twin, for BLIF."""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import aiger
import numpy as np
import pytest

from superpose.compiler.emit_dsl import emit_dsl
from superpose.compiler.errors import CompileError
from superpose.compiler.frontend import circuit_from_source
from superpose.compiler.interpret import gate_values, output_values
from superpose.compiler.ir import Circuit, Op
from superpose.compiler.netlists import NETLIST_SUFFIXES, load_netlist, parse_aiger, parse_bench, parse_blif
from superpose.compiler.netlists.simplify import simplify

BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
CASES = Path(__file__).resolve().parent / "netlist_cases"
ISCAS = sorted((BENCHMARKS / "iscas85").glob("*.bench"))
EPFL = sorted(path.stem for path in (BENCHMARKS / "epfl").glob("*.aig"))
AIGER_EXAMPLES = sorted((BENCHMARKS / "aiger").glob("*.aag"))
SEQUENTIAL_EXAMPLES = ("cnt1.aag", "toggle.aag")
COMBINATIONAL_EXAMPLES = [path for path in AIGER_EXAMPLES if path.name not in SEQUENTIAL_EXAMPLES]
ALL_NETLISTS = ISCAS + [BENCHMARKS / "epfl" / f"{name}{suffix}" for name in EPFL for suffix in (".aig", ".blif")] \
    + COMBINATIONAL_EXAMPLES
MALFORMED = sorted(path for path in CASES.iterdir() if path.suffix in NETLIST_SUFFIXES)

N_VECTORS = 10_000    # random input vectors per circuit for the interpreter and the .bench evaluator
EXHAUSTIVE_UP_TO = 16  # inputs; circuits with at most this many are checked on every input
N_PY_AIGER = 256      # py-aiger evaluates one vector at a time (~1-5 ms each): a sample only


def _id(path: Path) -> str:
    return path.name


def _vectors(n_inputs: int, seed: int = 0) -> np.ndarray:
    """(batch, n_inputs) bool: every input vector for small circuits, else N_VECTORS random ones."""
    if n_inputs <= EXHAUSTIVE_UP_TO:
        return (np.arange(2 ** n_inputs)[:, None] >> np.arange(n_inputs) & 1).astype(bool)
    return np.random.default_rng(seed).integers(0, 2, (N_VECTORS, n_inputs)).astype(bool)


def test_the_benchmarks_are_there():
    assert len(ISCAS) == 11 and len(EPFL) == 7 and len(AIGER_EXAMPLES) == 12


# .bench against its own evaluator

def _evaluate_bench(text: str, x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The independent oracle: evaluate a .bench file's gates directly, line by line."""
    inputs = re.findall(r"^\s*INPUT\((.+?)\)", text, re.M)
    outputs = re.findall(r"^\s*OUTPUT\((.+?)\)", text, re.M)
    gates = {name: (kind.upper(), [arg.strip() for arg in args.split(",")])
             for name, kind, args in re.findall(r"^\s*(\S+)\s*=\s*(\w+)\((.*)\)", text, re.M)}
    value = {name: x[:, i] for i, name in enumerate(inputs)}
    functions = {
        "AND": lambda v: np.logical_and.reduce(v), "NAND": lambda v: ~np.logical_and.reduce(v),
        "OR": lambda v: np.logical_or.reduce(v), "NOR": lambda v: ~np.logical_or.reduce(v),
        "XOR": lambda v: np.logical_xor.reduce(v), "XNOR": lambda v: ~np.logical_xor.reduce(v),
        "NOT": lambda v: ~v[0], "BUF": lambda v: v[0], "BUFF": lambda v: v[0],
    }
    while len(value) < len(inputs) + len(gates):  # sweep until every gate is known: any order works
        for name, (kind, args) in gates.items():
            if name not in value and all(arg in value for arg in args):
                value[name] = functions[kind]([value[arg] for arg in args])
    return outputs, np.stack([value[name] for name in outputs], axis=1)


@pytest.mark.parametrize("path", ISCAS, ids=_id)
def test_iscas_agrees_with_a_line_by_line_evaluator(path):
    circuit = load_netlist(path)
    x = _vectors(circuit.n_inputs)
    names, expected = _evaluate_bench(path.read_text(), x)
    assert circuit.name == path.stem and circuit.sparsity is None
    assert circuit.output_names == names
    assert np.array_equal(output_values(circuit, x), expected)


def test_bench_gate_types_in_any_order():
    text = """# every gate type, used before it is defined; names numeric or not
INPUT(1)
INPUT(b)
INPUT(c)
OUTPUT(y)
OUTPUT(5)
y = XNOR(t, b, 5)
t = XOR(1, b, c)
5 = nor(u, c)      # lower case works too
u = NAND(1, b, c)
v = BUF(u)
w = NOT(v)
z = OR(w, 1)
"""
    circuit = parse_bench(text, "gates.bench")
    x = _vectors(3)
    assert np.array_equal(output_values(circuit, x), _evaluate_bench(text, x)[1])
    node = {n.name: n for n in circuit.nodes}
    assert node["w"].op is Op.BUF and node["w"].operands[0].negated  # a named NOT is a BUF of a negated read
    assert node["u"].op is Op.BUF and circuit.node_of(node["u"].operands[0].signal).op is Op.AND  # NAND
    assert {"v", "z"} <= set(circuit.gate_names)  # gates no output reads are kept


# AIGER against py-aiger

def _with_symbols(text: str) -> str:
    """An ASCII AIGER file with `i<k> i<k>`, `o<k> o<k>` symbols where it has none,
    so that py-aiger names the inputs and outputs as the importer does."""
    if re.search(r"^[io]\d+ ", text, re.M):
        return text
    assert not re.search(r"^c$", text, re.M)
    _, _, n_inputs, _, n_outputs, *_ = text.split("\n", 1)[0].split()
    symbols = [f"i{k} i{k}" for k in range(int(n_inputs))] + [f"o{k} o{k}" for k in range(int(n_outputs))]
    return text + "".join(line + "\n" for line in symbols)


def _py_aiger_outputs(aig, circuit: Circuit, x: np.ndarray) -> np.ndarray:
    """(batch, n_outputs) bool: py-aiger's values, matched to the circuit by name."""
    assert set(circuit.input_names) == set(aig.inputs) and set(circuit.output_names) == set(aig.outputs)
    rows = []
    for vector in x:
        values, _ = aig(dict(zip(circuit.input_names, map(bool, vector))))
        rows.append([values[name] for name in circuit.output_names])
    return np.array(rows, dtype=bool).reshape(len(x), len(circuit.output_names))


@pytest.mark.parametrize("path", COMBINATIONAL_EXAMPLES, ids=_id)
def test_aiger_examples_agree_with_py_aiger_on_every_input(path):
    circuit = load_netlist(path)
    x = _vectors(circuit.n_inputs)
    aig = aiger.parse(_with_symbols(path.read_text()))
    assert np.array_equal(output_values(circuit, x), _py_aiger_outputs(aig, circuit, x))


@pytest.mark.parametrize("name", SEQUENTIAL_EXAMPLES)
def test_aiger_latches_are_refused(name):
    with pytest.raises(CompileError) as error:
        load_netlist(BENCHMARKS / "aiger" / name)
    assert f"{name}:2:1: latch l0 is a sequential element" in str(error.value)


@cache
def _epfl_reference(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, outputs) of py-aiger on the .aig, on N_PY_AIGER vectors."""
    circuit = load_netlist(BENCHMARKS / "epfl" / f"{name}.aig")
    x = _vectors(circuit.n_inputs, seed=1)
    x = x[np.random.default_rng(2).permutation(len(x))[:N_PY_AIGER]]
    return x, _py_aiger_outputs(aiger.load(str(BENCHMARKS / "epfl" / f"{name}.aig")), circuit, x)


@pytest.mark.parametrize("name", EPFL)
@pytest.mark.parametrize("suffix", [".aig", ".blif"])
def test_epfl_agrees_with_py_aiger(name, suffix):
    circuit = load_netlist(BENCHMARKS / "epfl" / f"{name}{suffix}")
    x, expected = _epfl_reference(name)
    assert circuit.name == name and circuit.sparsity is None
    assert np.array_equal(output_values(circuit, x), expected)


@pytest.mark.parametrize("name", EPFL)
def test_epfl_blif_agrees_with_its_aig(name):
    aig = load_netlist(BENCHMARKS / "epfl" / f"{name}.aig")
    blif = load_netlist(BENCHMARKS / "epfl" / f"{name}.blif")
    assert blif.input_names == aig.input_names and blif.output_names == aig.output_names
    x = _vectors(aig.n_inputs)
    assert np.array_equal(output_values(blif, x), output_values(aig, x))


def test_aiger_binary_and_ascii_read_alike():
    ascii_text = "aag 3 2 0 2 1\n2\n4\n7\n0\n6 4 2\ni0 a\no0 nand\nc\nanything\n"
    binary = b"aig 3 2 0 2 1\n7\n0\n\x02\x02i0 a\no0 nand\nc\nanything\n"
    for circuit in (parse_aiger(ascii_text.encode(), "t.aag"), parse_aiger(binary, "t.aig")):
        assert circuit.input_names == ["a", "i1"] and circuit.output_names == ["nand", "o1"]
        assert circuit.gate_names == ["n3"]
        assert output_values(circuit, _vectors(2)).tolist() == [[1, 0], [1, 0], [1, 0], [0, 0]]


# BLIF covers

def test_blif_covers():
    text = """.model covers   # comment
.inputs a b \\
  c
.outputs on off dc one zero buf inv
.names a b c on
11- 1
--1 1
.names a b off
10 0
.names a b c dc
-1- 1
.names one
1
.names zero
.names a buf
1 1
.names a inv
0 1
.end
"""
    circuit = parse_blif(text, "covers.blif")
    a, b, c = _vectors(3).T
    expected = np.stack([a & b | c, ~(a & ~b), b, np.ones_like(a), np.zeros_like(a), a, ~a], axis=1)
    assert circuit.input_names == ["a", "b", "c"]
    assert np.array_equal(output_values(circuit, _vectors(3)), expected)
    node = {n.name: n for n in circuit.nodes}
    assert node["buf"].op is Op.BUF and node["one"].op is Op.CONST and node["one"].k == 1
    assert node["on"].op is Op.OR and node["off"].op is Op.BUF


# malformed and sequential files

@pytest.mark.parametrize("path", MALFORMED, ids=_id)
def test_malformed_netlists_say_where(path):
    """Each fixture's message, position and caret are in <fixture>.expected."""
    with pytest.raises(CompileError) as error:
        load_netlist(path)
    assert str(error.value).replace(f"{CASES}/", "") + "\n" == path.with_name(path.name + ".expected").read_text()


def test_unknown_formats_are_refused():
    with pytest.raises(CompileError, match=r"x\.v: cannot tell the netlist format .*'\.v'.*\.bench, \.aag"):
        load_netlist("x.v")
    with pytest.raises(CompileError, match=r"unknown netlist format 'verilog': known formats are bench, aiger"):
        load_netlist(ISCAS[0], format="verilog")
    with pytest.raises(CompileError, match=r"missing\.bench: cannot read"):
        load_netlist(CASES / "missing.bench")


def test_format_overrides_the_suffix(tmp_path):
    copy = tmp_path / "c17.txt"
    copy.write_text((BENCHMARKS / "iscas85" / "c17.bench").read_text())
    assert load_netlist(copy, format="bench").output_names == ["N22", "N23"]


# simplify

@pytest.mark.parametrize("path", ALL_NETLISTS, ids=_id)
def test_simplify_keeps_the_outputs(path):
    circuit = load_netlist(path)
    simple = simplify(circuit)
    simple.validate()
    x = _vectors(circuit.n_inputs)[:2000]
    assert simple.output_names == circuit.output_names and simple.input_names == circuit.input_names
    assert np.array_equal(output_values(simple, x), output_values(circuit, x))
    assert len(simple.nodes) <= len(circuit.nodes)
    if circuit.nodes:
        assert simple.levels().max() <= circuit.levels().max()


def test_simplify_merges_chains_and_drops_buffers():
    circuit = parse_bench("INPUT(a)\nINPUT(b)\nINPUT(c)\nINPUT(d)\nOUTPUT(y)\n"
                          "p = AND(a, b)\nq = AND(p, c)\nr = NOT(q)\ns = NOT(r)\ny = AND(s, d)\n", "chain.bench")
    simple = simplify(circuit)
    assert [(n.op, n.name, len(n.operands)) for n in simple.nodes] == [(Op.AND, "y", 4)]
    assert simple.levels().max() == 1 < circuit.levels().max() == 3


# emit_dsl

@pytest.mark.parametrize("path", [p for p in ALL_NETLISTS if p.name not in ("empty.aag", "false.aag", "true.aag")],
                         ids=_id)
def test_emit_dsl_round_trip(path):
    """Netlist -> program text -> the DSL front end: the same inputs, outputs and values.
    (empty/false/true.aag have no inputs, which a program must have.)"""
    x = None
    for circuit in (load_netlist(path), simplify(load_netlist(path))):
        program = circuit_from_source(emit_dsl(circuit), f"{path.stem}.sbp")
        x = _vectors(circuit.n_inputs)[:2000] if x is None else x
        assert program.input_names == circuit.input_names and program.output_names == circuit.output_names
        assert np.array_equal(output_values(program, x), output_values(circuit, x))


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "programs").glob("*.sbp")), ids=_id)
def test_emit_dsl_gives_a_program_its_gates_back(path):
    """A DSL program's circuit, written out and read again: the same named gates, values and sparsity."""
    circuit = circuit_from_source(path.read_text(), path.name)
    again = circuit_from_source(emit_dsl(circuit), path.name)
    x = _vectors(circuit.n_inputs)[:2000]
    assert again.gate_names == circuit.gate_names and again.sparsity == circuit.sparsity
    assert np.array_equal(gate_values(again, x), gate_values(circuit, x))
    assert np.array_equal(output_values(again, x), output_values(circuit, x))


def test_emit_dsl_names_vectors_and_constants():
    text = ("aag 4 3 0 4 1\n2\n4\n6\n8\n1\n9\n3\n8 2 4\n"
            "i0 x[0]\ni1 22\ni2 x[1]\no0 out[1]\no1 out[0]\no2 in\no3 in_\n")
    circuit = parse_aiger(text.encode(), "odd-names.aag")
    program = emit_dsl(circuit)
    assert program == """circuit odd_names
input x_0, n22, x_1
n4 = x_0 & n22
out[1] = n4
out[0] = 1
in__2 = !n4
in_ = !x_0
output out[1], out[0], in__2, in_
"""  # x[0], x[1] are not declared together in index order, so not a vector; `in` is a keyword
    again = circuit_from_source(program, "odd.sbp")
    assert np.array_equal(output_values(again, _vectors(3)), output_values(circuit, _vectors(3)))
