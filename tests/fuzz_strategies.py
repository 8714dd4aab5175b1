"""Hypothesis strategies for the fuzz suite: random programs written in the
language's grammar, mutations of text and bytes, and the example budget.

SUPERPOSE_FUZZ_EXAMPLES sets how many examples each property runs (CI keeps
the default small; a long run sets thousands). Without it the examples are
derandomized, so CI is reproducible; with it every run explores new ones.
"""
from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CI_EXAMPLES = 40
EXAMPLES = int(os.environ.get("SUPERPOSE_FUZZ_EXAMPLES", CI_EXAMPLES))
HANG = timedelta(seconds=30)  # an example slower than this is a failure: a hang, not a slow machine

FUZZ = settings(max_examples=EXAMPLES, deadline=HANG, database=None,
                derandomize="SUPERPOSE_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


OPERATORS = [" & ", " | ", " ^ "]


@st.composite
def expressions(draw, names: list[str], depth: int = 3) -> str:
    """An expression over `names`: names, constants, !, chains of & | ^, atleast, parentheses."""
    kind = draw(st.sampled_from(["name"] * 3 + ["const"] + (["not", "chain", "chain", "atleast"] if depth else [])))
    if kind == "name":
        return draw(st.sampled_from(names))
    if kind == "const":
        return draw(st.sampled_from(["0", "1"]))
    if kind == "not":
        return "!" + draw(expressions(names, depth - 1))
    operands = draw(st.lists(expressions(names, depth - 1), min_size=2, max_size=4))
    if kind == "atleast":
        k = draw(st.integers(1, len(operands)))
        return f"atleast({k}, {', '.join(operands)})"
    return "(" + draw(st.sampled_from(OPERATORS)).join(operands) + ")"


@st.composite
def programs(draw, sparse: bool) -> str:
    """A valid program of 1 to 8 inputs (scalars and a vector), 1 to 6 gates
    over everything defined above them, perhaps a loop, perhaps a sparsity."""
    scalars = [f"x{i}" for i in range(draw(st.integers(0, 4)))]
    length = draw(st.integers(0 if scalars else 1, 4))
    inputs = scalars + [f"v[{i}]" for i in range(length)]
    lines = ["circuit fuzz"] if draw(st.booleans()) else []
    if sparse:
        lines.append(f"sparsity {draw(st.integers(1, min(3, len(inputs))))}")
    lines.append("input " + ", ".join(scalars + ([f"v[{length}]"] if length else [])))
    names, gates = list(inputs), []
    if length >= 2 and draw(st.booleans()):
        op = draw(st.sampled_from(OPERATORS))
        lines += [f"for i in range({length - 1}):", f"    w[i] = v[i]{op}!v[i + 1]"]
        names += [f"w[{i}]" for i in range(length - 1)]
        gates.append("w")
    for g in range(draw(st.integers(1, 6))):
        lines.append(f"g{g} = {draw(expressions(names))}")
        names.append(f"g{g}")
        gates.append(f"g{g}")
    outputs = draw(st.lists(st.sampled_from(gates), min_size=1, unique=True))
    lines.append("output " + ", ".join(outputs))
    return "\n".join(lines) + "\n"


# Pieces of the language (and of others) that mutations insert.
TOKENS = ["(", ")", "[", "]", "&", "|", "^", "!", "~", "=", ",", ":", "#", "\n", "    ", "\t", "for i in range(3):",
          "input", "output", "sparsity", "circuit", "atleast(", "range", "x0", "v[9]", "g0", "0", "1", "-1",
          "99999999999999999999", "1.5", " or ", " and ", "not ", "//", "*", "+", "\ufeff", "\x00", "é", "\r\n"]


@st.composite
def mutated(draw, text: str) -> str:
    """`text` with one to three edits: a character deleted, a token inserted, or a line duplicated or dropped."""
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["delete", "insert", "duplicate", "drop"]))
        lines = text.split("\n")
        if edit in ("duplicate", "drop") and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 1))
            lines[i:i + 1] = [lines[i], lines[i]] if edit == "duplicate" else []
            text = "\n".join(lines)
            continue
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        if edit == "delete" and text:
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
    return text


@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    """`data` with one to four byte edits (flip, delete, insert, truncate)."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if edit == "truncate":
            del data[at:]
        elif edit == "delete" and data:
            del data[at]
        elif edit == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)
