"""Lazy re-exports for the package `__init__` files.

A package's `__init__` runs whenever any module below it is imported, so an
`__init__` that imported its public API eagerly would make every module depend
on the whole package: `superpose.compiler.ir` would load lark and every
lowering, and the pytest plugin (loaded by every pytest run of any project
with superpose installed) would load numpy, scipy and torch. Each `__init__`
therefore names its public API in a table, and a name's module is imported on
first access (PEP 562 module `__getattr__`). This is the one place in the
package that imports by name at call time; tests/test_layering.py checks the
tables against the layering.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str], subpackages: tuple[str, ...] = ()
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of `package`: exports[name] is
    the module that defines `name`; `subpackages` are reachable as attributes
    before anything imported them. A value is cached in the package once read."""
    def __getattr__(name: str) -> object:
        if name in subpackages:
            return importlib.import_module(f"{package}.{name}")
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports) | set(subpackages))

    return __getattr__, __dir__
