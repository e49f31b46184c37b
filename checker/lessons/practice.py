"""Practice: a new random variant of an exercise on every call, `ex.dz_dx.practice(seed=None)`.

An exercise whose idea generalises has a *family* here, declared as data: a parameter sampler
(seeded: `random.Random(seed)` for numbers, `torch.Generator` for tensors) and `build(params)`, which
returns a fully declared `Exercise` (function in torch, domain, lesson point, hints, solution and the
family's known mistakes, their messages written with the variant's own numbers). As everywhere in the
checker, no expected value is stored: the reference is computed by torch.autograd at check time.

    ex.dz_dx.practice()          # a new variant; its title says "variant 48213"
    ex.dz_dx.practice(seed=48213)  # that same variant, for everyone: share the number

A variant's id is "lesson01.dz_dx~48213". Practice exercises are for self-study, not for bulk grading:
`checker.grading` knows only the lessons' own exercises.
"""
from __future__ import annotations

import dataclasses
import linecache
import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from ..engine.exercise import Exercise, Mistake
from .families import FAMILIES, Family, family_of  # noqa: F401  (declared there, built here)

F64 = torch.float64
# A lesson point is kept only where every known mistake is at least this many tolerances away from
# the reference: a student's known mistake must never pass at the point the lesson shows.
MARGIN = 100.0


# -- helpers ---------------------------------------------------------------------------------
def num(v: float) -> str:
    """A parameter as a student would write it: 2, 0.5, -1.5."""
    return f"{v:g}"


def coef(a: float, rest: str) -> str:
    """a·rest, without a factor 1: '2·x³', 'x³', '−x³'."""
    if a == 1:
        return rest
    if a == -1:
        return "−" + rest
    return f"{num(a)}·{rest}"


def plus(c: float) -> str:
    """' + 1', ' − 2', '' for 0."""
    return "" if c == 0 else (f" + {num(c)}" if c > 0 else f" − {num(-c)}")


SUPERSCRIPT = {1: "", 2: "²", 3: "³", 4: "⁴"}


def power(k: int, name: str = "x") -> str:
    return name + SUPERSCRIPT[k]


def compiled(source: str, name: str, env: Optional[dict] = None) -> Callable:
    """The function `name` defined by `source`, with its source available to inspect.getsource, so that
    `solution()` shows it with the variant's own numbers in it."""
    filename = f"<practice {name} {abs(hash(source))}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)  # mtime None: never evicted
    namespace = {"math": math, "torch": torch, "F": F, **(env or {})}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def _arguments(ex: Exercise, point: tuple) -> tuple:
    if ex.pass_as == "float":
        return tuple(float(v) for v in point)
    return tuple(v.detach().clone() if isinstance(v, torch.Tensor) else v for v in point)


def coincide(ex: Exercise, point: tuple, margin: float = 1.0) -> list[str]:
    """The known mistakes whose outputs at `point` are within `margin` tolerances of autograd's."""
    from ..engine.judge import compute_reference

    ref = compute_reference(ex, [point])
    expected = [e[0] for e in ref.expected]
    close = []
    for mistake in ex.mistakes:
        try:
            got = ref.conform(0, mistake.answer(*_arguments(ex, point)), ex.outputs)
        except Exception:  # a misshaped mistake never passes
            continue
        tol = ex.tolerance
        if all(
            bool(((g.to(F64) - e).abs() <= margin * (tol.atol + tol.rtol * e.abs())).all())
            for g, e in zip(got, expected)
        ):
            close.append(mistake.id)
    return close


def with_lesson_point(ex: Exercise, candidates) -> Exercise:
    """`ex` with the first candidate point where no known mistake comes near the reference."""
    for point in candidates:
        point = tuple(point)
        if not coincide(ex, point, MARGIN):
            return dataclasses.replace(ex, points=(point,))
    raise ValueError(f"{ex.id}: no lesson point keeps every known mistake apart")


def _title(text: str, params: dict) -> str:
    return f"{text} (variant {params['seed']})"


# == Lesson 01 ==================================================================================
# -- the chain rule: z = sin(a·xᵏ + c) ------------------------------------------------------
def _sample_chain(rng):
    return dict(a=rng.choice([2, 3, 0.5, -2, 1.5]), k=rng.choice([2, 3]), c=rng.choice([0, 1, -1, 2, 0.5]))


def _build_chain(p):
    a, k, c = p["a"], p["k"], p["c"]
    inner = f"{coef(a, power(k))}{plus(c)}"
    u = lambda x: a * x**k + c  # noqa: E731
    du = lambda x: a * k * x ** (k - 1)  # noqa: E731
    solution = compiled(
        f"def dz_dx(x):\n"
        f"    u = {a!r} * x**{k} + {c!r}  # the inner function\n"
        f"    return math.cos(u) * {a * k!r} * x**{k - 1}  # outer derivative at u, times du/dx\n",
        "dz_dx")
    ex = Exercise(
        id=p["id"],
        title=_title(f"Chain rule: d/dx of sin({inner})", p),
        signature="dz_dx(x) -> float",
        function=lambda x: torch.sin(a * x**k + c),
        domain={"x": (-2.0, 2.0)},
        solution_fn=solution,
        outputs=("dz/dx",),
        hints=(
            f"z = sin(u) with u = {inner}: a function of a function.",
            "The chain rule: dz/dx = dz/du · du/dx, with dz/du = cos(u) evaluated at u.",
            f"du/dx = {coef(a * k, power(k - 1) if k > 1 else '1')}.",
        ),
        mistakes=(
            Mistake("missing-inner-factor", lambda x: math.cos(u(x)),
                    f"You forgot the inner factor of the chain rule: cos({inner}) must be multiplied by "
                    f"d({inner})/dx = {coef(a * k, power(k - 1))}."),
            Mistake("outer-at-wrong-point", lambda x: du(x) * math.cos(x),
                    f"You took cos of x instead of cos of {inner}: the outer derivative is evaluated at the "
                    "inner function, cos(u) with u = " + inner + "."),
            Mistake("outer-not-differentiated", lambda x: du(x) * math.sin(u(x)),
                    "You kept sin as it was: the derivative of the outer function sin(u) is cos(u)."),
            Mistake("wrong-sign", lambda x: -du(x) * math.cos(u(x)),
                    "Wrong sign: d/du sin(u) = +cos(u). It is cos whose derivative has a minus sign."),
            Mistake("only-inner", du,
                    f"That is only the inner derivative {coef(a * k, power(k - 1))}; multiply it by the outer "
                    f"one, cos({inner})."),
            Mistake("exponent-not-lowered", lambda x: a * k * x**k * math.cos(u(x)),
                    f"In the inner derivative the power goes down by one: d({power(k)})/dx = {k}·"
                    f"{power(k - 1) if k > 1 else '1'}, not {k}·{power(k)}."),
        ),
    )
    return with_lesson_point(ex, [(1.0,), (1.5,), (-1.0,), (0.5,), (2.0,), (-1.5,)])


# -- the product rule: g = xᵏ·sin(a·x) --------------------------------------------------------
def _sample_product(rng):
    return dict(k=rng.choice([1, 2, 3]), a=rng.choice([2, 3, 0.5, -2, 1.5]))


def _build_product(p):
    k, a = p["k"], p["a"]
    ax = coef(a, "x")
    g = f"{power(k)}·sin({ax})"
    dxk = (lambda x: 1.0) if k == 1 else (lambda x: k * x ** (k - 1))
    dxk_text = "1" if k == 1 else coef(k, power(k - 1))
    solution = compiled(
        f"def dg_dx(x):\n"
        f"    # (u·v)′ = u′·v + u·v′ with u = x**{k}, v = sin({a!r}·x)\n"
        f"    return {k} * x**{k - 1} * math.sin({a!r} * x) + x**{k} * {a!r} * math.cos({a!r} * x)\n",
        "dg_dx")
    ex = Exercise(
        id=p["id"],
        title=_title(f"Product rule: d/dx of {g}", p),
        signature="dg_dx(x) -> float",
        function=lambda x: x**k * torch.sin(a * x),
        domain={"x": (-2.0, 2.0)},
        solution_fn=solution,
        outputs=("dg/dx",),
        hints=(
            f"g is a product u·v with u = {power(k)} and v = sin({ax}).",
            "The product rule: (u·v)′ = u′·v + u·v′. Both terms are needed.",
            f"u′ = {dxk_text}; v′ needs the chain rule: d sin({ax})/dx = {coef(a, f'cos({ax})')}.",
        ),
        mistakes=(
            Mistake("product-of-derivatives", lambda x: dxk(x) * a * math.cos(a * x),
                    f"The derivative of a product is not the product of the derivatives ({dxk_text}·"
                    f"{coef(a, f'cos({ax})')}): use (u·v)′ = u′·v + u·v′."),
            Mistake("second-term-missing", lambda x: dxk(x) * math.sin(a * x),
                    f"You differentiated {power(k)} but treated sin({ax}) as a constant: add the second term u·v′."),
            Mistake("first-term-missing", lambda x: x**k * a * math.cos(a * x),
                    f"You differentiated sin({ax}) but treated {power(k)} as a constant: add the first term u′·v."),
            Mistake("terms-subtracted", lambda x: dxk(x) * math.sin(a * x) - x**k * a * math.cos(a * x),
                    "The product rule adds its two terms, u′·v + u·v′: there is no minus sign in it."),
            Mistake("inner-factor-missing", lambda x: dxk(x) * math.sin(a * x) + x**k * math.cos(a * x),
                    f"In u·v′ the chain rule's inner factor is missing: d sin({ax})/dx = "
                    f"{coef(a, f'cos({ax})')}, with the {num(a)} in front."),
        ),
    )
    return with_lesson_point(ex, [(1.0,), (1.5,), (-1.0,), (0.5,), (2.0,), (-1.5,)])


# == Lesson 02 ==================================================================================
# -- fix the leaf: dg/dx with autograd, for g = xᵏ·cos(a·x) -----------------------------------
def _build_leaf(p):
    k, a = p["k"], p["a"]
    g = f"{power(k)}·cos({coef(a, 'x')})"
    solution = compiled(
        f"def dg_dx(x):\n"
        f"    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)  # the leaf, in float64 directly\n"
        f"    g = x**{k} * torch.cos({a!r} * x)\n"
        f"    g.backward()\n"
        f"    return x.grad\n",
        "dg_dx")
    ex = Exercise(
        id=p["id"],
        title=_title(f"Fix the bug: x.grad is None, for g = {g}", p),
        signature="dg_dx(x) -> tensor",
        function=lambda x: x**k * torch.cos(a * x),
        domain={"x": (-2.0, 2.0)},
        solution_fn=solution,
        outputs=("dg/dx",),
        forbid_autograd=False,
        hints=(
            "The buggy code: `x = torch.tensor(x, requires_grad=True).double()`, then g.backward() and "
            "`return x.grad`. Check `x.is_leaf` right after the line that creates x.",
            "`.double()` returns a new tensor made from the leaf: autograd fills .grad on the leaf only.",
            "Create the leaf in float64 directly: `torch.tensor(x, dtype=torch.float64, requires_grad=True)`.",
        ),
        none_message=("Your function returned None: the x whose .grad you return is not a leaf. Any operation "
                      "applied after requires_grad=True, a change of dtype included, makes a new tensor from "
                      "the leaf, and autograd fills .grad on leaves only."),
        mistakes=(
            Mistake("returned-value", lambda x: x**k * math.cos(a * x),
                    f"You returned g = {g} itself, the function's value; the derivative is what g.backward() "
                    "puts into x.grad."),
            Mistake("product-of-derivatives",
                    lambda x: (1.0 if k == 1 else k * x ** (k - 1)) * -a * math.sin(a * x),
                    "That is the product of the two derivatives, not the product rule. The bug to fix is in how "
                    "the leaf is created; g.backward() then computes the product rule for you."),
            Mistake("cos-derivative-sign",
                    lambda x: (1.0 if k == 1 else k * x ** (k - 1)) * math.cos(a * x) + x**k * a * math.sin(a * x),
                    f"That is the product rule by hand with d cos({coef(a, 'x')})/dx taken as +{num(a)}·sin: it is "
                    f"−{num(a)}·sin({coef(a, 'x')}). Better still, fix the leaf and let g.backward() compute it."),
            Mistake("first-term-missing", lambda x: x**k * -a * math.sin(a * x),
                    f"That is only u·v′ of the product rule, without u′·v = d({power(k)})/dx·cos({coef(a, 'x')}). "
                    "Fix the leaf and let g.backward() compute both terms."),
        ),
    )
    return with_lesson_point(ex, [(1.0,), (1.5,), (-1.0,), (0.5,), (2.0,)])


# -- vector-Jacobian product: y = sin(a·xᵏ) for x of n entries ---------------------------------
def _sample_vjp(rng):
    return dict(a=rng.choice([0.5, 1.5, 2, -1]), k=rng.choice([2, 3]), n=rng.randint(2, 5),
                torch_seed=rng.randrange(2**31))


def _build_vjp(p):
    a, k, n = p["a"], p["k"], p["n"]
    y_text = f"sin({coef(a, power(k))})"

    def sample(generator):
        return (1.2 * torch.randn(n, generator=generator, dtype=F64), torch.randn(n, generator=generator, dtype=F64))

    dy = lambda x: a * k * x ** (k - 1) * torch.cos(a * x**k)  # noqa: E731
    solution = compiled(
        f"def vjp(x, v):\n"
        f"    x.requires_grad_(True)\n"
        f"    y = torch.sin({a!r} * x**{k})\n"
        f"    y.backward(gradient=v)\n"
        f"    return x.grad\n",
        "vjp")
    ex = Exercise(
        id=p["id"],
        title=_title(f"Vector-Jacobian product: y.backward(gradient=v) for y = {y_text}, x of {n} entries", p),
        signature=f"vjp(x, v) -> tensor of shape ({n},)",
        function=lambda x, v: (v * torch.sin(a * x**k)).sum(),
        inputs=("x", "v"),
        wrt=("x",),
        outputs=("vᵀJ",),
        sampler=sample,
        pass_as="tensor",
        batched=False,
        forbid_autograd=False,
        solution_fn=solution,
        quantity="the vector-Jacobian product vᵀJ",
        hints=(
            "x arrives as a plain tensor: make it require grad first, `x.requires_grad_(True)`.",
            f"y = torch.sin({num(a)} * x**{k}) has {n} entries, so backward() needs to be told how to weigh them: "
            "`y.backward(gradient=v)`.",
            "Then return x.grad.",
        ),
        mistakes=(
            Mistake("sum-not-v", lambda x, v: dy(x),
                    "That is the gradient of y.sum(), the product with v = [1, …, 1]: every output weighed 1. "
                    "vᵀJ weighs output i by vᵢ, and backward() only knows v if you pass it."),
            Mistake("mean-not-v", lambda x, v: dy(x) / n,
                    f"That is the gradient of y.mean(), the product with v = [1/{n}, …, 1/{n}]. vᵀJ weighs output i "
                    "by vᵢ, and backward() only knows v if you pass it."),
            Mistake("v-times-y", lambda x, v: v * torch.sin(a * x**k),
                    "You returned v·y, the weighted outputs themselves, not a derivative: vᵀJ is the gradient of "
                    "Σ vᵢyᵢ with respect to x, which backward() leaves in x.grad."),
            Mistake("returned-y", lambda x, v: torch.sin(a * x**k),
                    f"You returned y = {y_text}, the outputs themselves, not a derivative."),
            Mistake("missing-inner-factor", lambda x, v: v * torch.cos(a * x**k),
                    f"The chain rule's inner factor {coef(a * k, power(k - 1))} is missing. backward() through "
                    f"y = {y_text} includes every factor."),
        ),
    )
    generator = torch.Generator().manual_seed(p["torch_seed"])
    return with_lesson_point(ex, [sample(generator) for _ in range(10)])


# == Lesson 03 ==================================================================================
# -- a chain of three: f = exp(cos(a·xᵏ)) ----------------------------------------------------------
def _sample_three(rng):
    return dict(a=rng.choice([0.5, 1.5, 2, 3, -1]), k=rng.choice([2, 3]))


def _build_three(p):
    a, k = p["a"], p["k"]
    u_text = coef(a, power(k))
    u = lambda x: a * x**k  # noqa: E731
    du = lambda x: a * k * x ** (k - 1)  # noqa: E731
    solution = compiled(
        f"def df_dx(x):\n"
        f"    u = {a!r} * x**{k}\n"
        f"    v = math.cos(u)\n"
        f"    return math.exp(v) * -math.sin(u) * {a * k!r} * x**{k - 1}\n",
        "df_dx")
    ex = Exercise(
        id=p["id"],
        title=_title(f"A chain of three: df/dx for f(x) = exp(cos({u_text}))", p),
        signature="df_dx(x) -> float",
        function=lambda x: torch.exp(torch.cos(a * x**k)),
        domain={"x": (-1.5, 1.5)},
        solution_fn=solution,
        outputs=("df/dx",),
        hints=(
            f"Name the stages: u = {u_text}, v = cos(u), f = exp(v). df/dx = df/dv · dv/du · du/dx.",
            f"Each local derivative at its own input: df/dv = exp(v), dv/du = −sin(u), du/dx = "
            f"{coef(a * k, power(k - 1))}.",
        ),
        mistakes=(
            Mistake("missing-inner-factor", lambda x: -math.exp(math.cos(u(x))) * math.sin(u(x)),
                    f"The innermost factor du/dx = {coef(a * k, power(k - 1))} is missing: every stage on the "
                    "path from x to f contributes its local derivative."),
            Mistake("missing-middle-factor", lambda x: math.exp(math.cos(u(x))) * du(x),
                    f"The middle stage's derivative is missing: multiply by d cos(u)/du = −sin(u) at u = {u_text}."),
            Mistake("missing-outer-factor", lambda x: -math.sin(u(x)) * du(x),
                    f"The outer derivative is missing: d exp(v)/dv = exp(v), which is exp(cos({u_text})), not 1."),
            Mistake("middle-at-wrong-point", lambda x: -math.exp(math.cos(u(x))) * math.sin(x) * du(x),
                    f"You took sin of x instead of sin of {u_text}: the derivative of cos is evaluated at its "
                    "own input."),
            Mistake("cos-derivative-sign", lambda x: math.exp(math.cos(u(x))) * math.sin(u(x)) * du(x),
                    "Sign error: d cos(u)/du = −sin(u), with a minus sign."),
            Mistake("exp-at-wrong-point", lambda x: -math.exp(u(x)) * math.sin(u(x)) * du(x),
                    f"exp(v) must be evaluated at v = cos({u_text}): exp(cos({u_text})), not exp({u_text})."),
        ),
    )
    return with_lesson_point(ex, [(1.0,), (0.5,), (-1.0,), (1.25,), (0.75,), (-0.5,)])


# -- two neurons in a row, each a sigmoid or a tanh, at a new point -----------------------------------
TWO_NEURON_INPUTS = ("x", "w0", "b0", "w1", "b1")
# name: (the function, its local derivative from its output s, the derivative as text with `s`, the code line
# of the reference solution computing it from `s`, the torch function)
ACTIVATIONS = {
    "sigmoid": (lambda z: 1 / (1 + math.exp(-z)), lambda s: s * (1 - s), "{s}·(1 − {s})", "{s} * (1 - {s})",
                torch.sigmoid, "σ"),
    "tanh": (math.tanh, lambda s: 1 - s * s, "1 − {s}²", "(1 - {s}**2)", torch.tanh, "tanh"),
}


def _sample_two_neurons(rng):
    values = [-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2]
    return dict(first=rng.choice(list(ACTIVATIONS)), second=rng.choice(list(ACTIVATIONS)),
                points=[tuple(float(rng.choice(values)) for _ in range(5)) for _ in range(10)])


def _build_two_neurons(p):
    act0, d0, text0, code0, torch0, name0 = ACTIVATIONS[p["first"]]
    act1, d1, text1, code1, torch1, name1 = ACTIVATIONS[p["second"]]
    first, second = f"{name0}(w0·x + b0)", f"{name1}(w1·h + b1)"

    def backward(*, first_local=True, second_local=True, upstream="w1", first_swap=True, first_at_f=False):
        """The backward pass with one step done wrongly (each keyword names a step)."""

        def answer(x, w0, b0, w1, b1):
            h = act0(w0 * x + b0)
            f = act1(w1 * h + b1)
            df_dz1 = d1(f) if second_local else 1.0
            df_dh = {"w1": w1, "h": h, "none": 1.0}[upstream] * df_dz1
            local0 = (d1(f) if first_at_f else d0(h)) if first_local else 1.0
            df_dz0 = df_dh * local0
            dx, dw0 = (df_dz0 * w0, df_dz0 * x) if first_swap else (df_dz0 * x, df_dz0 * w0)
            dw1 = df_dz1 * (w1 if upstream == "h" else h)
            return dx, dw0, df_dz0, dw1, df_dz1

        return answer

    def first_neuron_alone(x, w0, b0, w1, b1):
        h = act0(w0 * x + b0)
        f = act1(w1 * h + b1)
        return d0(h) * w0, d0(h) * x, d0(h), d1(f) * h, d1(f)

    solution = compiled(
        "def two_neurons_grad(x, w0, b0, w1, b1):\n"
        f"    h = {'1 / (1 + math.exp(-(w0 * x + b0)))' if p['first'] == 'sigmoid' else 'math.tanh(w0 * x + b0)'}\n"
        f"    f = {'1 / (1 + math.exp(-(w1 * h + b1)))' if p['second'] == 'sigmoid' else 'math.tanh(w1 * h + b1)'}\n"
        f"    df_dz1 = {code1.format(s='f')}  # the second neuron's local derivative, from its output f\n"
        "    df_dh = df_dz1 * w1  # the product w1·h swaps\n"
        f"    df_dz0 = df_dh * {code0.format(s='h')}  # the first neuron's, from its output h\n"
        "    return df_dz0 * w0, df_dz0 * x, df_dz0, df_dz1 * h, df_dz1\n", "two_neurons_grad")
    ex = Exercise(
        id=p["id"],
        title=_title(f"Backprop through two neurons: h = {first}, f = {second}", p),
        signature="two_neurons_grad(x, w0, b0, w1, b1) -> (df/dx, df/dw0, df/db0, df/dw1, df/db1)",
        function=lambda x, w0, b0, w1, b1: torch1(w1 * torch0(w0 * x + b0) + b1),
        inputs=TWO_NEURON_INPUTS,
        outputs=tuple(f"df/d{n}" for n in TWO_NEURON_INPUTS),
        domain={n: (-2.0, 2.0) for n in TWO_NEURON_INPUTS},
        solution_fn=solution,
        hints=(
            f"Forward: h = {first}, then f = {second}.",
            f"The second neuron: df/dz1 = {text1.format(s='f')}, df/dw1 = h·df/dz1, df/db1 = df/dz1, and "
            "df/dh = w1·df/dz1 goes on to the first neuron.",
            f"The first neuron starts from df/dh: df/dz0 = df/dh · {text0.format(s='h')}; then df/dx = w0·df/dz0, "
            "df/dw0 = x·df/dz0, df/db0 = df/dz0.",
        ),
        mistakes=(
            Mistake("upstream-missing", first_neuron_alone,
                    "Your first three partials are those of h, not of f: the first neuron's backward pass starts "
                    "from df/dh, what the second neuron sends back, not from 1."),
            Mistake("first-activation-skipped", backward(first_local=False),
                    f"Between h and w0, x, b0 sits the first neuron's {p['first']}: multiply df/dh by its local "
                    f"derivative {text0.format(s='h')}."),
            Mistake("w1-skipped", backward(upstream="none"),
                    "On the way back to h you did not cross the product w1·h: df/dh = w1·df/dz1, so the first "
                    "neuron's partials miss the factor w1."),
            Mistake("second-product-not-swapped", backward(upstream="h"),
                    "At the product w1·h the partials swap: df/dw1 = h·df/dz1 and df/dh = w1·df/dz1."),
            Mistake("first-product-not-swapped", backward(first_swap=False),
                    "At the product w0·x the partials swap: df/dx = w0·df/dz0 and df/dw0 = x·df/dz0."),
            Mistake("second-activation-skipped", backward(second_local=False),
                    f"You skipped the second neuron's {p['second']}: every partial inherits its local derivative "
                    f"{text1.format(s='f')}."),
        ) + ((Mistake("first-activation-at-f", backward(first_at_f=True),
                      f"For the first neuron you used {text1.format(s='f')}, the second neuron's local derivative: "
                      f"each is taken at its own output, {text0.format(s='h')} for the first."),)
             if p["first"] == p["second"] else ()),
    )
    return with_lesson_point(ex, p["points"])


# == Lesson 04 ==================================================================================
# -- one example of logistic regression with the squared error, other data --------------------------
def _sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _sample_one_example(rng):
    return dict(points=[(rng.choice([-3, -2, -1.5, -0.5, 0.5, 1.5, 2, 3]), float(rng.randint(0, 1)),
                         rng.choice([-2, -1, -0.5, 0.5, 1, 2]), rng.choice([-1, -0.5, 0.5, 1]))
                        for _ in range(10)])


def _build_one_example(p):
    def sample(generator):
        u = lambda lo, hi: lo + (hi - lo) * float(torch.rand((), generator=generator, dtype=F64))  # noqa: E731
        return u(-4, 4), float(torch.randint(0, 2, (), generator=generator)), u(-3, 3), u(-2, 2)

    def mistake(dz, dw_x=True, db_x=False):
        def answer(x, y, w, b):
            d = dz(w * x + b, y)
            return (d * x if dw_x else d), (d * x if db_x else d)

        return answer

    def right(z, y):  # dL/dz = 2(p − y)·p(1 − p)
        p = _sigmoid(z)
        return 2 * (p - y) * p * (1 - p)

    ex = Exercise(
        id=p["id"],
        title="",
        signature="scalar_grads(x, y, w, b) -> (dw, db)",
        function=lambda x, y, w, b: (torch.sigmoid(w * x + b) - y) ** 2,
        inputs=("x", "y", "w", "b"),
        wrt=("w", "b"),
        outputs=("dL/dw", "dL/db"),
        sampler=sample,
        solution_fn=compiled(
            "def scalar_grads(x, y, w, b):\n    p = 1 / (1 + math.exp(-(w * x + b)))\n"
            "    dL_dz = 2 * (p - y) * p * (1 - p)  # dL/dp · dp/dz: nothing cancels\n"
            "    return dL_dz * x, dL_dz\n", "scalar_grads"),
        hints=(
            "z = w·x + b, p = σ(z), L = (p − y)². The chain: dL/dw = dL/dp · dp/dz · ∂z/∂w.",
            "dL/dp = 2(p − y) and dp/dz = p(1 − p): nothing cancels. Then ∂z/∂w = x and ∂z/∂b = 1.",
        ),
        mistakes=(
            Mistake("cross-entropy-gradient", mistake(lambda z, y: _sigmoid(z) - y),
                    "That is cross-entropy's gradient, p − y: with the squared error the sigmoid's derivative "
                    "p(1 − p) does not cancel."),
            Mistake("sigmoid-derivative-missing", mistake(lambda z, y: 2 * (_sigmoid(z) - y)),
                    "The middle factor of the chain, dp/dz = p(1 − p), is missing."),
            Mistake("power-rule-factor-missing", mistake(lambda z, y: right(z, y) / 2),
                    "Your gradient is half the right one: d(p − y)²/dp = 2(p − y)."),
            Mistake("sign-flipped", mistake(lambda z, y: -right(z, y)),
                    "Wrong sign: d(p − y)²/dp = 2(p − y), not 2(y − p)."),
            Mistake("bias-missing", lambda x, y, w, b: mistake(right)(x, y, w, 0.0),
                    "Your logit leaves out the bias: z = w·x + b."),
            Mistake("x-dropped", mistake(right, dw_x=False),
                    "dL/dw has lost its last factor ∂z/∂w = x."),
            Mistake("x-in-bias", mistake(right, db_x=True),
                    "dL/db is not dL/dz·x: in z = w·x + b the bias is not multiplied by x, so dz/db = 1."),
            Mistake("swapped", mistake(right, dw_x=False, db_x=True),
                    "You returned the two partials in the wrong order: the tuple must start with dL/dw."),
        ),
    )
    ex = with_lesson_point(ex, p["points"])
    x, y, w, b = ex.points[0]
    ex.title = _title(f"dL/dw and dL/db with the squared error L = (p − y)², for x = {num(x)}, y = {num(y)}, "
                      f"at w = {num(w)}, b = {num(b)}", p)
    return ex


# -- BCE with a positive-class weight and soft labels: dL/dz ----------------------------------------
def _sample_weighted(rng):
    return dict(alpha=rng.choice([2, 3, 5, 0.5, 0.25]),
                points=[(rng.choice([-3, -2, -1, -0.5, 0.5, 1, 2, 3]), rng.choice([0.1, 0.2, 0.7, 0.8, 0.9]))
                        for _ in range(10)])


def _build_weighted(p):
    alpha = p["alpha"]

    def sample(generator):
        z = -12 + 24 * float(torch.rand((), generator=generator, dtype=F64))
        y = float(torch.rand((), generator=generator, dtype=F64))
        return z, y

    ex = Exercise(
        id=p["id"],
        title=_title(f"dL/dz of binary cross-entropy with pos_weight = {num(alpha)} and soft labels y in [0, 1]", p),
        signature="dL_dz(z, y) -> float",
        function=lambda z, y: F.binary_cross_entropy_with_logits(
            z, y, pos_weight=torch.tensor(float(alpha), dtype=F64), reduction="none"),
        inputs=("z", "y"),
        wrt=("z",),
        outputs=("dL/dz",),
        sampler=sample,
        solution_fn=compiled(
            f"def dL_dz(z, y):\n    p = 1 / (1 + math.exp(-z))\n"
            f"    # L = -[{alpha!r}·y·log p + (1 - y)·log(1 - p)]\n"
            f"    return {alpha!r} * y * (p - 1) + (1 - y) * p\n", "dL_dz"),
        hints=(
            f"L = −[{num(alpha)}·y·log p + (1 − y)·log(1 − p)] with p = σ(z): the weight multiplies only the "
            "positive-class term.",
            "d log p/dz = 1 − p and d log(1 − p)/dz = −p.",
            f"dL/dz = {num(alpha)}·y·(p − 1) + (1 − y)·p. (With weight 1 it is p − y.)",
        ),
        mistakes=(
            Mistake("weight-ignored", lambda z, y: _sigmoid(z) - y,
                    f"That is p − y, the gradient without the weight: pos_weight = {num(alpha)} multiplies the "
                    "positive-class term y·log p, and its derivative too."),
            Mistake("weight-on-both", lambda z, y: alpha * (_sigmoid(z) - y),
                    f"You multiplied the whole gradient by {num(alpha)}: pos_weight weighs only the term y·log p, "
                    "not (1 − y)·log(1 − p)."),
            Mistake("weight-on-negative", lambda z, y: y * (_sigmoid(z) - 1) + alpha * (1 - y) * _sigmoid(z),
                    f"You put the weight {num(alpha)} on the negative-class term (1 − y)·log(1 − p): pos_weight "
                    "weighs the positive class, y·log p."),
            Mistake("sign-flipped", lambda z, y: -(alpha * y * (_sigmoid(z) - 1) + (1 - y) * _sigmoid(z)),
                    "Wrong sign: the loss has a minus sign in front of the logs."),
            Mistake("sigmoid-derivative-twice",
                    lambda z, y: (alpha * y * (_sigmoid(z) - 1) + (1 - y) * _sigmoid(z))
                    * _sigmoid(z) * (1 - _sigmoid(z)),
                    "You multiplied by p(1 − p) once more: the derivatives of log p and log(1 − p) with respect "
                    "to z already include it."),
        ),
    )
    return with_lesson_point(ex, p["points"])


# == Lesson 05 ==================================================================================
# -- backward through leaky ReLU (a slope) and sigmoid --------------------------------------------
def _sample_leaky(rng):
    return dict(slope=rng.choice([0.01, 0.05, 0.1, 0.2, 0.3]), torch_seed=rng.randrange(2**31))


def _activation_sample(generator):
    N, H = int(torch.randint(2, 7, (), generator=generator)), int(torch.randint(2, 7, (), generator=generator))
    A = 2.5 * torch.randn(N, H, generator=generator, dtype=F64)
    zeros = torch.rand(N, H, generator=generator, dtype=F64) < 0.2
    zeros[0, 0] = True  # ReLU's kink, in every data set
    A[zeros] = 0.0
    dH = torch.randn(N, H, generator=generator, dtype=F64)
    dH[0, 0] = 1.0 + dH[0, 0].abs()
    return A, dH


def _build_leaky(p):
    s = p["slope"]

    def reference(A, dH):
        A = A.detach().to(F64).requires_grad_()
        (d1,) = torch.autograd.grad((F.leaky_relu(A, s) * dH).sum(), A)
        (d2,) = torch.autograd.grad((torch.sigmoid(A) * dH).sum(), A)
        return d1, d2

    def leaky(A, dH, at_zero_one=False):
        return dH * torch.where(A >= 0 if at_zero_one else A > 0, 1.0, s).to(A.dtype)

    sig = lambda A: torch.sigmoid(A)  # noqa: E731
    ex = Exercise(
        id=p["id"],
        title=_title(f"Backward through leaky ReLU (negative slope {num(s)}) and sigmoid", p),
        signature="activation_backward(A, dH) -> (dA_leaky, dA_sigmoid)",
        reference=reference,
        compared_with="torch.autograd (backward of F.leaky_relu and torch.sigmoid)",
        inputs=("A", "dH"),
        outputs=("dA_leaky", "dA_sigmoid"),
        quantity="the gradient",
        sampler=_activation_sample,
        pass_as="tensor",
        batched=False,
        solution_fn=compiled(
            "def activation_backward(A, dH):\n"
            f"    dA_leaky = dH * torch.where(A > 0, 1.0, {s!r})  # slope {s!r} for A <= 0 (at 0 too)\n"
            "    s = torch.sigmoid(A)\n"
            "    dA_sigmoid = dH * s * (1 - s)\n"
            "    return dA_leaky, dA_sigmoid\n", "activation_backward"),
        hints=(
            "Both act elementwise: dA = dH ⊙ f′(A).",
            f"leaky_relu(a) = a for a > 0 and {num(s)}·a otherwise: slope 1 or {num(s)}. At exactly a = 0 "
            f"PyTorch uses {num(s)}.",
            "σ′(a) = σ(a)·(1 − σ(a)).",
        ),
        mistakes=(
            Mistake("leaky-slope-at-zero", lambda A, dH: (leaky(A, dH, True), dH * sig(A) * (1 - sig(A))),
                    f"dA_sigmoid is right, and so is dA_leaky except where A is exactly 0: PyTorch uses the slope "
                    f"{num(s)} there (a strict A > 0 for slope 1)."),
            Mistake("plain-relu", lambda A, dH: (dH * (A > 0), dH * sig(A) * (1 - sig(A))),
                    f"Your dA_leaky is ReLU's: for A ≤ 0 leaky ReLU still has slope {num(s)}, so {num(s)}·dH passes."),
            Mistake("leaky-upstream-missing",
                    lambda A, dH: (torch.where(A > 0, 1.0, s).to(A.dtype), dH * sig(A) * (1 - sig(A))),
                    "dA_leaky is the local derivative alone: multiply it by dH, the gradient from above."),
            Mistake("sigmoid-not-differentiated", lambda A, dH: (leaky(A, dH), dH * sig(A)),
                    "dA_sigmoid uses σ(A) itself where its derivative σ(A)·(1 − σ(A)) belongs."),
            Mistake("sigmoid-derivative-of-input", lambda A, dH: (leaky(A, dH), dH * A * (1 - A)),
                    "dA_sigmoid uses A·(1 − A): the formula needs the sigmoid's output, σ(A)·(1 − σ(A))."),
            Mistake("sigmoid-upstream-missing", lambda A, dH: (leaky(A, dH), sig(A) * (1 - sig(A))),
                    "dA_sigmoid is σ′(A) alone: multiply it by dH, the gradient from above."),
        ),
    )
    generator = torch.Generator().manual_seed(p["torch_seed"])
    return with_lesson_point(ex, [_activation_sample(generator) for _ in range(10)])


# -- the cross-entropy gradient with a temperature, other shapes --------------------------------------
def _sample_temperature(rng):
    return dict(T=rng.choice([0.5, 1.5, 2.5]), N=rng.randint(2, 6), C=rng.randint(3, 6),
                torch_seed=rng.randrange(2**31))


def _build_temperature(p):
    T, N, C = p["T"], p["N"], p["C"]

    def sample(generator):
        Z = 2 * torch.randn(N, C, generator=generator, dtype=F64)
        return Z, torch.randint(0, C, (N,), generator=generator)

    def soft(Z, t=T):
        return torch.softmax(Z / t, dim=1)

    def onehot(Z, y):
        return F.one_hot(y, Z.shape[1]).to(Z.dtype)

    ex = Exercise(
        id=p["id"],
        title=_title(f"The cross-entropy gradient at temperature T = {num(T)}: L = mean CE(Z / {num(T)}, y), "
                     f"Z of shape ({N}, {C})", p),
        signature=f"ce_grad(Z, y) -> dZ, a tensor of shape ({N}, {C})",
        function=lambda Z, y: F.cross_entropy(Z / T, y.long()),
        inputs=("Z", "y"),
        wrt=("Z",),
        outputs=("dZ",),
        sampler=sample,
        pass_as="tensor",
        batched=False,
        quantity="the gradient",
        solution_fn=compiled(
            "def ce_grad(Z, y):\n"
            f"    P = torch.softmax(Z / {T!r}, dim=1)  # softmax of the scaled logits\n"
            "    onehot = torch.nn.functional.one_hot(y, Z.shape[1]).to(Z.dtype)\n"
            f"    return (P - onehot) / (Z.shape[0] * {T!r})  # mean over rows, chain rule through Z / T\n",
            "ce_grad"),
        hints=(
            f"Let S = Z / {num(T)}. The gradient of the mean cross-entropy with respect to S is "
            "(softmax(S) − onehot(y)) / N.",
            f"The chain rule through S = Z / {num(T)} multiplies by dS/dZ = 1/{num(T)}.",
        ),
        mistakes=(
            Mistake("temperature-factor-missing", lambda Z, y: (soft(Z) - onehot(Z, y)) / N,
                    f"You differentiated with respect to S = Z / {num(T)}, and stopped: the chain rule through "
                    f"the division multiplies by 1/{num(T)}."),
            Mistake("temperature-ignored", lambda Z, y: (soft(Z, 1) - onehot(Z, y)) / N,
                    f"Your softmax is of Z itself: the logits are divided by T = {num(T)} first, and the chain rule "
                    f"gives a factor 1/{num(T)}."),
            Mistake("temperature-multiplied", lambda Z, y: (soft(Z) - onehot(Z, y)) * T / N,
                    f"The factor from S = Z / {num(T)} is dS/dZ = 1/{num(T)}: you multiplied by {num(T)}."),
            Mistake("sign-flipped", lambda Z, y: (onehot(Z, y) - soft(Z)) / (N * T),
                    "Wrong sign: the gradient is softmax − onehot, not onehot − softmax."),
            Mistake("not-averaged", lambda Z, y: (soft(Z) - onehot(Z, y)) / T,
                    f"The loss is the mean over the {N} rows: divide by N = {N} as well."),
        ),
    )
    generator = torch.Generator().manual_seed(p["torch_seed"])
    return with_lesson_point(ex, [sample(generator) for _ in range(10)])


def practice(exercise_id: str, seed: Optional[int] = None) -> Exercise:
    """A new variant of the exercise `exercise_id` (the same variant for the same seed)."""
    family = family_of(exercise_id.split("~", 1)[0])  # a variant's own variants: its exercise's
    if family is None:
        with_practice = ", ".join(f.exercise_id for f in FAMILIES)
        raise ValueError(f"{exercise_id} has no practice variants; these do: {with_practice}")
    return family.variant(seed)
