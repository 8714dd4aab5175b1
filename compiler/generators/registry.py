"""The generators by name, for specs that name them (superpose sweep): each
generator's parameters are its function's, checked here with clear messages."""
from __future__ import annotations

import inspect
from typing import Any, Callable

from superpose.compiler.errors import CompileError
from superpose.compiler.generators.chain import chain_circuit
from superpose.compiler.generators.circuits import circuits_circuit
from superpose.compiler.generators.layered import layered_circuit
from superpose.compiler.generators.uand import random_pairs_circuit
from superpose.compiler.ir import Circuit

GENERATORS: dict[str, Callable[..., Circuit]] = {
    "uand": random_pairs_circuit, "layered": layered_circuit, "circuits": circuits_circuit, "chain": chain_circuit}


def generator_parameters(generator: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of `generator` with `given` values and defaults filled
    in, in the function's order; CompileError naming what is unknown, missing
    or of the wrong type."""
    if generator not in GENERATORS:
        raise CompileError(f"unknown generator {generator!r}: known generators are {', '.join(GENERATORS)}")
    signature = inspect.signature(GENERATORS[generator])
    known = ", ".join(signature.parameters)
    unknown = sorted(set(given) - set(signature.parameters))
    if unknown:
        raise CompileError(f"generator {generator!r} has no parameter {', '.join(map(repr, unknown))}; "
                           f"its parameters: {known}")
    try:
        bound = signature.bind(**given)
    except TypeError as error:
        raise CompileError(f"generator {generator!r}: {error}; its parameters: {known}") from None
    bound.apply_defaults()
    for name, value in bound.arguments.items():
        if str(signature.parameters[name].annotation).startswith("str"):  # a label, such as uand's circuit name
            if not isinstance(value, (str, type(None))):
                raise CompileError(f"generator {generator!r}: parameter {name} must be a string, got {value!r}")
            continue
        least = 0 if name == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise CompileError(f"generator {generator!r}: parameter {name} must be a whole number >= {least}, "
                               f"got {value!r}")
    return dict(bound.arguments)


def generate_circuit(generator: str, parameters: dict[str, Any]) -> Circuit:
    """The circuit `generator` makes from `parameters` (generator_parameters checks them)."""
    return GENERATORS[generator](**generator_parameters(generator, parameters))
