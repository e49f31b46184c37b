"""check_gradient when f is student code: off the graph, one input, numpy, vector-valued, broken.

An f that autograd cannot fully see is reported as a problem with f, never as a verdict on the
student's derivative; an input that truly does not change f is still fine.
"""
import math
import random

import numpy as np
import pytest
import torch

import checker
from checker import check_gradient


def _no_internals(result):
    assert "Traceback" not in result.message and "checker/" not in result.message
    assert "course authors" not in result.message
    assert str(result) and result._repr_html_()


# -- 1. f leaves the graph ----------------------------------------------------------------
def test_lesson01_example_with_math_sin_is_an_error_about_f_not_a_verdict():
    result = check_gradient(lambda a, b: (b**2 + math.cos(a), 2 * a * b),
                            lambda a, b: a * b**2 + math.sin(a), 1.0, 2.0)
    assert result.status == "error" and result.mistake == "f-leaves-graph", result.message
    assert "math.sin" in result.message and "torch.sin" in result.message
    assert "is not." not in result.message and "d/da is right" not in result.message
    _no_internals(result)


def test_a_derivative_that_matches_the_cut_graph_is_not_called_correct():
    """b² is autograd's (wrong) d/da of a·b² + math.sin(a): it must not pass."""
    result = check_gradient(lambda a, b: (b**2, 2 * a * b), lambda a, b: a * b**2 + math.sin(a), 1.0, 2.0)
    assert result.status == "error" and result.mistake == "f-leaves-graph"


def _with_no_grad(a, b):
    with torch.no_grad():
        c = torch.sin(a)
    return a * b**2 + c


# (label, f, words the message names)
LEAVING = [
    ("math.sin", lambda a, b: a * b**2 + math.sin(a), "math.sin"),
    ("math.exp", lambda a, b: a * b**2 + math.exp(a), "torch.exp"),
    ("float()", lambda a, b: a * b**2 + float(a) ** 2, "float(a)"),
    (".item()", lambda a, b: a * b**2 + a.item() ** 2, ".item()"),
    ("numpy", lambda a, b: a * b**2 + np.sin(a), "np.sin"),
    ("numpy via detach", lambda a, b: a * b**2 + torch.from_numpy(np.sin(a.detach().numpy())), ".detach()"),
    ("torch.tensor(a)", lambda a, b: a * b**2 + torch.tensor(a) ** 2, "torch.tensor"),
    ("torch.tensor([a, b])", lambda a, b: torch.tensor([a, b]).prod() + a, "torch.tensor"),
    (".detach()", lambda a, b: a * b**2 + a.detach() ** 2, ".detach()"),
    (".data", lambda a, b: a * b**2 + a.data ** 2, ".data"),
    ("no_grad block", _with_no_grad, "no_grad"),
]


@pytest.mark.parametrize("label, f, words", LEAVING, ids=[c[0] for c in LEAVING])
def test_an_f_that_leaves_the_graph_is_explained(label, f, words):
    # the derivative of what f means, written by hand: whatever it is, f is the problem
    result = check_gradient(lambda a, b: (b**2, 2 * a * b), f, 1.0, 2.0)
    assert result.status == "error" and result.mistake == "f-leaves-graph", (label, result.message)
    assert words in result.message, result.message
    assert "not your derivative" in result.message or "autograd cannot differentiate your f" in result.message
    _no_internals(result)


def test_an_f_computed_entirely_with_math_is_explained():
    result = check_gradient(lambda x: 2 * x * math.cos(x**2), lambda x: math.sin(x**2), 1.5)
    assert result.status == "error" and result.mistake == "f-leaves-graph"
    assert "math.sin" in result.message and "torch.sin" in result.message


def test_swapped_arguments_say_which_comes_first():
    result = check_gradient(lambda x: torch.sin(x**2), lambda x: 2 * x * math.cos(x**2), 1.5)
    assert result.status == "error" and "check_gradient(manual, f" in result.message


def test_an_input_that_does_not_affect_f_is_fine():
    f = lambda a, b: a**2 + 0 * b  # noqa: E731
    assert check_gradient(lambda a, b: (2 * a, 0.0), f, 1.0, 2.0).passed
    assert check_gradient(lambda a, b: (2 * a, 0.0), lambda a, b: a**2, 1.0, 2.0).passed  # b unused
    wrong = check_gradient(lambda a, b: (2 * a, 1.0), lambda a, b: a**2, 1.0, 2.0)
    assert wrong.status == "incorrect" and "d/db" in wrong.message


def test_graph_exits_that_do_not_change_the_gradient_are_fine():
    branch = lambda a: a**2 if a.item() > 0 else -a  # noqa: E731
    assert check_gradient(lambda a: 2 * a if a > 0 else -1.0, branch, 1.0).passed
    shown = lambda a: a**3 + 0 * float(a)  # noqa: E731
    assert check_gradient(lambda a: 3 * a**2, shown, 1.0).passed


def test_a_kink_at_the_example_input_is_not_taken_for_a_cut_graph():
    result = check_gradient(lambda a: 1.0 if a > 0 else 0.0, torch.relu, 0.0)
    assert result.passed, result.message
    assert check_gradient(lambda a: 3 * a**2, lambda a: a.float() ** 3, 1.3).passed  # f in float32: noisy


# -- one input, numpy, lists --------------------------------------------------------------
ONE_INPUT = [
    ("float, math manual", lambda x: 2 * x * math.cos(x**2), 1.0),
    ("float, torch manual", lambda x: 2 * x * torch.cos(x**2), 1.0),
    ("int", lambda x: 2 * x * math.cos(x**2), 1),
    ("numpy float32", lambda x: 2 * x * math.cos(x**2), np.float32(1.0)),
    ("numpy 0-d array", lambda x: 2 * x * math.cos(x**2), np.array(1.0)),
    ("0-d tensor", lambda x: 2 * x * torch.cos(x**2), torch.tensor(1.0)),
    ("1-element tensor", lambda x: 2 * x * torch.cos(x**2), torch.tensor([1.0])),
    ("int tensor", lambda x: 2 * x * torch.cos(x**2), torch.tensor(1)),
    ("numpy vector", lambda x: 2 * x * torch.cos(x**2), np.array([1.0, 2.0])),
    ("list", lambda x: 2 * x * torch.cos(x**2), [1.0, 2.0]),
    ("float16 tensor", lambda x: 2 * x * torch.cos(x**2), torch.tensor([1.0, 2.0], dtype=torch.float16).numpy()),
]


@pytest.mark.parametrize("label, manual, example", ONE_INPUT, ids=[c[0] for c in ONE_INPUT])
def test_one_input_simply_works(label, manual, example):
    vector = np.size(np.asarray(example, dtype=float)) > 1
    f = (lambda x: torch.sin(x**2).sum()) if vector else (lambda x: torch.sin(x**2))
    result = check_gradient(manual, f, example)
    assert result.passed, (label, result.message)
    wrong = check_gradient(lambda x: manual(x) * 2, f, example)
    assert wrong.status == "incorrect", (label, wrong.message)


# -- vector-valued f: checked as a Jacobian ----------------------------------------------------
X = torch.tensor([1.0, 2.0, 0.5])


def _square(x):
    return torch.sin(x) * x.sum()


def _square_jacobian(x):
    return torch.diag(torch.cos(x) * x.sum()) + torch.sin(x)[:, None]


def _wide(x):
    return torch.stack([x.sum(), (x**2).sum()])


def test_vector_valued_f_is_checked_as_a_jacobian():
    assert check_gradient(_square_jacobian, _square, X).passed
    assert check_gradient(lambda x: torch.stack([torch.ones(3), 2 * x]), _wide, X).passed
    wrong = check_gradient(lambda x: 2 * _square_jacobian(x), _square, X)
    assert wrong.status == "incorrect"


def test_jacobian_shape_mistakes_are_named():
    square_t = check_gradient(lambda x: _square_jacobian(x).T, _square, X)
    assert square_t.status == "incorrect" and square_t.mistake == "transposed-jacobian-x"
    assert "transposed" in square_t.message
    wide_t = check_gradient(lambda x: torch.stack([torch.ones(3), 2 * x]).T, _wide, X)
    assert wide_t.status == "error" and "transposed" in wide_t.message and "(2, 3)" in wide_t.message
    diagonal = check_gradient(lambda x: torch.cos(x) * x.sum() + torch.sin(x), _square, X)
    assert diagonal.status == "error" and "Jacobian" in diagonal.message and "scalar" in diagonal.message
    for result in (square_t, wide_t, diagonal):
        _no_internals(result)


def test_the_docstring_and_readme_say_how_a_vector_valued_f_is_checked():
    import pathlib

    assert "Jacobian" in checker.check_gradient.__doc__
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    assert "Jacobian" in readme


# -- never raises ------------------------------------------------------------------------------
def _loops(x):
    while True:
        pass


BROKEN = [
    ("no example input", (lambda x: 1.0, torch.sin), {}),
    ("f raises", (lambda x: 1.0, lambda x: 1 / 0, 1.0), {}),
    ("f returns None", (lambda x: 1.0, lambda x: None, 1.0), {}),
    ("f returns a string", (lambda x: 1.0, lambda x: "x", 1.0), {}),
    ("f returns an int tensor", (lambda x: 1.0, lambda x: torch.tensor(3), 1.0), {}),
    ("f returns complex", (lambda x: 1.0, lambda x: x * 1j, 1.0), {}),
    ("f wrong arity", (lambda x: 1.0, lambda x, y: x * y, 1.0), {}),
    ("f not callable", (lambda x: 1.0, 3.0, 1.0), {}),
    ("manual not callable", (3.0, torch.sin, 1.0), {}),
    ("bool input", (lambda x: 1.0, lambda x: x, True), {}),
    ("nan input", (lambda x: 1.0, torch.sin, float("nan")), {}),
    ("string input", (lambda x: 1.0, torch.sin, "1"), {}),
    ("complex input", (lambda x: 1.0, torch.sin, 1j), {}),
    ("meta input", (lambda x: 1.0, torch.sin, torch.ones(2, device="meta")), {}),
    ("huge input", (lambda x: 1.0, lambda x: x.sum(), torch.ones(10**6)), {}),
    ("unknown wrt", (lambda x: 1.0, torch.sin, 1.0), {"wrt": ("y",)}),
    ("wrt not names", (lambda x: 1.0, torch.sin, 1.0), {"wrt": 3}),
    ("gradient not finite", (lambda x: 1.0, torch.sqrt, 0.0), {}),
    ("shape depends on values", (lambda x: 1.0, lambda x: x.repeat(int(abs(float(x.detach())) * 10) + 1), 1.0), {}),
    ("f exits", (lambda x: 1.0, lambda x: exit(), 1.0), {}),
    ("f returns a huge Jacobian", (lambda x: 1.0, lambda x: x[:, None] * x, torch.ones(600)), {}),
]


@pytest.mark.parametrize("label, args, kwargs", BROKEN, ids=[c[0] for c in BROKEN])
def test_check_gradient_never_raises(label, args, kwargs):
    result = check_gradient(*args, **kwargs)
    assert result.status == "error", (label, result.message)
    _no_internals(result)


def test_an_f_that_loops_is_stopped(monkeypatch):
    from checker.engine import gradient

    monkeypatch.setattr(gradient, "F_TIME_LIMIT", 0.3)
    result = check_gradient(lambda x: 1.0, lambda x: _loops(x), 1.0)
    assert result.status == "error" and "longer than" in result.message


def test_check_gradient_leaves_the_students_state_alone():
    def messy(a):
        out = a**2
        torch.manual_seed(1)
        random.seed(1)
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        return out

    torch.manual_seed(7)
    random.seed(7)
    before = (torch.get_rng_state().clone(), random.getstate(), torch.is_grad_enabled(), torch.get_default_dtype())
    with torch.no_grad():
        result = check_gradient(lambda a: 2 * a, messy, 1.0)
        assert not torch.is_grad_enabled()
    after = (torch.get_rng_state(), random.getstate(), torch.is_grad_enabled(), torch.get_default_dtype())
    assert result.passed, result.message
    assert torch.equal(before[0], after[0]) and before[1:] == after[1:]


def test_the_students_example_tensors_are_not_changed():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    check_gradient(lambda x: 2 * x, lambda x: (x**2).sum() + x.add_(0).sum() * 0, x.detach())
    assert x.grad is None and x.is_leaf and torch.equal(x.detach(), torch.tensor([1.0, 2.0]))
