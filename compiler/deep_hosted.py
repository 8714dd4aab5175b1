"""Hosted clips: the deep lowering's level design in which gates share neurons.

Every clip of a level (deep_forms.py: a gate is one clip or a signed sum of
them, a carried value is one) is given `copies` (S) *hosts* in its layer. A
host is two ReLUs of one pre-activation, a clip of slope k:

    host = ReLU(k (z - c) + 1/2) - ReLU(k (z - c) - 1/2),   z = sum of its clips' forms

and is shared by clips of different regions (connected parts of the circuit)
with the same threshold c (one pool per c; conflict_free_design: two clips
share at most one host, and never when one's region reaches the other's reads). A clip's value is the
mean of its S hosts.

A clip's *form* is its terms on the stored wires, with no constant: every
stored wire is 0 when no input of its region is on (deep_forms.py), so a
region with no input on adds exactly 0 to every host and needs no
on-indicator. What an inactive region cannot avoid is a *stray* read: a host
lit by a co-tenant of an active region adds 1/S to the reads of all its other
clips in the next layer. The threshold is placed for it: over every operand
assignment (the clean values of the form) and every single stray read (one
operand that is 0 read as 1/S), c sits in the middle of the gap between the
highest false value and the lowest true one, and negated reads are shrunk by
the scale that widens that gap most (AND-NOT a & !b at S = 2: a - 0.5 b, c =
0.625). With error control off the thresholds sit between the clean values
only (no stray allowed for) and the slope is 1: the naive baseline.

A clip whose gap is too narrow for the clip's ramp (or that has more than
MOST_OPERANDS operands to enumerate) and a clip that is on when no input is
(a stored wire never is, but a gate's second clip may be) cannot share: it
gets a host of its own, as do the clips of the signals the measured repair
dedicates.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from superpose.compiler.deep_forms import Clip
from superpose.compiler.lowering import csr_entries

HOST_SLOPE = 16.0  # k: the ramp of a host is 1/16 wide, small against the gaps (1/4 for AND-NOT at S = 2)
NEGATED_SCALES = tuple(np.round(np.arange(0.3, 1.0001, 0.05), 2).tolist())  # candidate shrinks of a negated read
MOST_OPERANDS = 12  # forms with more operands are not enumerated (2^n assignments): they get a host of their own
POOL_DIGITS = 9     # thresholds equal to this many digits share a pool
FIRST_FIT_TRIES = 64  # random hosts with room tried for a copy before a new one is opened
# false clips with a lit host, per input, allowed per clip of a pool: every lit host adds a stray read to
# each false clip it hosts, and a host of the next layer that sums a few of them lights up itself, so stray
# reads feed the next layer's (bench/proto_hosted.py at T = 2,000: about 0.3% of clips read stray in level 1
# at 9 / 5 / 4 clips per host, which held 8 levels, and 1% at 16 per host, which failed at level 2 here)
STRAY_SHARE = 0.004
# the same where only the last level reads the clips: their strays light hosts of the last level alone, whose
# errors its probes measure and its repair catches, and cascade no further (circuits-T, T = 2,000, the level
# before the last: the OR pool missed 0.004 at H = 4 by a few percent and took H = 3, 1,400 more neurons; at 1.5x
# and 2x it keeps H = 4, capped by the level below; BENCHMARKS.md)
STRAY_SHARE_BEFORE_LAST = 2 * STRAY_SHARE
# most H of the repair pool the clips misread after the re-pack move to (and sparser than their own pool):
# circuits-T, T = 2,000, two instances: 42,634 and 42,488 neurons at 5, against 42,780 and 42,580 at 4 and 42,580
# and 42,690 at 6 (40 to 100 clips per level reach it, 400 at the last level; BENCHMARKS.md)
REPACK_HOSTS = 5


@dataclass(frozen=True)
class HostedForm:
    """A clip as hosts read it: z = terms . stored wires, lit above `threshold`.
    shareable: silent with a margin when its operands are 0 and wide enough a
    gap for the ramp, so it may share a host."""
    terms: tuple[tuple[int, float], ...]
    threshold: float
    shareable: bool


def hosted_form(clip: Clip, stray: float, slope: float, share_negated: bool = True) -> HostedForm:
    """The form and threshold of `clip` that tolerate one stray read of `stray`
    (see the module docstring); a clip it cannot place keeps its own terms
    and threshold and is not shareable.

    Unless `share_negated`, a clip with a negated read (a negative term)
    keeps its placed form but does not share either: an ablation. A negated
    read is the only negative part of a form, and no placement keeps it from
    switching off a host it shares: a co-tenant a & !b of an active region at
    a = 0, b = 1 lowers the host by its scale s, so a true tenant of the pool
    reads at most 1 - s, the value of its own false a = b = 1 state, below
    the threshold. Measured: bench/bench_misreads.py."""
    threshold = clip.threshold - clip.constant  # the constant moves into the threshold: the form is 0 at 0
    placed = _placed(tuple(w for _, w in clip.terms), threshold, stray, slope)
    if placed is None:
        return HostedForm(clip.terms, threshold, False)
    weights, middle = placed
    return HostedForm(tuple((s, w) for (s, _), w in zip(clip.terms, weights)), middle,
                      share_negated or min(weights) >= 0)


@functools.lru_cache(maxsize=None)
def _placed(terms: tuple[float, ...], threshold: float, stray: float, slope: float
            ) -> tuple[tuple[float, ...], float] | None:
    """(shrunk weights, threshold) for a form of these weights, or None (the
    module docstring); cached: a level has a handful of distinct forms."""
    weights = np.array(terms, dtype=np.float64)
    if weights.size == 0 or weights.size > MOST_OPERANDS:
        return None
    assignments = np.array(list(itertools.product((0.0, 1.0), repeat=weights.size)))  # (2^n, n)
    truth = assignments @ weights >= threshold
    if truth.all() or not truth.any():
        return None
    best: tuple[float, float, np.ndarray] | None = None  # (gap, threshold, weights)
    for scale in NEGATED_SCALES if (weights < 0).any() else (1.0,):
        scaled = np.where(weights < 0, scale * weights, weights)
        clean = assignments @ scaled
        strayed = clean[:, None] + (assignments == 0) * scaled[None, :] * stray  # (2^n, n): one operand strays
        values = np.concatenate([clean[:, None], strayed], axis=1)
        high, low = values[~truth].max(), values[truth].min()
        if best is None or low - high > best[0]:
            best = (low - high, (low + high) / 2, scaled)
    gap, middle, scaled = best
    if gap < 1.0 / slope or middle <= 0:  # the ramp does not fit, or the clip is on at 0: no sharing
        return None
    return tuple(float(w) for w in scaled), float(middle)


def pool_key(form: HostedForm) -> float:
    """The pool a shareable form goes to: its threshold, rounded."""
    return round(form.threshold, POOL_DIGITS)


@dataclass
class HostLayout:
    """Which clips every host of a level carries.

    hosts: per host, the indices of its clips (one clip: a host of its own);
    threshold: (n_hosts,) its threshold; of_clip: per clip, its hosts."""
    hosts: list[list[int]]
    threshold: np.ndarray
    of_clip: list[list[int]]
    pools: dict[float, int]  # pool key -> hosts per clip it was laid out with (H)


class _FirstFit:
    """Random first fit of items onto hosts of at most `hosts` items each,
    under conflict_free_design's rules, starting from the hosts' `tenants`
    (indices into regions and touch; the list is filled in place)."""

    def __init__(self, regions: np.ndarray, touch: list[frozenset[int]], hosts: int, rng: np.random.Generator,
                 tenants: list[list[int]]):
        self.regions, self.touch, self.hosts, self.rng, self.tenants = regions, touch, hosts, rng, tenants
        self.host_regions = [{int(regions[j]) for j in t} for t in tenants]
        self.host_touch = [set().union(*(touch[j] for j in t)) for t in tenants]
        self.met: dict[int, set[int]] = {}  # per region, the regions it shares a host with
        for present in self.host_regions:
            for region in present:
                self.met.setdefault(region, set()).update(present - {region})
        # hosts with room, in no order (a full one is swapped out)
        self.open_hosts = [h for h, t in enumerate(tenants) if len(t) < hosts]

    def place(self, j: int, copies: int) -> list[int]:
        """The `copies` hosts item j goes to (a host is opened when none of the tried ones fits)."""
        chosen_hosts = []
        for _ in range(copies):
            chosen = self._fitting(j)
            if chosen < 0:  # none of the tried hosts fits: open one
                chosen = len(self.tenants)
                self.tenants.append([])
                self.host_regions.append(set())
                self.host_touch.append(set())
                self.open_hosts.append(chosen)
            self._add(j, chosen)
            chosen_hosts.append(chosen)
        return chosen_hosts

    def _fitting(self, j: int) -> int:
        """A random host with room the rules allow for item j, one whose tenants' touches are disjoint from j's
        if one of the tried is; -1 if none of them fits."""
        region, reach = int(self.regions[j]), self.touch[j]
        partners = self.met.get(region, set())
        allowed = -1
        tries = self.rng.integers(0, len(self.open_hosts), size=FIRST_FIT_TRIES).tolist() if self.open_hosts else []
        for k in tries:
            h = self.open_hosts[k]
            if (region not in self.host_touch[h] and reach.isdisjoint(self.host_regions[h])
                    and partners.isdisjoint(self.host_regions[h])):
                if reach.isdisjoint(self.host_touch[h]):
                    return h
                allowed = h if allowed < 0 else allowed
        return allowed

    def _add(self, j: int, h: int) -> None:
        """Item j becomes a tenant of host h (which is closed when full)."""
        region = int(self.regions[j])
        for other in self.host_regions[h]:
            self.met.setdefault(other, set()).add(region)
        self.met.setdefault(region, set()).update(self.host_regions[h])
        self.tenants[h].append(j)
        self.host_regions[h].add(region)
        self.host_touch[h].update(self.touch[j])
        if len(self.tenants[h]) >= self.hosts:
            at = self.open_hosts.index(h)
            self.open_hosts[at] = self.open_hosts[-1]
            self.open_hosts.pop()


def conflict_free_design(regions: np.ndarray, touch: list[frozenset[int]], copies: int, hosts: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Hosts for the items of one pool: ((n_items, copies) host indices in
    [0, n_hosts), n_hosts), at most `hosts` items per host, under two rules.

    (1) Two items share a host only if neither's region is in the other's
    `touch` (the regions whose activity reaches its reads: its own, and
    those of the clips that share a host with its operands in the layer
    below). Otherwise a circuit's own activity, through a stray read of a
    clip it shares a host with below, would light a host of its own false
    clip every time (measured: a false AND-NOT read 0.5 on every input of
    one pattern of its circuit, 50% error).
    (2) Two regions share at most one host (so two items share at most one,
    too). Otherwise one active region sharing hosts with two clips of
    another strays both, and a gate reading both (an OR) reads the two
    strays as one true operand and lights its host, which strays all its
    co-tenants: false lights that grow with depth.
    Random first fit: hosts with room are tried at random, and the first
    whose tenants' touches are disjoint from the item's is taken (then no
    active region reaches two tenants of the host, whose two stray reads
    would sum at S = 2 to a true operand's read), else the first the rules
    allow; a host is opened when none does. Requiring disjoint touches packs
    badly above a dense level, whose touches are large (circuits-T, T =
    4,000: 1.25 gates per neuron); preferring them: 1.38 at T = 2,000 (1.25
    with rule (1) alone, 1.28 with both rules; every sampled gate within
    1%), 1.53 at T = 4,000 (1.57, 1.62; one sampled gate of 400 at 1.13%)
    (BENCHMARKS.md, `## deep: hosted clips in the compiler`)."""
    n = regions.size
    fit = _FirstFit(regions, touch, hosts, rng, [[] for _ in range(max(copies, -(-n * copies // hosts)))])
    placed = np.zeros((n, copies), dtype=np.int64)
    for j in rng.permutation(n).tolist():
        placed[j] = fit.place(j, copies)
    return placed, len(fit.tenants)


def pool_members(forms: list[HostedForm]) -> list[tuple[float, list[int]]]:
    """(key, clip indices) of every pool of shareable clips, by key."""
    keys = sorted({pool_key(f) for f in forms if f.shareable})
    return [(key, [j for j, f in enumerate(forms) if f.shareable and pool_key(f) == key]) for key in keys]


def repack_hosts(pool_hosts: int) -> int:
    """H of the repair pool of a pool laid out at `pool_hosts` (lay_out)."""
    return min(REPACK_HOSTS, pool_hosts - 1)


def lay_out(forms: list[HostedForm], regions: np.ndarray, touch: list[frozenset[int]], copies: int,
            hosts: dict[float, int], layout_seed: int, repacked: set[int] = frozenset(),
            pooled: set[int] = frozenset(), alone: set[int] = frozenset()) -> HostLayout:
    """Hosts for every clip. forms: one per clip; regions: (n_clips,) region
    of each; touch: per clip, the regions whose activity reaches its reads
    (conflict_free_design); hosts: H of every pool key that has a clip not
    alone. The measured repair, in three stages (most clips a probe misreads
    fail with their co-tenants, not wherever they go):
      - `repacked` clips leave their places in their pool's layout and take,
        by first fit, the places they and the other repacked clips left
        (fresh co-tenants at no cost), a host being opened only where no
        vacancy fits;
      - `pooled` clips (misread after that) move to a repair pool of their
        threshold, at repack_hosts(H) clips per host;
      - `alone` clips (misread there too) get a host of their own.
    Each stage only removes clips from the places the stage before gave
    (every layout depends only on its clips, H and the seed), so a repair
    only ever removes co-tenants of the clips it leaves in place. Measured
    (circuits-T, T = 2,000; BENCHMARKS.md): the repair pool alone as the
    first stage, 44,912 neurons; the re-pack then hosts of their own,
    43,412; all three, 42,634."""
    layout_hosts: list[list[int]] = []
    thresholds: list[float] = []

    def keep(tenants: list[list[int]], gone: set[int], key: float) -> None:
        """Add the hosts of one stage at threshold `key`, less the clips `gone` to a later stage."""
        for clips in tenants:  # hosts left with no tenant (all moved on) are dropped
            kept = [j for j in clips if j not in gone]
            if kept:
                layout_hosts.append(kept)
                thresholds.append(key)

    alone, pooled, repacked = set(alone), set(pooled), set(repacked)
    moved_on = alone | pooled  # the clips that leave the pool's own layout
    for index, (key, pool) in enumerate(pool_members(forms)):
        if not moved_on.issuperset(pool):
            keep(_stage_tenants(regions, touch, copies, hosts[key], np.random.default_rng([layout_seed, index]),
                                pool, repacked, np.random.default_rng([layout_seed, index, 1])),
                 moved_on, key)
        again = [j for j in pool if j in pooled]
        if not alone.issuperset(again):
            keep(_stage_tenants(regions, touch, copies, repack_hosts(hosts[key]),
                                np.random.default_rng([layout_seed, index, 2]), again),
                 alone, key)
    of_clip: list[list[int]] = [[] for _ in forms]
    for h, clips in enumerate(layout_hosts):
        for j in clips:
            of_clip[j].append(h)
    for j, form in enumerate(forms):
        if not of_clip[j]:
            of_clip[j].append(len(layout_hosts))
            layout_hosts.append([j])
            thresholds.append(form.threshold)
    return HostLayout(layout_hosts, np.array(thresholds), of_clip, dict(hosts))


def _stage_tenants(regions: np.ndarray, touch: list[frozenset[int]], copies: int, hosts: int,
                   rng: np.random.Generator, items: list[int], refilled: set[int] = frozenset(),
                   refill_rng: np.random.Generator | None = None) -> list[list[int]]:
    """The tenants of every host of a conflict-free layout of `items` at H =
    hosts, after the `refilled` items leave their places and take, by first
    fit in random order, the places they left (lay_out)."""
    placed, n_hosts = conflict_free_design(regions[items], [touch[j] for j in items], copies, hosts, rng)
    tenants: list[list[int]] = [[] for _ in range(n_hosts)]
    for j, row in zip(items, placed.tolist()):
        if j not in refilled:
            for unit in row:
                tenants[unit].append(j)
    moved = [j for j in items if j in refilled]
    if moved:
        fit = _FirstFit(regions, touch, hosts, refill_rng, tenants)
        for i in refill_rng.permutation(len(moved)).tolist():
            fit.place(moved[i], copies)
    return tenants


def stray_reads(activation: sp.csr_matrix, layout: HostLayout, clip_signals: np.ndarray,
                true_signals: sp.csr_matrix, read_later: np.ndarray) -> dict[float, float]:
    """Per pool key, the mean count per probe row of its clips whose signal is
    false, read by a later level and that have a lit host: the stray reads
    the next layer sums (a stray on a clip nothing reads is harmless).
    activation: (n, 2 n_hosts) of the level's ReLUs (host h is units 2h,
    2h + 1); clip_signals: (n_clips,) signal of each clip; true_signals: (n,
    n_signals) bool CSR of the signals true on each row; read_later:
    (n_clips,) bool."""
    values = activation[:, 0::2] - activation[:, 1::2]   # (n, n_hosts) each host's clip
    lit = (values > 0.5).astype(np.float32).tocsr()
    pairs = np.array([(h, j) for h, clips in enumerate(layout.hosts) for j in clips], dtype=np.int64).T
    host_clips = sp.csr_matrix((np.ones(pairs.shape[1], np.float32), (pairs[0], pairs[1])),
                               shape=(len(layout.hosts), clip_signals.size))
    reached = (lit @ host_clips).tocsr()                                     # (n, n_clips) lit hosts per clip
    reached.data[:] = 1.0
    rows, clips = reached.nonzero()
    false = ~csr_entries(true_signals, rows, clip_signals[clips]).astype(bool) & read_later[clips]
    per_clip = np.bincount(clips[false], minlength=clip_signals.size) / max(activation.shape[0], 1)
    clip_pool = np.full(clip_signals.size, np.nan)
    for h, clips_of_host in enumerate(layout.hosts):
        clip_pool[clips_of_host] = round(float(layout.threshold[h]), POOL_DIGITS)
    return {key: float(per_clip[clip_pool == key].sum()) for key in layout.pools}
