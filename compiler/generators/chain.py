"""chain-L: L levels of random gates.

Level 1: `gates` random pairwise ANDs of m inputs. Each later level: `gates`
random gates over the previous level's outputs (a, b) and the inputs (x),
mixing `a & !x`, `a | b` and `a & x`. Every gate keeps a witness: an input
pattern of at most `sparsity` inputs on which it is true (so none is constant
false; with no input on every gate is false, so none is constant true).

bench/gen_chain.py writes one as a program.
"""
from __future__ import annotations

import numpy as np

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit, Node, Op


def _holds(circuit: Circuit, signal: int, on: frozenset[int], memo: dict[int, bool]) -> bool:
    """The value of `signal` when exactly the inputs `on` are on."""
    if signal < circuit.n_inputs:
        return signal in on
    if signal not in memo:
        node = circuit.nodes[signal - circuit.n_inputs]
        lits = [(_holds(circuit, o.signal, on, memo) != o.negated) for o in node.operands]
        memo[signal] = all(lits) if node.op is Op.AND else any(lits)
    return memo[signal]


def chain_circuit(levels: int, gates: int = 2048, m: int = 1024, sparsity: int = 3, seed: int = 0) -> Circuit:
    """The chain-L program as an IR circuit; outputs are the last level's gates."""
    if sparsity < 2 or not 0 < gates <= m * (m - 1) // 2:
        raise CompileError(f"level 1 needs {gates} distinct pairs of {m} inputs ({m * (m - 1) // 2} exist) that "
                           f"can be on together (sparsity >= 2, got {sparsity})")
    rng = np.random.default_rng(seed)
    circuit = Circuit(f"chain_{levels}", [f"x[{i}]" for i in range(m)], sparsity=sparsity)
    witness: dict[int, frozenset[int]] = {}
    previous = []
    pairs = set()
    while len(pairs) < gates:
        a, b = sorted(rng.choice(m, size=2, replace=False).tolist())
        pairs.add((a, b))
    for i, (a, b) in enumerate(sorted(pairs, key=lambda _: rng.random())):
        circuit.nodes.append(Node(Op.AND, (Lit(a), Lit(b)), name=f"g1_{i}"))
        previous.append(circuit.n_signals - 1)
        witness[previous[-1]] = frozenset((a, b))
    for level in range(2, levels + 1):
        current = []
        while len(current) < gates:
            kind = rng.integers(3)
            a = previous[rng.integers(len(previous))]
            if kind == 1:  # a | b
                b = previous[rng.integers(len(previous))]
                if b == a:
                    continue
                node, seen = Node(Op.OR, (Lit(a), Lit(b))), min(witness[a], witness[b], key=len)
            else:
                x = int(rng.integers(m))
                if kind == 0:  # a & !x: a's witness with x off
                    if x in witness[a]:
                        continue
                    node, seen = Node(Op.AND, (Lit(a), Lit(x, True))), witness[a]
                else:  # a & x: a's witness with x on, if a stays true and it fits
                    seen = witness[a] | {x}
                    if len(seen) > sparsity or not _holds(circuit, a, seen, {}):
                        continue
                    node = Node(Op.AND, (Lit(a), Lit(x)))
            circuit.nodes.append(Node(node.op, node.operands, name=f"g{level}_{len(current)}"))
            current.append(circuit.n_signals - 1)
            witness[current[-1]] = seen
        previous = current
    circuit.outputs = [(circuit.nodes[s - m].name, Lit(s)) for s in previous]
    circuit.validate()
    return circuit
