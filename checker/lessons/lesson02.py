"""Lesson 02, torch.autograd: .grad accumulates, leaves, non-scalar outputs, fixing autograd bugs.

Two kinds of exercises:
- predict-then-run ("value"): the answer is a number or a tensor (x.grad itself is fine);
  the expected value comes from running the same autograd code at check time;
- autograd code ("gradient", autograd allowed): a function of x (a float) or of (x, v)
  (float64 tensors) that returns a gradient; the checker compares it with autograd at
  many points.
"""
import math

import torch

from ..engine.exercise import Exercise, Mistake
from .families import LEAF_POWER_COS, VJP_SIN_POWER
from .slips import GRAD_ACCUMULATED, GRAD_ACCUMULATED_ACROSS_CALLS, accumulated_across_calls

# The same .grad, filled by every call: named wherever an answer returns a .grad (shared with fix_zeroing, vjp)
ACROSS_CALLS = GRAD_ACCUMULATED_ACROSS_CALLS.mistake(
    transform=accumulated_across_calls,
    agrees_at_lesson_points="the lesson's point is the first call, with nothing before it to add to")

# -- predict: x.grad after two backward() calls --------------------------------------


# Named so that solution() does not show a function called `two_backward` next to the answer
# `two_backward = 12.0` (copying both would pass a function to check()).
def _how_autograd_gets_it():
    # the lesson's code, in float64 (the checker's precision; the lesson uses the default float32)
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    for _ in range(2):
        y = x**2
        y.backward()
    return x.grad


two_backward = Exercise(
    id="lesson02.two_backward",
    title="Predict: x.grad after two backward() calls",
    signature="two_backward = <a number>",
    kind="value",
    reference=_how_autograd_gets_it,
    solution_fn=12.0,
    outputs=("x.grad",),
    hints=(
        "After the first `y.backward()`, x.grad is dy/dx at x = 3, that is 2·3 = 6.",
        "backward() does not overwrite x.grad: it adds the new gradient to what is already there.",
    ),
    mistakes=(
        Mistake("overwritten", 6.0,
                "6 is dy/dx from one backward() call. backward() does not replace x.grad: it adds to it "
                "(it accumulates), so after two calls x.grad holds 6 + 6."),
        Mistake("value-not-gradient", 9.0,
                "9 is the value of y = x² at x = 3; x.grad holds the derivative dy/dx, not y."),
        Mistake("multiplied", 36.0,
                "Gradients from several backward() calls are added, not multiplied: 6 + 6, not 6 · 6."),
        Mistake("three-calls", 18.0,
                "18 would be three calls (6 + 6 + 6); the loop runs backward() twice."),
    ),
)


# -- fix the bug: a leaf that is not a leaf --------------------------------------------
def _dg_dx(x):
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    g = x * torch.sin(x)
    g.backward()
    return x.grad


fix_leaf = Exercise(
    id="lesson02.fix_leaf",
    variants=LEAF_POWER_COS,  # ex.fix_leaf.practice(): checker.lessons.families
    title="Fix the bug: x.grad is None",
    signature="dg_dx(x) -> tensor",
    function=lambda x: x * torch.sin(x),
    domain={"x": (-3.0, 3.0)},
    points=((2.5,),),  # not x = 1, where x·cos(x) = cos(x) hides slips
    solution_fn=_dg_dx,
    outputs=("dg/dx",),
    require_autograd=True,  # the fix is to the autograd code; lesson 01's dg_dx (by hand) must not pass here
    hints=(
        "Check `x.is_leaf` right after the line that creates x.",
        "`.double()` is an operation: it returns a new tensor, made from the leaf, so the name x now "
        "points to a non-leaf and autograd fills the .grad of the original leaf only.",
        "Create the leaf in float64 directly: `torch.tensor(x, dtype=torch.float64, requires_grad=True)`.",
    ),
    none_message=(
        "Your function returned None: that is the bug this exercise is about, still there. The x whose .grad "
        "you return is not a leaf (check x.is_leaf right after the line that creates it): any operation "
        "applied after requires_grad=True, a change of dtype included, makes a new tensor from the leaf, and "
        "autograd fills .grad on leaves only. Here the leaf is the float32 tensor that got "
        "requires_grad=True; x names the float64 copy made from it."
    ),
    mistakes=(
        Mistake("returned-value", lambda x: x * math.sin(x),
                "You returned g = x·sin(x) itself, the function's value; the derivative is what "
                "g.backward() puts into x.grad."),
        Mistake("product-of-derivatives", lambda x: math.cos(x),
                "cos(x) is the product of the two derivatives (1·cos(x)), not the product rule, which "
                "gives sin(x) + x·cos(x). The bug to fix is in how the leaf is created; the rest of the "
                "function (g.backward(), then x.grad) already computes the product rule for you."),
        ACROSS_CALLS,
    ),
)


# -- predict: x.grad of a vector after (x**2).sum() ------------------------------------
def _how_autograd_gets_sum_grad():
    # the lesson's code, in float64 (the checker's precision; the lesson uses the default float32)
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    y = (x**2).sum()
    y.backward()
    return x.grad


sum_grad = Exercise(
    id="lesson02.sum_grad",
    title="Predict: x.grad for y = (x**2).sum()",
    signature="sum_grad = <a tensor of 3 numbers>",
    kind="value",
    reference=_how_autograd_gets_sum_grad,
    solution_fn=torch.tensor([2.0, 4.0, 6.0]),
    outputs=("x.grad",),
    hints=(
        "y = x₀² + x₁² + x₂². x.grad holds one partial derivative per entry of x: ∂y/∂x₀, ∂y/∂x₁, ∂y/∂x₂.",
        "∂y/∂xᵢ = 2·xᵢ: the other terms do not depend on xᵢ.",
        "Write the answer as a tensor: torch.tensor([..., ..., ...]).",
    ),
    mistakes=(
        Mistake("mean-not-sum", torch.tensor([2 / 3, 4 / 3, 2.0]),
                "[0.667, 1.33, 2] is the gradient of the mean, (x**2).mean(), which divides by N = 3. "
                "A sum does not divide: each ∂y/∂xᵢ = 2·xᵢ."),
        Mistake("values-not-gradient", torch.tensor([1.0, 4.0, 9.0]),
                "[1, 4, 9] are the values x**2; x.grad holds the derivatives ∂y/∂xᵢ = 2·xᵢ."),
        Mistake("x-dropped", torch.tensor([2.0, 2.0, 2.0]),
                "The power rule keeps the x: d(xᵢ²)/dxᵢ = 2·xᵢ, not 2."),
        Mistake("sum-of-gradient", torch.tensor([12.0, 12.0, 12.0]),
                "12 = 2 + 4 + 6 is the sum of the partial derivatives; x.grad keeps them apart, one per "
                "entry of x, with the shape of x."),
    ),
)


# -- vector-Jacobian product: y.backward(gradient=v) ------------------------------------
def _vjp(x, v):
    x.requires_grad_(True)
    y = torch.sin(x**2)
    y.backward(gradient=v)
    return x.grad


def _vectors(generator):
    x = 1.5 * torch.randn(3, generator=generator, dtype=torch.float64)
    v = torch.randn(3, generator=generator, dtype=torch.float64)
    return x, v


vjp = Exercise(
    id="lesson02.vjp",
    variants=VJP_SIN_POWER,  # ex.vjp.practice(): checker.lessons.families
    title="Vector-Jacobian product: y.backward(gradient=v) for y = sin(x**2)",
    signature="vjp(x, v) -> tensor of shape (3,)",
    function=lambda x, v: (v * torch.sin(x**2)).sum(),
    inputs=("x", "v"),
    wrt=("x",),
    outputs=("vᵀJ",),
    points=((torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.5, -1.0])),),
    sampler=_vectors,
    pass_as="tensor",
    batched=False,
    forbid_autograd=False,
    solution_fn=_vjp,
    quantity="the vector-Jacobian product vᵀJ",
    none_message=(
        "Your function returned None. Either it has no `return` (a function without one returns None), or "
        "the tensor whose .grad it returns is not the leaf autograd filled: x.grad is filled only on the "
        "tensor that requires grad itself, not on a tensor made from it afterwards."
    ),
    hints=(
        "x arrives as a plain tensor: make it require grad first, `x.requires_grad_(True)`.",
        "y = torch.sin(x**2) has 3 entries, so y.backward() needs to be told how to weigh them: "
        "`y.backward(gradient=v)`.",
        "Then return x.grad.",
    ),
    mistakes=(
        Mistake("sum-not-v", lambda x, v: 2 * x * torch.cos(x**2),
                "That is the gradient of y.sum(), the product with v = [1, 1, 1]: every output weighed 1. "
                "vᵀJ weighs output i by vᵢ, and backward() only knows v if you pass it."),
        Mistake("mean-not-v", lambda x, v: 2 * x * torch.cos(x**2) / 3,
                "That is the gradient of y.mean(), the product with v = [1/3, 1/3, 1/3]: every output "
                "weighed 1/3. vᵀJ weighs output i by vᵢ, and backward() only knows v if you pass it."),
        Mistake("v-times-y", lambda x, v: v * torch.sin(x**2),
                "You returned v·y, the weighted outputs themselves, not a derivative: vᵀJ is the gradient "
                "of v₀y₀ + v₁y₁ + v₂y₂ with respect to x, which backward() leaves in x.grad."),
        Mistake("missing-inner-factor", lambda x, v: v * torch.cos(x**2),
                "The chain rule's inner factor 2x is missing: ∂yᵢ/∂xᵢ = 2xᵢ·cos(xᵢ²). This exercise does "
                "not ask for the derivative by hand: backward() through y = sin(x**2) includes every factor."),
        Mistake("returned-y", lambda x, v: torch.sin(x**2),
                "You returned y = sin(x²), the outputs themselves, not a derivative: vᵀJ is the gradient of "
                "v₀y₀ + v₁y₁ + v₂y₂ with respect to x, which backward() leaves in x.grad."),
        Mistake("sin-not-cos", lambda x, v: v * 2 * x * torch.sin(x**2),
                "That is v·2x·sin(x²): the derivative of sin is cos, not sin. This exercise does not ask for "
                "the derivative by hand: backward() through y = sin(x**2) gets every factor right."),
        ACROSS_CALLS,
    ),
)


# -- fix the bug: a first backward() left its gradient in x.grad ---------------------------
def _dz_dx(x):
    x = torch.tensor(x, requires_grad=True)
    y = x**2
    y.backward(retain_graph=True)  # a first look at dy/dx, the inner derivative
    x.grad.zero_()
    z = torch.sin(y)
    z.backward()
    return x.grad


fix_zeroing = Exercise(
    id="lesson02.fix_zeroing",
    title="Fix the bug: dz/dx for z = sin(x²) comes out wrong",
    signature="dz_dx(x) -> tensor",
    function=lambda x: torch.sin(x**2),
    domain={"x": (-3.0, 3.0)},
    points=((3.0,),),
    solution_fn=_dz_dx,
    outputs=("dz/dx",),
    require_autograd=True,  # the fix is to the autograd code; lesson 01's dz_dx (by hand) must not pass here
    hints=(
        "Print x.grad just before `z.backward()`: it is not empty.",
        "backward() adds into x.grad; the first call left dy/dx = 2x there.",
        "Empty x.grad between the two calls: `x.grad.zero_()` (or `x.grad = None`; not `x.grad = 0`, "
        "since .grad must be a tensor or None).",
    ),
    none_message=(
        "Your function returned None: the x whose .grad it returns never received a gradient. Was a new "
        "tensor named x created after y = x**2? Then y and z were computed from the old x, and only the old "
        "x gets a .grad. The line to add changes x.grad; x itself must stay the leaf y was computed from."
    ),
    mistakes=(
        GRAD_ACCUMULATED.mistake(
            lambda x: 2 * x + 2 * x * math.cos(x**2),
            before="Your answer is dy/dx + dz/dx = 2x + 2x·cos(x²): x.grad still held dy/dx from the first "
                   "backward() when the second one added dz/dx to it.",
            after="Nothing emptied x.grad between the two calls. (A method written without `()`, such as "
                  "`x.grad.zero_`, is only named, not called: it does nothing.)"),
        Mistake("inner-only", lambda x: 2 * x,
                "Your answer is dy/dx = 2x, from the first backward() alone: dz/dx never reached the "
                "gradient you returned. Did your line return, or keep z.backward() from running?"),
        Mistake("zeroed-too-late", lambda x: 0.0,
                "Your answer is 0 everywhere: the gradient was emptied after dz/dx arrived in it (or dz/dx "
                "never arrived), so it wiped out the answer too. Only dy/dx, from the first backward(), "
                "has to go."),
        ACROSS_CALLS,
    ),
)
