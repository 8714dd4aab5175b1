"""Deep lowering: one layer per level, wires carried between layers in superposition.

Every gate of a level, and every value a later level still needs (inputs
included), becomes a few clips (deep_forms.py). How a superposed level shares
its neurons is the *design*:
  - "hosted" (the default; deep_hosted.py): each clip is given S hosts, a
    host being one clip (two ReLUs) of the sum of the forms of the clips of
    different regions it carries, with one threshold per pool placed for one
    stray read; every stored wire is 0 when its region has no input on, so an
    inactive region adds exactly 0 and needs no on-indicator. A pool's H is
    chosen per level by the probes (_hosted_candidate).
  - "spread", below: each clip's two ReLUs are small neurons copied onto
    large neurons separately, with on-indicators per region.

In the spread design, every clip's ReLUs are *small neurons* with margins
(deep_forms.py: clips that are exactly 0 or 1 on reads within 1/2 - 1/(2k)
of a clean value). Each
small neuron is copied onto `copies` (S) large neurons of its layer, and each
large neuron hosts about `hosts` (H) small neurons of different regions
(connected parts of the circuit) that have the same bias (deep_codes.py: an
affine design; a region meets any other small neuron in at most one copy):

    large neuron = ReLU(sum over hosted small neurons of their weight part
                        + B * on(region of each hosted)  + bias - B)

A wire is stored so that it is 0 when no input of its region is on, so an
inactive region contributes nothing but strays to a large neuron; the
on-indicator of each region (one exact neuron per region and layer, two in
the first) lifts the large neurons that host a small neuron of an active
region by B and leaves the others B below their margin, which is what stops
stray activity from spreading (measured in a numpy prototype on circuits-T,
T = 512, H = 12: without it lit large neurons went from 13 to 417 in two
levels; with it they still grow, more slowly). A small neuron is read as the mean of its copies, so
every wire is an affine readout of one layer and the next layer's weights
compose it: W_k = (hosted weights) . (readouts of layer k - 1).

Every level has two plans, measured on the compiled weights with structured
probes (deep_probes.py: input patterns of every region, as many of each as
the probe-row budget allows, or, when under LEAST_PATTERNS fit, every
pattern of a sample of regions; the other active slots filled with inputs
of other regions):
  - superposed, for each candidate H (densest first): when the probes cover
    every region, the small neurons of every value read the clips' margin
    or more off in over target_error of its probes move to large neurons of
    their own (the measured repair; their share is in the metadata; the hosted
    design first moves them to fresh co-tenants in their pool, then to a
    repair pool, see _hosted_candidate), and the level is measured again; it
    is kept if every probed value is within the target. Probing only a
    sample of regions, there is no repair (it would fix only what the probes
    see) and a level is kept only if no probed value fails;
  - exact: after a clean level, lower_chained's exact plan (one neuron per
    AND/OR, carried values one neuron each); after a superposed level,
    dedicated clips (their margins absorb the noisy reads).
`superpose="auto"` keeps the superposed plan only where it has fewer neurons
than the exact one; "always" keeps the densest superposed candidate that
meets the target (or the sparsest one). With `control=False` (slope 1, no
on-indicators, no repair) there are no margins: the naive baseline.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from superpose.compiler.deep_codes import region_design
from superpose.compiler.deep_forms import Clip, SmallNeuron, carry_clip, clip_neurons, gate_clips
from superpose.compiler.deep_hosted import (HOST_SLOPE, STRAY_SHARE, STRAY_SHARE_BEFORE_LAST, HostedForm, HostLayout,
                                            hosted_form, lay_out, pool_key, pool_members, repack_hosts, stray_reads)
from superpose.compiler.deep_probes import OwnRegionReads, RegionProbes
from superpose.compiler.errors import CompileError
from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit, Lit, Op, connected_signals
from superpose.compiler.lower_chained import (LEVEL_PLANS, _Builder, _exact_plan, _operand_literals, _resolve,
                                              assemble)
from superpose.compiler.lowering import Affine, check_target_error, combine, csr_from_rows, negate, relu_layer
from superpose.metadata import CircuitMeta
from superpose.neurons import NeuronRole, table_to_json
from superpose.network import CompiledCircuit

PROBE_PATTERNS = 256   # a probed region with more input patterns than this is sampled
PROBE_ROWS = 64_000    # probe inputs per level (deep_probes.RegionProbes)
LEAST_PATTERNS = 12    # every region is probed while this many patterns of each fit in PROBE_ROWS
PROBE_FILLS = 2        # random fills of the other active slots per probed pattern
SLOPE = 2.0            # k of the clips: a read may stray 1/2 - 1/(2k) = 1/4 unseen (k = 4 measured worse:
                       # a larger slope magnifies what co-tenants of an active region add)
POOL_MEAN_SHARE = 0.25  # a hosted pool's mean probe error must be within this share of the target
REPAIRED_POOL_MEAN_SHARE = 0.5  # the same where the repair runs (every region probed), which catches the tail:
                                # circuits-T T = 2,000 1.38 -> 1.43 gates per neuron, every sampled gate within 1%;
                                # with no repair (T = 4,000) 0.5 let sampled gates reach 1.4% and error grow with depth
GATE_WEIGHT = 1.0      # B: the on-indicators lift an active region's large neurons by B, the others stay B below
# a hosted superposed gate's readout weights are shrunk by this, its constant kept, so that a read of exactly one
# host lit of two (1/2, the threshold itself) lands 2^-11 below it by the weights, where float32 rounding used to
# decide its side differently with the batch a gate is read in (BENCHMARKS.md "Two measures that disagree");
# rounding is about 1e-5 at the pre-activations of these layers. A clean read moves by 2^-10 at most. Not the
# spread design: its reads are means of S = 6 small neurons, not quantized at 1/2, and the shrink moved a read
# just above 1/2 below it (a test circuit's worst gate 1.00% -> 1.05%).
READ_SHRINK = 1.0 - 2.0**-10
DESIGNS = ("spread", "hosted")  # how a superposed level shares neurons (module docstring)
DEFAULT_COPIES = {"hosted": 2, "spread": 6}
# candidate H, densest first: hosted tries each per pool (measured on circuits-T in a numpy prototype,
# bench/proto_hosted.py: S = 2 with 4 to 16 clips per host); spread one H for the whole level
DEFAULT_HOSTS = {"hosted": (16, 12, 9, 7, 5, 4, 3, 2), "spread": (16, 12, 8, 6, 4)}


@dataclass(frozen=True)
class DeepOptions:
    """Options of strategy "deep"; copies and hosts default to the design's."""
    target_error: float = 0.01             # every probed gate of a superposed level must be within it
    design: str = "hosted"                 # "hosted" (clips share hosts) or "spread" (small neurons, on-indicators)
    copies: int | None = None              # S: hosts (large neurons) per clip (small neuron)
    hosts: tuple[int, ...] | None = None   # candidate H, densest first
    control: bool = True                   # margins, on-indicators, repair; False: none (naive)
    superpose: str = "auto"                # "auto": superposed only where it saves neurons; "always"
    share_negated: bool = True             # hosted: False gives clips with a negated read hosts of their own
                                           # (an ablation: deep_hosted.hosted_form)

    def __post_init__(self) -> None:
        check_target_error(self.target_error)
        if self.superpose not in LEVEL_PLANS:
            raise CompileError(f"superpose must be one of {', '.join(LEVEL_PLANS)}, not {self.superpose!r}")
        if self.design not in DESIGNS:
            raise CompileError(f"design must be one of {', '.join(DESIGNS)}, not {self.design!r}")
        if not self.share_negated and self.design != "hosted":
            raise CompileError("share_negated=False (--no-shared-negation) applies to the hosted design only "
                               "(the spread design shares small neurons, not clips)")
        if self.copies is None:
            object.__setattr__(self, "copies", DEFAULT_COPIES[self.design])
        if self.hosts is None:
            object.__setattr__(self, "hosts", DEFAULT_HOSTS[self.design])
        if self.copies < 1 or min(self.hosts, default=1) < 1:
            raise CompileError("the deep lowering needs copies >= 1 and every candidate hosts >= 1")


@dataclass
class _Level:
    """A layer under consideration: its rows over the previous layer, what
    each row's neuron serves (superpose.neurons), the value of every signal it
    computes or carries (affine over its units), and facts."""
    rows: list[Affine]
    roles: list[NeuronRole]
    values: dict[int, Affine]
    facts: dict = field(default_factory=dict)
    layout: HostLayout | None = None  # a hosted level's hosts
    reached: dict[int, frozenset[int]] | None = None  # hosted: per signal, the regions sharing its hosts

    @property
    def width(self) -> int:
        return len(self.rows)


class _Regions:
    """Connected parts of the circuit (through gate operands, inputs included)."""

    def __init__(self, circuit: Circuit, base: list[Lit | bool], computed: list[int]):
        self.of = connected_signals(circuit.n_signals, ((lit.signal, n) for n in computed
                                                        for lit in _operand_literals(circuit, n, base)
                                                        if isinstance(lit, Lit)))
        with_gates = {int(self.of[n]) for n in computed}
        self.inputs: dict[int, list[int]] = {}  # the inputs of every region that has a gate
        for i in range(circuit.n_inputs):
            if int(self.of[i]) in with_gates:
                self.inputs.setdefault(int(self.of[i]), []).append(i)


def _on_indicator_rows(regions: _Regions, on_rep: dict[int, Affine], first: bool, offset: int
                       ) -> tuple[list[Affine], list[NeuronRole], dict[int, Affine]]:
    """One exact neuron per region carrying on = OR(its inputs) (two in the
    first layer, ReLU(t) - ReLU(t - 1) of t = the number of its inputs on)."""
    rows: list[Affine] = []
    roles: list[NeuronRole] = []
    new: dict[int, Affine] = {}
    for region, affine in on_rep.items():
        if first:
            count = tuple((i, 1.0) for i in regions.inputs[region])
            rows += [affine, combine([(1.0, affine)], -1.0)]
            roles += [NeuronRole("indicator", (), count, 0.0, "count"), NeuronRole("indicator", (), count, -1.0, "over")]
            new[region] = ({offset + len(rows) - 2: 1.0, offset + len(rows) - 1: -1.0}, 0.0)
        else:
            rows.append(affine)
            roles.append(NeuronRole("indicator", (), (), 0.0, "carry"))
            new[region] = ({offset + len(rows) - 1: 1.0}, 0.0)
    return rows, roles, new


class _DeepBuilder:
    """Everything one compilation shares across levels."""

    def __init__(self, circuit: Circuit, options: DeepOptions, gating: bool):
        self.circuit, self.options = circuit, options
        self.base = _resolve(circuit)
        m = circuit.n_inputs
        self.computed = [n for n in range(m, circuit.n_signals) if self.base[n] == Lit(n)]
        self.levels = circuit.levels()
        self.regions = _Regions(circuit, self.base, self.computed)
        self.true_at_zero = evaluate(circuit, np.zeros((1, m), dtype=np.float32))[0].astype(bool)
        self.gating = gating
        self.reached: dict[int, frozenset[int]] = {}  # per signal of the last layer, the regions sharing its hosts
        self.host_cap: dict[float, int] = {}  # per pool, its H in the last layer when that was hosted
        self.hosted = options.design == "hosted"
        self.slope = (HOST_SLOPE if self.hosted else SLOPE) if options.control else 1.0
        # how far a read may stray unseen: one stray host of S (hosted), the clips' margin (spread)
        self.stray = 1.0 / options.copies if options.control and self.hosted else 0.0
        self.margin = (self.stray if self.hosted else 0.5 - 0.5 / self.slope) if options.control else 0.5

    def stored(self, signal: int, rep: dict[int, Affine]) -> Affine:
        """The stored wire of a signal (its complement when true at the all-zero input)."""
        return negate(rep[signal]) if self.true_at_zero[signal] else rep[signal]

    def role(self, kind: str, hosted: list[SmallNeuron], bias: float) -> NeuronRole:
        """The role of a large neuron hosting `hosted` small neurons with one
        `bias`: their weights in wire coordinates (a stored complement 1 - v
        read as -v + 1)."""
        reads: dict[int, float] = {}
        for small in hosted:
            for s, w in small.terms:
                flip = bool(self.true_at_zero[s])
                reads[s] = reads.get(s, 0.0) + (-w if flip else w)
                bias += w if flip else 0.0
        serves = tuple(sorted({small.signal for small in hosted}))
        return NeuronRole(kind, serves, tuple(sorted((s, w) for s, w in reads.items() if w)), bias)

    def clips(self, gates: list[int], carried: set[int]) -> tuple[list[Clip], dict[int, float]]:
        """The level's clips (gates, then carried values) and each signal's stored constant."""
        clips: list[Clip] = []
        constants: dict[int, float] = {}
        complemented = {v: bool(self.true_at_zero[v]) for v in range(self.circuit.n_signals)}
        for n in gates:
            node = self.circuit.node_of(n)
            literals = _operand_literals(self.circuit, n, self.base)
            op = Op.OR if node.op is Op.BUF else node.op
            made, constants[n] = gate_clips(n, op, node.k, literals, complemented, complemented[n])
            clips += made
        for v in sorted(carried):
            clips.append(carry_clip(v))
            constants[v] = 0.0
        return clips, constants

    def small_neurons(self, gates: list[int], carried: set[int]) -> tuple[list[SmallNeuron], dict[int, float]]:
        """The level's small neurons (gates, then carried values) and each signal's stored constant."""
        clips, constants = self.clips(gates, carried)
        return [neuron for clip in clips for neuron in clip_neurons(clip, self.slope)], constants

    def hosted_level(self, hosted: "_HostedClips", rep: dict[int, Affine], hosts: dict[float, int], layout_seed: int,
                     repacked: set[int] = frozenset(), pooled: set[int] = frozenset(),
                     dedicated: set[int] = frozenset()) -> _Level:
        """The level as hosted clips (deep_hosted.py) with H = hosts[pool]; the
        repair (deep_hosted.lay_out): the clips of `repacked` signals move to
        fresh co-tenants in their pool, those of `pooled` signals to a repair
        pool and those of `dedicated` signals to a host of their own."""
        clips, forms, copies = hosted.clips, hosted.forms, self.options.copies
        shareable = [form.shareable for form in forms]
        moved = {j for j, clip in enumerate(clips) if clip.signal in repacked and shareable[j]}
        # a repair pool of at most S clips per host costs a clip S hosts of two ReLUs, more than a host of its own
        pooled_clips = {j for j, clip in enumerate(clips) if clip.signal in pooled and shareable[j]
                        and repack_hosts(hosts[pool_key(forms[j])]) > copies}
        # a repaired clip that shares no pool (or too sparse a repair pool) gets a host of its own
        alone = {j for j, clip in enumerate(clips) if clip.signal in dedicated
                 or (clip.signal in pooled and j not in pooled_clips)
                 or (clip.signal in repacked and not shareable[j])}
        layout = lay_out(forms, hosted.regions, hosted.touch, copies, hosts, layout_seed, moved, pooled_clips, alone)
        reads = {s: self.stored(s, rep) for s in {s for form in forms for s, _ in form.terms}}
        rows: list[Affine] = []
        roles: list[NeuronRole] = []
        # each clip's pre-activation part, as the roles read it
        scaled = [SmallNeuron(clip.signal, tuple((s, self.slope * w) for s, w in form.terms), 0.0, 0.0)
                  for clip, form in zip(clips, forms)]
        for tenants, threshold in zip(layout.hosts, layout.threshold.tolist()):
            weights, bias = combine([(self.slope * w, reads[s]) for j in tenants for s, w in forms[j].terms],
                                    -self.slope * threshold)
            kind = "shared" if len(tenants) > 1 or tenants[0] not in alone and forms[tenants[0]].shareable else "clip"
            for half in (0.5, -0.5):  # the two ReLUs of the host's clip
                rows.append((weights, bias + half))
                roles.append(self.role(kind, [scaled[j] for j in tenants], -self.slope * threshold + half))
        values: dict[int, Affine] = {}
        for j, clip in enumerate(clips):
            row, bias = values.get(clip.signal, ({}, hosted.constants[clip.signal]))
            for host in layout.of_clip[j]:
                share = clip.sign / len(layout.of_clip[j])
                row[2 * host] = row.get(2 * host, 0.0) + share
                row[2 * host + 1] = row.get(2 * host + 1, 0.0) - share
            values[clip.signal] = (row, bias)
        for v in values:  # stored -> value
            if self.true_at_zero[v]:
                values[v] = negate(values[v])
        own = [tenants for tenants in layout.hosts if len(tenants) == 1]
        facts = {"hosts": [layout.pools[key] for key in sorted(layout.pools)], "copies": self.options.copies,
                 "thresholds": sorted(layout.pools), "small_neurons": len(clips),
                 "shared_neurons": 2 * (len(layout.hosts) - len(own)),
                 "single_tenant_neurons": 2 * sum(1 for t in own if t[0] not in alone and forms[t[0]].shareable),
                 "dedicated_neurons": 2 * sum(1 for t in own if t[0] in alone or not forms[t[0]].shareable),
                 "repaired_small_neurons": len(moved | pooled_clips | alone),
                 # the repair's first two stages (the third is dedicated_neurons): fresh co-tenants in their pool,
                 # a repair pool
                 "repacked_small_neurons": len(moved - pooled_clips - alone),
                 "repair_pool_small_neurons": len(pooled_clips - alone)}
        reached: dict[int, set[int]] = {}  # the regions that share a host with each signal's clips
        for tenants in layout.hosts:
            regions = {int(hosted.regions[j]) for j in tenants}
            for j in tenants:
                reached.setdefault(clips[j].signal, set()).update(regions)
        return _Level(rows, roles, values, facts, layout, {v: frozenset(r) for v, r in reached.items()})

    def superposed_level(self, gates: list[int], carried: set[int], rep: dict[int, Affine],
                         on_rep: dict[int, Affine] | None, hosts: int, dedicated: set[int], layout_seed: int) -> _Level:
        """The level on shared large neurons (H = hosts). The small neurons of
        `dedicated` signals (the repair), and those not silent at the all-zero
        input, get a large neuron each; every other small neuron keeps the
        place the layout (drawn from `layout_seed`) gives it with or without
        repairs, so a repair only ever removes co-tenants."""
        neurons, constants = self.small_neurons(gates, carried)
        S = self.options.copies
        layout_rng = np.random.default_rng(layout_seed)
        quiet = [j for j, sn in enumerate(neurons) if sn.bias <= 0]
        placed: dict[int, np.ndarray] = {}
        pools: list[tuple[float, int]] = []  # (bias, large neurons) of every pool, in order
        biases = np.array([round(neurons[j].bias, 9) for j in quiet])
        for bias in np.unique(biases):
            pool = [quiet[i] for i in np.flatnonzero(biases == bias)]
            ids, n_large = region_design(self.regions.of[[neurons[j].signal for j in pool]], S, hosts, layout_rng)
            offset = sum(n for _, n in pools)
            placed.update((j, row + offset) for j, row in zip(pool, ids))
            pools.append((float(bias), n_large))
        shared = [j for j in placed if neurons[j].signal not in dedicated]
        members: dict[int, list[int]] = {}
        for j in shared:
            for unit in placed[j].tolist():
                members.setdefault(unit, []).append(j)
        pool_bias = np.repeat([b for b, _ in pools], [n for _, n in pools])
        gate = self.gating and on_rep is not None
        lift = GATE_WEIGHT if gate else 0.0
        rows: list[Affine] = []
        roles: list[NeuronRole] = []
        unit_of: dict[int, int] = {}
        for unit in sorted(members):  # large neurons left with no tenant are dropped
            hosted = members[unit]
            unit_of[unit] = len(rows)
            terms = [(w, self.stored(s, rep)) for j in hosted for s, w in neurons[j].terms]
            terms += [(lift, on_rep[int(self.regions.of[neurons[j].signal])]) for j in hosted] if gate else []
            rows.append(combine(terms, float(pool_bias[unit]) - lift))
            roles.append(self.role("shared", [neurons[j] for j in hosted], float(pool_bias[unit])))
        copies = {j: [unit_of[u] for u in placed[j].tolist()] for j in shared}
        alone = [j for j in range(len(neurons)) if j not in copies]
        for j in alone:
            copies[j] = [len(rows)]
            rows.append(combine([(w, self.stored(s, rep)) for s, w in neurons[j].terms], neurons[j].bias))
            roles.append(self.role("clip", [neurons[j]], neurons[j].bias))
        values: dict[int, Affine] = {}
        for j, sn in enumerate(neurons):
            row, bias = values.get(sn.signal, ({}, constants[sn.signal]))
            for unit in copies[j]:
                row[unit] = row.get(unit, 0.0) + sn.read / len(copies[j])
            values[sn.signal] = (row, bias)
        for v in values:  # stored -> value
            if self.true_at_zero[v]:
                values[v] = negate(values[v])
        single = sum(1 for hosted in members.values() if len(hosted) == 1)
        facts = {"hosts": hosts, "copies": S, "small_neurons": len(neurons),
                 "shared_neurons": len(rows) - len(alone) - single,
                 "single_tenant_neurons": single,  # tenants of a shared neuron all repaired but one, or a thin pool
                 "dedicated_neurons": len(alone),
                 "repaired_small_neurons": sum(1 for j in alone if neurons[j].signal in dedicated)}
        return _Level(rows, roles, values, facts)


@dataclass
class _HostedClips:
    """A level's clips as hosts read them: what every hosted layout of the level shares."""
    clips: list[Clip]
    constants: dict[int, float]
    forms: list[HostedForm]
    regions: np.ndarray             # (len(clips),) region of each clip's signal
    signals: np.ndarray             # (len(clips),) each clip's signal
    touch: list[frozenset[int]]     # per clip, the regions whose activity reaches its reads
    read_later: np.ndarray          # (len(clips),) bool: each clip's signal is read by a later level
    stray_share: float              # the stray budget per clip read later (_hosted_candidate)

    @classmethod
    def of(cls, deep: _DeepBuilder, gates: list[int], carried: set[int], read_later: list[int],
           before_last: bool) -> "_HostedClips":
        """The level's clips; before_last: only the last level reads them (a looser stray budget)."""
        clips, constants = deep.clips(gates, carried)
        forms = [hosted_form(clip, deep.stray, deep.slope, deep.options.share_negated) for clip in clips]
        signals = np.array([clip.signal for clip in clips], dtype=np.int64)
        regions = deep.regions.of[signals]
        touch = [frozenset({int(region)}.union(*(deep.reached.get(s, ()) for s, _ in clip.terms)))
                 for clip, region in zip(clips, regions)]
        return cls(clips, constants, forms, regions, signals, touch, np.isin(signals, read_later),
                   STRAY_SHARE_BEFORE_LAST if before_last else STRAY_SHARE)

    def pools(self) -> dict[float, np.ndarray]:
        """Per pool key, the indices of the shareable clips in it."""
        return {key: np.array(pool) for key, pool in pool_members(self.forms)}


@dataclass
class _Measure:
    """Stratified probe error of every watched signal for a candidate level."""
    probes: RegionProbes
    width_in: int
    watched: list[int]
    reads: OwnRegionReads   # each watched signal on its own region's probe rows
    every_region: bool      # the probes cover every region (else a sample of them)

    def __call__(self, level: _Level, margin: float = 0.5) -> "_Probed":
        """The level's probe errors and activations (_Probed)."""
        activation = self.probes.forward(relu_layer(level.rows, self.width_in, "gates"))
        readout = csr_from_rows([level.values[v][0] for v in self.watched], level.width)  # (watched, width)
        constant = np.array([level.values[v][1] for v in self.watched], dtype=np.float64)
        values = self.reads.values(activation, readout, constant)
        return _Probed(self.reads.errors(values), self.reads.errors(values, margin), activation)


@dataclass
class _Probed:
    """A candidate level on the probes: per watched signal (len(watched),),
    its error as the report counts it (wrong side of the threshold), its
    misreads (a read a margin or more off the truth, which a later level
    would pass on: every error is one); and the level's activations on the
    probe rows, (n, width) CSR."""
    errors: np.ndarray
    misreads: np.ndarray
    activation: sp.csr_matrix

    def failing(self, watched: list[int], target: float) -> set[int]:
        """The watched signals misread or wrong over `target`: what the repair
        moves (a margin under 1/2 makes every error a misread; hosted at S = 1
        its margin is a whole unit, and an error is then not always one)."""
        return {v for v, e in zip(watched, self.worst.tolist()) if e > target}

    @property
    def worst(self) -> np.ndarray:
        """(len(watched),) each signal's error or misread rate, the larger."""
        return np.maximum(self.errors, self.misreads)

    def summary(self) -> dict[str, float]:
        """The probe error facts of a superposed level: worst and mean."""
        return {"probe_max_error": float(self.errors.max(initial=0.0)),
                "probe_mean_error": float(self.errors.mean()) if self.errors.size else 0.0}


def _superposed_candidate(deep: _DeepBuilder, measure: _Measure, gates: list[int], later: set[int],
                          rep: dict[int, Affine], gate_rep: dict[int, Affine] | None,
                          on_next: dict[int, Affine] | None, first: bool, budget: int | None,
                          rng: np.random.Generator):
    """The densest candidate H whose probed signals all meet the target after
    one measured repair, as (level, its on-indicator readouts, its _Probed);
    with no budget ("always"), else the sparsest candidate.
    Candidates with `budget` neurons or more are not measured (they cannot win)."""
    options = deep.options
    for hosts in options.hosts:
        dedicated: set[int] = set()
        layout_seed = int(rng.integers(2**32))
        # measure, repair the failing signals once, measure again; a repair fixes only what the probes see, so
        # it needs every region probed: probing a sample, a level is kept only if no probed value fails
        for _ in range(2 if options.control and measure.every_region else 1):
            level = deep.superposed_level(gates, later, rep, gate_rep, hosts, dedicated, layout_seed)
            level, level_on = _with_indicators(level, deep.regions, on_next, first)
            if budget is not None and level.width >= budget:
                break
            # a value read by a later level fails when it leaves the clips' margin, not only the threshold
            measured = measure(level, deep.margin)
            failing = measured.failing(measure.watched, options.target_error)
            if not failing or dedicated:
                break
            dedicated = failing
        if budget is not None and level.width >= budget:
            continue
        level.facts.update(plan="superposed", **measured.summary())
        if not failing or (budget is None and hosts == options.hosts[-1]):
            return level, level_on, measured
    return None


def _hosted_candidate(deep: _DeepBuilder, measure: _Measure, hosted: _HostedClips, rep: dict[int, Affine],
                      budget: int | None, rng: np.random.Generator):
    """The hosted level with the densest H per pool that passes, after the
    measured repair; as _superposed_candidate returns, None when the level is
    `budget` neurons wide. With a budget, the clips of a pool that passes at
    no H get hosts of their own (one such pool used to make its whole level
    exact: circuits-T, T = 4,000, seed 1, level 7 at 32,000 neurons).

    Pools do not share hosts, so each pool is judged by its own signals: each
    candidate H (densest first, but no denser than the pool's H in the level
    below, since stray reads only grow with depth) is measured with the pools
    not yet settled at H, and a pool settles at the first H where (1) the mean probe error of its
    signals is within POOL_MEAN_SHARE of the target (REPAIRED_POOL_MEAN_SHARE
    where the repair runs): a probed region has a few
    hundred rows at most, too few to resolve one gate's rate near the target
    (one stray row can read as 3%), but the mean over a pool's gates resolves
    the typical rate, and the tail is what the repair and the report's
    confirmation catch; and (2) its false clips with a lit host that a later
    level reads (stray reads for the next layer) stay within
    deep_hosted.STRAY_SHARE of them per probe row (STRAY_SHARE_BEFORE_LAST
    where only the last level reads them), so strays grow as little
    as the budget allows level by level. (One budget for all the level's
    pools, letting the often-true OR pool use what the AND pool left, saved
    1.6% at T = 2,000 but left a level-7 gate at 25%.) A pool none of whose
    clips a later level reads (the last level) has no stray budget and no
    cap from the level below. Then (when every region is probed) the
    repair, the level measured after every stage: signals over the target
    move to fresh co-tenants in their pool, in the places they left; those
    still over to a repair pool; those over there too to hosts of their own
    (deep_hosted.lay_out)."""
    options = deep.options
    pools = hosted.pools()
    if not options.hosts or not pools:  # no clip may share a host (e.g. S = 1 leaves no room for a stray read)
        return None
    layout_seed = int(rng.integers(2**32))
    keys = list(pools)
    members = {key: np.isin(measure.watched, hosted.signals[clips]) for key, clips in pools.items()}
    chosen: dict[float, int] = {}
    trial: dict[float, int] = {}
    read = {key: int(hosted.read_later[clips].sum()) for key, clips in pools.items()}  # clips whose strays count
    unread = {key for key, n in read.items() if n == 0}  # no stray of theirs counts: no cap from the level below
    repaired = options.control and measure.every_region  # the repair needs every region probed
    mean_share = REPAIRED_POOL_MEAN_SHARE if repaired else POOL_MEAN_SHARE
    for hosts in options.hosts:
        # a pool is tried no denser than it settled at in the level below (strays only grow with depth), unless
        # no stray of its counts
        candidate = {key: chosen.get(key, hosts if key in unread else min(hosts, deep.host_cap.get(key, hosts)))
                     for key in keys}
        if candidate == trial:
            continue
        trial = candidate
        level = deep.hosted_level(hosted, rep, trial, layout_seed)
        if budget is not None and level.width >= budget:
            return None  # sparser candidates are wider still
        measured = measure(level, deep.margin)
        worst = measured.worst
        stray = stray_reads(measured.activation, level.layout, hosted.signals, measure.probes.true_signals(),
                            hosted.read_later)
        chosen.update((key, trial[key]) for key in keys if key not in chosen
                      and (worst[members[key]].mean() if members[key].any() else 0.0)
                      <= mean_share * options.target_error and stray[key] <= hosted.stray_share * read[key])
        if len(chosen) == len(keys):
            break
    failed = [key for key in keys if key not in chosen]
    chosen.update((key, options.hosts[-1]) for key in failed)
    # with a budget, the clips of a pool that passed at no H get hosts of their own (the level is kept only if it
    # still saves neurons); with none ("always"), they keep the sparsest H
    own = {int(s) for key in failed for s in hosted.signals[pools[key]]} if budget is not None else set()
    # the repair (it needs every region probed, as in _superposed_candidate), measured after every stage: the
    # failing signals move to fresh co-tenants in their pool, then those failing after that to a repair pool, then
    # those failing there too to hosts of their own; every stage leaves the others in place (deep_hosted.lay_out)
    stages: list[set[int]] = [set(), set(), set(own)]  # repacked, pooled, dedicated
    rounds = 4 if repaired else 1
    for attempt in range(rounds):
        if attempt or chosen != trial or own:  # else the level last measured is this one
            level = deep.hosted_level(hosted, rep, chosen, layout_seed, *stages)
            if budget is not None and level.width >= budget:
                return None
            measured = measure(level, deep.margin)
        failing = measured.failing(measure.watched, options.target_error)
        if not failing or attempt == rounds - 1:
            break
        stages[attempt] |= failing - own
    level.facts.update(plan="superposed", **measured.summary())
    return level, None, measured


def _decided(value: Affine) -> Affine:
    """A hosted superposed level's value as its gate readout reads it: the unit
    weights times READ_SHRINK, the constant kept. Only the readout: the next
    layer composes the unshrunk value (its placed thresholds assume clean
    reads of 0 and 1). A stored complement (1 - v) keeps its side too: its
    split read lands above the threshold, the stored wire read off."""
    row, constant = value
    return {unit: READ_SHRINK * w for unit, w in row.items()}, constant


def _with_indicators(level: _Level, regions: _Regions, on_rep: dict[int, Affine] | None, first: bool
                     ) -> tuple[_Level, dict[int, Affine] | None]:
    """The level with the on-indicator neurons of every region appended."""
    if on_rep is None:
        return level, None
    rows, roles, new = _on_indicator_rows(regions, on_rep, first, level.width)
    facts = dict(level.facts, on_indicators=len(rows))
    return _Level(level.rows + rows, level.roles + roles, level.values, facts), new


def lower_deep(circuit: Circuit, options: DeepOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Lower `circuit` (which must declare a sparsity) level by level, each
    level superposed or exact, whichever meets the target with fewer neurons.
    When no level ends up superposed, the on-indicators serve nothing: the
    circuit is lowered again without them (every level exact). With
    superpose "auto", the all-exact network is returned instead when it has
    no more neurons (counted first, built only then)."""
    seed = int(rng.integers(2**32))
    depth = int(max(circuit.levels(), default=0))
    gating = options.control and options.design == "spread"  # hosted clips need no on-indicators
    compiled = _lower(circuit, options, np.random.default_rng(seed), depth - 1 if gating else 0)
    superposed = [f["level"] for f in compiled.meta.levels if f["plan"] == "superposed"]
    needed = max(superposed, default=1) - 1 if gating else 0  # layers whose on-indicators some level reads
    if needed < depth - 1 and gating:
        compiled = _lower(circuit, options, np.random.default_rng(seed), needed)
    if options.superpose == "auto" and superposed and _exact_neurons(circuit, options) <= compiled.n_neurons:
        compiled = _lower(circuit, dataclasses.replace(options, hosts=()), np.random.default_rng(seed), 0)
    return compiled


def _lower(circuit: Circuit, options: DeepOptions, rng: np.random.Generator, indicator_layers: int) -> CompiledCircuit:
    """lower_deep with on-indicators in layers 1 .. indicator_layers (0: none, no gating)."""
    if circuit.sparsity is None:
        raise CompileError("the deep lowering needs a sparsity declaration (or --sparsity)")
    deep = _DeepBuilder(circuit, options, indicator_layers > 0)
    m, base, levels = circuit.n_inputs, deep.base, deep.levels
    probes = RegionProbes(circuit, deep.regions.inputs, PROBE_ROWS, PROBE_PATTERNS, PROBE_FILLS, LEAST_PATTERNS,
                          np.random.default_rng(rng.integers(2**32)))
    probed = set(probes.regions)
    builder = _Builder(m)
    rep: dict[int, Affine] = {i: ({i: 1.0}, 0.0) for i in range(m)}
    on_rep = {r: ({i: 1.0 for i in ins}, 0.0) for r, ins in deep.regions.inputs.items()} if deep.gating else None
    estimate_at: dict[int, tuple[int, Affine]] = {i: (0, ({i: 1.0}, 0.0)) for i in range(m)}
    level_facts = []
    table: list[list[NeuronRole]] = []  # the roles of every layer's neurons
    schedule = _schedule(deep)
    for k, (gates, later, read_later) in enumerate(schedule, 1):
        signals = gates + sorted(later)
        watched = [v for v in signals if int(deep.regions.of[v]) in probed]
        on_next = on_rep if k <= indicator_layers else None
        hosted = _HostedClips.of(deep, gates, later, read_later, k == len(schedule) - 1) if deep.hosted else None
        if level_facts and level_facts[-1]["plan"] == "superposed":  # noisy reads: the clips' margins absorb them
            exact = (deep.hosted_level(hosted, rep, {}, 0, dedicated=set(signals))
                     if deep.hosted else deep.superposed_level(gates, later, rep, None, 1, set(signals), 0))
            exact.facts = {"exact_form": "clips"}
        else:  # clean reads: one neuron per AND / OR (lower_chained's exact plan)
            exact = _chained_exact_level(deep, gates, rep, later)
        exact, exact_on = _with_indicators(exact, deep.regions, on_next, k == 1)
        measure = _Measure(probes, builder.widths[-1], watched, OwnRegionReads(probes, watched, deep.regions.of[watched]),
                           len(probed) == len(deep.regions.inputs))
        budget = None if options.superpose == "always" else exact.width
        # layer 1 reads clean inputs: a region with no input on adds exactly 0, so no gating is needed there
        chosen = (_hosted_candidate(deep, measure, hosted, rep, budget, rng) if hosted is not None else
                  _superposed_candidate(deep, measure, gates, later, rep,
                                        on_rep if 1 < k <= indicator_layers + 1 else None, on_next, k == 1, budget, rng))
        facts = {"level": k, "gates": len(gates), "carried": len(later), "exact_neurons": exact.width}
        if chosen is not None and (options.superpose == "always" or chosen[0].width < exact.width):
            level, level_on, measured = chosen
            facts.update(level.facts, superposed_neurons=level.width)
        else:
            if chosen is not None:
                facts["superposed_neurons"] = chosen[0].width
            level, level_on = exact, exact_on
            measured = measure(level)
            facts.update(plan="exact", exact_form=exact.facts["exact_form"],
                         probe_max_error=float(measured.errors.max(initial=0.0)))
        builder.add_layer(level.rows, "gates")
        deep.reached = level.reached or {}
        deep.host_cap = level.layout.pools if level.layout is not None and facts["plan"] == "superposed" else {}
        table.append(level.roles)
        probes.advance(measured.activation)
        hosted_read = deep.hosted and facts["plan"] == "superposed"
        for n in gates:
            estimate_at[n] = (k, _decided(level.values[n]) if hosted_read else level.values[n])
        rep = {v: level.values[v] for v in read_later}
        on_rep = level_on
        facts["neurons"] = level.width
        facts["gates_per_neuron"] = len(gates) / level.width if level.width else math.nan
        level_facts.append(facts)

    small = sum(f.get("small_neurons", 0) for f in level_facts if f["plan"] == "superposed")
    repaired = sum(f.get("repaired_small_neurons", 0) for f in level_facts if f["plan"] == "superposed")
    superposed = [f for f in level_facts if f["plan"] == "superposed"]
    owned = sum(f["dedicated_neurons"] + f["single_tenant_neurons"] for f in superposed)
    figures = {"design": options.design, "copies": options.copies, "slope": deep.slope,
               **({} if options.share_negated else {"share_negated": False}), "regions": len(deep.regions.inputs),
               "probed_regions": len(probed), "superposed_levels": len(superposed),
               "repair_share": repaired / small if small else 0.0,
               "owned_neuron_share": owned / sum(f["neurons"] for f in superposed) if superposed else 0.0}
    meta = CircuitMeta("deep", "deep", circuit.sparsity, target_error=options.target_error, control=options.control,
                       depth=len(schedule), levels=level_facts, figures=figures, neurons=table_to_json(table))
    return assemble(circuit, base, levels, estimate_at, builder, meta)


def _schedule(deep: _DeepBuilder) -> list[tuple[list[int], set[int], list[int]]]:
    """Per level 1 .. depth: (its gates, the values it carries for later
    levels, the values of its layer a later level reads)."""
    circuit, levels = deep.circuit, deep.levels
    last_use: dict[int, int] = {}  # the last level reading each signal
    for n in deep.computed:
        for lit in _operand_literals(circuit, n, deep.base):
            if isinstance(lit, Lit):
                last_use[lit.signal] = max(last_use.get(lit.signal, 0), int(levels[n]))
    depth = int(max((levels[n] for n in deep.computed), default=0))
    stored = set(range(circuit.n_inputs))  # the values the last layer built holds for later levels
    schedule = []
    for k in range(1, depth + 1):
        gates = [n for n in deep.computed if levels[n] == k]
        later = {v for v in stored if last_use.get(v, 0) > k}
        read_later = [v for v in gates + sorted(later) if last_use.get(v, 0) > k]
        schedule.append((gates, later, read_later))
        stored = set(read_later)
    return schedule


def _chained_exact_level(deep: _DeepBuilder, gates: list[int], rep: dict[int, Affine], later: set[int]) -> _Level:
    """A level on clean reads, exact: one neuron per AND / OR (lower_chained's exact plan)."""
    plan = _exact_plan(deep.circuit, gates, deep.base, rep, later)
    return _Level(plan.rows, plan.roles, {**plan.values, **{v: ({plan.carried[v]: 1.0}, 0.0) for v in later}},
                  {"exact_form": "chained"})


def _exact_neurons(circuit: Circuit, options: DeepOptions) -> int:
    """The neurons of _lower with no level superposed, counted without probing
    it: most of that compile's time is the forward pass of its OR neurons,
    which are on for almost every probe row (1 - ReLU(1 - sum))."""
    deep = _DeepBuilder(circuit, options, False)
    rep: dict[int, Affine] = {i: ({i: 1.0}, 0.0) for i in range(circuit.n_inputs)}
    neurons = 0
    for gates, later, read_later in _schedule(deep):
        level = _chained_exact_level(deep, gates, rep, later)
        neurons += level.width
        rep = {v: level.values[v] for v in read_later}
    return neurons
