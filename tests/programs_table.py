"""The one shared table of programs every executor is checked against."""
from __future__ import annotations

from pathlib import Path

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"

INLINE = {
    "precedence": """
input a, b, c, d
x = a | b ^ c & !d
y = !(a | b) & (c ^ d)
output x, y
""",
    "nary_and_not": """
input a, b, c, d, e
all = a & b & c & d & e
none = !a & !b & !c & !d & !e
some = atleast(3, a, b, c, d, e)
parity = a ^ b ^ c ^ d ^ e
output all, none, some, parity
""",
    "deep_chain": """
input x[6]
s0 = x[0] & x[1]
s1 = s0 | x[2]
s2 = s1 ^ x[3]
s3 = s2 & !x[4]
s4 = s3 | (x[5] & s0)
output s0, s1, s2, s3, s4
""",
    "constants_and_alias": """
input a, b
k = 1
z = a & 0
al = !b
g = (a | k) & al
output k, z, al, g, a
""",
}


def program_cases() -> list[tuple[str, str]]:
    """(name, source text) of every example program and every inline case."""
    files = [(p.stem, p.read_text()) for p in sorted(PROGRAMS.glob("*.sbp"))]
    return files + sorted(INLINE.items())
