"""The checker never changes the student's state."""
import random

import numpy as np
import pytest
import torch

import checker
from checker import lesson01
from tests.test_bad_input import CASES, GOOD


def snapshot():
    return {
        "torch_rng": torch.get_rng_state().clone(),
        "python_rng": random.getstate(),
        "numpy_rng": np.random.get_state()[1].copy(),
        "grad_enabled": torch.is_grad_enabled(),
        "default_dtype": torch.get_default_dtype(),
    }


def assert_same(before, after):
    assert torch.equal(before["torch_rng"], after["torch_rng"])
    assert before["python_rng"] == after["python_rng"]
    assert np.array_equal(before["numpy_rng"], after["numpy_rng"])
    assert before["grad_enabled"] == after["grad_enabled"]
    assert before["default_dtype"] == after["default_dtype"]


ANSWERS = [c[1] for c in CASES] + [g[1] for g in GOOD]


@pytest.mark.parametrize("answer", ANSWERS)
def test_state_unchanged_by_any_answer(answer):
    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x**2).sum().backward()
    grad_before = x.grad.clone()
    before = snapshot()
    checker.grade(lesson01.dz_dx, answer)
    lesson01.dz_dx.check(answer)  # with the plot data too
    assert_same(before, snapshot())
    assert torch.equal(x.grad, grad_before) and x.requires_grad and x.is_leaf


def test_state_unchanged_under_no_grad_and_float64_default():
    """A student who switched grad off and float64 on still gets correct verdicts."""
    old = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        with torch.no_grad():
            result = lesson01.dz_dx.check(lesson01._dz_dx)
            assert result.passed
            assert not torch.is_grad_enabled()
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(old)


def test_answer_that_changes_state_is_undone():
    def vandal(x):
        torch.manual_seed(0)
        random.seed(0)
        np.random.seed(0)
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float16)
        return lesson01._dz_dx(x)

    before = snapshot()
    assert checker.grade(lesson01.dz_dx, vandal).passed
    assert_same(before, snapshot())


def test_sampled_points_do_not_use_global_rng():
    torch.manual_seed(1)
    a = checker.grade(lesson01.dz_dx, lambda x: 0.0).details
    torch.manual_seed(2)
    b = checker.grade(lesson01.dz_dx, lambda x: 0.0).details
    assert a == b  # same points whatever the global seed


def test_students_tensor_inputs_are_not_mutated():
    def mutating(a, b):
        a.add_(100.0)
        b.mul_(0)
        return torch.ones_like(a), torch.ones_like(b)

    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    checker.check_gradient(mutating, lambda a, b: (a * b).sum(), a, b)
    assert a.tolist() == [1.0, 2.0] and b.tolist() == [3.0, 4.0]
