"""Every route to autograd is refused in "by hand" exercises, under any alias, and named.

The aliases below are imported at the top of this module, before any check runs, as a student
imports them at the top of a notebook: patching module attributes would not reach them.
"""
import math

import pytest
import torch
import torch.autograd.forward_ad as fwAD
import torch.autograd.functional as AF
from torch.autograd import backward as autograd_backward
from torch.autograd import grad as G
from torch.func import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize, vjp, vmap

import checker
from checker import lesson01, lesson02, lesson03, lesson04
from tests.inprocess_probe import bulk_grade

EX = lesson01.dz_dx
ONE = torch.ones((), dtype=torch.float64)


def f(t):
    return torch.sin(t**2)


def leaf(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def T(x):
    return torch.tensor(x, dtype=torch.float64)


def with_backward(x):
    t = leaf(x)
    f(t).backward()
    return t.grad


def with_autograd_backward(x):
    t = leaf(x)
    autograd_backward(f(t))
    return t.grad


def with_private_engine(x):
    t = leaf(x)
    engine = torch._C._ImperativeEngine()
    return engine.run_backward((f(t),), (ONE,), False, False, (t,), False, False)[0]


def with_graph_nodes(x):
    t = leaf(x)
    u = t**2
    y = torch.sin(u)
    return u.grad_fn(y.grad_fn(ONE))


def with_forward_ad(x):
    with fwAD.dual_level():
        dual = fwAD.make_dual(T(x), ONE)
        return fwAD.unpack_dual(f(dual)).tangent


# (label, answer, words the message must name)
ROUTES = [
    (".backward()", with_backward, ".backward()"),
    ("torch.autograd.backward (alias)", with_autograd_backward, "torch.autograd.backward"),
    ("torch.autograd.grad as G", lambda x: (lambda t: G(f(t), t)[0])(leaf(x)), "torch.autograd.grad"),
    ("a private engine", with_private_engine, "backward pass"),
    ("the graph's nodes, y.grad_fn(...)", with_graph_nodes, "grad_fn"),
    ("torch.func.grad", lambda x: grad(f)(T(x)), "torch.func.grad"),
    ("torch.func.grad_and_value", lambda x: grad_and_value(f)(T(x))[0], "torch.func.grad_and_value"),
    ("torch.func.vjp", lambda x: vjp(f, T(x))[1](ONE)[0], "torch.func.vjp"),
    ("torch.func.jacrev", lambda x: jacrev(f)(T(x)), "torch.func.jacrev"),
    ("torch.func.jacfwd", lambda x: jacfwd(f)(T(x)), "torch.func.jacfwd"),
    ("torch.func.jvp", lambda x: jvp(f, (T(x),), (ONE,))[1], "torch.func.jvp"),
    ("torch.func.linearize", lambda x: linearize(f, T(x))[1](ONE), "torch.func.linearize"),
    ("torch.func.hessian", lambda x: hessian(f)(T(x)) * 0 + 2 * x * math.cos(x**2), "torch.func.jacfwd"),
    ("torch.func.vmap(grad)", lambda x: vmap(grad(f))(T([x]))[0], "torch.func.grad"),
    ("autograd.functional.jacobian", lambda x: AF.jacobian(f, T(x)), "torch.autograd.functional.jacobian"),
    ("autograd.functional.jacobian, forward mode",
     lambda x: AF.jacobian(f, T(x), vectorize=True, strategy="forward-mode"), "torch.autograd.functional.jacobian"),
    ("autograd.functional.vjp", lambda x: AF.vjp(f, T(x))[1], "torch.autograd.functional.vjp"),
    ("autograd.functional.jvp", lambda x: AF.jvp(f, T(x))[1], "torch.autograd.functional.jvp"),
    ("autograd.functional.hvp", lambda x: AF.hvp(f, T(x), ONE)[1] * 0 + 2 * x * math.cos(x**2),
     "torch.autograd.functional.hvp"),
    ("autograd.functional.hessian", lambda x: AF.hessian(f, T(x)) * 0 + 2 * x * math.cos(x**2),
     "torch.autograd.functional.hessian"),
    ("forward-mode dual numbers", with_forward_ad, "forward-mode AD"),
]


def _no_modes_left():
    assert torch._C._len_torch_function_stack() == 0 and torch._C._len_torch_dispatch_stack() == 0
    t = torch.tensor(2.0, requires_grad=True)
    (t**2).backward()
    assert float(t.grad) == 4.0, "autograd works again after the check"


@pytest.mark.parametrize("label, answer, named", ROUTES, ids=[r[0] for r in ROUTES])
def test_every_route_to_autograd_is_refused_and_named(label, answer, named):
    assert float(torch.as_tensor(answer(3.0))) == pytest.approx(6 * math.cos(9.0)), "the route itself works"
    result = checker.grade(EX, answer)
    assert result.status == "incorrect" and result.mistake == "used-autograd", (label, result.message)
    assert named in result.message and "by hand" in result.message, result.message
    _no_modes_left()


BULK = ROUTES[:8] + ROUTES[-1:]


@pytest.mark.parametrize("label, answer, named", BULK, ids=[r[0] for r in BULK])
def test_routes_are_refused_in_bulk_grading_too(label, answer, named, tmp_path):
    result = bulk_grade(EX, answer, tmp_path)
    assert result.status == "incorrect" and result.mistake == "used-autograd", (label, result.message)
    assert named in result.message
    _no_modes_left()


def test_routes_are_refused_in_every_by_hand_exercise():
    def two_neurons(x, w0, b0, w1, b1):
        inputs = [leaf(v) for v in (x, w0, b0, w1, b1)]
        out = torch.sigmoid(inputs[3] * torch.sigmoid(inputs[1] * inputs[0] + inputs[2]) + inputs[4])
        return G(out, inputs)

    def vectorized(X, y, w, b):
        loss = lambda w, b: torch.nn.functional.binary_cross_entropy_with_logits(X @ w + b, y)  # noqa: E731
        return jacrev(loss, argnums=(0, 1))(w, b)

    for ex, answer in ((lesson03.two_neurons_grad, two_neurons), (lesson04.grad_vectorized, vectorized),
                       (lesson04.dL_dz, lambda z, y: grad(lambda t: torch.nn.functional.softplus(t) - t * y)(T(z)))):
        result = checker.grade(ex, answer)
        assert result.mistake == "used-autograd", (ex.id, result.message)


def test_finite_differences_are_a_method_not_autograd():
    def central(x, h=1e-6):
        return (math.sin((x + h) ** 2) - math.sin((x - h) ** 2)) / (2 * h)

    assert checker.grade(EX, central).passed


def test_what_by_hand_answers_may_still_do():
    def prints_a_tensor_with_a_graph(x):
        t = leaf(x) * 2
        repr(t)  # shows grad_fn=<MulBackward0>: printing is not using autograd
        return 2 * x * math.cos(x**2)

    def vectorizes(x):
        return float(vmap(lambda t: 2 * t * torch.cos(t**2))(T([x]))[0])

    for answer in (prints_a_tensor_with_a_graph, vectorizes):
        assert checker.grade(EX, answer).passed
    _no_modes_left()


def test_exercises_about_autograd_still_use_it():
    assert checker.grade(lesson02.fix_leaf, lesson02._dg_dx).passed
    assert checker.grade(lesson02.vjp, lesson02._vjp).passed
    _no_modes_left()


def test_a_time_limit_inside_the_ban_leaves_no_mode_behind():
    import dataclasses

    def slow_in_torch(x):
        while True:
            torch.ones(3).sum()

    result = checker.grade(dataclasses.replace(EX, time_limit=0.2), slow_in_torch)
    assert result.status == "error" and "longer than" in result.message
    _no_modes_left()


def test_the_readme_says_what_stays_possible():
    import pathlib

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    assert "torch.func" in readme and "DisableTorchFunction" in readme
