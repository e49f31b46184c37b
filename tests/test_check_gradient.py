"""check_gradient on functions of one and several inputs, floats and tensors."""
import math

import torch

import checker
from checker.engine.exercise import Tolerance


def test_two_inputs_correct_and_wrong():
    f = lambda a, b: a * b**2 + torch.sin(a)  # noqa: E731
    good = checker.check_gradient(lambda a, b: (b**2 + math.cos(a), 2 * a * b), f, 1.0, 2.0)
    assert good.passed and good.n_points == 33
    bad = checker.check_gradient(lambda a, b: (b**2 + math.cos(a), a * b), f, 1.0, 2.0)
    assert bad.status == "incorrect"
    assert bad.message.startswith("d/da is right; d/db is not. d/db is 0.5 times")
    assert bad.details[0].expected == "d/db = 4" and bad.details[0].got == "d/db = 2"


def test_tensor_inputs_and_shapes():
    f = lambda w, x: (w * x).sum() ** 2  # noqa: E731
    manual = lambda w, x: (2 * (w * x).sum() * x, 2 * (w * x).sum() * w)  # noqa: E731
    w, x = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.3, 0.1, 2.0])
    assert checker.check_gradient(manual, f, w, x).passed
    wrong_shape = checker.check_gradient(lambda w, x: (x.sum(), w), f, w, x)
    assert wrong_shape.status == "error" and "shape" in wrong_shape.message


def test_seed_float32_manual_gradient_passes_against_float64_autograd():
    """The seed's manual dw = 6.691762447357178 (float32) passes: autograd's float32 value is
    6.6917619705200195 and float64's 6.691763029237442; all agree within the tolerance."""

    def seed_manual(x, y, w, b):
        x, y, w, b = (torch.tensor(v, dtype=torch.float32) for v in (x, y, w, b))
        p = torch.sigmoid(w * x + b)
        dloss_dp = (p - y) / (p * (1 - p))
        dp_dz = p * (1 - p)
        return (dloss_dp * dp_dz * x).item(), (dloss_dp * dp_dz).item()

    def bce(x, y, w, b):
        p = torch.sigmoid(w * x + b)
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))

    assert seed_manual(6.7, 0.0, 1.0, 0.0) == (6.691762447357178, 0.998770534992218)
    result = checker.check_gradient(seed_manual, bce, 6.7, 0.0, 1.0, 0.0, wrt=("w", "b"), n_samples=0)
    assert result.passed, result.message
    assert "d/dw = 6.691762447357178, d/db = 0.998770534992218" in result.message
    tol = Tolerance()
    for autograd_value in (6.6917619705200195, 6.691763029237442):
        assert abs(6.691762447357178 - autograd_value) <= tol.atol + tol.rtol * abs(autograd_value)


def test_autograd_is_refused_in_check_gradient():
    def cheat(x):
        t = torch.tensor(x, requires_grad=True)
        (t**3).backward()
        return t.grad

    result = checker.check_gradient(cheat, lambda x: x**3, 2.0)
    assert result.mistake == "used-autograd" and not result.passed


def test_input_names_come_from_f():
    result = checker.check_gradient(lambda u, v: (0.0, 0.0), lambda u, v: u * v, 1.0, 2.0)
    assert result.details and set(result.details[0].inputs) == {"u", "v"}
