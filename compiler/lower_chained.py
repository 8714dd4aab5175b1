"""Chained superposed lowering: one superposed ReLU layer per level of gates.

Flattening every gate into a polynomial of its input features (lower_superposed)
explodes when supports grow with depth. Here level k reads the *wires* of level
k-1 (and carried inputs) instead. Each signal a level reads is an affine
readout of the previous layer, `rep[signal] = (row over h_{k-1}, bias)`, and a
neuron's weights over h_{k-1} are its feature weights times those readouts:
W = T_k . R_{k-1}. Every level has two plans:

- superposed: every gate is a polynomial of its own operand features (ORs as
  the sum of their literals). Pairwise ANDs that only need to be right after
  thresholding go on shared hub neurons (hub_packing.pack_pairs /
  hub_layer, with hub weight = the most features of the level seen on at once).
  Pairs are then measured on the compiled weights, on the inputs of the gates
  whose reports they decide (ProbeSamples: every support pattern of a gate that
  has few, stratified samples otherwise), and any pair that fails in one
  probing gate's inputs moves to an exact neuron. Error control
  (`control=True`): a hub estimate is not a clean 0/1 value (-1/3 when false,
  1/3 on a single misfire, above 1 when extra leaves are on), so every noisy
  wire a later level reads goes through a threshold reset
      clean(g) = ReLU(3g - 1) - ReLU(3g - 2)
  (exactly 0 for g <= 1/3 and 1 for g >= 2/3) in a reset layer that copies the
  other live wires. With `control=False` (naive chaining) the next level reads
  the raw estimates.
- exact: one neuron per AND or OR of literals, clean values in and out, no
  reset layer.

`superpose="auto"` takes the superposed plan only where it has fewer neurons
(its reset layer included), "always" takes it everywhere (and naive chaining
always does). Linear terms and signals needed later are carried by one neuron
each, ReLU(f) = f on clean {0, 1} values. Gate readouts read each gate from the
layer where it is computed; meta.levels records every level's plan, costs
and measurements.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from superpose.compiler.co_activity import neighbourhoods_of
from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit, Op, resolve_buffers
from superpose.compiler.hub_packing import (CONSTANT, choose_danger_limit, hub_layer, monomial_readers, pack_pairs,
                                            pair_errors, pair_roles, tolerates_thresholding, without_pairs)
from superpose.compiler.multilinear import complement, count_patterns, node_polynomial
from superpose.compiler.packed_truth import packed_truth
from superpose.compiler.sampling import every_support_pattern, sample_gate
from superpose.compiler.lowering import (Affine, check_target_error, combine, csr_entries, negate,
                                         readout_from_affines, relu_layer)
from superpose.metadata import CircuitMeta
from superpose.network import THRESHOLD, CompiledCircuit, Layer
from superpose.neurons import NeuronRole, literal_reads, table_to_json

MAX_OPERANDS = 12          # a gate's polynomial over its operands has up to 2^n terms
# clean(g) is exactly 0 at or below RESET_LOW and 1 at or above RESET_HIGH: a hub
# estimate that is right after thresholding is <= 1/3 when false (-1/3, or 1/3 on a
# single misfire) and >= 2/3 when true (a - AND(a, x) is 2/3 on a single misfire)
RESET_LOW, RESET_HIGH = 1.0 / 3.0, 2.0 / 3.0
# Probes of a level's wires: stratified samples of the gates whose reports they decide
PROBE_PATTERNS = 256       # a probing gate with at most this many support patterns is probed on each
PROBE_SAMPLES = 16         # else on this many samples; one miss in a block is a 6% rate, so any miss fails
PROBED_DEEPER = 256        # deeper gates with more patterns sampled per level
UNIFORM_PROBES = 2000      # uniform s-sparse inputs among every level's probes (wire sparsity, pair repair)
PROBE_CHUNK = 8192         # probe samples read through a hub layer at a time (bounds memory)
# probe samples whose truth is built at a time: packed_truth holds every signal of the touched parts for its
# rows (about 80 per row on circuits-T) before the level's wires are picked out, which for all the probes at
# once outgrew 23 GB at T = 4,000 (naive; probes and signals both grow with T)
PROBE_TRUTH_ROWS = 1 << 18
NEAR_STREAM = 1            # the random stream of a gate's neighbourhood-fill probes (beside its uniform ones)
HUB_MIN_PAIRS = 16         # fewer pairs than this in a level: exact neurons are as cheap and exact
# The share of the target a level's hub packing aims its predicted worst pair at. The probes (both fills)
# decide which pairs stay, so no safety margin is needed: measured with every level superposed, aiming at
# the target itself (1.0) rather than half of it (hub_packing.PREDICTION_SHARE) took 3,022 neurons instead
# of 3,907 on chain_circuit(3, 512, 256, seed 3) and 3,677 instead of 3,977 on circuits_circuit(128, 3
# levels), every gate within 1% under both fills (400 samples, 40 worst re-measured).
PREDICTION_SHARE = 1.0



LEVEL_PLANS = ("auto", "always")  # ChainOptions.superpose


@dataclass(frozen=True)
class ChainOptions:
    """Options of strategy "chained"."""
    target_error: float = 0.01   # per-pair error aimed at by the hub packing of every level
    control: bool = True         # threshold resets between levels; False: naive chaining
    superpose: str = "auto"      # "auto": a level is superposed only when that takes fewer
                                 # neurons than exact ones (resets included); "always"

    def __post_init__(self) -> None:
        check_target_error(self.target_error)
        if self.superpose not in LEVEL_PLANS:
            raise CompileError(f"superpose must be one of {', '.join(LEVEL_PLANS)}, not {self.superpose!r}")


def _resolve(circuit: Circuit) -> list[Lit | bool]:
    """For every signal, the literal of a non-BUF, non-CONST signal it equals,
    or a bool for a constant."""
    folded: list[Lit | bool] = []
    for lit in resolve_buffers(circuit):
        node = circuit.node_of(lit.signal)
        folded.append(bool(node.k) != lit.negated if node is not None and node.op is Op.CONST else lit)
    return folded


def local_polynomial(circuit: Circuit, signal: int, base: list[Lit | bool],
                     sum_or: bool = True) -> dict[tuple[int, ...], float]:
    """The gate `signal` as a multilinear polynomial of the signals it reads
    (monomials are sorted tuples of signals; () is the constant). With
    `sum_or`, an OR is the sum of its literals (right after thresholding and a
    reset, and needs no product); otherwise every gate is its exact polynomial."""
    node = circuit.node_of(signal)
    operands = _operand_literals(circuit, signal, base)
    variables = sorted({o.signal for o in operands if isinstance(o, Lit)})
    if len(variables) > MAX_OPERANDS:
        raise CompileError(f"gate {node.name or signal} reads {len(variables)} signals: too many to chain")
    if sum_or and node.op is Op.OR and len(variables) > 1:  # the sum of the literals, right after thresholding
        poly: dict[tuple[int, ...], float] = {}
        for o in operands:
            if isinstance(o, bool):
                poly[()] = poly.get((), 0.0) + o
            else:
                poly[()] = poly.get((), 0.0) + o.negated
                poly[(o.signal,)] = poly.get((o.signal,), 0.0) + (-1.0 if o.negated else 1.0)
        return {t: c for t, c in poly.items() if c}
    literals = [({(): 1} if o else {}) if isinstance(o, bool)
                else complement({(o.signal,): 1}) if o.negated else {(o.signal,): 1} for o in operands]
    terms = node_polynomial(node.op, node.k, literals, max_active=len(variables))  # not truncated
    # in the order of the gate's truth table over `variables`, first variable most significant
    return {t: float(terms[t]) for t in sorted(terms, key=lambda t: [v in t for v in variables])}


def _operand_literals(circuit: Circuit, signal: int, base: list[Lit | bool]) -> list[Lit | bool]:
    """The operands of gate `signal` with BUFs and constants folded in."""
    operands = []
    for o in circuit.node_of(signal).operands:
        b = base[o.signal]
        operands.append((b != o.negated) if isinstance(b, bool) else (~b if o.negated else b))
    return operands


class ProbeSamples:
    """The probe inputs of each gate under each fill of co_activity.FILLS
    (its support patterns, or stratified samples from compiler.sampling),
    drawn once per compilation and shared by every level that probes with
    that gate."""

    def __init__(self, circuit: Circuit, seed: int):
        self.circuit, self.seed = circuit, seed
        self.supports = circuit.supports()
        self._drawn: dict[int, sp.csr_matrix] = {}
        self._near: dict[int, sp.csr_matrix] = {}

    def enumerable(self, gate: int) -> bool:
        """Whether the gate has at most PROBE_PATTERNS support patterns."""
        return count_patterns(len(self.supports[gate]), self.circuit.sparsity) <= PROBE_PATTERNS

    def of(self, gate: int) -> sp.csr_matrix:
        """(n, n_inputs) CSR inputs: every pattern of the gate's support (each
        completed with random features outside it) when it is enumerable, else
        PROBE_SAMPLES from the gate's distribution."""
        if gate not in self._drawn:
            rng = np.random.default_rng([self.seed, gate])  # the same samples whichever level asks first
            support, s = sorted(self.supports[gate]), self.circuit.sparsity
            self._drawn[gate] = (every_support_pattern(self.circuit, support, s, rng) if self.enumerable(gate)
                                 else sample_gate(self.circuit, gate, support, PROBE_SAMPLES, s, rng).inputs)
        return self._drawn[gate]

    def near(self, gate: int) -> sp.csr_matrix:
        """(n, n_inputs) CSR inputs of the gate's stratified distribution under
        the neighbourhood fill (co_activity.py: the free slots drawn partly
        from the inputs that share a gate with its support), as many as `of`
        gives: the report's default fill, whose systematic co-activity the
        uniform completions of `of` almost never draw."""
        if gate not in self._near:
            rng = np.random.default_rng([self.seed, gate, NEAR_STREAM])
            support, s = sorted(self.supports[gate]), self.circuit.sparsity
            n = count_patterns(len(support), s) if self.enumerable(gate) else PROBE_SAMPLES
            self._near[gate] = sample_gate(self.circuit, gate, support, n, s, rng,
                                           neighbourhood=neighbourhoods_of(self.circuit).of(support)).inputs
        return self._near[gate]


def probe_gates(levels: np.ndarray, computed: list[int], k: int, samples: ProbeSamples,
                rng: np.random.Generator) -> list[int]:
    """The gates whose distributions probe the wires level k reads: every gate
    of level k (the distribution its own report uses) and of level k + 1 (the
    first readers of its outputs), every deeper gate with enumerable support
    patterns, and PROBED_DEEPER random deeper ones among the rest.

    A deep gate's distribution puts its mass on the few patterns of its own
    support, so a misfire that one of them triggers upstream is a systematic
    error of that gate, however rare it is elsewhere: hence every pattern."""
    near = [n for n in computed if levels[n] in (k, k + 1)]
    small, large = [], []
    for n in computed:
        if levels[n] > k + 1:
            (small if samples.enumerable(n) else large).append(n)
    picked = rng.choice(large, size=min(PROBED_DEEPER, len(large)), replace=False) if large else []
    return near + small + sorted(int(n) for n in picked)


def probe_wires(circuit: Circuit, signals: list[int], gates: list[int], samples: ProbeSamples,
                rng: np.random.Generator, uniform: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """The values of `signals` on uniform s-sparse inputs and on the samples of
    the probing gates under both fills: the inputs a level's wires actually
    meet. Returns (n_samples, len(signals)) bool CSR and each sample's block,
    (n_samples,) int: 0 for the uniform ones, i + 1 for those of gates[i]
    under the uniform fill, len(gates) + i + 1 under the neighbourhood fill
    (a pair's error is its worst block's: the worst of the two fills)."""
    s, m = circuit.sparsity, circuit.n_inputs
    on = np.argsort(rng.random((uniform, m)), axis=1)[:, :s]
    blocks = [sp.csr_matrix((np.ones(on.size, bool), on.ravel(), np.arange(0, on.size + 1, s)), shape=(uniform, m))]
    blocks += [samples.of(g) for g in gates] + [samples.near(g) for g in gates]
    inputs = sp.vstack(blocks, format="csr")
    prefix = Circuit(circuit.name, circuit.input_names, circuit.nodes[:max(signals) + 1 - m])  # topological
    block = np.repeat(np.arange(len(blocks)), [b.shape[0] for b in blocks])
    truth = [packed_truth(prefix, inputs[i:i + PROBE_TRUTH_ROWS])[:, signals]
             for i in range(0, inputs.shape[0], PROBE_TRUTH_ROWS)]
    return sp.vstack(truth, format="csr"), block


def measured_pair_errors(rows: list[dict[int, float]], biases: list[float],
                         estimate: dict[tuple[int, int], list[tuple[int, float]]],
                         values: sp.csr_matrix, block: np.ndarray) -> dict[tuple[int, int], float]:
    """The worst misclassification rate of every hub pair over the probe blocks
    (one block per probing gate's distribution), among the samples of a block
    where one of the pair's features is on. Per block, because a consumer's
    distribution can turn a misfire on systematically that the pooled rate
    would dilute. values: (n, n_features) bool CSR; block: (n,) int.

    Only those (sample, pair) cells count, and hub biases are negative
    (hub_layer), so a neuron is lit only on samples with one of its features
    on: everything is computed on sparse cells, in time linear in the probes
    (a dense (samples, pairs) block per chunk grew with the square of the
    circuit: circuits-T has both in proportion to T)."""
    n_pairs = len(estimate)
    weight = sp.csr_matrix((np.array([w for row in rows for w in row.values()], np.float32),
                            (np.array([f for row in rows for f in row], np.int64),
                             np.repeat(np.arange(len(rows)), [len(row) for row in rows]))),
                           shape=(values.shape[1], len(rows)))
    bias = np.asarray(biases, np.float32)
    if (bias > 0).any():
        raise ValueError("measured_pair_errors: a hub neuron with a positive bias is lit with no feature on")
    read_terms = [(j, i, w) for i, terms in enumerate(estimate.values()) for j, w in terms if j != CONSTANT]
    reads = sp.csr_matrix((np.array([w for _, _, w in read_terms], np.float32),
                           (np.array([j for j, _, _ in read_terms], np.int64),
                            np.array([i for _, i, _ in read_terms], np.int64))),
                          shape=(len(rows), n_pairs))  # hub neuron -> pair estimate
    offset = np.array([sum(w for j, w in terms if j == CONSTANT) for terms in estimate.values()], np.float32)
    pairs = list(estimate)
    members = np.array([f for pair in pairs for f in pair], np.int64)
    incidence = sp.csr_matrix((np.ones(members.size, np.float32), (members, np.repeat(np.arange(n_pairs), 2))),
                              shape=(values.shape[1], n_pairs))  # feature -> the pairs it belongs to
    n_blocks = int(block.max(initial=0)) + 1
    keys, relevant, wrong = [], [], []
    for i in range(0, values.shape[0], PROBE_CHUNK):
        chunk = values[i:i + PROBE_CHUNK].astype(np.float32)
        lit = (chunk @ weight).tocsr()
        lit.data = np.maximum(lit.data + bias[lit.indices], 0.0)
        est = (lit @ reads).tocsr()
        seen = (chunk @ incidence).tocoo()  # (chunk, pairs): how many of the pair's features are on, where any is
        missed = (csr_entries(est, seen.row, seen.col) + offset[seen.col] > THRESHOLD) != (seen.data == 2)
        cell, where = np.unique(seen.col.astype(np.int64) * n_blocks + block[i + seen.row], return_inverse=True)
        keys.append(cell)
        relevant.append(np.bincount(where, minlength=cell.size))
        wrong.append(np.bincount(where, weights=missed, minlength=cell.size))
    cell, where = np.unique(np.concatenate(keys or [np.zeros(0, np.int64)]), return_inverse=True)
    seen_count = np.bincount(where, weights=np.concatenate(relevant or [np.zeros(0)]), minlength=cell.size)
    wrong_count = np.bincount(where, weights=np.concatenate(wrong or [np.zeros(0)]), minlength=cell.size)
    worst = np.zeros(n_pairs)
    np.maximum.at(worst, cell // n_blocks, np.divide(wrong_count, seen_count, where=seen_count > 0,
                                                      out=np.zeros(cell.size)))
    return dict(zip(pairs, worst.tolist()))


@dataclass
class _LevelPlan:
    """The gates layer of one level: its neuron rows (affine over the previous
    layer), each gate's value (affine over this layer's units), the unit
    carrying each carried signal, and the gates whose values are noisy (a reset
    must clean them before a later level reads them); roles: what each row's
    neuron serves (superpose.neurons)."""
    rows: list[Affine]
    roles: list[NeuronRole]
    values: dict[int, Affine]
    carried: dict[int, int]
    noisy: set[int]

    @property
    def width(self) -> int:
        return len(self.rows)


def _literal_affine(lit: Lit, rep: dict[int, Affine]) -> Affine:
    return negate(rep[lit.signal]) if lit.negated else rep[lit.signal]


def _add_products(rows: list[Affine], roles: list[NeuronRole], monomials, rep: dict[int, Affine],
                  readers: dict[tuple[int, ...], set[int]]) -> dict[tuple[int, ...], list[tuple[int, float]]]:
    """An exact neuron ReLU(sum - (degree - 1)) per monomial, serving its
    readers; how each is read."""
    estimate = {}
    for t in monomials:
        estimate[t] = [(len(rows), 1.0)]
        rows.append(combine([(1.0, rep[v]) for v in t], -(len(t) - 1.0)))
        roles.append(NeuronRole("product", tuple(sorted(readers[t])), tuple((v, 1.0) for v in t), -(len(t) - 1.0)))
    return estimate


def _add_carried(rows: list[Affine], roles: list[NeuronRole], signals: set[int],
                 rep: dict[int, Affine]) -> dict[int, int]:
    """One neuron per carried signal, ReLU(f) = f on clean {0, 1} values."""
    carried = {}
    for v in sorted(signals):
        carried[v] = len(rows)
        rows.append(rep[v])
        roles.append(NeuronRole("carry", (v,), ((v, 1.0),), 0.0))
    return carried


def _polynomial_values(gates: list[int], polys: dict[int, dict[tuple[int, ...], float]],
                       estimate: dict[tuple[int, ...], list[tuple[int, float]]],
                       carried: dict[int, int]) -> dict[int, Affine]:
    """Each gate's polynomial with its monomials read from their neurons."""
    values = {}
    for n in gates:
        row: dict[int, float] = {}
        bias = polys[n].get((), 0.0)
        for t, c in polys[n].items():
            terms = [(carried[t[0]], 1.0)] if len(t) == 1 else estimate[t] if t else []
            for unit, w in terms:
                if unit == CONSTANT:
                    bias += c * w
                else:
                    row[unit] = row.get(unit, 0.0) + c * w
        values[n] = (row, bias)
    return values


def _exact_plan(circuit: Circuit, gates: list[int], base: list[Lit | bool], rep: dict[int, Affine],
                later: set[int]) -> _LevelPlan:
    """One exact neuron per AND or OR of two or more literals, ReLU(sum l - (n - 1))
    and 1 - ReLU(1 - sum l); other gates as exact polynomials. Clean values in,
    clean values out: no reset needed."""
    rows: list[Affine] = []
    roles: list[NeuronRole] = []
    values: dict[int, Affine] = {}
    polys = {}
    for n in gates:
        op, lits = circuit.node_of(n).op, _operand_literals(circuit, n, base)
        if op in (Op.AND, Op.OR) and len(lits) >= 2 and all(isinstance(l, Lit) for l in lits):
            total = [(1.0, _literal_affine(l, rep)) for l in lits]
            if op is Op.AND:
                rows.append(combine(total, -(len(lits) - 1.0)))
                roles.append(NeuronRole("gate", (n,), *literal_reads(lits, 1.0, -(len(lits) - 1.0)), "and"))
                values[n] = ({len(rows) - 1: 1.0}, 0.0)
            else:
                rows.append(combine([(-c, a) for c, a in total], 1.0))
                roles.append(NeuronRole("gate", (n,), *literal_reads(lits, -1.0, 1.0), "nor"))
                values[n] = ({len(rows) - 1: -1.0}, 1.0)
        else:
            polys[n] = local_polynomial(circuit, n, base, sum_or=False)
    readers = monomial_readers(list(polys.values()), list(polys))
    estimate = _add_products(rows, roles, sorted(readers), rep, readers)
    carried = _add_carried(rows, roles, {t[0] for poly in polys.values() for t in poly if len(t) == 1} | later, rep)
    values.update(_polynomial_values(list(polys), polys, estimate, carried))
    return _LevelPlan(rows, roles, values, carried, set())


def _hub_pairs(gates: list[int], polys: dict[int, dict[tuple[int, ...], float]]) -> set[tuple[int, ...]]:
    """The pairwise products of a level that only need to be right after thresholding."""
    valued = {t for n in gates if not tolerates_thresholding(polys[n]) for t in polys[n]}
    return {t for n in gates for t in polys[n] if len(t) == 2 and t not in valued}


def _noisy_candidates(circuit: Circuit, gates: list[int], pairs: set[tuple[int, ...]],
                      polys: dict[int, dict[tuple[int, ...], float]]) -> set[int]:
    """Gates whose superposed value would be noisy: ORs (a sum) and readers of hub pairs."""
    return {n for n in gates if circuit.node_of(n).op is Op.OR or any(t in pairs for t in polys[n])}


def _next_readouts(plan: _LevelPlan, later: set[int], read_later: set[int],
                   control: bool) -> tuple[dict[int, Affine], list[Affine], list[NeuronRole], int]:
    """What the next level reads after `plan`: (the readout of every live
    signal, the rows of the reset layer and their roles, the number of wires
    it cleans). With
    `control` and a noisy value read later, a reset layer cleans each noisy
    wire, clean(g) = ReLU(3g - 1) - ReLU(3g - 2), and copies every other live
    wire, and the readouts are over it; otherwise there is no reset layer and
    they are over the plan's layer."""
    readouts: dict[int, Affine] = {v: ({plan.carried[v]: 1.0}, 0.0) for v in later}
    readouts.update({n: plan.values[n] for n in read_later})
    resets = plan.noisy & read_later if control else set()
    if not resets:
        return readouts, [], [], 0
    rows: list[Affine] = []
    roles: list[NeuronRole] = []
    cleaned: dict[int, Affine] = {}
    slope = 1.0 / (RESET_HIGH - RESET_LOW)
    for v, affine in readouts.items():
        if v in resets:
            cleaned[v] = ({len(rows): 1.0, len(rows) + 1: -1.0}, 0.0)
            for part, threshold in (("low", RESET_LOW), ("high", RESET_HIGH)):
                rows.append(combine([(slope, affine)], -slope * threshold))
                roles.append(NeuronRole("reset", (v,), ((v, slope),), -slope * threshold, part))
        else:
            cleaned[v] = ({len(rows): 1.0}, 0.0)
            rows.append(affine)
            roles.append(NeuronRole("copy", (v,), ((v, 1.0),), 0.0))
    return cleaned, rows, roles, len(resets)


def _superposed_plan(circuit: Circuit, k: int, gates: list[int], polys: dict[int, dict[tuple[int, ...], float]],
                     rep: dict[int, Affine], later: set[int], wanted: set[tuple[int, ...]], features: list[int],
                     levels: np.ndarray, computed: list[int], samples: ProbeSamples, rng: np.random.Generator,
                     options: ChainOptions) -> tuple[_LevelPlan, dict]:
    """Pairwise products on shared hub neurons, repaired by measurement; other
    products on exact neurons; ORs as sums of literals."""
    local = {v: i for i, v in enumerate(features)}
    monomials = sorted({t for n in gates for t in polys[n] if len(t) >= 2})
    pairs = [tuple(local[v] for v in t) for t in monomials if t in wanted]
    higher = [t for t in monomials if t not in wanted]
    if len(pairs) < HUB_MIN_PAIRS:
        higher, pairs = monomials, []
    rows: list[Affine] = []
    roles: list[NeuronRole] = []
    readers = monomial_readers([polys[n] for n in gates], gates)
    estimate: dict[tuple[int, ...], list[tuple[int, float]]] = {}
    facts: dict = {"features": len(features), "hub_pairs": len(pairs)}
    if pairs:
        probes, block = probe_wires(circuit, features, probe_gates(levels, computed, k, samples, rng), samples, rng,
                                    UNIFORM_PROBES)
        wire_count = int(np.asarray(probes.sum(axis=1)).max(initial=0))
        weight = max(circuit.sparsity, wire_count)
        limit = choose_danger_limit(pairs, options.target_error, len(features), weight, share=PREDICTION_SHARE)
        # Measurement decides: pairs that fail on the probes leave their hub
        # neurons for exact ones. Leaving only lowers the others' preactivations
        # (weights are non-negative), so one repair round suffices on these probes.
        neurons = pack_pairs(pairs, limit)
        measured = measured_pair_errors(*hub_layer(neurons, weight), probes, block)
        failing = {p for p, e in measured.items() if e > options.target_error}
        neurons = without_pairs(neurons, failing)
        higher += [tuple(features[f] for f in p) for p in sorted(failing)]
        hub_rows, hub_biases, hub_estimate = hub_layer(neurons, weight)
        # the kept pairs' rates before the removal bound them after it: no second pass over the probes
        kept = [e for p, e in measured.items() if p not in failing]
        predicted = pair_errors(neurons, len(features), weight)
        for row, b in zip(hub_rows, hub_biases):
            rows.append(combine([(w, rep[features[f]]) for f, w in row.items()], b))
        local_readers = {tuple(local[v] for v in t): gates_reading for t, gates_reading in readers.items()}
        roles.extend(pair_roles("hub", hub_rows, hub_biases, hub_estimate, [n.hubs for n in neurons], features,
                                local_readers))
        for pair, terms in hub_estimate.items():
            estimate[tuple(features[f] for f in pair)] = terms
        facts.update(wire_sparsity=wire_count, probe_samples=probes.shape[0], danger_limit=limit,
                     hub_neurons=len(hub_rows), pairs_moved_to_exact=len(failing),
                     measured_max_pair_error=max(kept, default=0.0),
                     predicted_max_pair_error=max(predicted.values(), default=0.0))
    estimate.update(_add_products(rows, roles, higher, rep, readers))
    facts["exact_products"] = len(higher)
    carried = _add_carried(rows, roles, {t[0] for n in gates for t in polys[n] if len(t) == 1} | later, rep)
    values = _polynomial_values(gates, polys, estimate, carried)
    on_hubs = {t for t, terms in estimate.items() if len(terms) > 1}
    return _LevelPlan(rows, roles, values, carried, _noisy_candidates(circuit, gates, on_hubs, polys)), facts


class _Builder:
    """Layers under construction, and the width of every activation so far."""

    def __init__(self, m: int):
        self.layers: list[Layer] = []
        self.widths = [m]

    def add_layer(self, rows: list[Affine], kind: str) -> int:
        """Add ReLU(row . h_last + bias) for every row; return the new activation index."""
        self.layers.append(relu_layer(rows, self.widths[-1], kind))
        self.widths.append(len(rows))
        return len(self.widths) - 1


def lower_chained(circuit: Circuit, options: ChainOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Lower `circuit` (which must declare sparsity) level by level into superposed layers."""
    s = circuit.sparsity
    if s is None:
        raise CompileError("strategy 'chained' needs a sparsity: declare 'sparsity s' in the program")
    m = circuit.n_inputs
    base = _resolve(circuit)
    levels = circuit.levels()
    computed = [n for n in range(m, circuit.n_signals) if base[n] == Lit(n)]
    polys = {n: local_polynomial(circuit, n, base) for n in computed}
    depth = int(max((levels[n] for n in computed), default=0))
    last_use = {}  # signal -> deepest level that reads it
    for n in computed:  # every operand: the exact plan reads them all, the polynomial perhaps fewer
        for lit in _operand_literals(circuit, n, base):
            if isinstance(lit, Lit):
                last_use[lit.signal] = max(last_use.get(lit.signal, 0), int(levels[n]))
    features_of = {k: sorted({v for n in computed if levels[n] == k for t in polys[n] for v in t})
                   for k in range(1, depth + 1)}

    always = options.superpose == "always" or not options.control  # naive chaining: the stacked construction
    builder = _Builder(m)
    samples = ProbeSamples(circuit, int(rng.integers(2**32)))
    rep: dict[int, Affine] = {i: ({i: 1.0}, 0.0) for i in range(m)}  # signal -> readout of the last layer
    estimate_at: dict[int, tuple[int, Affine]] = {i: (0, ({i: 1.0}, 0.0)) for i in range(m)}
    level_facts = []
    table: list[list[NeuronRole]] = []  # the roles of every layer's neurons
    for k in range(1, depth + 1):
        gates = [n for n in computed if levels[n] == k]
        later = {v for v in rep if last_use.get(v, 0) > k}  # signals read again after this level
        read_later = {n for n in gates if last_use.get(n, 0) > k}
        exact = _exact_plan(circuit, gates, base, rep, later)
        plan, facts = exact, {"level": k, "gates": len(gates), "plan": "exact"}
        if always or options.control:
            pairs_wanted = _hub_pairs(gates, polys)
            # a superposed level needs a reset layer that copies every live wire,
            # so it cannot beat the exact plan unless it saves more than that
            floor = len(later | read_later) if read_later & _noisy_candidates(circuit, gates, pairs_wanted, polys) else 0
            if always or len(pairs_wanted) > floor:
                superposed, facts_sup = _superposed_plan(circuit, k, gates, polys, rep, later, pairs_wanted,
                                                         features_of[k], levels, computed, samples, rng, options)
                cost = superposed.width + len(_next_readouts(superposed, later, read_later, options.control)[1])
                facts.update(facts_sup, superposed_neurons=cost, exact_neurons=exact.width)
                if always or cost < exact.width:
                    plan, facts["plan"] = superposed, "superposed"
        layer = builder.add_layer(plan.rows, "gates")
        table.append(plan.roles)
        for n in gates:
            estimate_at[n] = (layer, plan.values[n])
        rep, reset_rows, reset_roles, reset_wires = _next_readouts(plan, later, read_later, options.control)
        if reset_rows:
            builder.add_layer(reset_rows, "reset")
            table.append(reset_roles)
        facts.update(product_neurons=plan.width - len(plan.carried), carried=len(plan.carried),
                     reset_wires=reset_wires, reset_neurons=len(reset_rows), neurons=plan.width + len(reset_rows))
        facts["gates_per_neuron"] = len(gates) / facts["neurons"] if facts["neurons"] else math.nan
        level_facts.append(facts)

    meta = CircuitMeta("chained", "chained", s, target_error=options.target_error, control=options.control,
                       depth=depth, levels=level_facts, neurons=table_to_json(table))
    return assemble(circuit, base, levels, estimate_at, builder, meta)


def assemble(circuit: Circuit, base: list[Lit | bool], levels: np.ndarray, estimate_at: dict[int, tuple[int, Affine]],
             builder: _Builder, meta: CircuitMeta) -> CompiledCircuit:
    """The compiled circuit of a level-by-level lowering: every gate and output
    read from the layer where it is computed (estimate_at: signal -> (layer,
    readout)); meta.layer_of_gate records that layer, by the gate's level."""
    gate_rows = [_signal_readout(base[n], estimate_at) for n in circuit.gate_signals]
    output_rows = [_signal_readout(base[lit.signal] if not lit.negated else _negate(base[lit.signal]), estimate_at)
                   for _, lit in circuit.outputs]
    level_of_signal = {n: (int(levels[b.signal]) if isinstance(b, Lit) else 0) for n, b in enumerate(base)}
    meta.layer_of_gate = [level_of_signal[n] for n in circuit.gate_signals]
    return CompiledCircuit(
        name=circuit.name, input_names=list(circuit.input_names), gate_names=circuit.gate_names,
        output_names=circuit.output_names, layers=builder.layers,
        gate_readout=readout_from_affines(gate_rows, builder.widths),
        output_readout=readout_from_affines(output_rows, builder.widths),
        meta=meta, program=circuit)


def _negate(lit: Lit | bool) -> Lit | bool:
    return (not lit) if isinstance(lit, bool) else ~lit


def _signal_readout(lit: Lit | bool, estimate_at: dict[int, tuple[int, Affine]]) -> tuple[int, Affine]:
    if isinstance(lit, bool):
        return 0, ({}, float(lit))
    layer, value = estimate_at[lit.signal]
    return layer, negate(value) if lit.negated else value
