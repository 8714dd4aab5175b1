"""Method 3: best-first branch and bound on the sets bounds leave open, and
the counterexamples met on the way."""
from __future__ import annotations

import heapq
import itertools
import time

import numpy as np

from superpose.network import CompiledCircuit
from superpose.runtime.bounds import BoundPropagator
from superpose.runtime.verify.bounding import FLOAT_SLACK, OpenSet, OpenSets, bound_sets, first_batch, next_batch, node_sets
from superpose.runtime.verify.enumeration import indicator
from superpose.runtime.verify.table import PatternTable
from superpose.runtime.verify.verdicts import Ledger, margin

MAX_BRANCH_NODES = 2000         # sets branch and bound may split a gate into before giving up on it


def branch_and_bound(circuit: CompiledCircuit, table: PatternTable, s: int, propagator: BoundPropagator,
            start: OpenSets, ledger: Ledger, deadline: float) -> None:
    """Best-first branch and bound over the open sets (as in alpha-beta-CROWN):
    try each set's candidate counterexample (its pinned features plus the free
    ones its bound says hurt most), then split it on the most harmful free
    feature, on or off, and bound both halves. A gate is proved ("branching")
    when all its sets are settled, refuted ("search") when a candidate is
    wrong on the circuit and the interpreter; a gate that needs more than
    MAX_BRANCH_NODES sets is left unknown."""
    m, n_gates = circuit.n_inputs, circuit.n_gates
    found: dict[int, tuple[float, tuple[int, ...]]] = {}  # gate -> (margin, input) of its worst find
    closed = start.closed_margin.copy()  # per gate, the smallest margin of its settled sets
    open_sets, spent = np.zeros(n_gates, dtype=np.int64), np.zeros(n_gates, dtype=np.int64)
    had_open, abandoned = np.zeros(n_gates, dtype=bool), np.zeros(n_gates, dtype=bool)
    had_open[[node.gate for node in start.nodes]] = True
    heap: list[tuple[float, int, OpenSet, int]] = []  # (bound margin, ticket, set, feature to split on)
    ticket = itertools.count()  # among equal margins: first come, first served
    batch = first_batch(propagator)  # sets bounded per round
    nodes, bounded = start.nodes, start.bounded
    while True:
        tried = _try_candidates(circuit, nodes, bounded.completion, s)
        for i, node in enumerate(nodes):
            g, split = node.gate, int(bounded.ranked[i, 0])
            wrong = tried[i] < 0
            if wrong and (g not in found or tried[i] < found[g][0]):
                found[g] = (float(tried[i]), node.on + _features(bounded.completion[i]))
            if bounded.margin[i] > FLOAT_SLACK or (split < 0 and not wrong):  # split < 0: a single input
                closed[g] = min(closed[g], bounded.margin[i] if bounded.margin[i] > FLOAT_SLACK else tried[i])
            else:
                open_sets[g] += 1
                heapq.heappush(heap, (float(bounded.margin[i]), next(ticket), node, split))
        nodes = []
        while heap and len(nodes) < batch and time.monotonic() < deadline:
            _, _, node, split = heapq.heappop(heap)
            open_sets[node.gate] -= 1
            abandoned[node.gate] |= spent[node.gate] >= MAX_BRANCH_NODES
            if node.gate in found or abandoned[node.gate] or split < 0:
                continue
            spent[node.gate] += 2
            nodes += [node._replace(on=node.on + (split,)), node._replace(off=node.off + (split,))]
        if not nodes:
            break
        gates = np.array([node.gate for node in nodes])
        expected = np.array([node.expected for node in nodes], dtype=np.int8)
        bounded = bound_sets(propagator, gates, node_sets(nodes, table, s, m), expected, s)
        batch = max(2, next_batch(len(nodes), bounded.cone_width))
    settled = [g for g in np.flatnonzero(had_open & start.complete & (open_sets == 0) & ~abandoned)
               if g not in found]
    ledger.prove(np.array(settled, dtype=np.int64), closed[settled], "branching")
    gates = sorted(found)
    ledger.confirm(np.array(gates, dtype=np.int64), [found[g][1] for g in gates], "search")


def _features(padded: np.ndarray) -> tuple[int, ...]:
    return tuple(int(f) for f in padded if f >= 0)


def _try_candidates(circuit: CompiledCircuit, nodes: list[OpenSet], completion: np.ndarray, s: int) -> np.ndarray:
    """(K,) the margin of each set's candidate counterexample on the circuit."""
    if not nodes:
        return np.zeros(0)
    on = np.full((len(nodes), s), -1, dtype=np.int64)
    for i, node in enumerate(nodes):
        chosen = node.on + _features(completion[i])
        on[i, :len(chosen)] = chosen
    gates, owner = np.unique([node.gate for node in nodes], return_inverse=True)
    readout = circuit.read_own(indicator(on, circuit.n_inputs).T, circuit.gate_readout.select(gates), owner)
    expected = np.array([node.expected for node in nodes])
    return margin(readout, expected)
