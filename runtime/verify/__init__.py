"""Verification: is every gate right on every input with at most s features on?

`verify` gives every gate a verdict (verdicts.py):
  proved          right on every such input; `margin` is the worst distance of
                  its readout to THRESHOLD on the right side (exact after
                  enumeration, a guaranteed lower bound after bounds)
  counterexample  an input on which it is wrong, confirmed by running the
                  circuit and the reference interpreter
  unknown         the budget ran out first (or the gate's support has too many
                  patterns to split on); `bounds` are its readout's bounds on
                  the support pattern that came closest to failing

Methods, cheapest first, each a module; every one runs the circuit through
its own forward pass (superpose.network) and takes the truth from table.py,
the gate's value on every pattern of its support:
  enumeration.py  every input with <= s features on, in batches
  bounding.py     sound bounds (runtime/bounds.py) per pattern of the gate's
                  own support, with at most s - |pattern| other features on
  branching.py    best-first branch and bound on the sets bounds leave open:
                  each set's candidate counterexample is run on the circuit,
                  then the set is split on the most harmful free feature
verifier.py: "auto" enumerates small input spaces outright; otherwise it
bounds, branches, and enumerates for the gates still open if that fits in the budget.
"""
from superpose._lazy import lazy_exports

_EXPORTS = {
    "verify": "superpose.runtime.verify.verifier", "Method": "superpose.runtime.verify.verifier",
    "VerifyResult": "superpose.runtime.verify.verdicts", "GateVerdict": "superpose.runtime.verify.verdicts",
    "Counterexample": "superpose.runtime.verify.verdicts", "Status": "superpose.runtime.verify.verdicts",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
