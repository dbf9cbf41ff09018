"""The one exception users see.

Stages raise ``UserError(message, hint)`` for anything the user can fix (bad input,
missing tool, board not found, timeout). The CLI prints it as one or two lines; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can act on: ``message`` says what went wrong, ``hint`` what to try."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"
