"""Low-precision answers cannot buy a wider tolerance.

float16 and bfloat16 answers are judged at their own rounding of each expected value (one ulp there,
relative); where only rounding could explain the difference, the checker says it cannot tell, never
"correct"; float8 and float4 answers are refused, naming the dtypes to use. Checked with every floating
dtype torch offers, as a constant answer and as each known mistake, in the notebook and in bulk grading.
"""
import math

import pytest
import torch

import checker
from checker.lessons.catalog import all_exercises
from tests.inprocess_probe import bulk_grade

FLOATING = sorted({d for d in (getattr(torch, n) for n in dir(torch))
                   if isinstance(d, torch.dtype) and d.is_floating_point}, key=str)
COARSE = [d for d in FLOATING if d not in (torch.float64, torch.float32, torch.float16, torch.bfloat16)]
# exercises whose answer is a function of numbers or a value (a harness's answer is a method or a class,
# whose numbers the harness makes: not something a student returns in a dtype of their choosing)
EXERCISES = [ex for ex in all_exercises() if ex.harness is None]


def test_every_floating_dtype_is_covered():
    assert {torch.float8_e5m2, torch.float8_e8m0fnu, torch.float16, torch.bfloat16} <= set(FLOATING)
    assert len(COARSE) >= 5


def _in(dtype, value):
    def convert(v):
        if isinstance(v, (tuple, list)):
            return type(v)(convert(x) for x in v)
        t = torch.as_tensor(v, dtype=torch.float64)
        if "float4" in str(dtype):  # packed: cannot be converted to, only created
            return torch.empty(t.shape, dtype=dtype)
        return t.to(dtype)

    if callable(value) and not isinstance(value, torch.Tensor):
        return lambda *args: convert(value(*args))
    return convert(value)


def _constant(ex):
    if ex.kind == "value":
        return torch.ones(3) if ex.id.endswith("sum_grad") else 1.0
    return lambda *args: 1.0 if len(ex.outputs) == 1 else tuple(1.0 for _ in ex.outputs)


@pytest.mark.parametrize("dtype", FLOATING, ids=[str(d)[6:] for d in FLOATING])
def test_no_constant_and_no_known_mistake_passes_in_any_dtype(dtype):
    passed = []
    for ex in EXERCISES:
        answers = [("a constant", _constant(ex))] + [(m.id, m.answer) for m in ex.mistakes if m.answer is not None]
        for label, answer in answers:
            result = checker.grade(ex, _in(dtype, answer))
            if result.passed:
                passed.append((ex.id, label))
            if dtype in COARSE:
                assert result.status == "error" and "float32 or float64" in result.message, (ex.id, result.message)
    assert not passed


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_solutions_rounded_to_half_precision_pass(dtype):
    for ex in EXERCISES:
        result = checker.grade(ex, _in(dtype, ex.solution_fn))
        assert result.passed, (ex.id, result.message)


def test_the_issues_examples(tmp_path):
    dy = checker.lesson01.dy_dx
    float8 = lambda *a: torch.tensor(1.0, dtype=torch.float8_e8m0fnu)  # noqa: E731
    offset = lambda x: torch.tensor(2 * x + 0.01, dtype=torch.bfloat16)  # noqa: E731
    for ex in EXERCISES:
        if ex.kind != "value":
            assert not checker.grade(ex, float8).passed
            assert not bulk_grade(ex, float8, tmp_path).passed
    for result in (checker.grade(dy, offset), bulk_grade(dy, offset, tmp_path)):
        assert not result.passed and result.status in ("incorrect", "error")
    coarse = checker.grade(dy, lambda x: torch.tensor(2 * x, dtype=torch.float8_e5m2))
    assert coarse.status == "error" and "float8_e5m2" in coarse.message and "float32 or float64" in coarse.message


def test_half_precision_is_judged_relative_to_each_value():
    """Near 0 a bfloat16 value is fine-grained: an offset of 0.01 is many of its steps there."""
    dz = checker.lesson01.dz_dx
    right = lambda x: torch.tensor(2 * x * math.cos(x**2), dtype=torch.bfloat16)  # noqa: E731
    assert checker.grade(dz, right).passed
    off = lambda x: torch.tensor(2 * x * math.cos(x**2) + 0.01, dtype=torch.float16)  # noqa: E731
    result = checker.grade(dz, off)
    assert not result.passed
    named = checker.grade(dz, lambda x: torch.tensor(math.cos(x**2), dtype=torch.bfloat16))
    assert named.mistake == "missing-inner-factor", "a known mistake is still named in half precision"


def test_when_only_rounding_could_explain_it_the_checker_says_it_cannot_tell():
    native = lambda x: (lambda t: 2 * t * torch.cos(t**2))(torch.tensor(x, dtype=torch.bfloat16))  # noqa: E731
    result = checker.grade(checker.lesson01.dz_dx, native)
    assert result.status == "error" and result.mistake == "low-precision"
    assert "bfloat16" in result.message and "float32 or float64" in result.message


def test_numpy_half_precision_is_judged_the_same_way():
    import numpy as np

    dz = checker.lesson01.dz_dx
    assert checker.grade(dz, lambda x: np.float16(2 * x * math.cos(x**2))).passed
    assert not checker.grade(dz, lambda x: np.float16(2 * x * math.cos(x**2) + 0.05)).passed
