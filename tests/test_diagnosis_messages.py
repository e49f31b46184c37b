"""Generic diagnoses must be true of the answer they are given to (found by a student's review of lessons 03-04)."""
import math

import torch

from checker import lesson03, lesson04


def _two_neurons(sign=1.0, dw1_times_h=True, repeat_dx=False):
    def answer(x, w0, b0, w1, b1):
        h = 1 / (1 + math.exp(-(w0 * x + b0)))
        f = 1 / (1 + math.exp(-(w1 * h + b1)))
        g = sign * f * (1 - f) * w1 * h * (1 - h)
        dw1 = f * (1 - f) * (h if dw1_times_h else 1.0)
        return (g * x if repeat_dx else g * w0), g * x, g, dw1, f * (1 - f)
    return answer


def test_a_value_returned_twice_is_a_wrong_value_not_a_wrong_order():
    result = lesson03.two_neurons_grad.check(_two_neurons(dw1_times_h=False))  # df/dw1 comes out as df/db1
    assert result.status == "incorrect" and "wrong order" not in result.message
    assert "df/dw1 is not" in result.message
    result = lesson03.fork_grad.check(lambda x, y: (x + math.cos(x), x + math.cos(x)))  # df/dy twice
    assert "wrong order" not in result.message and "df/dx is not" in result.message


def test_a_real_swap_is_still_named():
    result = lesson03.fork_grad.check(lambda x, y: (x + math.cos(x), y - y * math.sin(x)))
    assert result.diagnosis == "reordered" and "Yours look like (df/dy, df/dx)" in result.message


def test_every_output_with_a_flipped_sign_is_named():
    result = lesson03.two_neurons_grad.check(_two_neurons(sign=-1.0))
    assert "df/dx, df/dw0 and df/db0 have the right size but the wrong sign" in result.message


def test_outputs_wrong_at_some_points_are_not_called_all_wrong():
    def unsimplified(X, y, w, b):  # NaN where p rounds to 0 or 1, right elsewhere
        p = torch.sigmoid(X @ w + b)
        d = (p - y) / (p * (1 - p)) * p * (1 - p)
        return X.T @ d / X.shape[0], d.mean()

    message = lesson04.grad_vectorized.check(unsimplified).message
    assert "None of your" not in message and "are each wrong at some of the points checked" in message
    message = lesson04.grad_vectorized.check(lambda X, y, w, b: (0 * w + 7, 0 * b + 7)).message
    assert message.startswith("None of your 2 values is right")


def test_choosing_between_the_two_forms_with_where_is_refused():
    positive = lambda z, y: z + torch.log1p(torch.exp(-z)) - z * y  # noqa: E731  section 4's form for z > 0
    negative = lambda z, y: torch.log1p(torch.exp(z)) - z * y  # noqa: E731  and for z <= 0
    for answer in (lambda z, y: torch.where(z > 0, positive(z, y), negative(z, y)),
                   lambda z, y: positive(z, y).where(z > 0, negative(z, y))):  # the Tensor method too
        result = lesson04.stable_bce.check(answer)
        assert result.status == "incorrect" and result.mistake == "forbidden-function", result.message
        assert "computes both A and B at every z" in result.message and "does not accept" in result.message
    assert lesson04.stable_bce.check(lesson04.stable_bce.solution_fn).passed


def test_dividing_by_one_minus_p_at_saturated_z_gets_the_reason():
    def sigma(z):
        return 1 / (1 + math.exp(-z))

    for answer in (lambda z, y: -y / sigma(z) + (1 - y) / (1 - sigma(z)),  # dL/dp
                   lambda z, y: (sigma(z) - y) / (sigma(z) * (1 - sigma(z))) * sigma(z) * (1 - sigma(z))):
        result = lesson04.dL_dz.check(answer)
        assert result.status == "error" and "ZeroDivisionError" in result.message
        assert "p(1 − p) cancels" in result.message
    other = lesson03.df_dx.check(lambda x: 1 / 0)  # no advice of lesson 04's elsewhere
    assert "ZeroDivisionError" in other.message and "cancels" not in other.message


def test_advice_after_an_error_is_the_same_in_bulk_grading():
    from inprocess_probe import bulk_grade

    from checker import lesson01

    cases = [(lesson04.dL_dz, lambda z, y: -y / (1 / (1 + math.exp(-z))) + (1 - y) / (1 - 1 / (1 + math.exp(-z)))),
             (lesson01.dz_dx, lambda x: 2 * x * torch.cos(x**2)),  # torch on a float: "receives Python floats"
             (lesson04.grad_vectorized, lambda X, y, w, b: (math.exp(X), 1))]
    for exercise, answer in cases:
        notebook, bulk = exercise.check(answer), bulk_grade(exercise, answer)
        assert notebook.status == "error" and bulk.message == notebook.message
    assert "Python floats" in lesson01.dz_dx.check(cases[1][1]).message
