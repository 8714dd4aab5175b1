"""Per-layer feature dictionaries: every feature a layer computes, with its
write vector derived from the layer's weights.

A layer's neurons are functions of the clean 0/1 values v of the wires it
reads: h = ReLU(T v + c), T and c its weights in wire coordinates (the neuron
table, superpose.neurons: for the first layer exactly its weight matrix and
bias; deeper, the weights composed with the readouts of the wires it reads).
Expanded over subsets of those wires (Moebius inversion),

    h(v) = sum over sets S of wires that are all on of w_S
    w_S  = sum over U within S of (-1)^(|S| - |U|) h(U)     (h(U): only U on)
    (w_{} = h(none) the bias, w_a = h({a}) - h(none),
     w_ab = h({a, b}) - h({a}) - h({b}) + h(none), ...)

and every nonzero w_S is a feature of the layer, the AND of the wires in S:
its *write vector* (its contribution to the layer's activations when it is
on). A neuron of one construction (a gate, a product, a carry, a reset) is
expanded over every subset of its wires, which is exact; a shared neuron
(hub, U-AND, code) over subsets of at most two: its higher terms (two hubs of
one neuron on together, ...) are interference, which `explained_variance`
measures. Feature kinds:

    gate         the feature equals a named gate of the program
    wire         a wire the layer reads linearly (a carried value, an OR's literal)
    code         an input's code in a linear embedding layer
    product      a conjunction the lowering placed on purpose (hosted by a hub, an
                 exact product, the operands of a gate neuron), not itself a gate
    conjunction  a pair a shared neuron computes although nothing asked for it
                 (a hub with another hub's leaf): the extra features of superposition

Features whose write vectors coincide are twins (`twin` groups): no method
that sees only the activations can tell them apart.
A gate feature's read vector is the gate's readout over this layer, where the
gate is read from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.sparse as sp

from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Op
from superpose.network import CompiledCircuit
from superpose.neurons import NeuronRole, neuron_table, signal_label, wire_weights

KINDS = ("gate", "wire", "code", "product", "conjunction")
SHARED_KINDS = ("hub", "uand", "code")  # neurons whose reads are many features sharing it
MAX_EXACT_DEGREE = 8  # a neuron of one construction reading more wires is expanded to pairs only
MAX_WIRES = 8  # signals columns: a feature is the AND of at most this many wires
SILENT = 1e-6  # a Moebius term this small everywhere is rounding, not a feature


@dataclass
class Feature:
    """One feature as a Python object. write, read: (width,) float32 (read is
    None where the layer does not read it); twin: group id, -1 if it has none."""
    name: str
    kind: str
    layer: int
    level: int
    signals: tuple[int, ...]
    write: np.ndarray
    read: np.ndarray | None
    read_bias: float
    twin: int


@dataclass
class LayerDictionary:
    """The features of activation h_layer (layer >= 1), n of them.

    names, kinds: (n,) lists; signals: (n, k) int64, the wires whose AND the
    feature is, -1 padded; levels: (n,) int64;
    write: (n, width) CSR float32; read: (n, width) CSR float32 (empty rows
    where there is no readout), has_read: (n,) bool, read_bias: (n,) float32;
    bias: (width,) float32, the activations with every wire off;
    twin: (n,) int64 group ids, -1 for a feature without a twin."""
    layer: int
    names: list[str]
    kinds: list[str]
    signals: np.ndarray
    levels: np.ndarray
    write: sp.csr_matrix
    read: sp.csr_matrix
    has_read: np.ndarray
    read_bias: np.ndarray
    bias: np.ndarray
    twin: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    @property
    def features(self) -> list[Feature]:
        """Every feature as a Feature object (dense vectors)."""
        write, read = self.write.toarray(), self.read.toarray()
        return [Feature(self.names[i], self.kinds[i], self.layer, int(self.levels[i]),
                        tuple(int(s) for s in self.signals[i] if s >= 0), write[i],
                        read[i] if self.has_read[i] else None, float(self.read_bias[i]), int(self.twin[i]))
                for i in range(len(self))]

    def on(self, values: np.ndarray) -> np.ndarray:
        """values: (batch, n_signals) bool, the interpreter's -> (batch, n) bool: which features are on."""
        on = np.ones((values.shape[0], len(self)), dtype=bool)
        for column in self.signals.T:
            on &= np.where(column >= 0, values[:, np.maximum(column, 0)], True)
        return on

    def reconstruct(self, values: np.ndarray, kinds: tuple[str, ...] = KINDS) -> np.ndarray:
        """values: (batch, n_signals) bool -> (batch, width) float32: the bias plus
        the write vectors of the features of `kinds` that are on. No fitting."""
        on = self.on(values) & np.isin(self.kinds, kinds)[None, :]
        return (sp.csr_matrix(on.astype(np.float32)) @ self.write).toarray().astype(np.float32) + self.bias


def _degree(role: NeuronRole) -> int:
    """The largest subset of its wires a neuron's expansion goes to: all of them
    for a neuron of one construction (a gate, a product, a carry, a reset),
    whose every term is designed; pairs for shared neurons, whose higher
    terms are interference."""
    return len(role.reads) if role.kind not in SHARED_KINDS and len(role.reads) <= MAX_EXACT_DEGREE else 2


def _moebius(roles: list[NeuronRole], n_signals: int) -> tuple[np.ndarray, dict[tuple[int, ...], dict[int, float]]]:
    """(bias (width,), {sorted wires: {neuron: value}}) of h = ReLU(T v + c):
    each neuron's inclusion-exclusion terms up to its _degree."""
    T, c = wire_weights(roles, n_signals)
    base = np.maximum(c, 0.0)
    terms: dict[tuple[int, ...], dict[int, float]] = {}
    for j, role in enumerate(roles):
        start, end = T.indptr[j], T.indptr[j + 1]
        reads = dict(zip(T.indices[start:end].tolist(), T.data[start:end].tolist()))
        value = {(): float(base[j])}  # h(S) for every subset S up to the degree, smaller subsets first
        for size in range(1, min(_degree(role), len(reads)) + 1):
            for subset in combinations(sorted(reads), size):
                value[subset] = max(sum(reads[a] for a in subset) + c[j], 0.0)
                term = sum((-1) ** (size - k) * value[u] for k in range(size + 1) for u in combinations(subset, k))
                terms.setdefault(subset, {})[j] = term
    return base, {t: {j: v for j, v in column.items() if abs(v) > SILENT} for t, column in terms.items()}


def _designed(roles: list[NeuronRole]) -> set[tuple[int, ...]]:
    """Conjunctions the lowering placed on purpose: pairs hosted by hubs (or
    read together by a U-AND neuron), any subset of the wires one exact neuron
    reads (a product, a gate's operands)."""
    designed: set[tuple[int, ...]] = set()
    for role in roles:
        designed.update(role.pairs)
        wires = sorted(s for s, _ in role.reads)
        if role.kind == "uand":
            designed.update(combinations(wires, 2))
        elif role.kind not in SHARED_KINDS and len(wires) <= MAX_EXACT_DEGREE:
            designed.update(t for size in range(2, len(wires) + 1) for t in combinations(wires, size))
    return designed


def _and_gates(program) -> dict[tuple[int, ...], int]:
    """{sorted wires: a named gate whose value is that wire, or the AND of those wires}."""
    gates: dict[tuple[int, ...], int] = {}
    for signal in program.gate_signals:
        node = program.node_of(signal)
        if all(not lit.negated for lit in node.operands):
            operands = tuple(sorted({lit.signal for lit in node.operands}))
            if (node.op is Op.AND and len(operands) >= 2) or (node.op is Op.BUF and len(operands) == 1):
                gates.setdefault(operands, signal)
        gates.setdefault((signal,), signal)
    return gates


def _twins(write: sp.csr_matrix) -> np.ndarray:
    """(n,) group ids of rows with identical write vectors (to SILENT), -1 for unique ones."""
    keys = [(tuple(write.indices[write.indptr[i]:write.indptr[i + 1]].tolist()),
             tuple(np.round(write.data[write.indptr[i]:write.indptr[i + 1]] / SILENT).astype(np.int64).tolist()))
            for i in range(write.shape[0])]
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    twin = np.full(write.shape[0], -1, dtype=np.int64)
    for group_id, members in enumerate(g for g in groups.values() if len(g) > 1):
        twin[members] = group_id
    return twin


def layer_dictionary(circuit: CompiledCircuit, layer: int, roles: list[NeuronRole] | None = None) -> LayerDictionary:
    """The dictionary of activation h_layer, 1 <= layer <= number of layers."""
    program = circuit.program
    roles = neuron_table(circuit)[layer - 1] if roles is None else roles
    width, linear = circuit.layers[layer - 1].width, not circuit.layers[layer - 1].relu
    bias, terms = _moebius(roles, program.n_signals)
    designed, gates, levels = _designed(roles), _and_gates(program), program.levels()
    readout = circuit.gate_readout
    gate_row = {signal: i for i, signal in enumerate(program.gate_signals)}
    read_matrix = readout.layer_matrix(layer, width)
    reads_here = np.diff(read_matrix.indptr) > 0
    names, kinds, signals, level, rows, read_rows, has_read, read_bias = [], [], [], [], [], [], [], []
    for t in sorted(t for t, column in terms.items() if column):
        gate = gates.get(t)
        kind = "gate" if gate is not None else ("code" if linear else "wire") if len(t) == 1 else \
            "product" if t in designed else "conjunction"
        if len(t) > MAX_WIRES:
            raise ValueError(f"layer {layer} has a feature over {len(t)} wires, more than {MAX_WIRES}")
        names.append(program.gate_names[gate_row[gate]] if gate is not None
                     else "&".join(signal_label(program, s) for s in t))
        kinds.append(kind)
        signals.append(t)
        level.append(int(levels[list(t)].max()) + (len(t) > 1))
        rows.append(terms[t])
        row = gate_row.get(gate, -1)
        has_read.append(row >= 0 and bool(reads_here[row]))
        read_rows.append(read_matrix[row] if has_read[-1] else sp.csr_matrix((1, width), dtype=np.float32))
        read_bias.append(float(readout.bias[row]) if has_read[-1] else 0.0)
    write = _rows_to_csr(rows, width)
    padded = np.full((len(signals), max(map(len, signals), default=1)), -1, dtype=np.int64)
    for i, t in enumerate(signals):
        padded[i, :len(t)] = t
    return LayerDictionary(layer, names, kinds, padded,
                           np.asarray(level, np.int64), write,
                           sp.vstack(read_rows, format="csr", dtype=np.float32) if read_rows
                           else sp.csr_matrix((0, width), dtype=np.float32),
                           np.asarray(has_read, bool), np.asarray(read_bias, np.float32),
                           bias.astype(np.float32), _twins(write))


def _rows_to_csr(rows: list[dict[int, float]], width: int) -> sp.csr_matrix:
    indptr = np.cumsum([0] + [len(r) for r in rows])
    columns = np.fromiter((j for r in rows for j in sorted(r)), np.int64, int(indptr[-1]))
    values = np.fromiter((r[j] for r in rows for j in sorted(r)), np.float32, int(indptr[-1]))
    return sp.csr_matrix((values, columns, indptr), shape=(len(rows), width))


def dictionaries(circuit: CompiledCircuit) -> list[LayerDictionary]:
    """The dictionary of every layer, h_1 .. h_L."""
    table = neuron_table(circuit)
    return [layer_dictionary(circuit, l, table[l - 1]) for l in range(1, len(circuit.layers) + 1)]


FEATURE_SETS = {  # which features a reconstruction uses, from the fewest to all
    "gates": ("gate",),
    "designed": ("gate", "wire", "code", "product"),
    "all": KINDS,
}


def explained_variance(activations: np.ndarray, reconstruction: np.ndarray) -> float:
    """1 - sum |h - recon|^2 / sum |h - mean h|^2 over a batch; (batch, width) each."""
    total = float(((activations - activations.mean(axis=0)) ** 2).sum())
    return 1.0 - float(((activations - reconstruction) ** 2).sum()) / total if total > 0 else float("nan")


def variance_report(circuit: CompiledCircuit, dicts: list[LayerDictionary], inputs: sp.csr_matrix
                    ) -> list[dict[str, float]]:
    """Per layer, the share of the activation variance on `inputs` ((n,
    n_inputs) CSR) that each FEATURE_SETS reconstruction explains, with no
    fitting: [{"layer", "features", "gates", "designed", "all"}]."""
    hs = circuit.activations(inputs)
    values = evaluate(circuit.program, inputs.toarray() != 0)
    rows = []
    for d in dicts:
        row: dict[str, float] = {"layer": d.layer, "features": len(d)}
        for label, kinds in FEATURE_SETS.items():
            row[label] = explained_variance(np.asarray(hs[d.layer]), d.reconstruct(values, kinds))
        rows.append(row)
    return rows
