"""Showing a deliberate error without stopping "Run all".

    from checker import expect_error

    with expect_error(RuntimeError):
        y.backward()          # y is not a scalar: PyTorch refuses

The block runs as usual. The error it raises is caught and shown as a short box: the
exception's type, PyTorch's own message, and the line of the block that raised it (no
checker frames, no temporary file paths). The cell, and "Run all", go on.

Why not a cell tagged `raises-exception`? Google Colab has no cell tags: its "Run all"
stops at the first exception, tag or not. A context manager works the same everywhere
(Colab, JupyterLab, nbclient, nbval, a plain script) and on every IPython version.

If the block raises no error, or an error of another type (or whose message does not
match `match`), `expect_error` raises `ExpectedErrorMissing`: the lesson's point no
longer holds (a torch version changed behaviour), and CI must fail loudly.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Optional, Union

from .guard import student_frame

ErrorTypes = Union[type, tuple]


class ExpectedErrorMissing(AssertionError):
    """The block was expected to raise an error and did not (or raised another one)."""


@dataclass
class ShownError:
    """An expected error, as the lesson shows it."""

    type_name: str
    message: str
    line: Optional[int] = None  # the line in the cell (or file) that raised it
    code: str = ""  # that line's source

    def to_dict(self) -> dict:
        return {"type": self.type_name, "message": self.message, "line": self.line, "code": self.code}

    def _repr_html_(self) -> str:
        from .render import shown_error_html

        return shown_error_html(self)

    def __repr__(self) -> str:
        from .render import shown_error_text

        return shown_error_text(self)


def _names(expected: ErrorTypes) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(t.__name__ for t in types)


class expect_error:  # noqa: N801 - used like a function: `with expect_error(RuntimeError):`
    """Run a block that must raise `expected`; show the error instead of stopping the notebook.

    expected: an exception class (or a tuple of them), e.g. RuntimeError.
    match: optional regular expression that the error's message must contain.
    show: display the error (default); False only records it in `.error` / `.shown`.
    """

    def __init__(self, expected: ErrorTypes = Exception, match: Optional[str] = None, *, show: bool = True):
        self.expected, self.match, self.show = expected, match, show
        self.error: Optional[BaseException] = None
        self.shown: Optional[ShownError] = None

    def __enter__(self) -> "expect_error":
        return self

    def __exit__(self, kind, error, tb) -> bool:
        if error is None:
            raise ExpectedErrorMissing(
                f"Expected {_names(self.expected)} here, but the code ran without an error. "
                "This cell exists to show that error: has your PyTorch version changed its behaviour?"
            )
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit, the checker's own interrupts
            return False
        if not isinstance(error, self.expected) or (
            self.match is not None and not re.search(self.match, str(error))
        ):
            wanted = _names(self.expected) + (f" matching {self.match!r}" if self.match else "")
            raise ExpectedErrorMissing(
                f"Expected {wanted} here, but got {type(error).__name__}: {error}"
            ) from error
        frame = student_frame(error)
        code = ((frame.line or "").strip() if frame else "")
        self.error = error
        self.shown = ShownError(type(error).__name__, str(error), frame.lineno if frame else None, code)
        if self.show:
            _display(self.shown)
        return True  # swallow the expected error: the cell goes on


def _display(shown: ShownError) -> None:
    """Rich display in a notebook (HTML with a text fallback), plain text elsewhere."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display(shown)
    else:
        print(repr(shown))
