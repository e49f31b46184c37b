"""Lesson 03, the chain rule on a graph: backpropagation by hand.

Answers take Python floats and return a float (one input) or a tuple of floats, one
partial derivative per input in the order of the signature. Autograd is not allowed
inside an answer: the checker is the one that asks it.
"""
import math

import torch

from ..engine.exercise import Exercise, Mistake
from .practice import EXP_COS_POWER, NEURON_SIGMOID_TANH
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
    variants=EXP_COS_POWER,  # ex.df_dx.practice(): checker.lessons.practice
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


# -- Exercise 2: the sigmoid neuron f = σ(w0·x0 + w1·x1 + w2) ---------------------------
# With z = w0·x0 + w1·x1 + w2 and s = σ(z)(1 − σ(z)): the multiply gates swap their
# inputs, the add gates pass the gradient through.
def _neuron_grad(w0, x0, w1, x1, w2):
    z = w0 * x0 + w1 * x1 + w2
    f = 1 / (1 + math.exp(-z))
    df_dz = f * (1 - f)
    return x0 * df_dz, w0 * df_dz, x1 * df_dz, w1 * df_dz, df_dz


def _neuron_mistake(df_dz_of):
    """The right structure with a wrong local derivative df/dz = df_dz_of(z)."""

    def answer(w0, x0, w1, x1, w2):
        s = df_dz_of(w0 * x0 + w1 * x1 + w2)
        return x0 * s, w0 * s, x1 * s, w1 * s, s

    return answer


def _neuron_not_swapped(w0, x0, w1, x1, w2):
    z = w0 * x0 + w1 * x1 + w2
    s = _sigmoid(z) * (1 - _sigmoid(z))
    return w0 * s, x0 * s, w1 * s, x1 * s, s


def _neuron_bias_zero(w0, x0, w1, x1, w2):
    z = w0 * x0 + w1 * x1 + w2
    s = _sigmoid(z) * (1 - _sigmoid(z))
    return x0 * s, w0 * s, x1 * s, w1 * s, 0.0


def _neuron_bias_one(w0, x0, w1, x1, w2):
    z = w0 * x0 + w1 * x1 + w2
    s = _sigmoid(z) * (1 - _sigmoid(z))
    return x0 * s, w0 * s, x1 * s, w1 * s, 1.0


def _neuron_bias_missing(w0, x0, w1, x1, w2):
    z = w0 * x0 + w1 * x1  # w2, the bias, left out
    s = _sigmoid(z) * (1 - _sigmoid(z))
    return x0 * s, w0 * s, x1 * s, w1 * s, s


NEURON_INPUTS = ("w0", "x0", "w1", "x1", "w2")

neuron_grad = Exercise(
    id="lesson03.neuron_grad",
    variants=NEURON_SIGMOID_TANH,  # ex.neuron_grad.practice(): checker.lessons.practice
    title="Backprop through a sigmoid neuron f = σ(w0·x0 + w1·x1 + w2)",
    signature="neuron_grad(w0, x0, w1, x1, w2) -> (df/dw0, df/dx0, df/dw1, df/dx1, df/dw2)",
    function=lambda w0, x0, w1, x1, w2: torch.sigmoid(w0 * x0 + w1 * x1 + w2),
    inputs=NEURON_INPUTS,
    outputs=tuple(f"df/d{name}" for name in NEURON_INPUTS),
    domain={name: (-2.0, 2.0) for name in NEURON_INPUTS},
    points=((2.0, -1.0, -3.0, -2.0, -3.0),),
    solution_fn=_neuron_grad,
    hints=(
        "Go backwards one stage at a time: first df/dz at z = w0·x0 + w1·x1 + w2, then from z to each "
        "input.",
        "The local derivative of the sigmoid: dσ/dz = σ(z)·(1 − σ(z)), with σ(z) = 1 / (1 + exp(−z)), "
        "the neuron's output f.",
        "z is a sum, so ∂z/∂w2 = 1 and ∂z/∂(w0·x0) = 1. In the product w0·x0, ∂/∂w0 = x0 and "
        "∂/∂x0 = w0: each input's gradient is the *other* input times the gradient from above.",
        "df/dw0 = x0·f·(1 − f), df/dx0 = w0·f·(1 − f), and likewise for w1, x1; df/dw2 = f·(1 − f).",
    ),
    mistakes=(
        Mistake("sigmoid-derivative-missing", _neuron_mistake(lambda z: 1.0),
                "You went from z back to the inputs correctly, but skipped the sigmoid: every partial "
                "must be multiplied by its local derivative dσ/dz = σ(z)·(1 − σ(z))."),
        Mistake("sigmoid-derivative-on-z", _neuron_mistake(lambda z: z * (1 - z)),
                "You computed z·(1 − z): the formula σ(1 − σ) needs the sigmoid's output, σ(z)·(1 − σ(z)), "
                "not its input z."),
        Mistake("sigmoid-applied-twice", _neuron_mistake(lambda z: _sigmoid(_sigmoid(z)) * (1 - _sigmoid(_sigmoid(z)))),
                "You applied the sigmoid twice: σ(f)·(1 − σ(f)) with f = σ(z). The output f already is "
                "σ(z), so the local derivative is f·(1 − f)."),
        Mistake("sigmoid-derivative-sign", _neuron_mistake(lambda z: -_sigmoid(z) * (1 - _sigmoid(z))),
                "Sign error in the sigmoid's derivative: σ increases everywhere, so dσ/dz = σ(z)·(1 − σ(z)) "
                "is positive. (Differentiating 1/(1 + e^−z) gives two minus signs, and they cancel.)"),
        Mistake("sigmoid-derivative-as-sigmoid", _neuron_mistake(_sigmoid),
                "You used σ(z) itself as its derivative: dσ/dz = σ(z)·(1 − σ(z)). (It is exp whose "
                "derivative is itself.)"),
        Mistake("multiply-not-swapped", _neuron_not_swapped,
                "At a product the partials swap: in w0·x0, the gradient for w0 is x0 times the gradient "
                "from above, and the gradient for x0 is w0 times it. Yours gives w0 its own value."),
        Mistake("bias-gradient-zero", _neuron_bias_zero,
                "df/dw2 is not 0: the bias enters z with factor 1 (∂z/∂w2 = 1), so, like every input of an "
                "addition, it receives the gradient that arrives at z, unchanged."),
        Mistake("bias-gradient-one", _neuron_bias_one,
                "df/dw2 is not 1: ∂z/∂w2 = 1 is only the last step of the path. Between w2 and f sits the "
                "sigmoid, so the bias's gradient is multiplied by the sigmoid's local derivative too, like "
                "the gradients of w0, x0, w1, x1."),
        Mistake("sigmoid-derivative-square-missing",
                _neuron_mistake(lambda z: math.exp(-z) / (1 + math.exp(-z))),
                "Your sigmoid derivative is e⁻ᶻ/(1 + e⁻ᶻ), which is 1 − σ(z): the denominator is not squared. "
                "σ = 1/d with d = 1 + e⁻ᶻ, and the local derivative of 1/d is −1/d², with d squared "
                "(section 2.1)."),
        SIGMOID_DERIVATIVE_PLUS.mistake(_neuron_mistake(lambda z: _sigmoid(z) * (1 + _sigmoid(z)))),
        BIAS_MISSING.mistake(_neuron_bias_missing, after="Here z = w0·x0 + w1·x1 + w2: w2 is the bias."),
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
