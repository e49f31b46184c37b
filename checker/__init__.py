"""Self-grading exercises for learning derivatives and PyTorch autograd by doing.

In a lesson:            from checker import lesson01 as ex
                        ex.dz_dx.check(dz_dx); ex.dz_dx.hint(); ex.dz_dx.solution()
In programs:            checker.grade("lesson01.dz_dx", answer) -> Result
Your own derivations:   checker.check_gradient(manual_fn, f, *example_inputs) -> Result
A deliberate error:     with checker.expect_error(RuntimeError): y.backward()

The package, by part:
  checker.engine    judging: exercises as data, the autograd reference, verdicts and their rendering
  checker.lessons   the course's exercises, one module per lesson, and their practice variants
  checker.figures   the lessons' figures (matplotlib, imported on first use)
  checker.grading   bulk grading of submitted notebooks: `python -m checker grade ...`
"""
from __future__ import annotations

from typing import Any, Union

from .engine import judge as _judge
from .engine.errors import ExpectedErrorMissing, expect_error
from .engine.exercise import Exercise, Mistake, Tolerance
from .engine.gradient import check_gradient
from .engine.result import Result
from .engine.spec import ExerciseDefinitionError
from .lessons.catalog import catalog, find, lesson_module
from .lessons.selftest import self_test

__version__ = "0.1.0"


def grade(exercise: Union[Exercise, str], answer: Any, *, plot: bool = False) -> Result:
    """Grade one answer to an exercise (the Exercise, or its id such as "lesson01.dz_dx"), as `check` does.
    `plot=True` adds the data for a plot when the answer is wrong."""
    if isinstance(exercise, str):
        exercise = find(exercise)
    return _judge.grade(exercise, answer, plot=plot)


def __getattr__(name: str):
    """`from checker import lesson02`: a lesson module is imported on first use, with the CPU as default device,
    so that its data (points, example tensors) never lands on a student's default device ("cuda", "meta")."""
    if name.startswith("lesson") and name[6:].isdigit():
        return lesson_module(name)
    raise AttributeError(f"module 'checker' has no attribute {name!r}")


__all__ = [
    "Exercise",
    "ExerciseDefinitionError",
    "ExpectedErrorMissing",
    "Mistake",
    "Result",
    "Tolerance",
    "catalog",
    "check_gradient",
    "expect_error",
    "grade",
    "self_test",
]
