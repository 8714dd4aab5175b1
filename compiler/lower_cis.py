"""The Circuits in Superposition 2 baseline (Linsefors & Bushnaq 2025), for
boolean programs: `--strategy cis`. Implemented from the post's description
(research/theory.md §2b-c), as the published construction to measure against.

The T small circuits are the program's independent sub-circuits: the weakly
connected components of its gate DAG (gates joined by the signals they read).
Each is lowered exactly (lower_exact: one set of neurons per gate per level,
carried copies where a later level reads a value) into its *small network*;
small layer l of every component lives in large layer l.

1. On-indicators. Each component gets a small neuron per layer saying whether
   it is active (some input of its own is on): in layer 1 as
   ReLU(c) - ReLU(c - 1) (two small neurons, c = the count of its inputs on),
   then carried as ReLU((1 + SILENCE) i - SILENCE).
2. Spreading. Every small neuron of a layer gets S large neurons of that layer
   (`spread`), from arithmetic progressions whose steps have no prime factor
   below S, so that any two small neurons share at most one large neuron and
   two of one component share none (`assign_neurons`: they are active
   together, so a shared neuron would be a systematic error, the part CiS2's
   blocks of one neuron index play); which component gets which progressions
   is shuffled with the seed. A large neuron's pre-activation is the sum of those of the
   small neurons it hosts; a small neuron is read back as the mean of its S
   large neurons.
3. Silencing (layers >= 2). A large neuron has one bias, -SILENCE; each hosted
   small neuron brings its own bias through its component's on-indicator,
   (b + SILENCE) * indicator, and reads the values below it as deviations from
   their values with the component off. An inactive component's neurons then
   sit at -SILENCE and ReLU deletes what leaks into them from the active ones;
   an active one's are exact unless a large neuron is shared with another
   active small neuron (at most one of its S).
   Layer 1 reads the exact inputs: there, small neurons are grouped into blocks
   by bias (each block its own share of the width, one bias per block), and an
   inactive component sits at its resting value exactly.
4. Mean-corrected unembedding. Collisions add one-signed (positive) values, so
   a gate's readout reads its small neurons as
   (1/S) * (sum of its S large neurons) + c * [(sum of its S) - (sum of the
   whole layer)], c = p / ((S - p) S), p = the probability that two small
   neurons share a large neuron (theory.md §2b): CiS2's (1/S + c) on its own
   neurons and -c on all. The bracket is taken relative to its value with every
   input off (layer 1 rests at its positive biases, later layers at 0). The layer's sum is one
   extra neuron (all ones) in the next layer, and a last layer of that one
   neuron after the deepest. Between layers reads are plain means: the
   correction there is a dense rank-one term (width^2 weights per layer) that
   would make the network dense. A gate of a silenced component reads its
   resting value through the on-indicator: readout + resting readout * (1 - indicator).

The closed-form error of CiS2, expected_mse(l) = l (z - 1)/Dod +
(l - 1)(1 + b) z T / Dod^2 (Dod = D / d), is stored per level in
meta.levels with d = the most small neurons of one component in a layer
(on-indicators included), D = the layer's width, z = min(sparsity, T) (an input
activates one component), b = the largest |bias| of a small neuron. It predicts
the mean squared error of a small neuron's value, which `superpose report`
prints next to the measured mean squared readout error of the gates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit, Lit, Node, Op, connected_signals
from superpose.compiler.lower_exact import lower_exact
from superpose.metadata import CircuitMeta
from superpose.network import CompiledCircuit, Layer, Readout

SILENCE = 0.5  # an inactive component's small neurons sit this far below zero (layers >= 2); the
# indicator is carried as ReLU((1 + SILENCE) i - SILENCE), so its noise grows (1 + SILENCE)-fold per layer:
# with 0.5 the level-8 mean error of circuits-T (T = 128, width 1,500, before components were kept
# apart) was 22% against 34% with 1.0


@dataclass(frozen=True)
class CisOptions:
    """Options of strategy "cis", the CiS2 baseline."""
    spread: int = 5             # S: large neurons per small neuron (the post's demo uses 5)
    width: int | None = None    # D: large neurons per layer; default: the narrowest that holds every layer

    def __post_init__(self) -> None:
        if self.spread < 1:
            raise CompileError(f"spread must be at least 1, got {self.spread}")
        if self.width is not None and self.width < self.spread:
            raise CompileError(f"width must be at least spread ({self.spread}), got {self.width}")


def components(circuit: Circuit) -> list[list[int]]:
    """The weakly connected components of the gate DAG: lists of node indices
    (into circuit.nodes), in node order, ordered by their first node."""
    label = connected_signals(circuit.n_signals, ((lit.signal, circuit.n_inputs + i)
                                                  for i, node in enumerate(circuit.nodes) for lit in node.operands))
    groups: dict[int, list[int]] = {}
    for i in range(len(circuit.nodes)):
        groups.setdefault(int(label[circuit.n_inputs + i]), []).append(i)
    return list(groups.values())


def _progression_steps(spread: int, width: int):
    """Steps with no prime factor below `spread`, smallest first, while a
    progression of `spread` terms fits in `width`."""
    small_primes = [p for p in range(2, spread) if all(p % q for q in range(2, p))]
    step = 1
    while step * (spread - 1) < width:
        if all(step % p for p in small_primes):
            yield step
        step += 1


def _progression_runs(spread: int, width: int):
    """Runs of pairwise disjoint progressions of `spread` terms in range(width):
    for each step with no prime factor below `spread` (smallest first) and
    each residue class, the progressions starting `spread` steps apart."""
    for step in _progression_steps(spread, width):
        for shift in range(step):
            starts = range(shift, width - step * (spread - 1), step * spread)
            if len(starts):
                yield [start + step * np.arange(spread) for start in starts]


def assign_neurons(group_sizes: list[int], spread: int, width: int) -> np.ndarray | None:
    """(sum(group_sizes), spread) large-neuron indices in range(width), any two
    rows sharing at most one, and the rows of one group (the small neurons of one
    component, active together) sharing none; None when they do not fit.

    Progressions with the same step in one residue class are disjoint; two
    different steps a, b share at most one term, since a second would need a
    multiple of b / gcd(a, b) >= spread terms. Each group takes consecutive
    progressions of one run. Step 1 comes first, so while the layer has room
    (sum(group_sizes) * spread <= width) no two rows meet at all."""
    rows: list[np.ndarray] = []
    runs = _progression_runs(spread, width)
    run: list[np.ndarray] = []
    for size in group_sizes:
        while len(run) < size:
            run = next(runs, None)
            if run is None:
                return None
        rows += run[:size]
        run = run[size:]
    return np.array(rows, dtype=np.int64).reshape(len(rows), spread)


def minimum_width(group_sizes: list[int], spread: int) -> int:
    """The narrowest layer that assign_neurons fits `group_sizes` into (in that order)."""
    low, high = spread, max(spread, sum(group_sizes) * spread)   # step 1 alone fits them at sum * spread
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if assign_neurons(group_sizes, spread, middle) is not None else (middle + 1, high)
    while assign_neurons(group_sizes, spread, low) is None:   # the greedy fit is not quite monotone in width
        low += 1
    return low


def width_for_neurons(neurons: int, depth: int) -> int:
    """The width D whose CiS network of `depth` layers has at most `neurons`
    neurons: depth layers of D, a layer-sum neuron in each but the first and
    one after the last, depth (D + 1) in all. Used to compare at equal neurons."""
    return max(1, neurons // depth - 1)


def overlap_probability(n_small: int, spread: int, width: int) -> float:
    """p: the probability that two small neurons of a layer share a large one
    (CiS2's expected overlap error times S, theory.md §2b)."""
    if width >= n_small * spread or n_small < 2:
        return 0.0
    return spread * (n_small * spread / width - 1) / (n_small - 1)


def expected_mse(level: int, z: int, n_circuits: int, dod: float, bias: float) -> float:
    """CiS2's closed-form mean squared error of a small neuron in layer `level`."""
    return level * (z - 1) / dod + (level - 1) * (1 + bias) * z * n_circuits / dod ** 2


@dataclass
class _Small:
    """One component lowered exactly: its sub-circuit, small network and resting state."""
    inputs: np.ndarray            # (n_local_inputs,) global input indices
    nodes: list[int]              # global node indices, in order
    network: CompiledCircuit      # lower_exact of the sub-circuit
    rest: list[np.ndarray]        # rest[l]: (width_l,) small layer l's values with every input off


def _lower_component(circuit: Circuit, nodes: list[int]) -> _Small:
    inputs = sorted({lit.signal for i in nodes for lit in circuit.nodes[i].operands if lit.signal < circuit.n_inputs})
    local = {s: j for j, s in enumerate(inputs)}
    local.update({circuit.n_inputs + i: len(inputs) + j for j, i in enumerate(nodes)})
    sub = Circuit(circuit.name, [circuit.input_names[s] for s in inputs])
    for i in nodes:
        node = circuit.nodes[i]
        sub.nodes.append(Node(node.op, tuple(Lit(local[l.signal], l.negated) for l in node.operands), node.k,
                              node.name or f"_node{i}"))
    network = lower_exact(sub)
    return _Small(np.asarray(inputs, dtype=np.int64), nodes, network,
                  _resting(network.layers, len(inputs)))


def lower_cis(circuit: Circuit, options: CisOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Lower a circuit of independent sub-circuits with the CiS2 construction
    (see the module docstring). The circuit has a sparsity (strategies.py
    checks); CompileError with fewer than two components."""
    smalls = [_lower_component(circuit, nodes) for nodes in components(circuit)]
    smalls = [s for s in smalls if s.network.layers]
    if len(smalls) < 2:
        raise CompileError(f"strategy 'cis' superposes independent sub-circuits, and {circuit.name} has "
                           f"{len(smalls)} (weakly connected components of its gates): it does not apply; "
                           f"use strategy 'chained' or the default")
    builder = _LargeNetwork(circuit, smalls, options, rng)
    return builder.build()


class _LargeNetwork:
    """Assembles the large layers from the small networks (one instance per compile)."""

    def __init__(self, circuit: Circuit, smalls: list[_Small], options: CisOptions, rng: np.random.Generator):
        self.circuit, self.smalls, self.spread = circuit, smalls, options.spread
        self.depth = max(len(s.network.layers) for s in smalls)
        # small neurons of large layer l (1-based): per component, its gate neurons then its on-indicator(s)
        self.offset: list[dict[int, int]] = [{} for _ in range(self.depth + 1)]    # component -> first index
        self.indicator: list[dict[int, list[tuple[int, float]]]] = [{} for _ in range(self.depth + 1)]
        self.n_small = [0] * (self.depth + 1)
        self.most_per_circuit = 0   # d of CiS2: the most small neurons of one component in a layer
        for layer in range(1, self.depth + 1):
            for t, small in enumerate(smalls):
                if len(small.network.layers) >= layer:
                    width = small.network.layers[layer - 1].width
                    self.offset[layer][t] = self.n_small[layer]
                    start = self.n_small[layer] + width
                    self.indicator[layer][t] = [(start, 1.0), (start + 1, -1.0)] if layer == 1 else [(start, 1.0)]
                    self.n_small[layer] = start + len(self.indicator[layer][t])
                    self.most_per_circuit = max(self.most_per_circuit, self.n_small[layer] - self.offset[layer][t])
        self.rng = rng
        self.component = [np.repeat(list(self.offset[l]), np.diff(list(self.offset[l].values()) + [self.n_small[l]]))
                          for l in range(self.depth + 1)]   # component of every small neuron of each layer
        bias = self._small_rows()[1]
        self.width = options.width or max(
            [sum(minimum_width(self._group_sizes(1, bias == b), self.spread) for b in np.unique(bias))]
            + [minimum_width(self._group_sizes(l), self.spread) for l in range(2, self.depth + 1)])

    def _group_sizes(self, layer: int, members: np.ndarray | None = None) -> list[int]:
        """Small neurons per component among `members` (a mask; default all) of
        a layer, largest first: the order in which _place assigns them."""
        owner = self.component[layer] if members is None else self.component[layer][members]
        return sorted(np.bincount(owner)[np.unique(owner)].tolist(), reverse=True)

    def _place(self, layer: int, members: np.ndarray, width: int) -> np.ndarray:
        """(members.sum(), spread) large neurons in range(width) for the masked
        small neurons of a layer: components placed largest first, in an order
        shuffled by the seed among components of one size."""
        owner = self.component[layer][members]
        present, sizes = np.unique(owner, return_counts=True)
        order = np.lexsort((self.rng.random(present.size), -sizes))        # rank -> index into present
        rank = np.empty(present.size, dtype=np.int64)
        rank[order] = np.arange(present.size)
        by_rank = np.argsort(rank[np.searchsorted(present, owner)], kind="stable")   # members grouped by rank
        rows = assign_neurons(sizes[order].tolist(), self.spread, width)
        if rows is None:
            raise CompileError(f"strategy 'cis': layer {layer}'s {owner.size:,} small neurons do not fit in "
                               f"{width:,} large neurons with spread {self.spread} and pairwise overlap <= 1: "
                               f"use a larger width (at least {minimum_width(sizes[order].tolist(), self.spread):,}) "
                               f"or a smaller spread")
        placed = np.empty_like(rows)
        placed[by_rank] = rows
        return placed

    def _small_rows(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """(n_small, n_inputs) weights and (n_small,) biases of large layer 1's
        small neurons, over the exact inputs."""
        rows, cols, vals, bias = [], [], [], np.zeros(self.n_small[1])
        for t, small in enumerate(self.smalls):
            first = self.offset[1][t]
            weight = small.network.layers[0].weight.tocoo()
            rows += (weight.row + first).tolist(); cols += small.inputs[weight.col].tolist()
            vals += weight.data.tolist()
            bias[first:first + weight.shape[0]] = small.network.layers[0].bias
            count_on, count_above_one = (i for i, _ in self.indicator[1][t])
            for unit in (count_on, count_above_one):
                rows += [unit] * small.inputs.size; cols += small.inputs.tolist(); vals += [1.0] * small.inputs.size
            bias[count_above_one] = -1.0
        return sp.csr_matrix((vals, (rows, cols)), shape=(self.n_small[1], self.circuit.n_inputs)), bias

    def _gated_rows(self, layer: int) -> tuple[sp.csr_matrix, np.ndarray]:
        """(n_small[layer], n_small[layer-1]) weights over the small values below
        (as read back from their large neurons) and (n_small[layer],) the
        constants -W rest: each small neuron reads deviations from rest, its bias
        and SILENCE through its component's on-indicator."""
        rows, cols, vals = [], [], []
        rest_shift = np.zeros(self.n_small[layer])
        below_first = self.offset[layer - 1]
        for t, first in self.offset[layer].items():
            small = self.smalls[t]
            weight = small.network.layers[layer - 1].weight.tocoo()
            rows += (weight.row + first).tolist(); cols += (weight.col + below_first[t]).tolist()
            vals += weight.data.tolist()
            rest_below = small.rest[layer - 1] if layer == 2 else np.zeros(weight.shape[1])
            resting = small.network.layers[layer - 1].weight @ rest_below
            rest_shift[first:first + weight.shape[0]] = -resting
            gate = small.network.layers[layer - 1].bias + resting + SILENCE
            own_indicator = self.indicator[layer][t][0][0]
            for unit, through in [(first + j, gate[j]) for j in range(weight.shape[0])] + [(own_indicator, 1.0 + SILENCE)]:
                for below, sign in self.indicator[layer - 1][t]:
                    rows.append(unit); cols.append(below); vals.append(sign * through)
        shape = (self.n_small[layer], self.n_small[layer - 1])
        return sp.csr_matrix((vals, (rows, cols)), shape=shape), rest_shift

    def _blocks_by_bias(self, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Large layer 1: ((n_small, spread) large neurons of each small neuron,
        (width,) biases): one block of the width per distinct small bias, sized
        by its share of the small neurons beyond the least it needs, with that bias."""
        values = np.unique(bias)
        counts = np.array([(bias == b).sum() for b in values])
        needed = np.array([minimum_width(self._group_sizes(1, bias == b), self.spread) for b in values])
        if needed.sum() > self.width:
            raise CompileError(f"strategy 'cis': layer 1 needs {needed.sum():,} large neurons (its "
                               f"{values.size} blocks of small neurons by bias) and width is {self.width:,}")
        widths = needed + np.floor((self.width - needed.sum()) * counts / counts.sum()).astype(int)
        widths[np.argmax(counts)] += self.width - widths.sum()   # the rest of the division
        assignment = np.empty((bias.size, self.spread), dtype=np.int64)
        for b, start, width in zip(values, np.concatenate([[0], np.cumsum(widths)[:-1]]), widths):
            assignment[bias == b] = start + self._place(1, bias == b, int(width))
        return assignment, np.repeat(values, widths)

    def build(self) -> CompiledCircuit:
        layers: list[Layer] = []
        assignments: list = [None]                  # assignments[l]: (n_small[l], spread) large neurons
        sums_at: dict[int, tuple[int, int]] = {}    # layer -> (layer, neuron) holding its sum
        for layer in range(1, self.depth + 1):
            if layer == 1:
                small_weight, small_bias = self._small_rows()
                assignment, large_bias = self._blocks_by_bias(small_bias)
                weight = _incidence(assignment, self.width).T @ small_weight
            else:
                small_weight, rest_shift = self._gated_rows(layer)
                assignment = self._place(layer, np.ones(self.n_small[layer], dtype=bool), self.width)
                hosts = _incidence(assignment, self.width).T                       # (width, n_small)
                reads = _incidence(assignments[-1], layers[-1].width) / self.spread  # small values below
                weight = sp.vstack([hosts @ small_weight @ reads, _sum_row(layers[-1].width, self.width)])
                large_bias = np.append(-SILENCE + hosts @ rest_shift, 0.0)
                sums_at[layer - 1] = (layer, self.width)
            layers.append(Layer(sp.csr_matrix(weight, dtype=np.float32), np.asarray(large_bias, dtype=np.float32)))
            assignments.append(assignment)
        layers.append(Layer(_sum_row(layers[-1].width, self.width), np.zeros(1, dtype=np.float32)))
        sums_at[self.depth] = (self.depth + 1, 0)
        return self._compiled(layers, assignments, sums_at)

    def _compiled(self, layers: list[Layer], assignments: list, sums_at: dict) -> CompiledCircuit:
        circuit, spread = self.circuit, self.spread
        widths = [circuit.n_inputs] + [layer.width for layer in layers]
        correction = [0.0] + [_mean_correction(self.n_small[l], spread, self.width) for l in range(1, self.depth + 1)]
        resting = _resting(layers, circuit.n_inputs)   # the large layers with every input off

        def small_reads(layer: int, coeffs: dict[int, float], entries: list, row: int) -> float:
            """Add row += sum_u coeffs[u] * (mean-corrected readout of small neuron u
            of `layer`); return the constant to add to the row's bias. The
            correction removes the layer's activity beyond its resting activity
            (layer 1 rests at its positive biases; silenced layers rest at 0)."""
            c = correction[layer]
            constant = 0.0
            sum_layer, sum_unit = sums_at[layer]
            for unit, coeff in coeffs.items():
                hosts = assignments[layer][unit]
                entries[layer] += [(row, int(j), coeff * (1.0 / spread + c)) for j in hosts]
                if c:
                    entries[sum_layer].append((row, sum_unit, -c * coeff))
                    constant += c * coeff * float(resting[layer][:self.width].sum() - resting[layer][hosts].sum())
            return constant

        node_home = {}  # global node index -> (component, local node index)
        for t, small in enumerate(self.smalls):
            node_home.update({i: (t, j) for j, i in enumerate(small.nodes)})
        local_readout = {t: ([small.network.gate_readout.layer_matrix(l, w) for l, w in enumerate(small.network.widths)],
                             small.network.gate_readout.bias, small.rest) for t, small in enumerate(self.smalls)}

        def readout(lits: list[Lit]) -> Readout:
            entries: list[list] = [[] for _ in widths]
            bias = np.zeros(len(lits))
            for row, lit in enumerate(lits):
                sign, offset = (-1.0, 1.0) if lit.negated else (1.0, 0.0)
                if lit.signal < circuit.n_inputs:
                    entries[0].append((row, lit.signal, sign)); bias[row] = offset
                    continue
                t, j = node_home[lit.signal - circuit.n_inputs]
                small_blocks, small_bias, rest = local_readout[t]
                value = [block[j] for block in small_blocks]
                const = float(small_bias[j])
                for layer, block in enumerate(value):
                    if not block.nnz:
                        continue
                    if layer == 0:
                        entries[0] += [(row, int(self.smalls[t].inputs[c]), sign * v) for c, v in zip(block.indices, block.data)]
                        continue
                    coeffs = {self.offset[layer][t] + int(c): sign * float(v) for c, v in zip(block.indices, block.data)}
                    if layer >= 2:  # silenced when off: add the resting value through the on-indicator
                        rest_value = float((block @ rest[layer])[0])
                        const += rest_value
                        for unit, s in self.indicator[layer][t]:
                            coeffs[unit] = coeffs.get(unit, 0.0) - sign * rest_value * s
                    const += sign * small_reads(layer, coeffs, entries, row)   # coeffs carry the sign already
                bias[row] = offset + sign * const
            return Readout.from_entries(entries, len(lits), widths, bias)

        gates = readout([Lit(s) for s in circuit.gate_signals])
        outputs = readout([lit for _, lit in circuit.outputs])
        return CompiledCircuit(name=circuit.name, input_names=list(circuit.input_names), gate_names=circuit.gate_names,
                               output_names=circuit.output_names, layers=layers, gate_readout=gates,
                               output_readout=outputs, meta=self._meta(layers), program=circuit)

    def _meta(self, layers: list[Layer]) -> CircuitMeta:
        circuit = self.circuit
        level = circuit.levels()
        gate_level = [int(level[s]) for s in circuit.gate_signals]
        d = self.most_per_circuit
        n_circuits, z = len(self.smalls), min(circuit.sparsity, len(self.smalls))
        bias = max(float(np.abs(s.network.layers[l].bias).max(initial=0.0)) for s in self.smalls
                   for l in range(len(s.network.layers)))
        bias = max(bias, 1.0)  # the on-indicator's ReLU(c - 1)
        dod = self.width / d
        levels = []
        for l in range(1, self.depth + 1):
            gates = gate_level.count(l)
            levels.append({"level": l, "gates": gates, "small_neurons": self.n_small[l], "neurons": layers[l - 1].width,
                           "gates_per_neuron": gates / layers[l - 1].width,
                           "overlap_probability": overlap_probability(self.n_small[l], self.spread, self.width),
                           "expected_mse": expected_mse(l, z, n_circuits, dod, bias)})
        return CircuitMeta("cis", "cis", circuit.sparsity, depth=self.depth, layer_of_gate=gate_level, levels=levels,
                           figures={"spread": self.spread, "width": int(self.width), "circuits": n_circuits,
                                    "small_neurons_per_circuit": d, "max_active_circuits": z, "small_bias": bias})


def _resting(layers: list[Layer], n_inputs: int) -> list[np.ndarray]:
    """[h_0, ..., h_L] with every input off, each (width_l,)."""
    values = [np.zeros(n_inputs, dtype=np.float32)]
    for layer in layers:
        values.append(layer.apply_columns(values[-1][:, None])[:, 0])
    return values


def _incidence(assignment: np.ndarray, width: int) -> sp.csr_matrix:
    """(n_small, width) 0/1: small neuron u hosted on large neuron j."""
    n, spread = assignment.shape
    return sp.csr_matrix((np.ones(n * spread), assignment.ravel(), np.arange(0, n * spread + 1, spread)),
                         shape=(n, width))


def _sum_row(width_below: int, hosting: int) -> sp.csr_matrix:
    """(1, width_below): a neuron summing the `hosting` first neurons below (not their own sum neuron)."""
    return sp.csr_matrix((np.ones(hosting, dtype=np.float32), np.arange(hosting), [0, hosting]),
                         shape=(1, width_below))


def _mean_correction(n_small: int, spread: int, width: int) -> float:
    """c of the mean-corrected unembedding, p / ((S - p) S)."""
    p = overlap_probability(n_small, spread, width)
    return p / ((spread - p) * spread) if p < spread else 0.0
