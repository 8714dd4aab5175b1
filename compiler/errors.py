"""Errors a user can cause: each carries its position and prints like a compiler.

    animals.sbp:7:15: undefined name 'feather' (did you mean 'feathers'?)
        bird = feather & flies
                     ^
"""
from __future__ import annotations

from dataclasses import dataclass

from superpose.compiler.ir import Loc
from superpose.errors import UserError


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the user's input. `source_line` is the text of the
    offending line (without its newline), shown under the message with a caret."""
    message: str
    loc: Loc | None = None
    source_line: str | None = None

    def __str__(self) -> str:
        if self.loc is None:
            return self.message
        text = f"{self.loc}: {self.message}"
        if self.source_line is not None:
            shown = self.source_line.expandtabs(1)
            text += f"\n    {shown}\n    {' ' * (self.loc.column - 1)}^"
        return text


class CompileError(UserError):
    """Bad user input: one or more diagnostics, all reported together."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def diagnostic_at(message: str, file: str, text: str, line: int, column: int) -> Diagnostic:
    """A diagnostic at 1-based (line, column) of `text`, with that line attached."""
    lines = text.splitlines()
    source_line = lines[line - 1] if 1 <= line <= len(lines) else None
    return Diagnostic(message, Loc(file, line, column), source_line)
