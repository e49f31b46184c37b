"""Stability is judged where instability happens: in float32, at the logits where naive forms overflow.

Lesson 04's "stable" exercises are judged in float64 and in float32 (the precision students train
in), with |z| up to 100 and at ±1e4; an exercise can forbid the library functions that would do
the work, under every route to them, in the notebook and in bulk grading.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import checker
from checker import lesson04
from checker.engine.judge import checked_points, sampled_reference
from tests.inprocess_probe import bulk_grade

EX = lesson04.stable_bce


def _inputs_seen(ex, answer=None):
    seen = []

    def spy(*args):
        seen.append(args)
        return (answer or ex.solution_fn)(*args)

    checker.grade(ex, spy)
    return seen


def test_stable_bce_is_judged_in_float32_far_into_saturation():
    seen = _inputs_seen(EX)
    dtypes = {z.dtype for z, _ in seen}
    assert dtypes == {torch.float64, torch.float32}
    zs32 = [float(z) for z, _ in seen if z.dtype == torch.float32]
    assert max(zs32) >= 1e4 and min(zs32) <= -1e4
    assert sum(90 <= abs(z) <= 100 for z in zs32) >= 3, "the range where exp overflows float32"


# (label, answer, mistake id or None for the generic message)
NAIVE = [
    ("log(1 + exp(z)) - z*y", lambda z, y: torch.log(1 + torch.exp(z)) - z * y, "softplus-overflow"),
    ("log1p(exp(z)) - z*y", lambda z, y: torch.log1p(torch.exp(z)) - z * y, "softplus-overflow"),
    ("-(y log σ(z) + (1-y) log σ(-z))",
     lambda z, y: -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(torch.sigmoid(-z))), "exp-overflow"),
    ("y log(1+e^-z) + (1-y) log(1+e^z)",
     lambda z, y: y * torch.log(1 + torch.exp(-z)) + (1 - y) * torch.log(1 + torch.exp(z)), "exp-overflow"),
    ("z + log1p(exp(-z)) - z*y", lambda z, y: z + torch.log1p(torch.exp(-z)) - z * y, "positive-form-everywhere"),
    ("each form on the wrong side",  # z is one number (0-dim): a Python `if` chooses (torch.where is refused)
     lambda z, y: (torch.log1p(torch.exp(z)) if z > 0 else z + torch.log1p(torch.exp(-z))) - z * y,
     "forms-swapped"),
]


@pytest.mark.parametrize("label, answer, mistake", NAIVE, ids=[n[0] for n in NAIVE])
def test_forms_that_overflow_in_float32_are_wrong(label, answer, mistake):
    result = checker.grade(EX, answer)
    assert result.status == "incorrect" and result.mistake == mistake, result.message
    assert "float32" in result.message and "overflow" in result.message


def test_a_new_unstable_form_is_told_where_it_breaks_and_why():
    def only_float64_is_stable(z, y):
        if z.dtype == torch.float64:
            return lesson04._stable_bce(z, y)
        return torch.log(1 + torch.exp(z)) * (1 + 1e-9) - z * y  # not a known mistake

    result = checker.grade(EX, only_float64_is_stable)
    assert result.status == "incorrect" and result.mistake is None
    assert "not a finite number" in result.message and "in float32" in result.message
    assert "z = 89.5" in result.message and "overflow" in result.message
    assert all(d.got in ("inf", "nan", "-inf") for d in result.details), "only the rows that are not numbers"
    assert all(d.inputs["dtype"] == "float32" for d in result.details)


def test_an_answer_that_loses_its_precision_in_float32_is_wrong():
    def rounds_through_float16(z, y):
        return lesson04._stable_bce(z.double(), y.double()).to(torch.bfloat16 if z.dtype == torch.float32
                                                                 else torch.float64).to(z.dtype)

    result = checker.grade(EX, rounds_through_float16)
    assert result.status == "incorrect"
    assert "right when computed in float64 but not in float32" in result.message


STABLE = [
    ("section 4's formula", lesson04._stable_bce),
    ("each of section 4's forms on its own side, chosen by an if (only the safe one is computed)",
     lambda z, y: (z + torch.log1p(torch.exp(-z)) if z > 0 else torch.log1p(torch.exp(z))) - z * y),
    ("float32 inside", lambda z, y: lesson04._stable_bce(z.float(), y.float())),
]


@pytest.mark.parametrize("label, answer", STABLE, ids=[s[0] for s in STABLE])
def test_stable_forms_pass(label, answer):
    assert checker.grade(EX, answer).passed


FORBIDDEN = [
    ("F.binary_cross_entropy_with_logits", lambda z, y: F.binary_cross_entropy_with_logits(z, y),
     "F.binary_cross_entropy_with_logits"),
    ("nn.BCEWithLogitsLoss", lambda z, y: nn.BCEWithLogitsLoss()(z, y), "nn.BCEWithLogitsLoss"),
    ("torch.binary_cross_entropy_with_logits",
     lambda z, y: torch.binary_cross_entropy_with_logits(z, y, None, None, 1), "binary_cross_entropy_with_logits"),
    ("torch.ops.aten", lambda z, y: torch.ops.aten.binary_cross_entropy_with_logits(z, y),
     "binary_cross_entropy_with_logits"),
    # the functions that would remove the overflow, the step the exercise asks for
    ("F.logsigmoid", lambda z, y: -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)), "F.logsigmoid"),
    ("nn.LogSigmoid", lambda z, y: -(y * nn.LogSigmoid()(z) + (1 - y) * nn.LogSigmoid()(-z)), "nn.LogSigmoid"),
    ("aten.log_sigmoid_forward", lambda z, y: -torch.ops.aten.log_sigmoid_forward(-z)[0] - z * y,
     "log_sigmoid_forward"),
    ("F.softplus", lambda z, y: F.softplus(z) - z * y, "F.softplus"),
    ("nn.Softplus", lambda z, y: nn.Softplus()(z) - z * y, "nn.Softplus"),
    ("torch.logaddexp", lambda z, y: torch.logaddexp(torch.zeros_like(z), z) - z * y, "torch.logaddexp"),
    ("Tensor.logaddexp", lambda z, y: z.logaddexp(torch.zeros_like(z)) - z * y, "torch.logaddexp"),
    ("torch.logsumexp", lambda z, y: torch.stack([torch.zeros_like(z), z]).logsumexp(0) - z * y, "torch.logsumexp"),
    ("torch.special.logsumexp", lambda z, y: torch.special.logsumexp(torch.stack([torch.zeros_like(z), z]), 0) - z * y,
     "torch.special.logsumexp"),
]


@pytest.mark.parametrize("label, answer, named", FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_the_function_compared_with_is_forbidden(label, answer, named, tmp_path):
    for result in (checker.grade(EX, answer), bulk_grade(EX, answer, tmp_path)):
        assert result.status == "incorrect" and result.mistake == "forbidden-function", result.message
        assert named in result.message and "formula" in result.message


def test_forbidden_functions_stay_usable_elsewhere():
    z, y = torch.tensor(3.0), torch.tensor(1.0)
    assert torch.isfinite(F.binary_cross_entropy_with_logits(z, y)) and torch.isfinite(F.logsigmoid(z))
    assert checker.grade("lesson04.scalar_grads", lesson04._scalar_grads).passed
    # outside the check, and in other exercises' answers
    assert checker.grade("lesson04.dL_dz", lambda z, y: float(torch.sigmoid(torch.tensor(z)) - y)).passed


def test_stability_is_judged_in_bulk_grading_too(tmp_path):
    result = bulk_grade(EX, NAIVE[0][1], tmp_path)
    assert result.mistake == "softplus-overflow"
    assert bulk_grade(EX, lesson04._stable_bce, tmp_path).passed


# -- the same gap elsewhere: the vectorized gradient saturates in float32 too ----------------------
def test_grad_vectorized_is_judged_in_float32_too(tmp_path):
    ex = lesson04.grad_vectorized
    assert {X.dtype for X, *_ in _inputs_seen(ex)} == {torch.float64, torch.float32}

    def through_dL_dp(X, y, w, b):  # (p − y)/(p(1 − p)) · p(1 − p): NaN where p rounds to 0 or 1
        p = torch.sigmoid(X @ w + b)
        error = (p - y) / (p * (1 - p)) * (p * (1 - p))
        return X.T @ error / X.shape[0], error.mean()

    result = checker.grade(ex, through_dL_dp)
    assert result.status == "incorrect" and "float32" in result.message
    assert bulk_grade(ex, through_dL_dp, tmp_path).status == "incorrect"


def test_a_gradient_for_a_0_dim_parameter_is_0_dim():
    """The lesson asks for db as a 0-dim tensor: shape (1,) would broadcast b to (1,) in an update."""

    def db_as_vector(X, y, w, b):
        dW, db = lesson04._grad_vectorized(X, y, w, b)
        return dW, db.reshape(1)

    result = checker.grade(lesson04.grad_vectorized, db_as_vector)
    assert result.status == "error" and "0-dim" in result.message
    assert checker.grade("lesson01.dz_dx", lambda x: torch.tensor([2 * x])).status == "incorrect"  # floats: lenient


def test_precision_blocks_are_the_points_rounded():
    points, dtypes = checked_points(EX)
    n = len(points) // 2
    assert dtypes == [torch.float64] * n + [torch.float32] * n
    assert points[n][0] == float(torch.tensor(points[0][0], dtype=torch.float32))
    assert len(sampled_reference(EX).valid) == len(points)
