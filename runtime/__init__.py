"""superpose runtime: execute, inspect, export and store compiled circuits.

Needs no compiler: an artifact can be loaded and run on its own.
"""
from runtime.artifact import load, save
from runtime.circuit import THRESHOLD, CompiledCircuit, Layer, Readout
from runtime.errors import ArtifactError, UserError
from runtime.verify import Counterexample, GateVerdict, VerifyResult, verify

__all__ = ["THRESHOLD", "ArtifactError", "CompiledCircuit", "Counterexample", "GateVerdict", "Layer", "Readout",
           "UserError", "VerifyResult", "load", "save", "verify"]
