"""Self-grading exercises for learning derivatives and PyTorch autograd by doing.

In a lesson:            from checker import lesson01 as ex
                        ex.dz_dx.check(dz_dx); ex.dz_dx.hint(); ex.dz_dx.solution()
In programs:            checker.grade("lesson01.dz_dx", answer) -> Result
Your own derivations:   checker.check_gradient(manual_fn, f, *example_inputs) -> Result
A deliberate error:     with checker.expect_error(RuntimeError): y.backward()
"""
from .catalog import catalog
from .errors import ExpectedErrorMissing, expect_error
from .exercise import Exercise, Mistake, Tolerance
from .gradient import check_gradient
from .judge import ExerciseDefinitionError, grade
from .result import Result
from .selftest import self_test

__version__ = "0.1.0"


def __getattr__(name: str):
    """`from checker import lesson02`: a lesson module is imported on first use, with the CPU as default device,
    so that its data (points, example tensors) never lands on a student's default device ("cuda", "meta")."""
    if name.startswith("lesson") and name[6:].isdigit():
        from .catalog import lesson_module

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
