"""Exercises as students hold them: `ex.dz_dx.check(answer)`, `.hint()`, `.solution()`, `.practice()`.

An `Exercise` is an `ExerciseSpec` (checker.engine.spec: what is asked, where to evaluate it, what the
answer must look like, the known `Mistake`s) plus the four methods students call. It stores no expected
values: `checker.engine.judge` computes the reference with torch.autograd in float64 every time an answer
is checked. The methods are thin: judging lives in `judge`, rendering in `render`.
"""
from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .judge import grade
from .result import Hint, Result, Solution
from .spec import ExerciseDefinitionError, ExerciseSpec, Mistake, Tolerance, as_float64, ulp

__all__ = ["Exercise", "ExerciseDefinitionError", "ExerciseSpec", "Mistake", "Tolerance", "as_float64", "ulp"]


@dataclass(eq=False)
class Exercise(ExerciseSpec):
    """One checked exercise, as a lesson declares it (see ExerciseSpec for every field)."""

    # -- what students call ------------------------------------------------------
    def check(self, answer: Any, *, plot: bool = True) -> Result:
        """Grade `answer` and return a Result that renders itself (HTML in Jupyter)."""
        return grade(self, answer, plot=plot)

    def hint(self) -> Hint:
        """One more hint each call; the last one repeats."""
        self._hints_shown = min(self._hints_shown + 1, len(self.hints))
        return Hint(self.title, self.hints[: self._hints_shown], len(self.hints))

    def solution(self) -> Solution:
        if self.kind == "value" and not callable(self.solution_fn):  # the answer is the value itself
            source = f"{self.answer_name} = {value_source(self.solution_fn)}\n"
            if self.reference is not None:
                source += "\n# where it comes from (the checker runs this):\n" + solution_source(self.reference)
            return Solution(self.title, source)
        return Solution(self.title, solution_source(self.solution_fn))

    def practice(self, seed: Optional[int] = None) -> "Exercise":
        """A new variant of this exercise to practise on (the same one for the same seed), for self-study:
        see checker.lessons.families."""
        if self.variants is None:
            raise ValueError(f"{self.id} has no practice variants; checker.catalog() says which exercises have")
        return self.variants.variant(seed)

    def __repr__(self) -> str:
        return f"<exercise {self.id}: {self.title}; answer: {self.signature}>"


def value_source(value: Any) -> str:
    """A value as Python code that makes it again (a solution must be valid code): `torch.tensor([2.0, 4.0])`,
    not the repr `tensor([2., 4.])`, which raises NameError when copied."""
    import torch

    if isinstance(value, torch.Tensor):
        dtype = "" if value.dtype == torch.get_default_dtype() else f", dtype={value.dtype}"
        return f"torch.tensor({value.detach().cpu().tolist()!r}{dtype})"
    return repr(value)



def solution_source(fn: Callable[..., Any]) -> str:
    """The reference solution's source, without the leading `_` of its private name."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return f"# (source not available for {getattr(fn, '__name__', fn)!r})"
    name = fn.__name__
    if name.startswith("_"):
        source = source.replace(f"def {name}(", f"def {name.lstrip('_')}(", 1)
        source = source.replace(f"class {name}(", f"class {name.lstrip('_')}(", 1)
        source = source.replace(f"class {name}:", f"class {name.lstrip('_')}:", 1)
    return source.rstrip() + "\n"
