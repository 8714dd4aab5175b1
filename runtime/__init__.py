"""superpose runtime: execute, inspect, export and store compiled circuits.

Needs no compiler: an artifact can be loaded and run on its own.
"""
from superpose.runtime.artifact import load, save
from superpose.runtime.circuit import THRESHOLD, CompiledCircuit, Layer, Readout
from superpose.runtime.errors import ArtifactError, UserError
from superpose.runtime.verify import Counterexample, GateVerdict, VerifyResult, verify

__all__ = ["THRESHOLD", "ArtifactError", "CompiledCircuit", "Counterexample", "GateVerdict", "Layer", "Readout",
           "UserError", "VerifyResult", "load", "save", "verify"]
