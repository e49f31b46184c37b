"""CUDA tensors through the checker: as answers, as inputs, and the CUDA RNG left alone.

Skipped, with the reason printed by `make gpu-check`, where no CUDA GPU exists.
"""
import math

import pytest
import torch

import checker
from checker import lesson01
from checker.lessons.catalog import all_exercises

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
CUDA = "cuda"


def on_cuda(value):
    if isinstance(value, torch.Tensor):
        return value.to(CUDA)
    if isinstance(value, (tuple, list)):
        return type(value)(on_cuda(v) for v in value)
    return torch.tensor(value, device=CUDA) if isinstance(value, float) else value


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_cuda_scalar_answers_of_any_float_dtype(dtype):
    result = lesson01.dz_dx.check(lambda x: torch.tensor(2 * x * math.cos(x**2), device=CUDA, dtype=dtype))
    assert result.passed, result.message
    wrong = lesson01.dz_dx.check(lambda x: torch.tensor([math.cos(x**2)], device=CUDA, dtype=dtype))
    assert wrong.mistake == "missing-inner-factor"


@pytest.mark.parametrize("ex", all_exercises(), ids=lambda ex: ex.id)
def test_every_exercise_accepts_its_solution_computed_on_cuda(ex):
    """The solution run on CUDA copies of the inputs, returning CUDA tensors."""
    if ex.kind == "value":
        answer = on_cuda(ex.solution_fn() if callable(ex.solution_fn) else ex.solution_fn)
    elif ex.pass_as == "tensor":
        def answer(*args):
            return on_cuda(ex.solution_fn(*(a.to(CUDA) for a in args)))
    else:
        def answer(*args):
            return on_cuda(ex.solution_fn(*args))
    result = checker.grade(ex, answer)
    assert result.passed, result.message


def test_check_gradient_with_cuda_example_inputs():
    w = torch.tensor([1.0, -2.0, 0.5], device=CUDA)
    x = torch.tensor([0.3, 0.1, 2.0], device=CUDA)
    f = lambda w, x: (w * x).sum() ** 2  # noqa: E731
    manual = lambda w, x: (2 * (w * x).sum() * x, 2 * (w * x).sum() * w)  # noqa: E731
    assert checker.check_gradient(manual, f, w, x).passed
    assert w.device.type == "cuda" and w.tolist() == [1.0, -2.0, 0.5]


def test_cuda_rng_and_student_tensors_untouched():
    torch.cuda.manual_seed_all(3)
    before = torch.cuda.get_rng_state_all()
    x = torch.ones(3, device=CUDA, requires_grad=True)
    (x * 2).sum().backward()
    grad = x.grad.clone()

    def vandal(v):
        torch.cuda.manual_seed_all(0)
        torch.randn(10, device=CUDA)
        return 2 * v * math.cos(v**2)

    assert lesson01.dz_dx.check(vandal).passed
    assert all(torch.equal(a, b) for a, b in zip(before, torch.cuda.get_rng_state_all()))
    assert torch.equal(x.grad, grad)


def test_autograd_on_cuda_is_refused_in_manual_exercises():
    def cheat(v):
        t = torch.tensor(v, device=CUDA, requires_grad=True)
        torch.sin(t**2).backward()
        return t.grad

    assert lesson01.dz_dx.check(cheat).mistake == "used-autograd"


def test_a_cuda_default_device_never_breaks_the_checker():
    """`torch.set_default_device("cuda")`, common in GPU tutorials, before grading and check_gradient."""
    torch.set_default_device(CUDA)
    try:
        for ex in all_exercises():
            assert checker.grade(ex.id, ex.solution_fn).passed, ex.id
        assert lesson01.dz_dx.check(lambda x: math.cos(x**2)).mistake == "missing-inner-factor"
        f = lambda a, b: a * b**2 + torch.sin(a)  # noqa: E731
        assert checker.check_gradient(lambda a, b: (b**2 + math.cos(a), 2 * a * b), f, 1.0, 2.0).passed
        assert torch.get_default_device().type == "cuda"
    finally:
        torch.set_default_device(None)
