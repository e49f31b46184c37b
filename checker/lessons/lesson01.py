"""Lesson 01, analytic derivatives: the power rule, the chain rule, the product-rule trap.

Answers take a Python float x and return a float (math.sin, math.cos, ...).
"""
import math

import torch

from ..engine.exercise import Exercise, Mistake
from .families import CHAIN_SIN_POWER, PRODUCT_POWER_SIN

DOMAIN = {"x": (-3.0, 3.0)}


# -- y = x², dy/dx = 2x (the seed: dy_dx(2) = 4) ------------------------------------
def _dy_dx(x):
    return 2 * x


dy_dx = Exercise(
    id="lesson01.dy_dx",
    title="Power rule: dy/dx for y = x²",
    signature="dy_dx(x) -> float",
    function=lambda x: x**2,
    domain=DOMAIN,
    points=((2.0,),),
    solution_fn=_dy_dx,
    outputs=("dy/dx",),
    hints=(
        "The power rule: d(xⁿ)/dx = n·xⁿ⁻¹.",
        "Here n = 2: bring the 2 down in front and lower the exponent by one.",
    ),
    mistakes=(
        Mistake("exponent-not-lowered", lambda x: 2 * x**2,
                "You brought the exponent down but did not lower it: d(x²)/dx = 2·x¹ = 2x, not 2x²."),
        Mistake("factor-dropped", lambda x: x,
                "You lowered the exponent but dropped the factor that comes down in front: d(x²)/dx = 2x, not x."),
        Mistake("x-dropped", lambda x: 2.0,
                "Your answer is the constant 2: after the 2 comes down, x²⁻¹ = x stays. d(x²)/dx = 2x."),
        Mistake("integrated", lambda x: x**3 / 3,
                "x³/3 is the antiderivative of x² (you integrated); the derivative lowers the power: 2x."),
    ),
)


# -- z = sin(x²), dz/dx = 2x·cos(x²) (the seed: dz_dx(3) = -5.466781571308061) -------
def _dz_dx(x):
    return 2 * x * math.cos(x**2)


dz_dx = Exercise(
    id="lesson01.dz_dx",
    variants=CHAIN_SIN_POWER,  # ex.dz_dx.practice(): checker.lessons.families
    title="Chain rule: dz/dx for z = sin(x²)",
    signature="dz_dx(x) -> float",
    function=lambda x: torch.sin(x**2),
    domain=DOMAIN,
    points=((3.0,),),
    solution_fn=_dz_dx,
    outputs=("dz/dx",),
    hints=(
        "z is a function of a function: z = sin(u) with u = x².",
        "The chain rule: dz/dx = dz/du · du/dx.",
        "dz/du = cos(u), evaluated at u = x², and du/dx = 2x.",
    ),
    mistakes=(
        Mistake("missing-inner-factor", lambda x: math.cos(x**2),
                "You forgot the inner factor of the chain rule: cos(x²) must be multiplied by "
                "d(x²)/dx = 2x."),
        Mistake("outer-at-wrong-point", lambda x: 2 * x * math.cos(x),
                "You took cos of x instead of cos of x²: the outer derivative is evaluated at the inner "
                "function, cos(u) with u = x². At x = 3 the two are close (ratio 1.09), which is why the "
                "checker tests many points."),
        Mistake("outer-not-differentiated", lambda x: 2 * x * math.sin(x**2),
                "You kept sin as it was: the derivative of the outer function sin(u) is cos(u)."),
        Mistake("wrong-sign", lambda x: -2 * x * math.cos(x**2),
                "Wrong sign: d/du sin(u) = +cos(u). It is cos whose derivative has a minus sign."),
        Mistake("only-inner", lambda x: 2 * x,
                "That is only the inner derivative d(x²)/dx = 2x; multiply it by the outer one, cos(x²)."),
    ),
)


# -- the trap: g = x·sin(x), dg/dx = sin(x) + x·cos(x) ------------------------------
def _dg_dx(x):
    return math.sin(x) + x * math.cos(x)


dg_dx = Exercise(
    id="lesson01.dg_dx",
    variants=PRODUCT_POWER_SIN,  # ex.dg_dx.practice(): checker.lessons.families
    title="Product rule: dg/dx for g = x·sin(x)",
    signature="dg_dx(x) -> float",
    function=lambda x: x * torch.sin(x),
    domain=DOMAIN,
    # not x = 1: there x·cos(x) = cos(x), so slips that drop the x would be right at the lesson's point
    points=((2.5,),),
    solution_fn=_dg_dx,
    outputs=("dg/dx",),
    hints=(
        "g is a product u·v with u = x and v = sin(x).",
        "The product rule: (u·v)′ = u′·v + u·v′. Both terms are needed.",
    ),
    mistakes=(
        Mistake("product-of-derivatives", lambda x: math.cos(x),
                "The derivative of a product is not the product of the derivatives (1·cos(x)): "
                "use (u·v)′ = u′·v + u·v′."),
        Mistake("second-term-missing", lambda x: math.sin(x),
                "You differentiated x but treated sin(x) as a constant: add the second term u·v′ = x·cos(x)."),
        Mistake("first-term-missing", lambda x: x * math.cos(x),
                "You differentiated sin(x) but treated x as a constant: add the first term u′·v = sin(x)."),
        Mistake("terms-subtracted", lambda x: math.sin(x) - x * math.cos(x),
                "The product rule adds its two terms, u′·v + u·v′: there is no minus sign in it."),
        Mistake("u-dropped-in-second-term", lambda x: math.sin(x) + math.cos(x),
                "Your second term is v′ = cos(x) alone: in the product rule it is u·v′, so it keeps the factor "
                "u = x. (u·v)′ = u′·v + u·v′ = 1·sin(x) + x·cos(x)."),
    ),
)
