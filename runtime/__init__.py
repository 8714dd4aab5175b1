"""superpose runtime: store, measure, verify and export compiled circuits.

  artifact.py        safetensors in and out, atomic writes, validation of foreign files
  report.py          per-gate error on the stratified distribution (compiler/sampling.py)
  depth_report.py    the same per level, as a table and a plot
  verify/            proved / counterexample / unknown, by method, with bounds.py
  torch_module.py    the circuit as a torch nn.Module
  cli.py             the `superpose` command, on top of everything
  pytest_plugin.py   `.sbp` expectations as tests, and assert_circuit

Layering: runtime modules consume superpose.network.CompiledCircuit and read the
IR-level compiler modules (ir, interpret, multilinear, sampling); none imports a
lowering or the front end except cli.py, which sits on top. Needs no compiler
run: an artifact can be loaded and run on its own. This `__init__` imports
nothing itself (see superpose._lazy).
"""
from superpose._lazy import lazy_exports

_EXPORTS = {
    "load": "superpose.runtime.artifact", "save": "superpose.runtime.artifact",
    "error_report": "superpose.runtime.report", "ErrorReport": "superpose.runtime.report",
    "to_torch": "superpose.runtime.torch_module",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
