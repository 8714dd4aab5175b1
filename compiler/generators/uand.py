"""uand: distinct random pairwise ANDs of m sparse inputs, one layer of the
universal-AND problem (uand-8k: m = 1,024, 8,192 gates, sparsity 3)."""
from __future__ import annotations

import numpy as np

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit, Node, Op


def random_pairs_circuit(m: int, n_gates: int, sparsity: int, seed: int = 0, name: str | None = None) -> Circuit:
    """n_gates distinct random pairwise ANDs of m inputs as an IR circuit, gates g0 .. in pair order."""
    if not 0 < n_gates <= m * (m - 1) // 2:
        raise CompileError(f"{m} inputs have {m * (m - 1) // 2} distinct pairs; cannot draw {n_gates}")
    rng = np.random.default_rng(seed)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < n_gates:
        a, b = sorted(rng.choice(m, 2, replace=False).tolist())
        pairs.add((a, b))
    nodes = [Node(Op.AND, (Lit(a), Lit(b)), name=f"g{i}") for i, (a, b) in enumerate(sorted(pairs))]
    return Circuit(name or f"uand-{n_gates}", [f"x[{i}]" for i in range(m)], nodes, [], sparsity=sparsity)
