"""Lesson 03, the chain rule on a graph: backpropagation by hand.

Answers take Python floats and return a float (one input) or a tuple of floats, one
partial derivative per input in the order of the signature. Autograd is not allowed
inside an answer: the checker is the one that asks it.
"""
import math

import torch

from ..engine.exercise import Exercise, Mistake
from .families import EXP_COS_POWER, TWO_NEURONS_SIGMOID_TANH
from .slips import BIAS_MISSING, SIGMOID_DERIVATIVE_PLUS


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


# -- Exercise 1: a chain of three functions, f(x) = exp(cos(x²)) -----------------------
# f' = exp(cos(x²)) · (−sin(x²)) · 2x: outer, middle and inner derivative, each taken
# at its own input.
def _df_dx(x):
    u = x**2
    v = math.cos(u)
    return math.exp(v) * -math.sin(u) * 2 * x


df_dx = Exercise(
    id="lesson03.df_dx",
    variants=EXP_COS_POWER,  # ex.df_dx.practice(): checker.lessons.families
    title="A chain of three: df/dx for f(x) = exp(cos(x²))",
    signature="df_dx(x) -> float",
    function=lambda x: torch.exp(torch.cos(x**2)),
    domain={"x": (-2.0, 2.0)},
    # not x = 1: there x² = x, so every stage taken at x instead of x² would be right at the lesson's point
    points=((1.5,),),
    solution_fn=_df_dx,
    outputs=("df/dx",),
    hints=(
        "Name the stages: u = x², v = cos(u), f = exp(v). The chain rule multiplies three local "
        "derivatives: df/dx = df/dv · dv/du · du/dx.",
        "Each local derivative is taken at that stage's own input: df/dv = exp(v), dv/du = −sin(u), "
        "du/dx = 2x.",
        "Substitute back: df/dx = exp(cos(x²)) · (−sin(x²)) · 2x.",
    ),
    mistakes=(
        Mistake("missing-inner-factor", lambda x: -math.exp(math.cos(x**2)) * math.sin(x**2),
                "You stopped one stage too early: the innermost factor du/dx = d(x²)/dx = 2x is missing. "
                "Every stage on the path from x to f contributes its local derivative."),
        Mistake("missing-middle-factor", lambda x: math.exp(math.cos(x**2)) * 2 * x,
                "The middle stage's derivative is missing: between exp and x² sits cos, so multiply by "
                "d cos(u)/du = −sin(u) at u = x²."),
        Mistake("missing-outer-factor", lambda x: -math.sin(x**2) * 2 * x,
                "The outer derivative is missing: d exp(v)/dv = exp(v), which is exp(cos(x²)) here, "
                "not 1."),
        Mistake("middle-at-wrong-point", lambda x: -math.exp(math.cos(x**2)) * math.sin(x) * 2 * x,
                "You took sin of x instead of sin of x²: the derivative of cos must be evaluated at its own "
                "input, u = x². Each local derivative is taken where that stage sits."),
        Mistake("cos-derivative-sign", lambda x: math.exp(math.cos(x**2)) * math.sin(x**2) * 2 * x,
                "Sign error: d cos(u)/du = −sin(u), with a minus sign (cos decreases where sin is "
                "positive). It is sin whose derivative is +cos."),
        Mistake("exp-at-wrong-point", lambda x: -math.exp(x**2) * math.sin(x**2) * 2 * x,
                "The outer derivative exp(v) must be evaluated at the outer function's input, "
                "v = cos(x²): exp(cos(x²)), not exp(x²)."),
        Mistake("stages-at-x", lambda x: -math.exp(math.cos(x)) * math.sin(x) * 2 * x,
                "You took every stage at x instead of at its own input: that is the derivative of exp(cos(x)) "
                "times 2x. The stages are u = x², v = cos(u), f = exp(v): cos and sin act on u = x², and exp on "
                "v = cos(x²), so df/dx = exp(cos(x²))·(−sin(x²))·2x."),
        Mistake("inner-factor-without-x", lambda x: -math.exp(math.cos(x**2)) * math.sin(x**2) * 2,
                "The innermost factor is du/dx = d(x²)/dx = 2x, not 2: the x stays after the power rule."),
    ),
)


# -- Exercise 2: two neurons in a row, h = σ(w0·x + b0), f = σ(w1·h + b1) ------------------------
# Section 2 shows one neuron, whose output is f itself: its backward pass starts from df/df = 1.
# Here the first neuron's output h feeds a second neuron, so the gradient that arrives at h is
# df/dh, what the second neuron sends back, and the first neuron's partials are multiplied by it:
#   df/dz1 = f(1 − f)              the second sigmoid, at its own output f
#   df/dw1 = h·df/dz1, df/db1 = df/dz1, df/dh = w1·df/dz1   (the product w1·h swaps)
#   df/dz0 = df/dh · h(1 − h)      the first sigmoid, at its own output h
#   df/dx = w0·df/dz0, df/dw0 = x·df/dz0, df/db0 = df/dz0
def _two_neurons_grad(x, w0, b0, w1, b1):
    h = 1 / (1 + math.exp(-(w0 * x + b0)))  # forward: the first neuron
    f = 1 / (1 + math.exp(-(w1 * h + b1)))  # the second neuron, whose input is h
    df_dz1 = f * (1 - f)  # backward: the second sigmoid's local derivative
    df_dh = df_dz1 * w1  # w1·h: the gradient for h is w1 times the one from above
    df_dz0 = df_dh * h * (1 - h)  # the first sigmoid's local derivative, at its own output h
    return df_dz0 * w0, df_dz0 * x, df_dz0, df_dz1 * h, df_dz1


def _forward(x, w0, b0, w1, b1):
    h = _sigmoid(w0 * x + b0)
    return h, _sigmoid(w1 * h + b1)


def _with_local_derivative(local):
    """The right backward pass with a wrong local derivative of the sigmoid, local(z, σ(z)), at both neurons."""

    def answer(x, w0, b0, w1, b1):
        z0 = w0 * x + b0
        h = _sigmoid(z0)
        z1 = w1 * h + b1
        df_dz1 = local(z1, _sigmoid(z1))
        df_dz0 = df_dz1 * w1 * local(z0, h)
        return df_dz0 * w0, df_dz0 * x, df_dz0, df_dz1 * h, df_dz1

    return answer


# Each answer below does one step of the backward pass wrongly; the other steps are right.
def _first_neuron_alone(x, w0, b0, w1, b1):
    h, f = _forward(x, w0, b0, w1, b1)
    dh_dz0 = h * (1 - h)  # section 2's neuron, started from 1 at h instead of from df/dh
    return dh_dz0 * w0, dh_dz0 * x, dh_dz0, f * (1 - f) * h, f * (1 - f)


def _first_sigmoid_skipped(x, w0, b0, w1, b1):
    h, f = _forward(x, w0, b0, w1, b1)
    df_dh = f * (1 - f) * w1  # passed on to w0, x and b0 without h·(1 − h)
    return df_dh * w0, df_dh * x, df_dh, f * (1 - f) * h, f * (1 - f)


def _first_sigmoid_at_f(x, w0, b0, w1, b1):
    h, f = _forward(x, w0, b0, w1, b1)
    df_dz0 = f * (1 - f) * w1 * f * (1 - f)  # the second neuron's local derivative used twice
    return df_dz0 * w0, df_dz0 * x, df_dz0, f * (1 - f) * h, f * (1 - f)


def _w1_skipped(x, w0, b0, w1, b1):
    h, f = _forward(x, w0, b0, w1, b1)
    df_dz0 = f * (1 - f) * h * (1 - h)  # df/dh taken as df/dz1: the product w1·h not crossed
    return df_dz0 * w0, df_dz0 * x, df_dz0, f * (1 - f) * h, f * (1 - f)


def _second_product_not_swapped(x, w0, b0, w1, b1):
    h, f = _forward(x, w0, b0, w1, b1)
    df_dz1 = f * (1 - f)
    df_dz0 = df_dz1 * h * h * (1 - h)  # df/dh = h·df/dz1 instead of w1·df/dz1
    return df_dz0 * w0, df_dz0 * x, df_dz0, df_dz1 * w1, df_dz1


def _first_product_not_swapped(x, w0, b0, w1, b1):
    h, f = _forward(x, w0, b0, w1, b1)
    df_dz0 = f * (1 - f) * w1 * h * (1 - h)
    return df_dz0 * x, df_dz0 * w0, df_dz0, f * (1 - f) * h, f * (1 - f)


def _second_sigmoid_skipped(x, w0, b0, w1, b1):
    h, _ = _forward(x, w0, b0, w1, b1)
    df_dz0 = w1 * h * (1 - h)  # the gradient leaves f as 1, without f·(1 − f)
    return df_dz0 * w0, df_dz0 * x, df_dz0, h, 1.0


def _first_bias_missing(x, w0, b0, w1, b1):
    h = _sigmoid(w0 * x)  # b0, the first neuron's bias, left out
    f = _sigmoid(w1 * h + b1)
    df_dz0 = f * (1 - f) * w1 * h * (1 - h)
    return df_dz0 * w0, df_dz0 * x, df_dz0, f * (1 - f) * h, f * (1 - f)


TWO_NEURON_INPUTS = ("x", "w0", "b0", "w1", "b1")

two_neurons_grad = Exercise(
    id="lesson03.two_neurons_grad",
    variants=TWO_NEURONS_SIGMOID_TANH,  # ex.two_neurons_grad.practice(): checker.lessons.families
    title="Backprop through two neurons in a row: h = σ(w0·x + b0), f = σ(w1·h + b1)",
    signature="two_neurons_grad(x, w0, b0, w1, b1) -> (df/dx, df/dw0, df/db0, df/dw1, df/db1)",
    function=lambda x, w0, b0, w1, b1: torch.sigmoid(w1 * torch.sigmoid(w0 * x + b0) + b1),
    inputs=TWO_NEURON_INPUTS,
    outputs=tuple(f"df/d{name}" for name in TWO_NEURON_INPUTS),
    domain={"x": (-3.0, 3.0), "w0": (-2.0, 2.0), "b0": (-2.0, 2.0), "w1": (-3.0, 3.0), "b1": (-2.0, 2.0)},
    # every step of the backward pass shows at this point: h and f far from 0, 1/2 and 1, w1 far from h
    points=((1.5, 2.0, -1.0, -3.0, 1.0),),
    solution_fn=_two_neurons_grad,
    hints=(
        "Forward first: h = σ(w0·x + b0), then f = σ(w1·h + b1). The local derivatives need both outputs.",
        "Backward through the second neuron is section 2's neuron with one input: df/dz1 = f·(1 − f), then "
        "df/dw1 = h·df/dz1, df/db1 = df/dz1, and the gradient that goes on to h is df/dh = w1·df/dz1.",
        "The first neuron receives df/dh from above instead of 1: df/dz0 = df/dh · h·(1 − h), with its own "
        "output h.",
        "Then the product w0·x swaps, as in section 2: df/dx = w0·df/dz0, df/dw0 = x·df/dz0, df/db0 = df/dz0.",
    ),
    mistakes=(
        Mistake("upstream-missing", _first_neuron_alone,
                "df/dw1 and df/db1 are right, but your first three partials are those of h, the first neuron's "
                "output, not of f: you started the first neuron from a gradient of 1, as section 2 did at its "
                "output. Here h is not the output: the gradient that arrives at h is df/dh, what the second neuron "
                "sends back, and every partial of the first neuron is multiplied by it."),
        Mistake("first-sigmoid-skipped", _first_sigmoid_skipped,
                "df/dw1 and df/db1 are right, but between h and w0, x, b0 sits the first sigmoid: df/dh must be "
                "multiplied by its local derivative h·(1 − h) before it reaches them."),
        Mistake("first-sigmoid-at-f", _first_sigmoid_at_f,
                "For the first sigmoid you used f·(1 − f), the second neuron's local derivative. Each sigmoid's "
                "local derivative is taken at its own output: h·(1 − h) for the first neuron, with "
                "h = σ(w0·x + b0)."),
        Mistake("w1-skipped", _w1_skipped,
                "df/dw1 and df/db1 are right, but on the way from the second neuron back to h you did not cross the "
                "product w1·h: the gradient for h is w1 times the gradient from above, so the first neuron's "
                "three partials miss the factor w1."),
        Mistake("second-product-not-swapped", _second_product_not_swapped,
                "At the product w1·h the partials swap: the gradient for w1 is h times the gradient from above, and "
                "the gradient that goes on to h is w1 times it. Yours gives each its own value."),
        Mistake("first-product-not-swapped", _first_product_not_swapped,
                "df/dw1, df/db1 and df/db0 are right, but at the product w0·x the partials swap: df/dx is w0 times "
                "the gradient that reaches the first neuron's z, and df/dw0 is x times it. Yours gives each its own "
                "value."),
        Mistake("second-sigmoid-skipped", _second_sigmoid_skipped,
                "You skipped the second sigmoid: the backward pass starts at f with df/df = 1 and must first "
                "multiply by its local derivative f·(1 − f); every one of the five partials inherits that factor."),
        Mistake("sigmoid-derivative-on-z", _with_local_derivative(lambda z, s: z * (1 - z)),
                "You computed z·(1 − z) from each sigmoid's input: the formula σ·(1 − σ) needs the sigmoid's "
                "output, h·(1 − h) for the first neuron and f·(1 − f) for the second."),
        SIGMOID_DERIVATIVE_PLUS.mistake(_with_local_derivative(lambda z, s: s * (1 + s))),
        BIAS_MISSING.mistake(_first_bias_missing,
                             after="Here the first neuron's z is w0·x + b0: without b0, h is wrong, and so is "
                                   "everything after it, f included."),
    ),
)


# -- Exercise 3: forks, f(x, y) = x·y + y·cos(x) -----------------------------------------
# x is used twice (in x·y and in cos(x)), and so is y: at a fork the contributions of
# the paths add up.
def _fork_grad(x, y):
    return y - y * math.sin(x), x + math.cos(x)


fork_grad = Exercise(
    id="lesson03.fork_grad",
    title="Forks: the gradient of f(x, y) = x·y + y·cos(x)",
    signature="fork_grad(x, y) -> (df/dx, df/dy)",
    function=lambda x, y: x * y + y * torch.cos(x),
    inputs=("x", "y"),
    outputs=("df/dx", "df/dy"),
    domain={"x": (-3.0, 3.0), "y": (-3.0, 3.0)},
    points=((2.0, 3.0),),
    solution_fn=_fork_grad,
    hints=(
        "Draw the graph: p = x·y, q = cos(x), r = y·q, f = p + r. Both x and y feed two different nodes.",
        "When a variable feeds several nodes, its gradient is the sum of the contributions along each "
        "path to f (the multivariable chain rule).",
        "For x: through p it contributes y; through q and r it contributes y·(−sin(x)). For y: through p "
        "it contributes x; through r it contributes cos(x).",
    ),
    mistakes=(
        Mistake("x-fork-only-product", lambda x, y: (y, x + math.cos(x)),
                "df/dx is missing the path through cos(x): x is used twice, in x·y and in cos(x), and at a "
                "fork the contributions of all paths add up. Yours has only the one through x·y."),
        Mistake("x-fork-only-cos", lambda x, y: (-y * math.sin(x), x + math.cos(x)),
                "df/dx is missing the path through x·y: x is used twice, in x·y and in cos(x), and at a "
                "fork the contributions of all paths add up. Yours has only the one through cos(x)."),
        Mistake("y-fork-one-path", lambda x, y: (y - y * math.sin(x), x),
                "df/dy is missing the path through y·cos(x): y is used twice, in x·y and in y·cos(x), and at "
                "a fork the contributions of all paths add up. Yours has only the one through x·y."),
        Mistake("y-fork-other-path", lambda x, y: (y - y * math.sin(x), math.cos(x)),
                "df/dy is missing the path through x·y: y is used twice, in x·y and in y·cos(x), and at a "
                "fork the contributions of all paths add up. Yours has only the one through y·cos(x)."),
        Mistake("only-first-term", lambda x, y: (y, x),
                "You differentiated only the first term x·y. Both x and y also reach f through y·cos(x): at a "
                "fork, add the contributions of every path."),
        Mistake("fork-contributions-multiplied", lambda x, y: (-y * y * math.sin(x), x * math.cos(x)),
                "At a fork the contributions of the paths are added, not multiplied: multiply along a path, "
                "add across paths."),
        Mistake("cos-derivative-sign", lambda x, y: (y + y * math.sin(x), x + math.cos(x)),
                "Sign error: d cos(x)/dx = −sin(x), with a minus sign, so the path through cos(x) lowers "
                "df/dx where y·sin(x) is positive."),
        Mistake("cos-path-missing-y", lambda x, y: (y - math.sin(x), x + math.cos(x)),
                "On the path through cos(x) you stopped at q = cos(x): that path goes on through r = y·q, "
                "so its contribution is multiplied by the local derivative ∂r/∂q = y as well."),
    ),
)
