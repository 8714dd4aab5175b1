"""The lowering strategies: one table from a strategy's name to its options
type and its lowering function. The pipeline (compiler/pipeline.py), the CLI
and the Python API all choose a lowering by this name, so a new strategy is
one entry here (and its module): its options become keyword arguments of
`compile_source(text, strategy=NAME, ...)` and flags of `superpose compile`.

Every lowering has the signature `lower(circuit, options, rng) -> CompiledCircuit`;
it may assume that the options are of its type and that the circuit declares
a sparsity when `needs_sparsity` is set.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from superpose.compiler.errors import CompileError
from superpose.compiler.ir import Circuit
from superpose.compiler.lower_chained import ChainOptions, lower_chained
from superpose.compiler.lower_cis import CisOptions, lower_cis
from superpose.compiler.lower_deep import DeepOptions, lower_deep
from superpose.compiler.lower_exact import ExactOptions, lower_exact
from superpose.compiler.lower_light_hub import LightHubOptions, lower_light_hub
from superpose.compiler.lower_superposed import HubOptions, PaperUandOptions, lower_hub, lower_paper_uand
from superpose.compiler.plan import choose_plan
from superpose.network import CompiledCircuit


@dataclass(frozen=True)
class Strategy:
    """One way to lower a circuit. `options` is a frozen dataclass whose
    fields are the strategy's options (each with a default)."""
    name: str
    options: type
    lower: Callable[[Circuit, Any, np.random.Generator], CompiledCircuit]
    needs_sparsity: bool
    summary: str  # one line for --help

    @property
    def option_names(self) -> list[str]:
        return [f.name for f in fields(self.options)]


def _exact(circuit: Circuit, options: ExactOptions, rng: np.random.Generator) -> CompiledCircuit:
    """The exact lowering takes no options and draws nothing at random."""
    return lower_exact(circuit)


STRATEGIES: dict[str, Strategy] = {strategy.name: strategy for strategy in (
    Strategy("exact", ExactOptions, _exact, needs_sparsity=False,
             summary="one set of neurons per gate, right on every input"),
    Strategy("hub", HubOptions, lower_hub, needs_sparsity=True,
             summary="gates share hub neurons in one superposed layer, sized from the target error"),
    Strategy("paper-uand", PaperUandOptions, lower_paper_uand, needs_sparsity=True,
             summary="the published Bernoulli U-AND construction, a baseline"),
    Strategy("chained", ChainOptions, lower_chained, needs_sparsity=True,
             summary="one layer per level of gates with threshold resets, for deep programs"),
    Strategy("deep", DeepOptions, lower_deep, needs_sparsity=True,
             summary="one layer per level, wires carried in superposition between layers, each level superposed "
                     "or exact by measurement"),
    Strategy("cis", CisOptions, lower_cis, needs_sparsity=True,
             summary="the Circuits in Superposition 2 construction over the independent sub-circuits, a baseline"),
    Strategy("light-hub", LightHubOptions, lower_light_hub, needs_sparsity=True,
             summary="for inputs in superposition (--embed-dim): pairs on neurons reading few features with "
                     "weight 1 through zero-forced code weights, sized from the target error and the code's leak, "
                     "confirmed under both fills"),
)}


def default_strategy(circuit: Circuit) -> str:
    """The strategy used when none is named: "exact" for a circuit that allows
    every input; with a sparsity, "hub" (flattened) or "deep" as plan.choose_plan says."""
    return "exact" if circuit.sparsity is None else choose_plan(circuit).strategy


def strategy_named(name: str) -> Strategy:
    """The strategy called `name`; CompileError naming the known ones if none is."""
    if name not in STRATEGIES:
        raise CompileError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def strategy_taking(options: Any) -> Strategy:
    """The strategy whose options type `options` is; CompileError if none."""
    for strategy in STRATEGIES.values():
        if type(options) is strategy.options:
            return strategy
    raise CompileError(f"{type(options).__name__} is not the options type of any strategy "
                       f"({', '.join(s.options.__name__ for s in STRATEGIES.values())})")


def strategy_options(strategy: Strategy, options: Any = None, **values: Any) -> Any:
    """The options of `strategy`: `options` as given (it must be of the
    strategy's type), or built from keyword `values` (defaults for the rest).
    CompileError for an option the strategy does not have."""
    if options is not None:
        if values:
            raise CompileError(f"give the options of strategy {strategy.name!r} either as an options object "
                               f"or as keywords ({', '.join(sorted(values))}), not both")
        if not isinstance(options, strategy.options):
            raise CompileError(f"strategy {strategy.name!r} takes {strategy.options.__name__}, "
                               f"not {type(options).__name__}")
        return options
    unknown = sorted(set(values) - set(strategy.option_names))
    if unknown:
        known = ", ".join(strategy.option_names) or "none"
        raise CompileError(f"{', '.join(unknown)}: not {'an option' if len(unknown) == 1 else 'options'} of "
                           f"strategy {strategy.name!r} (its options: {known})")
    return strategy.options(**values)
