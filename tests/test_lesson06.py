"""Lesson 06 (inside autograd): the harnesses that measure methods, Functions and classes, the verdicts
they lead to for answers a student would write (not only the checker's own mistakes), the random
programs of the engine exercise, bulk grading's probe of these answers, and the lesson's numbers."""
import inspect
import json
import math
import pathlib
import re

import pytest
import torch
import torch.nn.functional as F

import checker
from checker import lesson06 as ex
from checker.engine import harness
from checker.engine.judge import sample_points, sampled_reference
from checker.grading import probe, replay
from checker.lessons.catalog import exercises

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTER = ROOT / "notebooks" / "master" / "06_inside_autograd.ipynb"
STUDENT = ROOT / "notebooks" / "student" / "06_inside_autograd.ipynb"


# == 1. numerical gradients: the method, watched ==================================================
def central(step, restore="assign", clone=False, relative=False):
    """A student's central difference, written with multi-dimensional indices rather than a flat view."""

    def method(f, x):
        if clone:
            x = x.clone()
        grad = torch.zeros_like(x)
        for index in torch.cartesian_prod(*[torch.arange(n) for n in x.shape]).reshape(x.numel(), -1).tolist():
            index = tuple(index)
            old = x[index].item()
            h = step(x.dtype) * (max(1.0, abs(old)) if relative else 1.0)
            x[index] += h
            f_plus = f(x).item()
            x[index] -= 2 * h
            f_minus = f(x).item()
            if restore == "assign":
                x[index] = old
            elif restore == "arithmetic":  # x[i] += h lands within a rounding step or two of old
                x[index] += h
            grad[index] = (f_plus - f_minus) / (2 * h)
        return grad

    return method


def forward(h):
    def method(f, x):
        grad, flat, flat_grad = torch.zeros_like(x), x.view(-1), None
        flat_grad = grad.view(-1)
        f0 = f(x).item()
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + h
            flat_grad[i] = (f(x).item() - f0) / h
            flat[i] = old
        return grad

    return method


def richardson(f, x):
    """Central differences at h and h/2, combined to cancel the h² term: right, and not the solution's method."""
    grad, flat = torch.zeros_like(x), x.view(-1)
    h = torch.finfo(x.dtype).eps ** 0.2
    for i in range(flat.numel()):
        old = flat[i].item()

        def difference(s, i=i, old=old):
            flat[i] = old + s
            up = f(x).item()
            flat[i] = old - s
            down = f(x).item()
            flat[i] = old
            return (up - down) / (2 * s)

        grad.view(-1)[i] = (4 * difference(h / 2) - difference(h)) / 3
    return grad


BEST = lambda dtype: torch.finfo(dtype).eps ** (1 / 3)  # noqa: E731


@pytest.mark.parametrize("answer", [
    central(BEST), central(BEST, relative=True), central(lambda d: 1e-3), central(lambda d: 1e-2),
    central(BEST, restore="arithmetic"), central(BEST, clone=True), richardson,
], ids=["best-step", "relative-step", "1e-3", "1e-2", "restored-by-arithmetic", "on-a-clone", "richardson"])
def test_numerical_gradient_right_methods_pass(answer):
    result = checker.grade(ex.numerical_gradient, answer)
    assert result.status == "correct", result.message


@pytest.mark.parametrize("answer, mistake", [
    (central(lambda d: 1e-4), "step-too-small-float32"),
    (central(lambda d: 1e-5), "step-too-small-float32"),
    (central(lambda d: 1e-7), "step-too-small-float32"),
    (central(lambda d: 1e-8), "step-too-small-float32"),  # x + h rounds to x in float32: f is never moved
    (forward(1e-3), "forward-difference"),
    (forward(1e-6), "forward-difference"),
    (central(BEST, restore="none"), "not-restored"),
    (central(BEST, restore="none", clone=True), "not-restored"),  # x unchanged, but the points drift
], ids=["h=1e-4", "h=1e-5", "h=1e-7", "h=1e-8", "forward-1e-3", "forward-1e-6", "no-restore", "no-restore-clone"])
def test_numerical_gradient_mistakes_named_whatever_the_step(answer, mistake):
    """A mistake is a family: the checker names it from where the method evaluates f, not from one h."""
    result = checker.grade(ex.numerical_gradient, answer)
    assert (result.status, result.mistake) == ("incorrect", mistake), result.message


@pytest.mark.parametrize("answer, words", [
    (lambda f, x: x.reshape(-1) * 0, "returned a tensor of shape (4,), but a tensor shaped like x has shape"),
    (lambda f, x: f(x.tolist()), "Your method called f with a value of type list"),
    (lambda f, x: f(x.reshape(1, -1)), "Your method called f with a tensor of shape (1, 4)"),
    (lambda f, x: "gradient", "returned a value of type str"),
])
def test_numerical_gradient_wrong_forms_say_what_to_change(answer, words):
    result = checker.grade(ex.numerical_gradient, answer)
    assert result.status == "error" and words in result.message, result.message


def test_numerical_gradient_returning_none_is_forgot_return():
    result = checker.grade(ex.numerical_gradient, lambda f, x: None)
    assert result.status == "not_attempted" and "returned None" in result.message


def test_method_flags_see_one_entry_at_a_time_put_back_and_steps():
    """(one entry at a time, x[i] put back, step fits the dtype), from the points f was evaluated at."""
    x0 = torch.tensor([0.5, -1.25], dtype=torch.float32)
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])

    def calls(*moves, dtype=torch.float32):
        return [((x0 + d).to(dtype).double(), dtype) for d in moves]

    h = 5e-3
    assert harness.method_flags(calls(h * e0, -h * e0, h * e1, -h * e1), x0) == (1.0, 1.0, 1.0)  # central
    assert harness.method_flags(calls(0 * e0, h * e0, h * e1), x0) == (1.0, 1.0, 1.0)  # forward: where, not what
    assert harness.method_flags(calls(h * (e0 + e1), -h * (e0 + e1)), x0) == (0.0, 1.0, 1.0)  # all at once
    assert harness.method_flags(calls(h * (e0 + e1), -h * (e0 + e1), h * (e0 + e1)), x0) == (0.0, 1.0, 1.0)
    # x[0] never put back: kept at x0 - h (central) or x0 + h (forward) while x[1] moves
    assert harness.method_flags(calls(h * e0, -h * e0, -h * e0 + h * e1, -h * e0 - h * e1), x0) == (1.0, 0.0, 1.0)
    assert harness.method_flags(calls(0 * e0, h * e0, h * e0 + h * e1), x0) == (1.0, 0.0, 1.0)
    assert harness.method_flags(calls(1e-5 * e0, -1e-5 * e0), x0)[2] == 0.0  # too small for float32
    assert harness.method_flags(calls(1e-5 * e0, -1e-5 * e0, dtype=torch.float64), x0.double())[2] == 1.0
    assert harness.method_flags(calls(0 * e0, 1e-9 * e0), x0)[2] == 0.0  # x + h == x: never moved


# -- the review's findings: a one-sided difference is never "central", and each message is true ------------
def one_sided(step, side=+1, also_other_side=False, restore="assign"):
    """A student's one-sided difference: forward (side=+1) or backward (side=-1), with a relative step;
    `also_other_side` evaluates f on the other side too and never uses it; restore: "assign" (each entry put
    back), "none" (x[i] stays moved) or "end" (x put back once, after the loop)."""

    def method(f, x):
        x0 = x.clone()
        h = step(x.dtype)
        g = torch.zeros_like(x)
        flat, gf = x.view(-1), g.view(-1)
        f0 = f(x).item()
        for i in range(flat.numel()):
            old = flat[i].item()
            s = h * max(1.0, abs(old))
            flat[i] = old + side * s
            f_side = f(x).item()
            if also_other_side:
                flat[i] = old - side * s
                f(x).item()  # computed, never used
            if restore == "assign":
                flat[i] = old
            gf[i] = side * (f_side - f0) / s
        if restore == "end":
            x.copy_(x0)
        return g

    return method


def central_restored_at_the_end(f, x):
    """Central differences, but x is put back only once, after the loop (x.copy_(x0))."""
    x0 = x.clone()
    h = torch.finfo(x.dtype).eps ** (1 / 3)
    g = torch.zeros_like(x)
    flat, gf = x.view(-1), g.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        s = h * max(1.0, abs(old))
        flat[i] = old + s
        fp = f(x).item()
        flat[i] = old - s
        fm = f(x).item()
        gf[i] = (fp - fm) / (2 * s)
    x.copy_(x0)
    return g


SQRT_EPS = lambda dtype: torch.finfo(dtype).eps ** 0.5  # noqa: E731


@pytest.mark.parametrize("step", [SQRT_EPS, BEST], ids=["sqrt-eps", "cube-root-eps"])
def test_a_forward_difference_that_also_evaluates_f_below_x_is_named_forward(step):
    """Evaluating f(x - h) is not using it: the flags say which values the gradient depends on, and at √ε the
    forward difference was within the tolerance everywhere but the bowls."""
    result = checker.grade(ex.numerical_gradient, one_sided(step, also_other_side=True))
    assert (result.status, result.mistake) == ("incorrect", "forward-difference"), result.message
    assert "central" not in result.message.split(".")[0]


def test_one_sided_differences_are_wrong_at_the_bowls_whatever_the_step():
    """At f = K·sum((x − x₀)²), x = x₀, the gradient is 0: central differences give 0, one-sided ones about ±K·h,
    for any step that fits the dtype (from 1000 rounding steps up), in float64 and float32."""
    run = ex.numerical_gradient.harness.run
    atol = ex.numerical_gradient.tolerance.atol
    assert {dtype for *_, dtype in ex.BOWL_CASES} == {"float64", "float32"}
    # as the lesson says: 40 cases, 36 drawn and four bowls
    assert (ex.numerical_gradient.n_samples, len(ex.numerical_gradient.edge_points)) == (36, 4)
    assert "The checker tries 40 cases" in _prose(MASTER) and "36 drawn from six functions" in _prose(MASTER)
    assert len(harness.SCALAR_FUNCTIONS) == 6
    for case in ex.BOWL_CASES:
        eps = torch.finfo(getattr(torch, case[2])).eps
        assert float(run(ex._numerical_gradient, *case)[0].abs().max()) < atol / 10
        for h in (2 * harness.MIN_STEPS * eps, eps ** 0.5, eps ** (1 / 3), 1e-2):
            for side in (1, -1):
                got = run(one_sided(lambda dtype, h=h: h, side), *case)[0]
                assert float(got.abs().min()) > 2 * atol, (case, h, side)
                assert bool((torch.sign(got) == side).all())


@pytest.mark.parametrize("answer, used", [
    (ex._numerical_gradient, (1.0, 1.0)), (richardson, (1.0, 1.0)),
    (one_sided(BEST), (1.0, 0.0)), (one_sided(BEST, also_other_side=True), (1.0, 0.0)),
    (one_sided(BEST, side=-1), (0.0, 1.0)), (one_sided(BEST, side=-1, also_other_side=True), (0.0, 1.0)),
], ids=["solution", "richardson", "forward", "forward-and-unused", "backward", "backward-and-unused"])
def test_the_flags_say_which_sides_of_x_the_gradient_uses(answer, used):
    outputs = ex.numerical_gradient.harness.run(answer, "mean(sin(x)·x)", "[[0.5, -1.25], [2.0, 0.75]]", "float64")
    names = ex.numerical_gradient.outputs
    assert (outputs[names.index("f(x + h) used")], outputs[names.index("f(x − h) used")]) == used


@pytest.mark.parametrize("answer, mistake", [
    (one_sided(SQRT_EPS, side=-1), "backward-difference"),
    (one_sided(BEST, side=-1, also_other_side=True), "backward-difference"),
    (one_sided(SQRT_EPS, restore="none"), "not-restored"),  # keeps x[i] + h, not x[i] − h
    (one_sided(SQRT_EPS, side=-1, restore="none"), "not-restored"),
    (central_restored_at_the_end, "not-restored"),  # x is as it was when it returns
    (central(BEST, restore="none"), "not-restored"),
], ids=["backward", "backward-and-unused", "forward-kept-up", "backward-kept-down", "restored-at-the-end",
        "central-kept-down"])
def test_each_method_is_named_by_a_message_true_of_it(answer, mistake):
    result = checker.grade(ex.numerical_gradient, answer)
    assert (result.status, result.mistake) == ("incorrect", mistake), result.message
    assert "This is a forward difference" not in result.message
    for false_claim in ("x[i] − h", "x[i] + h", "x is changed when your function returns"):
        assert false_claim not in result.message


def test_moving_every_entry_at_once_is_named_one_sided_or_not():
    def all_at_once(f, x, central=True):
        h = torch.finfo(x.dtype).eps ** (1 / 3)
        lower = f(x - h).item() if central else f(x).item()
        return torch.full_like(x, (f(x + h).item() - lower) / ((2 if central else 1) * h))

    for answer in (all_at_once, lambda f, x: all_at_once(f, x, central=False)):
        result = checker.grade(ex.numerical_gradient, answer)
        assert (result.status, result.mistake) == ("incorrect", "all-at-once"), result.message
        assert "x − h" not in result.message  # the forward one never evaluates it


def test_the_numerical_exercises_say_they_ask_for_a_numerical_method_when_autograd_is_used():
    def by_autograd(f, x):
        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(f(x), x)[0]

    def jacobian_by_autograd(fn, x, eps):
        return torch.autograd.functional.jacobian(fn, x)

    for exercise, answer in ((ex.numerical_gradient, by_autograd), (ex.numerical_jacobian, jacobian_by_autograd)):
        result = checker.grade(exercise, answer)
        assert (result.status, result.mistake) == ("incorrect", "used-autograd")
        assert "numerical method" in result.message and "by hand" not in result.message
        assert "formula yourself" not in result.message

    def dz_dx_by_backward(x):  # a by-hand exercise keeps its own words
        t = torch.tensor(x, requires_grad=True)
        torch.sin(t**2).backward()
        return t.grad.item()

    result = checker.grade(checker.lesson01.dz_dx, dz_dx_by_backward)
    assert result.mistake == "used-autograd"
    assert "asks for the gradient by hand: write the formula yourself" in result.message


def test_the_step_hint_cites_the_section_of_the_V():
    headings = [line for cell in json.loads(MASTER.read_text())["cells"] if cell["cell_type"] == "markdown"
                for line in "".join(cell["source"]).splitlines() if line.startswith("### 1.")]
    section = next(h.split()[1] for h in headings if "The V" in h)
    hint = next(h for h in ex.numerical_gradient.hints if "finfo" in h)
    assert f"(section {section})" in hint and section == "1.2"
    for message in [m.message for m in ex.numerical_gradient.mistakes] + list(ex.numerical_gradient.hints):
        assert "section 1.3" not in message and "section 1's" not in message


# == 2. gradcheck's numerical Jacobian ==============================================================
def test_numerical_jacobian_reference_is_autograds_and_transpose_is_not_symmetric():
    for formula, fn in harness.VECTOR_FUNCTIONS.items():
        x = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64)
        jacobian = torch.autograd.functional.jacobian(fn, x)
        assert not torch.allclose(jacobian, jacobian.T), f"{formula}: a transposed answer would pass"
        assert torch.allclose(ex._numerical_jacobian(fn, x.clone(), 1e-3), jacobian, rtol=1e-5, atol=1e-6)


def test_numerical_jacobian_of_the_wrong_shape():
    result = checker.grade(ex.numerical_jacobian, lambda fn, x, eps: torch.zeros(3))
    assert result.status == "error" and "one row per output, one column per input" in result.message


def test_a_backward_difference_jacobian_is_named_as_one():
    def backward_difference(fn, x, eps):
        jacobian, flat = torch.zeros(3, 3, dtype=x.dtype), x.view(-1)
        for j in range(3):
            old = flat[j].item()
            base = fn(x).reshape(-1)
            flat[j] = old - eps
            jacobian[:, j] = (base - fn(x).reshape(-1)) / eps
            flat[j] = old
        return jacobian

    result = checker.grade(ex.numerical_jacobian, backward_difference)
    assert (result.status, result.mistake) == ("incorrect", "backward-difference"), result.message
    assert "This is a backward difference" in result.message and "This is a forward" not in result.message


# == 3. a torch.autograd.Function ================================================================
def softplus_function(backward_b, n_grads=3):
    class BiasSoftplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, b, beta):
            ctx.save_for_backward(x, b)
            ctx.beta = beta
            return F.softplus(x + b, beta)

        @staticmethod
        def backward(ctx, grad_output):
            x, b = ctx.saved_tensors
            grad = grad_output * torch.sigmoid(ctx.beta * (x + b))
            return (grad, backward_b(grad), None)[:n_grads]

    return BiasSoftplus


def test_function_with_torchs_softplus_forward_and_an_unreduced_b_gradient_passes():
    """Autograd sums a gradient of x + b's shape down to b's shape: that is not a mistake."""
    for reduce in (lambda g: g, lambda g: g.sum(0), lambda g: g.sum(0, keepdim=True)):
        result = checker.grade(ex.bias_softplus, softplus_function(reduce))
        assert result.status == "correct", result.message


def test_function_errors_are_shown_as_torch_says_them():
    result = checker.grade(ex.bias_softplus, softplus_function(lambda g: g.sum(0), n_grads=2))
    assert result.status == "error"
    assert "returned an incorrect number of gradients (expected 3, got 2)" in result.message


@pytest.mark.parametrize("answer, words", [
    (lambda x, b, beta: x, "a class derived from torch.autograd.Function"),
    (int, "a class derived from torch.autograd.Function"),
])
def test_function_of_the_wrong_form(answer, words):
    result = checker.grade(ex.bias_softplus, answer)
    assert result.status == "error" and words in result.message


def test_raw_backward_flags_non_tensor_gradient_and_wrong_dim():
    run = ex.bias_softplus.harness.run
    for mistake, flags in (("gradient-for-beta", (0.0, 1.0)), ("b-summed-over-wrong-dim", (1.0, 0.0))):
        answer = next(m.answer for m in ex.bias_softplus.mistakes if m.id == mistake)
        outputs = run(answer, 2.0, 5.0, 123)
        assert outputs[-2:] == flags and math.isnan(float(outputs[1][0]))  # no network gradients without them


def test_softplus_cases_overflow_the_naive_formula_in_float64():
    overflowing = 0
    for beta, scale, seed in sample_points(ex.bias_softplus):
        x, b, *_ = harness.softplus_inputs(scale, seed)
        overflowing += bool(torch.isinf(torch.exp(beta * (x + b))).any())
    assert overflowing >= 2, "too few cases where e^(β(x + b)) overflows float64"


def stable_function(b_gradient=lambda g: g.sum(0), forward=None):
    """The solution's BiasSoftplus with b's gradient, or the forward's output, computed otherwise."""

    class BiasSoftplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, b, beta):
            z = beta * (x + b)
            ctx.save_for_backward(z)
            ctx.beta = beta
            return (forward or (lambda z, beta: (torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))) / beta))(
                z, beta)

        @staticmethod
        def backward(ctx, grad_output):
            (z,) = ctx.saved_tensors
            grad = grad_output * torch.sigmoid(z)
            return grad, b_gradient(grad), None

    return BiasSoftplus


@pytest.mark.parametrize("b_gradient, shape", [
    (lambda g: g.sum(), "()"), (lambda g: g.T, "(3, 4)"), (lambda g: g.sum(0, keepdim=True).T, "(3, 1)"),
    (lambda g: g[:, :1], "(4, 1)"),
], ids=["0-dim", "transposed", "column", "first-column"])
def test_a_b_gradient_of_another_shape_is_told_its_shape_not_summed_over_dim_1(b_gradient, shape):
    result = checker.grade(ex.bias_softplus, stable_function(b_gradient))
    assert result.status == "error" and result.mistake != "b-summed-over-wrong-dim", result.message
    assert f"b's gradient as a tensor of shape {shape}, but b has shape (3,)" in result.message
    assert "dim 1" not in result.message and "(N,)" not in result.message


@pytest.mark.parametrize("b_gradient", [lambda g: g.sum(dim=1), lambda g: g.mean(dim=1), lambda g: g[:, 0]],
                         ids=["summed-over-dim-1", "averaged-over-dim-1", "first-feature"])
def test_a_b_gradient_of_one_number_per_row_is_the_known_mistake(b_gradient):
    result = checker.grade(ex.bias_softplus, stable_function(b_gradient))
    assert (result.status, result.mistake) == ("incorrect", "b-summed-over-wrong-dim"), result.message
    assert "one number per row of x, shape (N,)" in result.message and "you summed" not in result.message


def float32_forward(z, beta):
    return ((torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))) / beta).float()


def overflowing_forward(z, beta):  # exp(-z) is inf for very negative z
    return (torch.clamp(z, min=0) + torch.log1p(torch.exp(-z))) / beta


def test_a_forward_in_another_dtype_is_told_to_keep_xs_dtype_not_shown_the_checkers_error():
    result = checker.grade(ex.bias_softplus, stable_function(forward=float32_forward))
    assert result.status == "error", result.message
    assert result.message.startswith("forward returned a tensor of dtype float32, but x is float64")
    assert "m1 and m2" not in result.message and "raised an error" not in result.message


def test_an_overflowing_forward_is_shown_with_the_expected_number_there():
    result = checker.grade(ex.bias_softplus, stable_function(forward=overflowing_forward))
    assert result.status == "incorrect" and result.diagnosis == "not-finite", result.message
    assert re.search(r"y is not a finite number: y\[\d+\] is inf at beta = .*, where the reference has y\[\d+\] = "
                     r"-?[\d.e+-]+\. ", result.message), result.message
    assert "tensor of shape" not in result.message and "reference there" not in result.message


def jacobian_with_an_inf(fn, x, eps):
    jacobian = ex._numerical_jacobian(fn, x, eps)
    jacobian[1, 2] = math.inf
    return jacobian


def test_a_jacobian_with_an_inf_is_shown_with_the_expected_number_there():
    result = checker.grade(ex.numerical_jacobian, jacobian_with_an_inf)
    assert "Your answer is not a finite number: its entry [1, 2] is inf at fn = " in result.message, result.message
    assert ", where the Jacobian has entry [1, 2] = " in result.message and "tensor of shape" not in result.message


# == 4. second derivatives and Hessian-vector products =============================================
def test_second_derivative_of_sin_x_squared_at_3():
    assert float(ex._second_derivative(3.0)) == pytest.approx(ex._d2z_dx2(3.0), rel=1e-12)
    assert ex._d2z_dx2(3.0) == pytest.approx(-16.65852599247259, rel=1e-12)


def test_hvp_answers_that_pass_and_fail():
    def via_vjp_of_the_dot_product(f, x, v):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(x), x, create_graph=True)
        return torch.autograd.grad((grad * v).sum(), x)[0]

    def full_hessian(f, x, v):
        return torch.autograd.functional.hessian(f, x) @ v

    def library_hvp(f, x, v):
        return torch.autograd.functional.hvp(f, x, v)[1]

    for answer in (via_vjp_of_the_dot_product, full_hessian, library_hvp):
        assert checker.grade(ex.hvp, answer).status == "correct"
    # and the exercise says so: it accepts H·v however autograd computes it, and asks for double backward
    text = next("".join(c["source"]) for c in json.loads(MASTER.read_text())["cells"]
                if "".join(c["source"]).startswith("### Exercise 5"))
    assert "by double backward." not in text
    assert "also accepts H·v from `torch.autograd.functional.hvp` or from the full Hessian times v" in text

    def forgot_create_graph(f, x, v):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(x), x)
        return torch.autograd.grad((grad * v).sum(), x)[0]

    result = checker.grade(ex.hvp, forgot_create_graph)
    assert result.status == "error" and "does not require grad" in result.message


# == 5. the engine ===============================================================================
VALUE_SOURCE = inspect.getsource(ex.Value)


def engine(*edits, backward=None):
    source = VALUE_SOURCE
    if backward is not None:
        source = source[:source.index("    def backward(self):")] + backward
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    namespace = {"math": math}
    exec(source, namespace)
    return namespace["Value"]


KAHN = '''    def backward(self):
        nodes, stack, seen = [], [self], {id(self)}
        while stack:
            node = stack.pop()
            nodes.append(node)
            for child in node._prev:
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
        users = {id(n): 0 for n in nodes}
        for node in nodes:
            for child in node._prev:
                users[id(child)] += 1
        for node in nodes:
            node.grad = 0.0
        self.grad = 1.0
        ready = [self]
        while ready:  # a node is processed once all its users have been
            node = ready.pop(0)
            node._backward()
            for child in node._prev:
                users[id(child)] -= 1
                if users[id(child)] == 0:
                    ready.append(child)
'''


@pytest.mark.parametrize("answer", [
    engine(), engine(("self._prev = tuple(_children)", "self._prev = set(_children)")), engine(backward=KAHN),
], ids=["solution-text", "children-in-a-set", "kahns-algorithm"])
def test_right_engines_pass_whatever_their_order(answer):
    assert checker.grade(ex.engine, answer).status == "correct"


@pytest.mark.parametrize("answer", [
    engine(("grad += ", "grad = "), backward=KAHN),
    engine(("grad += ", "grad = "), ("self._prev = tuple(_children)", "self._prev = set(_children)")),
], ids=["kahns-algorithm", "children-in-a-set"])
def test_assigning_at_forks_is_named_whatever_the_topological_order(answer):
    """Every statement of a random program uses the one before, so every node's users are visited in
    one order by any topological sort: the `=` bug gives the same numbers in every engine."""
    result = checker.grade(ex.engine, answer)
    assert (result.status, result.mistake) == ("incorrect", "assigned-at-forks")


def test_an_engine_that_lists_nodes_before_their_children_is_told_so():
    """Pre-order (a node appended before its children), walked reversed: not the unreversed walk the message
    used to describe, but the same numbers; the message covers both."""
    preorder = engine(PREORDER_ENGINE_EDIT)
    unreversed = engine(("for node in reversed(topo):", "for node in topo:"))
    for answer in (preorder, unreversed):
        result = checker.grade(ex.engine, answer)
        assert (result.status, result.mistake) == ("incorrect", "not-reversed"), result.message
        assert "appended before its children" in result.message and "walked as built, not reversed" in result.message
        assert not result.message.startswith("Your backward() walks the nodes in topological order")


def test_random_programs_have_forks_shared_nodes_chains_and_every_operation():
    cases = sample_points(ex.engine)
    sizes = [len(harness.statements(c[0])) for c in cases]
    assert sizes == sorted(sizes) and sizes[0] == 1 and max(sizes) >= 10
    operations, forks, shared = set(), 0, 0
    for program, *_ in cases:
        parsed = harness.statements(program)
        uses = [name for _, _, inputs, _ in parsed for name in inputs]
        forks += any(uses.count(leaf) > 1 for leaf in harness.LEAVES)
        shared += any(uses.count(name) > 1 for name, *_ in parsed)
        operations |= {op + constant for _, op, _, constant in parsed}
        for (_, _, inputs, _), (previous, *_) in zip(parsed[1:], parsed):
            assert inputs[0] == previous, "each statement uses the one before"
        assert parsed[-1][0] == "out"
    assert forks >= 5 and shared >= 5
    assert operations == {"+", "*", "exp", "log", "tanh", "relu", "**2", "**3", "**-1", "**0.5"}


def test_engine_verdict_shows_and_draws_the_smallest_failing_graph():
    result = checker.grade(ex.engine, ex.engine.mistakes[0].answer, plot=True)
    assert result.details[0].inputs["graph"] == "out = a + a"
    assert result.figure[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'class="checker-figure"' in result._repr_html_()
    assert "figure" not in result.to_dict()


def test_a_figure_that_cannot_be_drawn_never_breaks_the_verdict():
    import dataclasses

    def fails(answer, cases):
        raise RuntimeError("drawing failed")

    def loops(answer, cases):
        while True:
            pass

    for figure in (fails, loops):
        broken = dataclasses.replace(ex.engine, figure=figure, time_limit=1.0)
        answer = next(m.answer for m in ex.engine.mistakes if m.id == "pow-chain-factor-missing")
        result = checker.grade(broken, answer, plot=True)
        assert (result.status, result.mistake, result.figure) == ("incorrect", "pow-chain-factor-missing", None)


class _RaisingMeta(type):
    def __getattribute__(cls, name):
        if name == "tanh":
            raise ValueError("no looking")
        return super().__getattribute__(name)


RAISES_WHEN_INSPECTED = _RaisingMeta("Value", (), {})


@pytest.mark.parametrize("answer, words", [
    (ex.Value(1.0), "the class Value itself"),
    (RAISES_WHEN_INSPECTED, "could not look inside your answer: ValueError: no looking"),
    (type("Value", (), {"__init__": lambda self, data: None}), "has no method __add__"),
    (engine(("out = Value(self.data + other.data, (self, other), \"+\")\n", "return self.data + other.data\n")),
     "should give a Value"),
])
def test_engine_of_the_wrong_form(answer, words):
    result = checker.grade(ex.engine, answer)
    assert result.status == "error" and words in result.message, result.message


def test_engine_stub_is_not_attempted_and_the_student_edition_has_that_stub():
    assert checker.grade(ex.engine, ex._ValueStub).status == "not_attempted"
    nb = json.loads(STUDENT.read_text())
    source = next("".join(c["source"]) for c in nb["cells"] if "".join(c["source"]).startswith("class Value:"))
    assert source.count('raise NotImplementedError("Replace this line with your answer")') == 8
    namespace = {"math": math}
    exec(source.split("\n\n\nex.engine.check")[0], namespace)
    assert checker.grade(ex.engine, namespace["Value"]).status == "not_attempted"


# == the harness module and bulk grading ============================================================
def test_harness_module_runs_alone_from_its_source():
    """Bulk grading sends checker/engine/harness.py's text to the student's kernel: it must import nothing else."""
    source = pathlib.Path(harness.__file__).read_text()
    assert not re.search(r"^\s*from \.(?!convert import BadAnswer)", source, re.MULTILINE)
    space = {"__name__": "alone"}
    exec(compile(source, "<harness>", "exec"), space)
    assert space["AnswerProblem"].__mro__[1] is Exception
    assert set(space["HARNESSES"]) == set(harness.HARNESSES)


def test_cases_are_plain_json_values():
    for exercise in exercises("lesson06"):
        if exercise.harness is None:
            continue
        points = [sampled_reference(exercise).points[i] for i in sampled_reference(exercise).valid]
        assert json.loads(json.dumps(points)) == [list(p) for p in points]


def probe_in_process(namespace: dict) -> dict:
    """The grader's probe cell run on a namespace of answers, in this process: the raw answers."""
    from tests.inprocess_probe import probe_answers

    return probe_answers([probe.exercise_request(e) for e in exercises("lesson06")], dict(namespace))


def _answers(pick):
    return {e.answer_name: pick(e) for e in exercises("lesson06")}


BAD_FORMS = {
    "numerical_gradient": lambda f, x: x.reshape(-1),
    "numerical_jacobian": lambda fn, x, eps: 1 / 0,
    "BiasSoftplus": lambda x, b, beta: x,
    "d2z_dx2": lambda x: None,
    "hvp": None,
    "Value": RAISES_WHEN_INSPECTED,
}


PREORDER_ENGINE_EDIT = ("""                for child in node._prev:
                    build(child)
                topo.append(node)""", """                topo.append(node)
                for child in node._prev:
                    build(child)""")
# answers from the review of lesson 06, whose verdicts were wrong: the kernel's measures give the same new ones
REVIEWED = [{
    "numerical_gradient": one_sided(SQRT_EPS, also_other_side=True),
    "numerical_jacobian": jacobian_with_an_inf,
    "BiasSoftplus": stable_function(lambda g: g.T),
    "d2z_dx2": ex._d2z_dx2,
    "hvp": lambda f, x, v: torch.autograd.functional.hvp(f, x, v)[1],
    "Value": engine(PREORDER_ENGINE_EDIT),
}, {
    "numerical_gradient": central_restored_at_the_end,
    "numerical_jacobian": lambda fn, x, eps: torch.autograd.functional.jacobian(fn, x),
    "BiasSoftplus": stable_function(forward=overflowing_forward),
    "d2z_dx2": ex._d2z_dx2,
    "hvp": ex._hvp,
    "Value": ex.Value,
}, {
    "numerical_gradient": one_sided(BEST, side=-1),
    "numerical_jacobian": ex._numerical_jacobian,
    "BiasSoftplus": stable_function(forward=float32_forward),
    "d2z_dx2": ex._d2z_dx2,
    "hvp": ex._hvp,
    "Value": ex.Value,
}]


@pytest.mark.parametrize("pick", [
    lambda e: e.solution_fn,
    lambda e: e.stub if e.stub is not None else checker.lessons.selftest.stub,
    *[lambda e, k=k: e.mistakes[min(k, len(e.mistakes) - 1)].answer for k in range(10)],
    lambda e: BAD_FORMS[e.answer_name],
    *[lambda e, k=k: REVIEWED[k][e.answer_name] for k in range(len(REVIEWED))],
], ids=["solutions", "stubs", *[f"mistake-{k}" for k in range(10)], "bad-forms",
        *[f"reviewed-{k}" for k in range(len(REVIEWED))]])
def test_bulk_grading_gives_the_notebooks_verdicts(pick):
    """The probe measures each answer in the kernel with the harness's source; the replay, judged by the
    grader, gets the verdict, message and details the notebook's check gives."""
    namespace = _answers(pick)
    raw = probe_in_process(namespace)
    for exercise in exercises("lesson06"):
        graded = replay.judge(exercise, raw.get(exercise.id), "missing")
        seen = checker.grade(exercise, namespace[exercise.answer_name])
        assert (graded.status, graded.mistake, graded.message) == (seen.status, seen.mistake, seen.message)
        assert graded.to_dict()["details"] == seen.to_dict()["details"]


# == the lesson's own numbers ========================================================================
def _outputs(path) -> str:
    nb = json.loads(path.read_text())
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                texts.append("".join(out["text"]))
            else:
                data = out.get("data", {})
                texts.append("".join(data.get("text/html", data.get("text/plain", ""))))
    return "\n".join(texts)


def _prose(path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_prose_numbers_are_the_outputs_numbers():
    shown, prose = _outputs(MASTER), _prose(MASTER)
    for printed, said in [
        ("relative error 5e-11", "5e-11 in float64"), ("relative error 2e-05", "2e-5 in float32"),
        ("central: best h ≈ ε^(1/3) = 6.1e-06", "near 6e-6"), ("central: best h ≈ ε^(1/3) = 4.9e-03", "near 5e-3"),
        ("error ≈ 4e-11", "4e-11 against 1e-8"),
        ("forward: best h ≈ √ε = 1.5e-08, error ≈ 1e-08", "4e-11 against 1e-8"),
        ("error ≈ 2e-05", "ε^(2/3) ≈ 2e-5"),
        ("tensor([ 1.3133, 20.0000,     inf])", "y is inf instead of 100"),
        ("0.7311, 1.0000,    nan", "the gradient is NaN"),
        ("tensor([  1.3133,  20.0000, 100.0000])", "Finite everywhere"),
        ("[2.0000, 0.0000, 0.0000]", "numerical diagonal (2, 4, 6)"), ("[[1., 0., 0.]", "analytical one (1, 2, 3)"),
        ("0.5000", "At x = 0 and within h = 1e-5 of it they do not"),
    ]:
        assert printed in shown, printed
        assert said in prose, said
    # forward error ≈ 0.42·h and central ≈ 0.09·h², as the prose says
    for h, fwd, cen in ((1e-2, "4.2e-03", "9.0e-06"), (1e-3, "4.2e-04", "9.0e-08")):
        assert f"h = {h:.0e}   forward error {fwd}   central error {cen}" in shown
    # the float32 V: the best step about 800 times the float64 one
    assert round(torch.finfo(torch.float32).eps ** (1 / 3) / torch.finfo(torch.float64).eps ** (1 / 3), -2) == 800


def test_the_lessons_facts_hold_in_this_torch():
    assert float(torch.log(1 + torch.exp(torch.tensor(88.0)))) < math.inf
    assert math.isinf(float(torch.exp(torch.tensor(88.8))))
    x = torch.tensor([100.0], requires_grad=True)
    torch.log(1 + torch.exp(x)).sum().backward()
    assert math.isnan(float(x.grad))
    assert float(F.softplus(torch.tensor(800.0, dtype=torch.float64), beta=2.0, threshold=40)) == 800.0


def test_no_timing_is_quoted_and_timings_are_not_compared():
    nb = json.loads(MASTER.read_text())
    timed = [c for c in nb["cells"] if "timeit" in "".join(c["source"]) and c["cell_type"] == "code"
             and "import timeit" not in "".join(c["source"])]
    assert timed and all("nbval-ignore-output" in c["metadata"].get("tags", []) for c in timed)
    assert not re.search(r"\d+(\.\d+)? ?(ms|milliseconds|µs)\b", _prose(MASTER))
