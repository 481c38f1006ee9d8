"""The errors ``python -m minitorch`` reports in one line, with a hint, and no traceback
(``--debug`` or ``MINITORCH_DEBUG=1`` shows it). Each carries the exit status the command ends with.
"""
from __future__ import annotations


class CommandError(Exception):
    """A failure the user can act on: ``str(e)`` says what happened, ``e.hint`` what to do."""
    exit_status = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class UsageError(CommandError, ValueError):
    """An option value, a path or a data file that cannot work; found before training starts
    wherever it can be. Exit status 2, as for argparse's own errors."""
    exit_status = 2


class NonFiniteLossError(CommandError, FloatingPointError):
    """The training loss (or the weights) became NaN or infinite: the run stops, the last
    checkpoint keeps the last good weights. Exit status 3."""
    exit_status = 3
