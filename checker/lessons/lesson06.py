"""Lesson 06, inside autograd: check gradients yourself, write a backward, build a tiny engine.

Most answers here are not functions of numbers: a numerical method that is given a function
f, a torch.autograd.Function subclass, a Value class. Each such exercise names a harness
(checker.engine.harness) that measures the answer at *cases* drawn from the checker's private,
seeded generator: a function, a tensor and its dtype; a sharpness, a scale and a seed; a
random program. The references are computed here, with torch.autograd in float64.
"""
import inspect
import json
import math
import warnings

import torch
import torch.nn.functional as F

from ..engine.exercise import Exercise, Mistake, Tolerance
from ..engine.harness import (
    CENTERED_FUNCTIONS,
    HARNESSES,
    LEAVES,
    SCALAR_FUNCTIONS,
    VECTOR_FUNCTIONS,
    execute,
    scalar_function,
    softplus_inputs,
    softplus_network,
    statements,
    tensor_from,
)
from ..figures import compgraph
from .slips import GRAD_ACCUMULATED

# -- drawing cases from the checker's generator ---------------------------------------------------


def _uniform(generator, low, high) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _pick(generator, options):
    return options[int(torch.randint(0, len(options), (), generator=generator))]


def _values(generator, shape, low, high) -> str:
    """A tensor's entries as JSON, two decimals each, so that the verdict shows them exactly."""
    n = math.prod(shape)
    flat = [round(_uniform(generator, low, high), 2) for _ in range(n)]
    return json.dumps(torch.tensor(flat, dtype=torch.float64).reshape(shape).tolist())


def _autograd_gradient(f, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().to(torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x)
    return grad.detach()


# == 1. A numerical gradient, central differences, any shape and dtype =============================
# ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h: error ~h² from truncation, ~eps·|f|/h from rounding;
# the two balance at h ≈ eps^(1/3), about 6e-6 in float64 and 5e-3 in float32.
def _numerical_gradient(f, x):
    h = torch.finfo(x.dtype).eps ** (1 / 3)  # the best step for central differences in x's dtype
    grad = torch.zeros_like(x)
    flat, flat_grad = x.view(-1), grad.view(-1)  # views: writing flat[i] writes x itself
    for i in range(flat.numel()):
        old = flat[i].item()
        step = h * max(1.0, abs(old))  # a step relative to the size of the entry
        flat[i] = old + step
        f_plus = f(x).item()
        flat[i] = old - step
        f_minus = f(x).item()
        flat[i] = old  # put it back before the next entry
        flat_grad[i] = (f_plus - f_minus) / (2 * step)
    return grad


def _finite_difference(h_of, forward=False, backward=False, all_at_once=False, restore=True, denominator=2.0):
    """A finite-difference method with one thing done differently from the solution."""

    def method(f, x):
        h = h_of(x.dtype)
        grad = torch.zeros_like(x)
        flat, flat_grad = x.view(-1), grad.view(-1)
        if all_at_once:
            f_plus, f_minus = f(x + h).item(), f(x - h).item()
            return torch.full_like(x, (f_plus - f_minus) / (2 * h))
        for i in range(flat.numel()):
            old = flat[i].item()
            if forward:
                f_base = f(x).item()
                flat[i] = old + h
                flat_grad[i] = (f(x).item() - f_base) / h
            elif backward:
                f_base = f(x).item()
                flat[i] = old - h
                flat_grad[i] = (f_base - f(x).item()) / h
            else:
                flat[i] = old + h
                f_plus = f(x).item()
                flat[i] = (old - h) if restore else (flat[i].item() - 2 * h)
                f_minus = f(x).item()
                flat_grad[i] = (f_plus - f_minus) / (denominator * h)
            if restore:
                flat[i] = old
        return grad

    return method


def _best_h(dtype):
    return torch.finfo(dtype).eps ** (1 / 3)


SHAPES = ((4,), (2, 2), (1, 4), (4, 1), (2, 1, 2), (1, 2, 2))


def _sample_function_and_x(generator):
    formula = _pick(generator, list(SCALAR_FUNCTIONS))
    shape = _pick(generator, SHAPES)
    dtype = _pick(generator, ("float64", "float32"))
    return formula, _values(generator, shape, -2.0, 2.0), dtype


def _numerical_gradient_reference(formula, values, dtype):
    x = tensor_from(values, dtype)  # the student's x, rounded to its dtype; differentiated in float64
    grad = _autograd_gradient(scalar_function(formula, x), x)
    # the method's flags as the model solution shows them (x left as it was, f(x + h) and f(x − h) both used,
    # one entry at a time, x[i] put back, a step fit for the dtype): computed by watching _numerical_gradient
    # at the same case
    flags = HARNESSES["numerical_gradient"].run(_numerical_gradient, formula, values, dtype)[1:]
    return (grad.reshape(-1), *flags)


GRADIENT_FLAGS = ("x left as it was", "f(x + h) used", "f(x − h) used", "one entry at a time", "x[i] put back",
                  "step fits the dtype")
# Where only a central difference is accurate: f = K·sum((x − x₀)²) at x = x₀ (harness.CENTERED_FUNCTIONS),
# whose gradient is 0, in both dtypes; a one-sided difference gives about ±K·h there, whatever its step.
_BOWL64, _BOWL32 = CENTERED_FUNCTIONS
BOWL_CASES = (
    (_BOWL64, "[[0.37, -1.62], [1.05, -0.48]]", "float64"),
    (_BOWL64, "[[-1.33], [0.91], [1.77], [-0.06]]", "float64"),
    (_BOWL32, "[[[0.52, -1.41]], [[1.68, -0.93]]]", "float32"),
    (_BOWL32, "[-0.27, 1.19, -1.84, 0.66]", "float32"),
)

numerical_gradient = Exercise(
    id="lesson06.numerical_gradient",
    title="A numerical gradient by central differences, for a tensor of any shape and dtype",
    signature="numerical_gradient(f, x) -> tensor shaped like x",
    harness=HARNESSES["numerical_gradient"],
    pass_as="case",
    batched=False,
    inputs=("f", "x", "dtype"),
    outputs=("gradient", *GRADIENT_FLAGS),
    edge_points=BOWL_CASES,
    sampler=_sample_function_and_x,
    n_samples=36,
    reference=_numerical_gradient_reference,
    quantity="autograd's gradient",
    # float32 central differences are good to about 1e-5 at the best step: 1e-3 accepts them. A one-sided
    # difference is caught by the bowls (BOWL_CASES), and named by the method's flags.
    tolerance=Tolerance(rtol=1e-3, atol=1e-3),
    asks_for="a numerical method: estimate the gradient from values of f, with finite differences",
    solution_fn=_numerical_gradient,
    hints=(
        "One entry at a time: for each index i of x, evaluate f with x[i] moved up by h and with x[i] moved "
        "down by h, and put (f_plus − f_minus) / (2h) in entry i of the gradient. Put x[i] back afterwards.",
        "x.view(-1) is a flat view of x: writing flat[i] = value writes into x itself, whatever x's shape. "
        "torch.zeros_like(x).view(-1) does the same for the gradient.",
        "The step depends on the dtype: h = torch.finfo(x.dtype).eps ** (1/3), about 6e-6 in float64 and "
        "5e-3 in float32 (section 1.2), times max(1, |x[i]|) for large entries.",
        "Use .item() to turn f's 0-dim tensor into a Python float before subtracting.",
    ),
    mistakes=(
        Mistake("not-restored", _finite_difference(_best_h, restore=False),
                "You do not put x[i] back before you move the next entry: x[i] stays moved, so every later "
                "entry's difference is taken around a different point, not around x. Save the old value and "
                "write it back (flat[i] = old) before moving to the next entry.",
                known_by=("x[i] put back",)),
        Mistake("all-at-once", _finite_difference(_best_h, all_at_once=True),
                "You moved several entries of x at once (x + h adds h to every entry): the difference then "
                "measures how f changes along a diagonal direction, such as (1, 1, ..., 1), a sum of partial "
                "derivatives, not one of them. Move one entry at a time: only x[i], for entry i of the gradient.",
                known_by=("one entry at a time", "x[i] put back")),
        Mistake("forward-difference", _finite_difference(lambda dtype: torch.finfo(dtype).eps ** 0.5,
                                                         forward=True),
                "This is a forward difference, (f(x + h·eᵢ) − f(x)) / h: your gradient does not use f(x − h·eᵢ), "
                "even if you compute it. Its error shrinks only like h, and in float32 it cannot get below about "
                "3e-4. The exercise asks for the central difference, (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h, whose "
                "error shrinks like h².",
                known_by=("f(x + h) used", "f(x − h) used", "one entry at a time", "x[i] put back")),
        Mistake("backward-difference", _finite_difference(lambda dtype: torch.finfo(dtype).eps ** 0.5,
                                                          backward=True),
                "This is a backward difference, (f(x) − f(x − h·eᵢ)) / h: your gradient does not use f(x + h·eᵢ), "
                "even if you compute it. Its error shrinks only like h, as a forward difference's does. The "
                "exercise asks for the central difference, (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h, whose error "
                "shrinks like h².",
                known_by=("f(x + h) used", "f(x − h) used", "one entry at a time", "x[i] put back")),
        Mistake("step-too-small-float32", _finite_difference(lambda dtype: 1e-6),
                "Your method is right in float64, but your step is too small for float32: float32 keeps about 7 "
                "significant digits, so x + h differs from x only in its last digits, and f(x + h) − f(x − h) "
                "is mostly rounding error (it grows like eps/h: the left arm of the V in section 1.2). Choose h from "
                "the dtype: torch.finfo(x.dtype).eps ** (1/3), about 5e-3 in float32.",
                known_by=("step fits the dtype",)),
        Mistake("divided-by-h", _finite_difference(_best_h, denominator=1.0),
                "Your gradient is twice too large: x + h and x − h are 2h apart, so divide f(x + h) − f(x − h) "
                "by 2h, not by h."),
    ),
)


# == 2. What gradcheck does: the numerical Jacobian, column by column ================================
# J[i, j] = ∂fnᵢ/∂xⱼ ≈ (fn(x + eps·eⱼ)ᵢ − fn(x − eps·eⱼ)ᵢ) / 2eps: one column per input entry.
def _numerical_jacobian(fn, x, eps):
    n, m = x.numel(), fn(x).numel()
    jacobian = torch.zeros(m, n, dtype=x.dtype)
    flat = x.view(-1)
    for j in range(n):  # one input entry at a time: column j
        old = flat[j].item()
        flat[j] = old + eps
        plus = fn(x).reshape(-1)
        flat[j] = old - eps
        minus = fn(x).reshape(-1)
        flat[j] = old
        jacobian[:, j] = (plus - minus) / (2 * eps)
    return jacobian


def _jacobian_mistake(forward=False, backward=False, transpose=False, denominator=2.0, all_at_once=False,
                      restore=True):
    def method(fn, x, eps):
        n = x.numel()
        jacobian = torch.zeros(fn(x).numel(), n, dtype=x.dtype)
        flat = x.view(-1)
        for j in range(n):
            old = flat[j].item()
            if all_at_once:
                column = (fn(x + eps) - fn(x - eps)).reshape(-1) / (2 * eps)
            elif forward:
                base = fn(x).reshape(-1)
                flat[j] = old + eps
                column = (fn(x).reshape(-1) - base) / eps
            elif backward:
                base = fn(x).reshape(-1)
                flat[j] = old - eps
                column = (base - fn(x).reshape(-1)) / eps
            else:
                flat[j] = old + eps
                plus = fn(x).reshape(-1)
                flat[j] = (old - eps) if restore else flat[j].item() - 2 * eps
                column = (plus - fn(x).reshape(-1)) / (denominator * eps)
            if restore:
                flat[j] = old
            jacobian[:, j] = column
        return jacobian.T.clone() if transpose else jacobian

    return method


def _sample_vector_function(generator):
    formula = _pick(generator, list(VECTOR_FUNCTIONS))
    eps = _pick(generator, (1e-3, 3e-4))  # larger than gradcheck's 1e-6, so that a one-sided difference shows
    return formula, _values(generator, (3,), -1.5, 1.5), eps


def _jacobian_reference(formula, values, eps):
    x = tensor_from(values)
    return torch.autograd.functional.jacobian(VECTOR_FUNCTIONS[formula], x)


numerical_jacobian = Exercise(
    id="lesson06.numerical_jacobian",
    title="The numerical Jacobian that gradcheck compares with autograd's",
    signature="numerical_jacobian(fn, x, eps) -> tensor of shape (fn(x).numel(), x.numel())",
    harness=HARNESSES["numerical_jacobian"],
    pass_as="case",
    batched=False,
    inputs=("fn", "x", "eps"),
    outputs=("Jacobian",),
    sampler=_sample_vector_function,
    n_samples=24,
    reference=_jacobian_reference,
    compared_with="torch.autograd.functional.jacobian",
    quantity="the Jacobian",
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
    asks_for="a numerical method: build the Jacobian from values of fn, with central differences",
    solution_fn=_numerical_jacobian,
    hints=(
        "The Jacobian has one row per output and one column per input: J[i, j] = ∂fnᵢ/∂xⱼ. Its shape is "
        "(fn(x).numel(), x.numel()).",
        "Moving one input entry x[j] changes every output: the central difference of the whole output vector, "
        "(fn(x + eps·eⱼ) − fn(x − eps·eⱼ)) / 2eps, is column j.",
        "jacobian[:, j] = (plus - minus) / (2 * eps), with plus and minus the outputs flattened by .reshape(-1). "
        "Put x[j] back before the next column.",
    ),
    mistakes=(
        Mistake("transposed", _jacobian_mistake(transpose=True),
                "Your matrix is the Jacobian transposed: you put the differences for input j in row j. In a "
                "Jacobian, row i is output i and column j is input j (J[i, j] = ∂fnᵢ/∂xⱼ), so moving x[j] "
                "fills column j, as gradcheck prints it."),
        Mistake("forward-difference", _jacobian_mistake(forward=True),
                "This is a forward difference, (fn(x + eps·eⱼ) − fn(x)) / eps, whose error shrinks only like "
                "eps. gradcheck, like the exercise, uses the central difference "
                "(fn(x + eps·eⱼ) − fn(x − eps·eⱼ)) / 2eps."),
        Mistake("backward-difference", _jacobian_mistake(backward=True),
                "This is a backward difference, (fn(x) − fn(x − eps·eⱼ)) / eps, whose error shrinks only like "
                "eps, as a forward difference's does. gradcheck, like the exercise, uses the central difference "
                "(fn(x + eps·eⱼ) − fn(x − eps·eⱼ)) / 2eps."),
        Mistake("divided-by-eps", _jacobian_mistake(denominator=1.0),
                "Every entry is twice too large: x + eps and x − eps are 2·eps apart, so divide by 2·eps."),
        Mistake("all-at-once", _jacobian_mistake(all_at_once=True),
                "You moved every input entry at once (x + eps), so every column holds the same numbers: how the "
                "outputs change along (1, 1, 1), the sum of the columns. Move only x[j] for column j."),
        Mistake("not-restored", _jacobian_mistake(restore=False),
                "You never put x[j] back: each later column is measured around a point that still has the earlier "
                "entries moved. Write the old value back before the next column."),
    ),
)


# == 3. A backward of your own: softplus(x + b) with a sharpness beta ================================
# y = softplus_β(x + b) = log(1 + exp(β(x + b))) / β, with x (N, C), b (C,) broadcast over the rows and β a
# Python float. dy/dx = σ(β(x + b)); b's gradient sums the rows, since b was used in every row.
class _BiasSoftplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, beta):
        z = beta * (x + b)
        ctx.save_for_backward(z)  # what backward needs: σ(z)
        ctx.beta = beta  # a Python number is not saved with save_for_backward
        # log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)): the exponential never sees a large positive number
        return (torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))) / beta

    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        grad_u = grad_output * torch.sigmoid(z)  # chain rule: incoming gradient times dy/du = σ(β·u)
        return grad_u, grad_u.sum(dim=0), None  # b was broadcast over the rows: sum them; beta: None


class _BiasSoftplusStub(torch.autograd.Function):
    """What the exercise edition starts from."""

    @staticmethod
    def forward(ctx, x, b, beta):
        raise NotImplementedError("Replace this line with your answer")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("Replace this line with your answer")


def _stable_softplus(z):
    return torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))


def _softplus_function(forward=None, local=None, reduce_b=lambda grad: grad.sum(dim=0), incoming=True,
                       beta_gradient=False, save="z", divide=True):
    """The solution's Function with one thing done differently: forward(z) -> β·y, the local derivative
    local(saved, beta) -> dy/dx, how b's gradient is reduced, the incoming gradient used or not, a
    gradient returned for beta or not, and which tensor is saved ("z" or the output "y")."""
    forward = forward or _stable_softplus
    local = local or (lambda z, beta: torch.sigmoid(z))

    class BiasSoftplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, b, beta):
            z = beta * (x + b)
            y = forward(z) / beta if divide else forward(z)
            ctx.save_for_backward(y if save == "y" else z)
            ctx.beta = beta
            return y

        @staticmethod
        def backward(ctx, grad_output):
            (saved,) = ctx.saved_tensors
            grad = (grad_output if incoming else 1.0) * local(saved, ctx.beta)
            return grad, reduce_b(grad), (grad.sum() if beta_gradient else None)

    return BiasSoftplus


def _naive_softplus(z):
    return torch.log(1 + torch.exp(z))


def _sample_softplus(generator):
    beta = _pick(generator, (0.5, 1.0, 2.0))
    scale = _pick(generator, (1.0, 5.0, 50.0, 500.0))  # 500: e^(β·(x + b)) overflows even float64
    seed = int(torch.randint(0, 2**31 - 1, (), generator=generator))
    return beta, scale, seed


def _softplus_reference(beta, scale, seed):
    x, b, w, x_small, b_small = softplus_inputs(scale, seed)
    x.requires_grad_(True)
    b.requires_grad_(True)
    y = F.softplus(x + b, beta=beta, threshold=40)  # torch's softplus, linear only where e^-40 is negligible
    dx, db = torch.autograd.grad(softplus_network(y, w), (x, b))
    small = (x_small.requires_grad_(True), b_small.requires_grad_(True))
    passes = torch.autograd.gradcheck(lambda u, c: F.softplus(u + c, beta=beta, threshold=40), small,
                                      raise_exception=False)
    # the last two flags say what autograd itself demands of a backward: None for the Python number beta,
    # and a gradient for b that has b's shape (or that autograd can sum down to it)
    return y.detach().reshape(-1), dx.reshape(-1), db, float(passes), 1.0, 1.0


bias_softplus = Exercise(
    id="lesson06.bias_softplus",
    title="A torch.autograd.Function of your own: softplus(x + b) with a stable forward and backward",
    signature="class BiasSoftplus(torch.autograd.Function): forward(ctx, x, b, beta), backward(ctx, grad_output)",
    answer_name="BiasSoftplus",
    harness=HARNESSES["autograd_function"],
    stub=_BiasSoftplusStub,
    pass_as="case",
    batched=False,
    forbid_autograd=False,
    inputs=("beta", "scale", "seed"),
    outputs=("y", "dL/dx", "dL/db", "gradcheck", "None for beta", "b's gradient fits b"),
    sampler=_sample_softplus,
    n_samples=16,
    reference=_softplus_reference,
    compared_with="torch's softplus and autograd (in float64)",
    quantity="the reference",
    solution_fn=_BiasSoftplus,
    hints=(
        "forward(ctx, x, b, beta): compute z = beta * (x + b), save what backward needs with "
        "ctx.save_for_backward(z), keep the Python number on ctx (ctx.beta = beta), and return "
        "log(1 + e^z) / beta computed stably: max(z, 0) + log1p(e^(−|z|)).",
        "backward(ctx, grad_output) returns one gradient per input of forward, in order: for x, for b, for "
        "beta. beta is a Python number, so its gradient is None.",
        "The local derivative is dy/dx = σ(z) (torch.sigmoid, stable for any z). Multiply it by grad_output: "
        "that is the chain rule.",
        "b has shape (C,) and was added to every row of x: its gradient is the sum over the rows, "
        "grad.sum(dim=0), of shape (C,).",
    ),
    mistakes=(
        Mistake("saved-output", _softplus_function(local=lambda y, beta: torch.sigmoid(beta * y), save="y"),
                "Your backward uses the saved output y where it needs z = β(x + b): σ(β·y) is not σ(z). Save "
                "the tensor the derivative is a function of (here z, or x + b) with ctx.save_for_backward."),
        Mistake("gradient-for-beta", _softplus_function(beta_gradient=True),
                "backward returned a gradient for beta, which is a Python number, not a tensor: autograd refuses "
                "that (\"returned a gradient different than None at position 3\"). Return None in its place: "
                "one entry per input of forward, None for the ones that are not tensors."),
        Mistake("incoming-gradient-ignored", _softplus_function(incoming=False),
                "Your backward returns the local derivative σ(z) alone: it must be multiplied by grad_output, "
                "the gradient of the loss with respect to your output (the chain rule). In a network, "
                "grad_output is not 1."),
        Mistake("b-summed-over-wrong-dim", _softplus_function(reduce_b=lambda grad: grad.sum(dim=1)),
                "b's gradient has the wrong shape: one number per row of x, shape (N,), as a sum over dim 1, "
                "the features, gives. b has shape (C,) and was added to every row, so sum over the rows: "
                "grad.sum(dim=0)."),
        Mistake("b-averaged", _softplus_function(reduce_b=lambda grad: grad.mean(dim=0)),
                "b's gradient is N times too small: b is used in every one of the N rows, and the contributions "
                "of its uses add up. Sum over the rows (.sum(dim=0)), do not average."),
        Mistake("naive-backward", _softplus_function(local=lambda z, beta: torch.exp(z) / (1 + torch.exp(z))),
                "Your backward computes e^z / (1 + e^z): for z above about 709, e^z is inf in float64 (above 88 "
                "in float32) and inf/inf is NaN. It is σ(z): use torch.sigmoid(z), which never overflows."),
        Mistake("naive-forward", _softplus_function(forward=_naive_softplus),
                "Your forward computes log(1 + e^z) as written: for z above about 709, e^z is inf in float64 (88 in "
                "float32), and so is y. Use max(z, 0) + log1p(e^(−|z|)), which equals it and never overflows."),
        Mistake("naive-forward-and-backward", _softplus_function(
            forward=_naive_softplus, local=lambda z, beta: torch.exp(z) / (1 + torch.exp(z))),
                "Your forward and your backward both use e^z as written: log(1 + e^z) and e^z / (1 + e^z). For z "
                "above about 709, e^z is inf in float64 (above 88 in float32): y is inf and the gradient NaN "
                "(inf/inf). Forward: max(z, 0) + log1p(e^(−|z|)); backward: torch.sigmoid(z)."),
        Mistake("forward-not-divided-by-beta", _softplus_function(divide=False),
                "Your forward returns log(1 + e^(β(x + b))) without dividing by β: softplus_β is that divided by β, "
                "so that for large inputs y ≈ x + b, whatever β."),
        Mistake("backward-times-beta", _softplus_function(local=lambda z, beta: beta * torch.sigmoid(z)),
                "Your backward multiplies σ(β(x + b)) by β: the β of the chain rule, d(β(x + b))/dx = β, is cancelled "
                "by the 1/β in front of the log, so dy/dx = σ(β(x + b)) alone."),
        Mistake("no-gradient-for-b", _softplus_function(reduce_b=lambda grad: None),
                "backward returns None for b: autograd then treats b's gradient as 0, and b would never learn. b "
                "is a tensor that was added to every row of x, so its gradient is grad.sum(dim=0)."),
        Mistake("beta-missing-in-backward", _softplus_function(local=lambda z, beta: torch.sigmoid(z / beta)),
                "Your backward uses σ(x + b) where it needs σ(β(x + b)): softplus_β(u) = log(1 + e^(βu))/β, and its "
                "derivative is e^(βu)/(1 + e^(βu)) = σ(βu) (the 1/β cancels the β of the chain rule)."),
    ),
)


# == 4a. A second derivative by hand, checked against autograd's double backward ===================
# z = sin(x²): dz/dx = 2x·cos(x²); d²z/dx² = 2·cos(x²) − 4x²·sin(x²) (product rule, then the chain rule).
def _d2z_dx2(x):
    return 2 * math.cos(x**2) - 4 * x**2 * math.sin(x**2)


def _second_derivative(x):
    """What the checker compares with: autograd, twice (create_graph=True keeps the first derivative's graph)."""
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (dz_dx,) = torch.autograd.grad(torch.sin(x**2), x, create_graph=True)
    (d2z_dx2_,) = torch.autograd.grad(dz_dx, x)
    return d2z_dx2_


d2z_dx2 = Exercise(
    id="lesson06.d2z_dx2",
    title="The second derivative of z = sin(x²), by hand",
    signature="d2z_dx2(x) -> float",
    reference=_second_derivative,
    batched=False,
    domain={"x": (-3.0, 3.0)},
    points=((3.0,),),
    outputs=("d²z/dx²",),
    compared_with="autograd's second derivative (create_graph=True)",
    quantity="the second derivative",
    solution_fn=_d2z_dx2,
    hints=(
        "Start from the first derivative, dz/dx = 2x·cos(x²), and differentiate it once more.",
        "2x·cos(x²) is a product: (u·v)′ = u′·v + u·v′ with u = 2x and v = cos(x²).",
        "v′ needs the chain rule: d cos(x²)/dx = −sin(x²)·2x.",
    ),
    mistakes=(
        Mistake("first-derivative", lambda x: 2 * x * math.cos(x**2),
                "That is the first derivative, 2x·cos(x²). The second derivative differentiates it once more."),
        Mistake("product-rule-first-term-only", lambda x: 2 * math.cos(x**2),
                "You differentiated 2x and kept cos(x²) as a constant: 2x·cos(x²) is a product, so the product "
                "rule adds a second term, 2x·(d cos(x²)/dx)."),
        Mistake("product-rule-second-term-only", lambda x: -4 * x**2 * math.sin(x**2),
                "You differentiated cos(x²) but treated 2x as a constant: the product rule also needs the term "
                "(d(2x)/dx)·cos(x²) = 2·cos(x²)."),
        Mistake("inner-factor-missing", lambda x: 2 * math.cos(x**2) - 2 * x * math.sin(x**2),
                "The chain rule's inner factor is missing in the second term: d cos(x²)/dx = −sin(x²)·2x, so "
                "2x·(−sin(x²)·2x) = −4x²·sin(x²)."),
        Mistake("x-not-squared", lambda x: 2 * math.cos(x**2) - 4 * x * math.sin(x**2),
                "The second term is 2x·(−sin(x²)·2x) = −4x²·sin(x²): two factors of x, one from the product's 2x and "
                "one from the chain rule's 2x. Yours has only one."),
        Mistake("sign", lambda x: 2 * math.cos(x**2) + 4 * x**2 * math.sin(x**2),
                "Sign error: the derivative of cos is −sin, so the second term is −4x²·sin(x²)."),
    ),
)


# == 4b. A Hessian-vector product with double backward ============================================
# H·v = ∇ₓ(∇f(x)·v): differentiate the dot product of the gradient with v, keeping the gradient's graph.
def _hvp(f, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x, create_graph=True)  # keep the graph: grad is differentiated again
    (hv,) = torch.autograd.grad(grad, x, grad_outputs=v)  # vector-Jacobian product of the gradient with v
    return hv


def _hvp_gradient_only(f, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x)
    return grad


def _hvp_ones(f, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x, create_graph=True)
    (hv,) = torch.autograd.grad(grad.sum(), x)
    return hv


def _hvp_elementwise(f, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x)
    return grad * v


def _hvp_accumulated(f, x, v):
    x = x.detach().requires_grad_(True)
    with warnings.catch_warnings():  # torch warns that backward(create_graph=True) makes a reference cycle
        warnings.simplefilter("ignore")
        f(x).backward(create_graph=True)
        (x.grad * v).sum().backward()  # adds H·v to the gradient already in x.grad
    return x.grad.detach()


def _sample_hvp(generator):
    formula = _pick(generator, list(SCALAR_FUNCTIONS))
    return formula, _values(generator, (3,), -1.5, 1.5), _values(generator, (3,), -1.0, 1.0)


def _hvp_reference(formula, x_values, v_values):
    _, hv = torch.autograd.functional.hvp(SCALAR_FUNCTIONS[formula], tensor_from(x_values), tensor_from(v_values))
    return hv


hvp = Exercise(
    id="lesson06.hvp",
    title="A Hessian-vector product with double backward",
    signature="hvp(f, x, v) -> tensor shaped like x",
    harness=HARNESSES["hvp"],
    pass_as="case",
    batched=False,
    forbid_autograd=False,
    inputs=("f", "x", "v"),
    outputs=("H·v",),
    sampler=_sample_hvp,
    n_samples=24,
    reference=_hvp_reference,
    compared_with="torch.autograd.functional.hvp",
    quantity="H·v",
    solution_fn=_hvp,
    hints=(
        "First the gradient, with its graph kept: grad = torch.autograd.grad(f(x), x, create_graph=True)[0] "
        "(x needs requires_grad: x = x.detach().requires_grad_(True)).",
        "H·v is the gradient of the number grad·v: differentiate (grad * v).sum() with respect to x, or, the "
        "same, torch.autograd.grad(grad, x, grad_outputs=v).",
    ),
    mistakes=(
        Mistake("gradient-only", _hvp_gradient_only,
                "That is the gradient ∇f(x), the first derivative. H·v differentiates it once more: the gradient "
                "of ∇f(x)·v with respect to x (create_graph=True keeps the graph that needs)."),
        Mistake("ones-instead-of-v", _hvp_ones,
                "You differentiated grad.sum(), which gives H·(1, 1, ..., 1), not H·v: weight the gradient by v "
                "first, (grad * v).sum(), or pass grad_outputs=v."),
        Mistake("elementwise-product", _hvp_elementwise,
                "That is the gradient multiplied by v entry by entry, ∇f(x) ⊙ v: no second derivative in it. "
                "H·v is the derivative of ∇f(x)·v with respect to x."),
        GRAD_ACCUMULATED.mistake(
            _hvp_accumulated,
            before="Your result is ∇f(x) + H·v: the first backward() left the gradient in x.grad, and the second "
                   "backward() added H·v to it (lesson 02).",
            after="Use torch.autograd.grad, which returns the gradient instead of adding it to .grad, or set "
                  "x.grad = None before the second backward() (after using the first)."),
    ),
)


# == 5. A tiny reverse-mode engine ===================================================================
class Value:
    """A number that remembers how it was computed, so that backward() can fill every .grad."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)  # the Values this one was computed from, in order
        self._op = _op
        self._backward = lambda: None  # adds this node's contribution to its children's .grad

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    def __add__(self, other):
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad  # ∂(a + b)/∂a = 1
            other.grad += out.grad  # ∂(a + b)/∂b = 1

        out._backward = _backward
        return out

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad  # ∂(a·b)/∂a = b
            other.grad += self.data * out.grad  # ∂(a·b)/∂b = a

        out._backward = _backward
        return out

    def __pow__(self, k):  # k is a constant (an int or a float), not a Value
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad  # d(aᵏ)/da = k·aᵏ⁻¹

        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad  # d(eᵃ)/da = eᵃ, which is out.data

        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data  # d(log a)/da = 1/a

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad  # d(tanh a)/da = 1 − tanh²(a)

        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad  # 1 where a > 0, else 0

        out._backward = _backward
        return out

    def backward(self):
        # topological order: every node after all the nodes it was computed from
        topo, visited = [], set()

        def build(node):
            if id(node) not in visited:
                visited.add(id(node))
                for child in node._prev:
                    build(child)
                topo.append(node)

        build(self)
        for node in topo:  # start from zero: a second backward() gives the same numbers, not twice them
            node.grad = 0.0
        self.grad = 1.0  # d(out)/d(out)
        for node in reversed(topo):  # from the output back: each node's grad is complete before it is used
            node._backward()


def _engine_with(*edits):
    """The solution's Value class with some lines changed: each edit is (what, replaced by)."""
    source = inspect.getsource(Value)
    for old, new in edits:
        if old not in source:
            raise ValueError(f"engine mistake: {old!r} is not in Value's source")
        source = source.replace(old, new)
    namespace = {"math": math}
    exec(compile(source, "<engine mistake>", "exec"), namespace)
    return namespace["Value"]


_BACKWARD_BODY = inspect.getsource(Value).split("    def backward(self):\n", 1)[1]
_RECURSIVE_BACKWARD = """        self.grad = 1.0

        def walk(node):  # depth first, no topological order
            node._backward()
            for child in node._prev:
                walk(child)

        walk(self)
"""

# What the exercise edition starts from: the forward operations work, backward() does not.
_STUB_LINE = '        raise NotImplementedError("Replace this line with your answer")\n'
_ValueStub = _engine_with(("        # topological order", _STUB_LINE + "        # topological order"))

PROGRAM_NAMES = ("u", "v", "w", "p", "q", "r", "s", "t", "m", "n", "k")
POWERS = ("2", "3", "-1", "0.5")


def _allowed(value: float):
    """The operations a random program may apply to a node of this value: finite, away from kinks
    and from the steep ends of log, 1/x and √x, so that the gradients are moderate numbers."""
    ops = ["+", "*", "tanh"]
    if value < 2.0:
        ops.append("exp")
    if value > 0.2:
        ops += ["log", "**0.5"]
    if abs(value) > 0.05:
        ops.append("relu")
    if abs(value) < 3.0:
        ops += ["**2", "**3"]
    if 0.3 < abs(value) < 5.0:
        ops.append("**-1")
    return ops


def _apply(op: str, value: float, other: float = 0.0) -> float:
    if op == "+":
        return value + other
    if op == "*":
        return value * other
    if op.startswith("**"):
        return value ** float(op[2:])
    return {"exp": math.exp, "log": math.log, "tanh": math.tanh, "relu": lambda a: max(a, 0.0)}[op](value)


def _random_program(generator):
    """A random program on the leaves a, b, c: a spine of 1 to 12 statements, each applying one
    operation to the previous result (and, for + and *, to any earlier node: forks and shared
    subexpressions), the last one named `out`. Each statement uses the one before, so every node's
    users come in one order: whatever topological order an engine finds, it visits them in that
    order, and a wrong engine's numbers depend only on its bug."""
    leaves = {}
    for name in LEAVES:
        magnitude = round(_uniform(generator, 0.2, 2.0), 2)
        leaves[name] = magnitude if _uniform(generator, 0, 1) < 0.5 else -magnitude
    size = 1 + int(12 * _uniform(generator, 0, 1) ** 2)  # many short programs, some long chains
    values = dict(leaves)
    last = _pick(generator, LEAVES)
    lines = []
    for k in range(size):
        name = "out" if k == size - 1 else PROGRAM_NAMES[k]
        candidates = _allowed(values[last])
        while True:  # + and * need an operand that keeps the result moderate
            op = _pick(generator, candidates)
            if op not in ("+", "*"):
                values[name] = _apply(op, values[last])
                expression = f"{last} ** {op[2:]}" if op.startswith("**") else f"{last}.{op}()"
                break
            other = _pick(generator, list(values))
            result = _apply(op, values[last], values[other])
            if 0.05 < abs(result) < 20:
                values[name] = result
                expression = f"{last} {op} {other}"
                break
        lines.append(f"{name} = {expression}")
        last = name
    return "; ".join(lines), leaves["a"], leaves["b"], leaves["c"]


def _engine_reference(program, a, b, c):
    leaves = {n: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for n, v in zip(LEAVES, (a, b, c))}
    out = execute(program, leaves)["out"]
    grads = torch.autograd.grad(out, [leaves[n] for n in LEAVES], allow_unused=True)
    grads = torch.stack([torch.zeros((), dtype=torch.float64) if g is None else g for g in grads])
    # the engine's backward() starts from zero, so a second call gives the same gradients
    return out.detach(), grads, grads.clone()


engine = Exercise(
    id="lesson06.engine",
    title="A tiny reverse-mode engine: the Value class",
    signature="class Value: +, *, ** k, exp(), log(), tanh(), relu(), backward()",
    answer_name="Value",
    harness=HARNESSES["engine"],
    stub=_ValueStub,
    figure=compgraph.engine_figure,
    pass_as="case",
    batched=False,
    inputs=("graph", "a", "b", "c"),
    outputs=("out.data", "leaf grads", "leaf grads after a second backward()"),
    sampler=_random_program,
    n_samples=40,
    case_size=lambda case: len(statements(case[0])),  # the smallest failing graph first
    reference=_engine_reference,
    compared_with="torch.autograd",
    quantity="torch's gradient",
    solution_fn=Value,
    hints=(
        "Each operation's _backward adds (+=) its local derivative times out.grad to each input's .grad: "
        "a + b gives 1 and 1, a·b gives b and a, aᵏ gives k·aᵏ⁻¹, exp(a) gives eᵃ, log(a) gives 1/a, "
        "tanh(a) gives 1 − tanh²(a), relu(a) gives 1 where a > 0.",
        "+=, never =: a node used twice (a fork) receives one contribution per use, and they add up.",
        "backward(): list the nodes in topological order (a depth-first walk that appends a node after its "
        "children), set every grad to 0, set self.grad = 1, then call _backward() on each node in REVERSED "
        "order, so a node's grad is complete before it is passed on.",
    ),
    mistakes=(
        Mistake("assigned-at-forks", _engine_with(("grad += ", "grad = ")),
                "Your _backward functions assign (=) where they must add (+=): a node used twice (a fork, like "
                "a in a·b + a) gets one contribution per use, and with = the last one overwrites the others. "
                "The drawing shows the smallest graph where that happens."),
        Mistake("not-reversed", _engine_with(("for node in reversed(topo):", "for node in topo:")),
                "Your backward() calls a node's _backward() before every node that uses it has added its "
                "contribution to the node's grad (at first it is still 0), so the node passes on too little. The "
                "order it walks puts inputs before their users: either the topological list is walked as built, "
                "not reversed, or it is built with each node appended before its children, so that reversed it "
                "still starts from the inputs. Append a node after all its children, then walk the list "
                "reversed, from the output back."),
        Mistake("no-topological-order", _engine_with((_BACKWARD_BODY, _RECURSIVE_BACKWARD)),
                "Your backward() calls _backward() on a node as soon as it reaches it, depth first, without a "
                "topological order: a node used twice passes on its grad before the second use has added to it "
                "(and then again). Sort the nodes topologically first, then call _backward() on them in reversed "
                "order, each exactly once."),
        Mistake("pow-chain-factor-missing", _engine_with(("k * self.data ** (k - 1) * out.grad",
                                                          "k * self.data ** (k - 1)")),
                "In __pow__, the local derivative k·aᵏ⁻¹ is not multiplied by out.grad: the chain rule needs "
                "both. It only shows when the power is not the last operation (then out.grad is not 1)."),
        Mistake("tanh-chain-factor-missing", _engine_with(("(1 - t**2) * out.grad", "(1 - t**2)")),
                "In tanh, the local derivative 1 − tanh² is not multiplied by out.grad: the chain rule needs "
                "both. It only shows when tanh is not the last operation (then out.grad is not 1)."),
        Mistake("output-grad-not-one", _engine_with(("        self.grad = 1.0  # d(out)/d(out)\n", "")),
                "Every gradient is 0: backward() never sets the output's own grad to 1 (∂out/∂out = 1), so every "
                "_backward multiplies its local derivative by out.grad = 0. Set self.grad = 1.0 after the reset and "
                "before the walk."),
        Mistake("grads-not-reset", _engine_with(("            node.grad = 0.0\n", "            pass\n")),
                "The first backward() is right, the second is not: your backward() does not set the grads "
                "back to 0 first, so the second call starts from the first call's numbers and every interior "
                "node passes on the sum. Reset every node's grad to 0 before setting self.grad = 1."),
        Mistake("tanh-derivative-of-input", _engine_with(("(1 - t**2) * out.grad", "(1 - self.data**2) * out.grad")),
                "In tanh, the derivative is 1 − tanh²(a), with tanh(a) the output (t), not 1 − a² with the "
                "input a."),
        Mistake("relu-passes-everything", _engine_with(("(out.data > 0) * out.grad", "out.grad")),
                "relu passes the gradient where its input is negative too: its derivative is 0 there (the "
                "output does not move when the input does), 1 only where the input is positive."),
    ),
)
