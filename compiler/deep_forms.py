"""Gates as small ReLU neurons with margins: what the deep lowering superposes.

Every gate (and every value carried to a later level) is a sum of *clips* of
t, the sum of its operand literals (a negated literal reads 1 - w):

    clip(t; c) = ReLU(k (t - c) + 1/2) - ReLU(k (t - c) - 1/2)

which is exactly 0 for t <= c - 1/(2k) and exactly 1 for t >= c + 1/(2k). On
integer t with a half-integer threshold c, the slope k leaves a margin of
1/2 - 1/(2k) in t on both sides: an operand read with an error below it does
not change the output at all, so errors do not compound with depth (a single
ReLU with slope k > 1 would multiply an error on a true value by k per level).

    AND of n       clip(t; n - 1/2)
    OR             clip(t; 1/2)
    atleast(j, n)  clip(t; j - 1/2)
    XOR (parity)   clip(t; 1/2) - clip(t; 3/2) + clip(t; 5/2) - ...
    carry w        clip(w; 1/2)

A wire that is true when no input is on is stored complemented (the
complement is another clip, with -t and -c), so that every stored wire is 0
when no input of its region is on, and every small neuron is then silent with
a margin: a region with no input on contributes exactly 0 to every large
neuron. With error control off (slope 1), the clips are exact on clean values
but have no margin: the naive baseline. The hosted design (deep_hosted.py)
shares whole clips, with thresholds of its own; the spread design shares
their two ReLUs as separate small neurons.
"""
from __future__ import annotations

from dataclasses import dataclass

from superpose.compiler.ir import Lit, Op

Terms = dict[int, float]  # signal -> weight on its stored value


@dataclass(frozen=True)
class Clip:
    """sign * clip(t; threshold), t = terms . stored wires + constant (slope
    not applied), read into wire `signal`'s value."""
    signal: int
    terms: tuple[tuple[int, float], ...]
    constant: float
    threshold: float
    sign: float


@dataclass(frozen=True)
class SmallNeuron:
    """ReLU(terms . stored wires + bias), read into its wire's value with
    weight `read`. `signal`: the wire it belongs to."""
    signal: int
    terms: tuple[tuple[int, float], ...]
    bias: float
    read: float


def clip_neurons(clip: Clip, slope: float) -> list[SmallNeuron]:
    """A clip as two small neurons of slope `slope`."""
    weights = tuple((s, slope * w) for s, w in clip.terms)
    offset = slope * (clip.constant - clip.threshold)
    return [SmallNeuron(clip.signal, weights, offset + 0.5, clip.sign),
            SmallNeuron(clip.signal, weights, offset - 0.5, -clip.sign)]


def carry_clip(signal: int) -> Clip:
    """clip(w; 1/2) of a stored wire w: the clean copy of a carried value."""
    return Clip(signal, ((signal, 1.0),), 0.0, 0.5, 1.0)


def thresholds(op: Op, k: int, n: int) -> list[tuple[float, float]]:
    """The (threshold, sign) of each clip of a gate of n operands."""
    if op is Op.AND:
        return [(n - 0.5, 1.0)]
    if op is Op.OR or op is Op.BUF:
        return [(0.5, 1.0)]
    if op is Op.ATLEAST:
        return [(k - 0.5, 1.0)]
    if op is Op.XOR:
        return [(j + 0.5, 1.0 if j % 2 == 0 else -1.0) for j in range(n)]
    raise ValueError(f"no small-neuron form for {op.value}")


def gate_clips(signal: int, op: Op, k: int, literals: list[Lit | bool], stored_complemented: dict[int, bool],
               complement_output: bool) -> tuple[list[Clip], float]:
    """The clips of gate `signal` over `literals` (operands, constants
    folded to bools; each operand's wire is stored complemented when stored_complemented says so),
    and the constant of its stored value (stored = constant + sum of sign *
    clip). With complement_output they compute NOT gate (stored complemented)."""
    terms: Terms = {}
    constant = 0.0
    for lit in literals:
        if isinstance(lit, bool):  # a folded constant operand
            constant += float(lit)
            continue
        negated = lit.negated != stored_complemented.get(lit.signal, False)  # value = 1 - stored when odd
        terms[lit.signal] = terms.get(lit.signal, 0.0) + (-1.0 if negated else 1.0)
        constant += 1.0 if negated else 0.0
    signed = thresholds(op, k, len(literals))
    weights = tuple(sorted((s, w) for s, w in terms.items() if w))
    if complement_output:  # 1 - sum(sign * clip(t; c)) = 1 - sum(sign) + sum(sign * clip(-t; -c))
        flipped = tuple((s, -w) for s, w in weights)
        clips = [Clip(signal, flipped, -constant, -threshold, sign) for threshold, sign in signed]
        return clips, 1.0 - sum(sign for _, sign in signed)
    return [Clip(signal, weights, constant, threshold, sign) for threshold, sign in signed], 0.0
