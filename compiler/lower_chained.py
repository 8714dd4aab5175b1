"""Chained superposed lowering: one superposed ReLU layer per level of gates.

Flattening every gate into a polynomial of its input features (lower_superposed)
explodes when supports grow with depth. Here level k reads the *wires* of level
k-1 (and carried inputs) instead:

1. Features of level k: the distinct signals its gates read (operands after BUF
   and NOT are folded in). Each feature is an affine readout of the previous
   layer, `rep[signal] = (row over h_{k-1}, bias)`.
2. Every level-k gate is a polynomial of its own operand features (all 2^n
   patterns of its n operands: no sparsity assumption about wires). Pairwise
   ANDs that only need to be right after thresholding go on shared hub neurons
   (lower_superposed.pack_pairs / hub_layer, with hub weight W_k = the most
   features of level k seen on at once, measured on samples); other products get
   exact neurons ReLU(sum - (degree - 1)). A neuron's weights over h_{k-1} are
   its feature weights times the feature readouts: W = T_k . R_{k-1}.
3. Linear terms and signals needed later are carried by one neuron each,
   ReLU(f) = f on clean {0, 1} values.
4. Error control (`control=True`): a hub estimate is not a clean 0/1 value
   (-1/3 when false, 1/3 on a single misfire, above 1 when extra leaves are on),
   so every wire a later level reads goes through a threshold reset
       clean(g) = ReLU(3g - 1) - ReLU(3g - 2)
   (exactly 0 for g <= 1/3 and 1 for g >= 2/3, the two sides of a hub estimate
   that is right after thresholding) in a reset layer, unless its
   estimate is already exact (no hub products). Carried signals are copied.
   With `control=False` (naive chaining) the next level reads the raw estimates.
Gate readouts read each gate from the layer where it is computed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import numpy as np
import scipy.sparse as sp

from compiler.errors import CompileError
from compiler.interpret import _node_value, evaluate
from compiler.ir import Circuit, Lit, Op
from compiler.lower_superposed import (CONSTANT, SuperposeOptions, choose_danger_limit, hub_layer,
                                       pack_pairs, pair_errors, tolerates_thresholding)
from runtime.circuit import CompiledCircuit, Layer, Readout

MAX_OPERANDS = 12          # a gate's polynomial over its operands has up to 2^n terms
# clean(g) is exactly 0 at or below RESET_LOW and 1 at or above RESET_HIGH: a hub
# estimate that is right after thresholding is <= 1/3 when false (-1/3, or 1/3 on a
# single misfire) and >= 2/3 when true (a - AND(a, x) is 2/3 on a single misfire)
RESET_LOW, RESET_HIGH = 1.0 / 3.0, 2.0 / 3.0
SPARSITY_SAMPLES = 64      # stratified samples per probed gate when measuring wire sparsity
SPARSITY_PROBES = 128      # gates probed per level (plus uniform random sparse inputs)
MAX_PROBED_SUPPORT = 32    # larger supports have too many patterns to sample stratified
REPAIR_ROUNDS = 3          # re-pack and re-measure after moving failing pairs to exact neurons
HUB_MIN_PAIRS = 16         # fewer pairs than this in a level: exact neurons are as cheap and exact

Affine = tuple[dict[int, float], float]  # (unit -> weight over one activation, bias)


@dataclass
class ChainOptions:
    """Knobs of the chained lowering."""
    target_error: float = 0.01   # per-pair error aimed at by the hub packing of every level
    control: bool = True         # threshold resets between levels; False: naive chaining
    seed_samples: int = 2000     # uniform sparse inputs used to measure wire sparsity


def _resolve(circuit: Circuit) -> list[Lit | bool]:
    """For every signal, the literal of a non-BUF, non-CONST signal it equals,
    or a bool for a constant."""
    base: list[Lit | bool] = [Lit(i) for i in range(circuit.n_inputs)]
    for node in circuit.nodes:
        if node.op is Op.CONST:
            base.append(bool(node.k))
        elif node.op is Op.BUF:
            inner, neg = base[node.operands[0].signal], node.operands[0].negated
            base.append((inner != neg) if isinstance(inner, bool) else (~inner if neg else inner))
        else:
            base.append(Lit(len(base)))
    return base


def local_polynomial(circuit: Circuit, signal: int, base: list[Lit | bool]) -> dict[tuple[int, ...], float]:
    """The gate `signal` as a multilinear polynomial of the signals it reads
    (monomials are sorted tuples of signals; () is the constant)."""
    node = circuit.node_of(signal)
    operands = []
    for o in node.operands:
        b = base[o.signal]
        operands.append((b != o.negated) if isinstance(b, bool) else (~b if o.negated else b))
    variables = sorted({o.signal for o in operands if isinstance(o, Lit)})
    if len(variables) > MAX_OPERANDS:
        raise CompileError(f"gate {node.name or signal} reads {len(variables)} signals: too many to chain")
    if node.op is Op.OR and len(variables) > 1:  # the sum of the literals, right after thresholding
        poly: dict[tuple[int, ...], float] = {}
        for o in operands:
            if isinstance(o, bool):
                poly[()] = poly.get((), 0.0) + o
            else:
                poly[()] = poly.get((), 0.0) + o.negated
                poly[(o.signal,)] = poly.get((o.signal,), 0.0) + (-1.0 if o.negated else 1.0)
        return {t: c for t, c in poly.items() if c}
    patterns = list(product((0, 1), repeat=len(variables)))
    columns = {v: np.array([p[i] for p in patterns], bool) for i, v in enumerate(variables)}
    values = np.zeros((len(patterns), len(operands)), bool)
    local = []
    for j, o in enumerate(operands):
        if isinstance(o, bool):
            values[:, j] = o
            local.append(Lit(j))
        else:
            values[:, j] = columns[o.signal]
            local.append(Lit(j, o.negated))
    truth = _node_value(node.op, node.k, tuple(local), values).astype(np.float64)
    index = {tuple(v for v, bit in zip(variables, p) if bit): i for i, p in enumerate(patterns)}
    poly: dict[tuple[int, ...], float] = {}
    for monomial in index:  # Moebius inversion over the subsets of each monomial
        c = sum((-1) ** (len(monomial) - len(u)) * truth[index[u]]
                for r in range(len(monomial) + 1) for u in _subsets(monomial, r))
        if c:
            poly[monomial] = float(c)
    return poly


def _subsets(t: tuple[int, ...], r: int):
    from itertools import combinations
    return combinations(t, r)


def probe_wires(circuit: Circuit, signals: list[int], gates: list[int], rng: np.random.Generator,
                uniform: int) -> np.ndarray:
    """(n_samples, len(signals)) bool: the values of `signals` on uniform
    s-sparse inputs and on stratified samples (runtime.sampling) of up to
    SPARSITY_PROBES of `gates`: the inputs a level's wires actually meet."""
    from runtime.sampling import sample_gate
    s, m = circuit.sparsity, circuit.n_inputs
    blocks = [np.argsort(rng.random((uniform, m)), axis=1)[:, :s].tolist()]
    supports = circuit.supports()
    for g in rng.choice(gates, size=min(SPARSITY_PROBES, len(gates)), replace=False):
        support = sorted(supports[g])
        if len(support) <= MAX_PROBED_SUPPORT:
            x = sample_gate(circuit, int(g), support, SPARSITY_SAMPLES, s, rng).inputs
            blocks.append(np.split(x.indices, x.indptr[1:-1]))
    ons = [on for block in blocks for on in block]
    x = np.zeros((len(ons), m), bool)
    for i, on in enumerate(ons):
        x[i, on] = True
    prefix = Circuit(circuit.name, circuit.input_names, circuit.nodes[:max(signals) + 1 - m])  # topological
    return evaluate(prefix, x)[:, signals]


def measured_pair_errors(rows: list[dict[int, float]], biases: list[float],
                         estimate: dict[tuple[int, int], list[tuple[int, float]]],
                         values: np.ndarray) -> dict[tuple[int, int], float]:
    """Misclassification rate of every hub pair on probe samples, among the
    samples where one of its features is on. values: (n, n_features) bool."""
    weight = np.zeros((len(rows), values.shape[1]), np.float32)
    for j, row in enumerate(rows):
        weight[j, list(row)] = list(row.values())
    z = np.maximum(values.astype(np.float32) @ weight.T + np.asarray(biases, np.float32), 0.0)
    rates = {}  # errors among samples with a or b on: an upper bound on the stratified rate
    for (a, b), terms in estimate.items():
        est = sum(w * (z[:, j] if j != CONSTANT else 1.0) for j, w in terms)
        truth = values[:, a] & values[:, b]
        relevant = values[:, a] | values[:, b]
        rates[(a, b)] = float(((est > 0.5) != truth)[relevant].sum() / max(1, relevant.sum()))
    return rates


class _Builder:
    """Layers under construction and the readout entries of the gates."""

    def __init__(self, m: int):
        self.layers: list[Layer] = []
        self.widths = [m]

    def add_layer(self, rows: list[Affine], kind: str) -> int:
        """Add ReLU(row . h_last + bias) for every row; return the new activation index."""
        width_in = self.widths[-1]
        indptr = np.cumsum([0] + [len(r) for r, _ in rows])
        cols = np.fromiter((c for r, _ in rows for c in r), np.int64, int(indptr[-1]))
        vals = np.fromiter((w for r, _ in rows for w in r.values()), np.float32, int(indptr[-1]))
        weight = sp.csr_matrix((vals, cols, indptr), shape=(len(rows), width_in))
        weight.sum_duplicates()
        self.layers.append(Layer(weight, np.asarray([b for _, b in rows], np.float32), relu=True, kind=kind))
        self.widths.append(len(rows))
        return len(self.widths) - 1


def _combine(terms: list[tuple[float, Affine]], offset: float = 0.0) -> Affine:
    """sum(c * affine) + offset as one affine row."""
    row: dict[int, float] = {}
    bias = offset
    for c, (r, b) in terms:
        for unit, w in r.items():
            row[unit] = row.get(unit, 0.0) + c * w
        bias += c * b
    return {u: w for u, w in row.items() if w != 0.0}, bias


def lower_chained(circuit: Circuit, options: ChainOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Lower `circuit` (which must declare sparsity) level by level into superposed layers."""
    s = circuit.sparsity
    if s is None:
        raise CompileError("the chained lowering needs a sparsity declaration (or --sparsity)")
    m = circuit.n_inputs
    base = _resolve(circuit)
    levels = circuit.levels()
    computed = [n for n in range(m, circuit.n_signals) if base[n] == Lit(n)]
    polys = {n: local_polynomial(circuit, n, base) for n in computed}
    depth = int(max((levels[n] for n in computed), default=0))
    last_use = {}  # signal -> deepest level that reads it
    for n in computed:
        for t in polys[n]:
            for v in t:
                last_use[v] = max(last_use.get(v, 0), int(levels[n]))
    features_of = {k: sorted({v for n in computed if levels[n] == k for t in polys[n] for v in t})
                   for k in range(1, depth + 1)}

    builder = _Builder(m)
    rep: dict[int, Affine] = {i: ({i: 1.0}, 0.0) for i in range(m)}  # signal -> readout of the last layer
    estimate_at: dict[int, tuple[int, Affine]] = {i: (0, ({i: 1.0}, 0.0)) for i in range(m)}
    level_facts = []
    for k in range(1, depth + 1):
        gates = [n for n in computed if levels[n] == k]
        features = features_of[k]
        local = {v: i for i, v in enumerate(features)}
        monomials = sorted({t for n in gates for t in polys[n] if len(t) >= 2})
        valued = {t for n in gates if not tolerates_thresholding(polys[n]) for t in polys[n] if len(t) >= 2}
        pairs = [tuple(local[v] for v in t) for t in monomials if len(t) == 2 and t not in valued]
        higher = [t for t in monomials if len(t) > 2 or t in valued]
        if len(pairs) < HUB_MIN_PAIRS:
            higher, pairs = monomials, []
        readers = [n for n in computed if levels[n] >= k]  # whose inputs this level's wires meet
        probes = probe_wires(circuit, features, readers, rng, options.seed_samples) if pairs else None
        wire_count = int(probes.sum(axis=1).max(initial=0)) if pairs else 0
        weight = max(s, wire_count)
        rows: list[Affine] = []
        estimate: dict[tuple[int, ...], list[tuple[int, float]]] = {}
        facts = {"level": k, "gates": len(gates), "features": len(features), "wire_sparsity": wire_count,
                 "hub_pairs": len(pairs)}
        if pairs:
            hub_options = SuperposeOptions(target_error=options.target_error)
            limit = choose_danger_limit(pairs, hub_options, len(features), weight, None)
            moved = 0
            for _ in range(REPAIR_ROUNDS):  # measurement decides: failing pairs get exact neurons
                hub_rows, hub_biases, hub_estimate = hub_layer(pack_pairs(pairs, limit), weight)
                measured = measured_pair_errors(hub_rows, hub_biases, hub_estimate, probes)
                failing = {p for p, e in measured.items() if e > options.target_error}
                if not failing:
                    break
                moved += len(failing)
                pairs = [p for p in pairs if p not in failing]
                higher += [tuple(features[f] for f in p) for p in failing]
            predicted = pair_errors(pack_pairs(pairs, limit), len(features), weight)
            facts.update(pairs_moved_to_exact=moved, measured_max_pair_error=max(measured.values(), default=0.0))
            for row, b in zip(hub_rows, hub_biases):
                rows.append(_combine([(w, rep[features[f]]) for f, w in row.items()], b))
            for pair, terms in hub_estimate.items():
                estimate[tuple(features[f] for f in pair)] = terms
            facts.update(exact_products=len(higher), danger_limit=limit, hub_neurons=len(hub_rows),
                         predicted_max_pair_error=max(predicted.values(), default=0.0))
        for t in higher:  # exact: ReLU(sum - (degree - 1))
            estimate[t] = [(len(rows), 1.0)]
            rows.append(_combine([(1.0, rep[v]) for v in t], -(len(t) - 1.0)))
        # carried: linear terms of this level, and signals read again after this level
        linear = {t[0] for n in gates for t in polys[n] if len(t) == 1}
        later = {v for v in rep if last_use.get(v, 0) > k}
        carried = {}
        for v in sorted(linear | later):
            carried[v] = len(rows)
            rows.append(rep[v])
        facts.update(product_neurons=len(rows) - len(carried), carried=len(carried))
        layer = builder.add_layer(rows, "gates")
        for n in gates:
            poly = polys[n]
            row: dict[int, float] = {}
            bias = poly.get((), 0.0)
            for t, c in poly.items():
                if len(t) == 1:
                    row[carried[t[0]]] = row.get(carried[t[0]], 0.0) + c
                elif len(t) >= 2:
                    for unit, w in estimate[t]:
                        if unit == CONSTANT:
                            bias += c * w
                        else:
                            row[unit] = row.get(unit, 0.0) + c * w
            estimate_at[n] = (layer, (row, bias))
        noisy = {n for n in gates if circuit.node_of(n).op is Op.OR or any(
            len(t) == 2 and len(estimate[t]) > 1 for t in polys[n])}
        new_rep: dict[int, Affine] = {v: ({carried[v]: 1.0}, 0.0) for v in later}
        for n in gates:
            if last_use.get(n, 0) > k:
                new_rep[n] = estimate_at[n][1]
        resets = sorted(n for n in noisy if n in new_rep) if options.control else []
        if resets:
            reset_rows: list[Affine] = []
            reset_rep: dict[int, Affine] = {}
            for v, affine in new_rep.items():
                if v in resets:  # clean(g) = ReLU(3g - 1) - ReLU(3g - 2)
                    first, slope = len(reset_rows), 1.0 / (RESET_HIGH - RESET_LOW)
                    reset_rows.append(_combine([(slope, affine)], -slope * RESET_LOW))
                    reset_rows.append(_combine([(slope, affine)], -slope * RESET_HIGH))
                    reset_rep[v] = ({first: 1.0, first + 1: -1.0}, 0.0)
                else:
                    reset_rep[v] = ({len(reset_rows): 1.0}, 0.0)
                    reset_rows.append(affine)
            builder.add_layer(reset_rows, "reset")
            new_rep = reset_rep
        facts.update(reset_wires=len(resets), reset_neurons=builder.widths[-1] if resets else 0,
                     neurons=len(rows) + (builder.widths[-1] if resets else 0))
        facts["gates_per_neuron"] = len(gates) / facts["neurons"] if facts["neurons"] else math.nan
        level_facts.append(facts)
        rep = new_rep

    gate_rows = [_signal_readout(base[n], estimate_at) for n in circuit.gate_signals]
    output_rows = [_signal_readout(base[lit.signal] if not lit.negated else _negate(base[lit.signal]), estimate_at)
                   for _, lit in circuit.outputs]
    level_of_signal = {n: (int(levels[b.signal]) if isinstance(b, Lit) else 0) for n, b in enumerate(base)}
    meta = {"lowering": "chained", "control": options.control, "sparsity": s, "target_error": options.target_error,
            "depth": depth, "levels": level_facts, "features_per_dim": 1.0,
            "layer_of_gate": [level_of_signal[n] for n in circuit.gate_signals]}
    return CompiledCircuit(
        name=circuit.name, input_names=list(circuit.input_names), gate_names=circuit.gate_names,
        output_names=circuit.output_names, layers=builder.layers,
        gate_readout=_readout(gate_rows, builder.widths), output_readout=_readout(output_rows, builder.widths),
        meta=meta, program=circuit)


def _negate(lit: Lit | bool) -> Lit | bool:
    return (not lit) if isinstance(lit, bool) else ~lit


def _signal_readout(lit: Lit | bool, estimate_at: dict[int, tuple[int, Affine]]) -> tuple[int, Affine]:
    if isinstance(lit, bool):
        return 0, ({}, float(lit))
    layer, (row, bias) = estimate_at[lit.signal]
    return (layer, ({u: -w for u, w in row.items()}, 1.0 - bias)) if lit.negated else (layer, (row, bias))


def _readout(rows: list[tuple[int, Affine]], widths: list[int]) -> Readout:
    entries: list[list[tuple[int, int, float]]] = [[] for _ in widths]
    for r, (layer, (row, _)) in enumerate(rows):
        entries[layer].extend((r, unit, w) for unit, w in row.items())
    return Readout.from_entries(entries, len(rows), widths, np.asarray([b for _, (_, b) in rows], np.float32))
