"""Lesson 04, logistic regression: the gradient of binary cross-entropy, by hand and stably.

Every cross-entropy reference is computed from the logit z with F.binary_cross_entropy_with_logits
in float64, which is finite and accurate for any z: the sampled points go well into the
saturated region (|z| up to 40, and 100 for the loss itself) where p = σ(z) rounds to exactly 0 or 1.
Exercise 1 takes section 2's chain to another loss, the squared error, where nothing cancels.
"""
import math

import torch
import torch.nn.functional as F

from ..engine.exercise import Exercise, Mistake
from .families import BCE_POS_WEIGHT, SQUARED_ERROR_ONE_EXAMPLE
from .slips import BIAS_MISSING, BROADCAST_COLUMN, LOGIT_FOR_PREDICTION, SIGMOID_DERIVATIVE_PLUS


def _bce_logits(z, y):
    """Per-example binary cross-entropy from the logit z (elementwise, no reduction)."""
    return F.binary_cross_entropy_with_logits(z, y, reduction="none")


def _sigmoid(z):
    """σ(z) for a Python float without overflow (math.exp(-z) overflows for z < -709)."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _label(generator) -> float:
    return float(torch.randint(0, 2, (), generator=generator))


def _uniform(generator, low, high) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


# -- Exercise 1: section 2's chain with another loss, the squared error L = (p − y)² ----------------
# Section 2 multiplies dL/dp · dp/dz · dz/dw for cross-entropy, whose dL/dp = (p − y)/(p(1 − p))
# cancels the sigmoid's derivative. The squared error's dL/dp = 2(p − y) does not: p(1 − p) stays,
#   dL/dz = 2(p − y)·p(1 − p),   dL/dw = dL/dz · x,   dL/db = dL/dz.
def _scalar_grads(x, y, w, b):
    z = w * x + b
    p = 1 / (1 + math.exp(-z))
    dL_dz = 2 * (p - y) * p * (1 - p)
    return dL_dz * x, dL_dz


def _sample_scalar(generator):
    # |z| = |w·x + b| <= 14: the derivation is tested here; saturation is exercises 2 and 3.
    x = _uniform(generator, -4.0, 4.0)
    y = _label(generator)
    w = _uniform(generator, -3.0, 3.0)
    b = _uniform(generator, -2.0, 2.0)
    return x, y, w, b


def _scalar_mistake(dz_fn, dw_uses_x=True, db_uses_x=False, with_bias=True):
    """An answer built on a dL/dz = dz_fn(z, y), with the last chain-rule factors as the flags say."""

    def answer(x, y, w, b):
        d = dz_fn(w * x + b if with_bias else w * x, y)
        return (d * x if dw_uses_x else d), (d * x if db_uses_x else d)

    return answer


def _squared_error_dz(z, y):
    p = _sigmoid(z)
    return 2 * (p - y) * p * (1 - p)


def _w_instead_of_x(x, y, w, b):
    d = _squared_error_dz(w * x + b, y)
    return d * w, d


scalar_grads = Exercise(
    id="lesson04.scalar_grads",
    variants=SQUARED_ERROR_ONE_EXAMPLE,  # ex.scalar_grads.practice(): checker.lessons.families
    title="dL/dw and dL/db for one example, with the squared error L = (p − y)²",
    signature="scalar_grads(x, y, w, b) -> (dw, db)",
    function=lambda x, y, w, b: (torch.sigmoid(w * x + b) - y) ** 2,
    inputs=("x", "y", "w", "b"),
    wrt=("w", "b"),
    outputs=("dL/dw", "dL/db"),
    # section 1's example: the confidently wrong prediction, where the two losses differ most
    points=((6.7, 0.0, 1.0, 0.0),),
    sampler=_sample_scalar,
    solution_fn=_scalar_grads,
    hints=(
        "The chain is section 2's: dL/dw = dL/dp · dp/dz · ∂z/∂w, with the same dp/dz = p(1 − p), ∂z/∂w = x and "
        "∂z/∂b = 1. Only dL/dp changes.",
        "dL/dp for L = (p − y)²: the power rule, times the derivative of p − y with respect to p, which is 1.",
        "dL/dp = 2(p − y). Nothing cancels this time: dL/dz = 2(p − y)·p(1 − p); then dL/dw = dL/dz · x and "
        "dL/db = dL/dz.",
        "return 2 * (p - y) * p * (1 - p) * x, 2 * (p - y) * p * (1 - p)   # p = 1 / (1 + math.exp(-(w * x + b)))",
    ),
    mistakes=(
        Mistake("cross-entropy-gradient", _scalar_mistake(lambda z, y: _sigmoid(z) - y),
                "That is cross-entropy's gradient, (p − y)·x and p − y. Its p(1 − p) cancelled because "
                "cross-entropy's dL/dp = (p − y)/(p(1 − p)) has it as a denominator; the squared error's dL/dp has "
                "no denominator, so the sigmoid's derivative p(1 − p) stays in the product."),
        Mistake("sigmoid-derivative-missing", _scalar_mistake(lambda z, y: 2 * (_sigmoid(z) - y)),
                "You multiplied dL/dp by ∂z/∂w and ∂z/∂b but skipped the middle factor of the chain, dp/dz = "
                "p(1 − p), the sigmoid's derivative: the loss reaches w through p = σ(z)."),
        Mistake("power-rule-factor-missing", _scalar_mistake(lambda z, y: _squared_error_dz(z, y) / 2),
                "Your gradient is half the right one: the power rule gives d(p − y)²/dp = 2(p − y), with the "
                "factor 2. (Yours is the gradient of ½(p − y)², a loss some books use.)"),
        Mistake("sign-flipped", _scalar_mistake(lambda z, y: -_squared_error_dz(z, y)),
                "Wrong sign: d(p − y)²/dp = 2(p − y), not 2(y − p). The loss must grow when p moves away from y, "
                "so for y = 0 its slope in z is positive. (Gradient descent with your sign would climb the loss.)"),
        Mistake("linear-regression", _scalar_mistake(lambda z, y: 2 * (z - y)),
                "That is the gradient of (z − y)², linear regression's squared error on the logit z. The loss here "
                "compares the prediction p = σ(z) with y, so its chain goes through the sigmoid: "
                "dL/dz = dL/dp · dp/dz."),
        Mistake("sigmoid-derivative-twice",
                _scalar_mistake(lambda z, y: _squared_error_dz(z, y) * _sigmoid(z) * (1 - _sigmoid(z))),
                "You multiplied by the sigmoid's derivative p(1 − p) twice: the chain dL/dp · dp/dz · ∂z/∂w has it "
                "once, as dp/dz."),
        BIAS_MISSING.mistake(_scalar_mistake(_squared_error_dz, with_bias=False),
                             after="Here z = w·x + b. (At the lesson's point b = 0, so the slip only shows at the "
                                   "other points.)",
                             agrees_at_lesson_points="b = 0 in the original notebook's example, the lesson's point"),
        SIGMOID_DERIVATIVE_PLUS.mistake(
            _scalar_mistake(lambda z, y: 2 * (_sigmoid(z) - y) * _sigmoid(z) * (1 + _sigmoid(z))),
            before="You went through dL/dp · dp/dz, but with the wrong dp/dz."),
        Mistake("w-instead-of-x", _w_instead_of_x,
                "dL/db is right, but in dL/dw the last chain-rule factor is ∂z/∂w, the derivative of "
                "z = w·x + b with respect to w. That is the factor multiplying w (the input), not w itself."),
        Mistake("x-dropped", _scalar_mistake(_squared_error_dz, dw_uses_x=False),
                "dL/db is right, but dL/dw has lost its last chain-rule factor: ∂z/∂w, how much z = w·x + b "
                "changes when w grows by 1, is not 1."),
        Mistake("x-in-bias", _scalar_mistake(_squared_error_dz, db_uses_x=True),
                "dL/dw is right, but dL/db is not dL/dz·x: in z = w·x + b the bias is not multiplied by x, "
                "so dz/db = 1 and dL/db = dL/dz."),
        Mistake("swapped", _scalar_mistake(_squared_error_dz, dw_uses_x=False, db_uses_x=True),
                "You returned the two partials in the wrong order, (dL/db, dL/dw): the tuple must start with dL/dw."),
    ),
)


# -- Exercise 2: dL/dz = p - y, everywhere (saturated z included) ------------------------
def _dL_dz(z, y):
    p = 1 / (1 + math.exp(-z))
    return p - y


def _sample_logit(generator):
    return _uniform(generator, -40.0, 40.0), _label(generator)


def _dL_dp(z, y):
    """(p − y) / (p(1 − p)) rewritten so that it stays finite for saturated z (y is 0 or 1)."""
    return (1 - y) * (1 + math.exp(z)) - y * (1 + math.exp(-z))


dL_dz = Exercise(
    id="lesson04.dL_dz",
    variants=BCE_POS_WEIGHT,  # ex.dL_dz.practice(): checker.lessons.practice
    title="The simplified gradient dL/dz of binary cross-entropy",
    signature="dL_dz(z, y) -> float",
    function=_bce_logits,
    inputs=("z", "y"),
    wrt=("z",),
    outputs=("dL/dz",),
    # y = 1 and p far from it: at y = 0 "p" alone would be right, and where p − y ≈ 0 every factor slip is
    points=((-6.7, 1.0),),
    edge_points=((6.7, 0.0), (20.0, 0.0), (-30.0, 1.0), (40.0, 1.0)),  # saturated: p rounds to 0 or 1
    sampler=_sample_logit,
    solution_fn=_dL_dz,
    # dL/dp = −y/p + (1 − y)/(1 − p), alone or times dp/dz unsimplified, divides by 0 where σ(z) rounds to 1.0
    error_advice={"ZeroDivisionError": (
        "At saturated z, p = σ(z) rounds to exactly 0.0 or 1.0, so a formula that divides by p or by 1 − p (dL/dp, "
        "alone or times dp/dz before simplifying) divides by 0 there. Simplify dL/dp · dp/dz on paper first: "
        "p(1 − p) cancels.")},
    hints=(
        "Write dL/dz = dL/dp · dp/dz with p = σ(z).",
        "dL/dp = −y/p + (1 − y)/(1 − p) = (p − y) / (p(1 − p)), and dp/dz = p(1 − p).",
        "The product simplifies to p − y. Compute it without dividing by p(1 − p): for |z| above 37 "
        "that is exactly 0 even in float64.",
    ),
    mistakes=(
        Mistake("sign-flipped", lambda z, y: y - _sigmoid(z),
                "Wrong sign: dL/dz = p − y, not y − p. For y = 0 the loss grows with z, so its slope is positive."),
        Mistake("sigmoid-derivative-missing", _dL_dp,
                "That is dL/dp = (p − y) / (p(1 − p)), the slope with respect to the prediction p. The chain "
                "rule multiplies it by dp/dz = p(1 − p), and the two cancel: dL/dz = p − y."),
        Mistake("sigmoid-derivative-twice", lambda z, y: (_sigmoid(z) - y) * _sigmoid(z) * (1 - _sigmoid(z)),
                "You multiplied p − y by p(1 − p) once more: p − y already includes the sigmoid's derivative. "
                "The extra factor makes the gradient vanish exactly where the prediction is confidently wrong."),
        Mistake("sigmoid-applied-twice", lambda z, y: _sigmoid(_sigmoid(z)) - y,
                "You applied the sigmoid twice: with p = σ(z), dL/dz = p − y, not σ(p) − y."),
        Mistake("sigmoid-sign", lambda z, y: _sigmoid(-z) - y,
                "Your p is 1 / (1 + e^(+z)), which is σ(−z) = 1 − p, not the sigmoid σ(z) = 1 / (1 + e^(−z)): "
                "the minus sign in the exponent is missing."),
        Mistake("sigmoid-derivative-only", lambda z, y: _sigmoid(z) * (1 - _sigmoid(z)),
                "That is p(1 − p) = dp/dz, the sigmoid's derivative alone: only one of the two chain-rule "
                "factors, and it does not depend on the label. dL/dz = dL/dp · dp/dz also needs dL/dp."),
        Mistake("label-dropped", lambda z, y: _sigmoid(z),
                "Your answer is p = σ(z), which is right only when y = 0: the gradient is p − y, the prediction "
                "minus the label."),
        LOGIT_FOR_PREDICTION.mistake(lambda z, y: z - y),
    ),
)


# -- Exercise 3: the loss itself, stable from the logit for every z -------------------------------
# Section 4 shows L = log(1 + e^z) − z·y, safe for z ≤ 0 (e^z ≤ 1), and its rewrite for z > 0,
# L = z + log(1 + e^(−z)) − z·y, where exp sees −z < 0. The exercise is to make one loss that is
# finite and accurate for every z: with −|z| in the exponential, both forms are
#   L = max(z, 0) − z·y + log(1 + e^(−|z|)).
def _stable_bce(z, y):
    # max(z, 0) - z*y + log(1 + exp(-|z|)): exp never sees a large positive argument.
    return torch.clamp(z, min=0) - z * y + torch.log1p(torch.exp(-torch.abs(z)))


def _through_probabilities(z, y):
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def _clamped_p(z, y):
    eps = 1e-8
    p = torch.clamp(torch.sigmoid(z), eps, 1 - eps)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def _softplus_overflow(z, y):
    """Section 4's first form, for every z: e^z overflows for large positive z."""
    return torch.log(1 + torch.exp(z)) - z * y


def _positive_form_everywhere(z, y):
    """Section 4's form for z > 0, for every z: e^(−z) overflows for large negative z."""
    return z + torch.log1p(torch.exp(-z)) - z * y


def _forms_swapped(z, y):
    """Each of section 4's forms where the other one belongs: an exponential of |z| on both sides (z is one
    number, a 0-dimensional tensor, so a Python `if` chooses; torch.where is refused, see _FORBIDDEN)."""
    if z > 0:
        return torch.log1p(torch.exp(z)) - z * y
    return z + torch.log1p(torch.exp(-z)) - z * y


def _exp_both_ways(z, y):
    return y * torch.log(1 + torch.exp(-z)) + (1 - y) * torch.log(1 + torch.exp(z))


def _sample_wide_logit(generator):
    # |z| up to 100: in float32, exp(z) overflows from z ≈ 88.7 and σ(−z) underflows to 0 near z ≈ 103
    return _uniform(generator, -100.0, 100.0), _label(generator)


# The right formula computed in a way that breaks only where p rounds to 0 or 1, or exp overflows:
# at an ordinary point, the lesson's included, it gives the right loss.
NUMERICAL = "the right formula, computed in a way that fails only in saturation or overflow"


def _reference_loss(z, y):
    """What the checker compares with: torch's own stable loss, in float64."""
    z, y = (torch.as_tensor(v, dtype=torch.float64) for v in (z, y))
    return F.binary_cross_entropy_with_logits(z, y)


# Library functions that remove the overflow themselves: with one of them the exercise is a one-liner.
# Names as torch's function mode sees them (F.logsigmoid is log_sigmoid; nn.LogSigmoid and nn.Softplus call
# the same functions, torch.ops.aten's log_sigmoid_forward is the op behind it).
_FORBIDDEN = {
    "binary_cross_entropy_with_logits": "it is the loss itself, and nn.BCEWithLogitsLoss calls it too",
    "log_sigmoid": "F.logsigmoid computes log σ(z) = −log(1 + e^(−z)) without overflow",
    "log_sigmoid_forward": "it computes log σ(z) = −log(1 + e^(−z)) without overflow",
    "softplus": "F.softplus computes log(1 + e^z) without overflow",
    "logaddexp": "torch.logaddexp(0, z) is log(1 + e^z), computed without overflow",
    "logsumexp": "the log-sum-exp of 0 and z is log(1 + e^z), computed without overflow",
    "special_logsumexp": "the log-sum-exp of 0 and z is log(1 + e^z), computed without overflow",
    # Choosing between section 4's two forms is not one safe formula: torch.where computes both forms at every z,
    # so an exponential still sees e^100 (its gradient is then 0·inf = NaN in float32, whatever it returns).
    "where": ("torch.where(z > 0, A, B) computes both A and B at every z, so one of the exponentials still sees "
              "a large positive number (and the gradient of the loss is NaN in float32): write one formula that "
              "is safe for every z (max(z, 0) is torch.clamp(z, min=0))"),
}

stable_bce = Exercise(
    id="lesson04.stable_bce",
    title="Binary cross-entropy computed stably from the logit z, for every z",
    signature="stable_bce(z, y) -> loss",
    reference=_reference_loss,
    compared_with="F.binary_cross_entropy_with_logits (in float64)",
    quantity="the loss",
    inputs=("z", "y"),
    outputs=("loss",),
    # y = 1 and z < 0: the label's term and the |z| both matter (stability mistakes agree here by nature)
    points=((-6.7, 1.0),),
    # saturated (p rounds to 0 or 1), then where the naive forms break in float32 (at 1e4, in float64 too)
    edge_points=((6.7, 0.0), (20.0, 0.0), (40.0, 0.0), (-40.0, 1.0), (40.0, 1.0),
                 (89.5, 0.0), (100.0, 0.0), (-100.0, 1.0), (1e4, 0.0), (-1e4, 1.0), (1e4, 1.0), (-1e4, 0.0)),
    sampler=_sample_wide_logit,
    n_samples=40,
    pass_as="tensor",
    # judged in float32 too, the precision students train in: that is where a naive loss becomes inf
    precisions=(torch.float64, torch.float32),
    batched=False,
    solution_fn=_stable_bce,
    forbidden=_FORBIDDEN,
    hints=(
        "Start from section 4's L = log(1 + e^z) − z·y. For z ≤ 0 it is safe as it is (e^z ≤ 1); for z > 0 "
        "section 4 rewrote log(1 + e^z) as z + log(1 + e^(−z)), whose exponential sees −z < 0.",
        "Write the exponential of both forms with |z|: for z ≤ 0, z = −|z|; for z > 0, −z = −|z|. The two forms "
        "then differ only in the term before the log: z for z > 0, nothing for z ≤ 0.",
        "That term is max(z, 0): L = max(z, 0) − z·y + log(1 + e^(−|z|)). In torch: torch.clamp(z, min=0), "
        "torch.abs and torch.log1p(torch.exp(...)).",
    ),
    mistakes=(
        Mistake("through-probabilities", _through_probabilities,
                "Your loss goes through p = σ(z) and then log(p) and log(1 − p). For z above about 37, p rounds "
                "to exactly 1.0 even in float64 (above about 16.6 in float32), so log(1 − p) = log(0): the loss "
                "is inf for y = 0 and 0·(−inf) = NaN for y = 1. Never form p: work from z itself, as section 4 "
                "does.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("clamped-p", _clamped_p,
                "You clamped p to [1e-8, 1 − 1e-8], as section 1's binary_cross_entropy_loss does. That caps "
                "the loss at "
                "−log(1e-8) ≈ 18.42, so a confidently wrong prediction at |z| = 30 costs 18.42 instead of about "
                "30, and the clamp's gradient there is 0: training stops learning from its worst mistakes. "
                "(In float32 the clamp does not even work: 1 − 1e-8 rounds to 1.0.) Work from z instead.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("clamped-p-float32", lambda z, y: _clamped_p(z.float(), y.float()),
                "This is section 1's clamped loss computed in float32, where 1 − 1e-8 rounds to 1.0: the clamp "
                "does not protect log(1 − p). From z ≈ 16.6 on, σ(z) is exactly 1.0 in float32, so the loss is inf "
                "(y = 0) or NaN (y = 1). Work from z, in the dtype you were given.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("through-probabilities-float32", lambda z, y: _through_probabilities(z.float(), y.float()),
                "Your loss goes through p = σ(z) in float32: from z ≈ 16.6 on, p is exactly 1.0 and log(1 − p) "
                "= log(0), so the loss is inf (y = 0) or NaN (y = 1). Never form p: work from z itself, in the "
                "dtype you were given.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("bce-on-probabilities", lambda z, y: F.binary_cross_entropy(torch.sigmoid(z), y),
                "F.binary_cross_entropy on σ(z) clamps each log at −100, so where p rounds to 0 or 1 the loss "
                "becomes 100 instead of about |z|. Work from z itself (this is what "
                "F.binary_cross_entropy_with_logits does).",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("softplus-overflow", _softplus_overflow,
                "Your loss is section 4's log(1 + e^z) − z·y for every z: right as mathematics, and safe for z ≤ 0, "
                "but e^z overflows for large positive z. In float32, the precision models train in, e^z is inf from "
                "z ≈ 88.7 on (in float64 from z ≈ 709.8), so your loss is inf where the true loss is about z. For "
                "z > 0 the exponential must see −z instead, as in section 4's second form.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("positive-form-everywhere", _positive_form_everywhere,
                "Your loss is section 4's z + log(1 + e^(−z)) − z·y for every z: right as mathematics, and safe for "
                "z ≥ 0, but for large negative z, e^(−z) overflows (in float32 from z ≈ −88.7, in float64 from "
                "z ≈ −709.8), so your loss is inf where the true loss is finite. That form was made for z > 0; for "
                "z ≤ 0 the exponential must see z itself.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("forms-swapped", _forms_swapped,
                "You used each of section 4's two forms where the other one belongs: log(1 + e^z) for z > 0, "
                "where e^z overflows, and z + log(1 + e^(−z)) for z ≤ 0, where e^(−z) does. In float32 your loss is "
                "inf from |z| ≈ 88.7 on. The exponential must only ever see a number ≤ 0.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("exp-overflow", _exp_both_ways,
                "Your loss is y·log(1 + e^(−z)) + (1 − y)·log(1 + e^z), section 4's first step, which is also what "
                "−[y·log σ(z) + (1 − y)·log σ(−z)] computes when log and σ are taken one after the other: right as "
                "mathematics, but for large |z| one exponential overflows (from |z| ≈ 88.7 in float32, the "
                "precision models train in), or σ underflows to 0 and its log is −inf, and the loss is inf, or "
                "0·inf = NaN, where the true loss is finite. Go on to section 4's single exponential, "
                "log(1 + e^z) − z·y, and keep its argument ≤ 0.",
                agrees_at_lesson_points=NUMERICAL),
        Mistake("abs-missing", lambda z, y: torch.clamp(z, min=0) - z * y + torch.log1p(torch.exp(-z)),
                "For z < 0 your loss is too large by |z| (and inf once e^(−z) overflows): there e^(−z) is huge and "
                "log(1 + e^(−z)) is about −z = |z|. The exponential must see −|z|, which for z < 0 is z itself, "
                "not −z."),
        Mistake("max-missing", lambda z, y: -z * y + torch.log1p(torch.exp(-torch.abs(z))),
                "For z > 0 your loss is too small by z: section 4's form for z > 0, z + log(1 + e^(−z)), begins "
                "with a z, which the form for z ≤ 0 does not have: one formula for every z needs that term for "
                "z > 0 only.",
                agrees_at_lesson_points="z < 0 at the lesson's point, where max(z, 0) is 0: the slip shows for z > 0"),
        Mistake("labels-swapped", lambda z, y: _stable_bce(z, 1 - y),
                "Your loss is the loss of the opposite label: it is small when the prediction is wrong. For y = 1 "
                "the loss is −log σ(z), small for large z; for y = 0 it is −log(1 − σ(z)) = −log σ(−z), small for "
                "very negative z. Check which term goes with which label."),
        Mistake("label-term-missing", lambda z, y: _stable_bce(z, torch.zeros_like(y)),
                "Your loss does not depend on the label: it is the loss for y = 0 at every point, so it is right "
                "only there. The term −z·y is what the label y = 1 changes."),
        Mistake("sign-flipped", lambda z, y: -_stable_bce(z, y),
                "Your loss is negative: binary cross-entropy is −[y·log p + (1 − y)·log(1 − p)], with a minus "
                "sign in front, so that it is ≥ 0 and small when the prediction is right."),
    ),
)


# -- Exercise 4: the vectorized gradient -------------------------------------------------
def _grad_vectorized(X, y, w, b):
    N = X.shape[0]
    p = torch.sigmoid(X @ w + b)  # (N,)
    error = p - y  # (N,)
    dW = X.T @ error / N  # (d,)
    db = error.mean()  # ()
    return dW, db


N_FEATURES = 3


def _sample_dataset(generator):
    """A seeded dataset: N in [4, 30] examples, 3 features; some weights large enough to saturate."""
    N = int(torch.randint(4, 31, (), generator=generator))
    X = torch.randn(N, N_FEATURES, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 2, (N,), generator=generator).to(torch.float64)
    scale = _uniform(generator, 0.3, 12.0)
    w = scale * torch.randn(N_FEATURES, generator=generator, dtype=torch.float64)
    b = torch.randn((), generator=generator, dtype=torch.float64)
    return X, y, w, b


def _vector_mistake(error_fn, reduce="mean"):
    def answer(X, y, w, b):
        z = X @ w + b
        error = error_fn(z, y)
        if reduce == "sum":
            return X.T @ error, error.sum()
        return X.T @ error / X.shape[0], error.mean()

    return answer


def _bias_missing(X, y, w, b):
    error = torch.sigmoid(X @ w) - y
    return X.T @ error / X.shape[0], error.mean()


def _divided_by_d(X, y, w, b):
    error = torch.sigmoid(X @ w + b) - y
    return X.T @ error / X.shape[1], error.mean()


def _db_summed(X, y, w, b):
    error = torch.sigmoid(X @ w + b) - y
    return X.T @ error / X.shape[0], error.sum()


def _broadcast_answer(X, y, w, b):
    """The gradient of the (N, N) loss made by p of shape (N, 1) against y of shape (N,)."""
    N = X.shape[0]
    p = torch.sigmoid(X @ w + b)
    return X.T @ (p - y.mean()) / N, (p - y).mean()


grad_vectorized = Exercise(
    id="lesson04.grad_vectorized",
    title="Vectorized gradient of logistic regression: dW = Xᵀ(p − y)/N, db = mean(p − y)",
    signature="grad_vectorized(X, y, w, b) -> (dW, db)",
    function=lambda X, y, w, b: F.binary_cross_entropy_with_logits(X @ w + b, y),
    inputs=("X", "y", "w", "b"),
    wrt=("w", "b"),
    outputs=("dL/dw", "dL/db"),
    sampler=_sample_dataset,
    pass_as="tensor",
    precisions=(torch.float64, torch.float32),  # saturated sigmoids, in float32 too: the precision models train in
    batched=False,
    solution_fn=_grad_vectorized,
    hints=(
        "Shapes: X is (N, d), y is (N,), w is (d,), b is a 0-dim tensor. z = X @ w + b and p = σ(z) are (N,).",
        "The loss is the mean of the N per-example losses, so its gradient is the mean of theirs: "
        "example i contributes (pᵢ − yᵢ)·xᵢ to dL/dw and pᵢ − yᵢ to dL/db.",
        "Summing (pᵢ − yᵢ)·xᵢ over i is a matrix product: Xᵀ(p − y), of shape (d,). Divide by N. "
        "(X @ (p - y) fails: X is (N, d) and needs a vector of shape (d,); X.T is (d, N).)",
        "dW = X.T @ (torch.sigmoid(X @ w + b) - y) / X.shape[0] and db = (torch.sigmoid(X @ w + b) - y).mean()",
    ),
    mistakes=(
        Mistake("sum-instead-of-mean", _vector_mistake(lambda z, y: torch.sigmoid(z) - y, reduce="sum"),
                "Your gradient is N times too large: the loss is the MEAN of the per-example losses, so divide "
                "Xᵀ(p − y) and the sum of p − y by N (this is the gradient of the summed loss)."),
        Mistake("sign-flipped", _vector_mistake(lambda z, y: y - torch.sigmoid(z)),
                "Wrong sign: the error term is p − y, not y − p. A step along your gradient would climb the loss."),
        BROADCAST_COLUMN.mistake(
            _broadcast_answer,
            before="This is the gradient of a loss whose predictions had shape (N, 1) and labels shape (N,).",
            after="Here that gives dW = Xᵀ(p − mean(y))/N; dL/db survives the mix-up, since the bias meets every "
                  "label alike."),
        Mistake("divided-by-d", _divided_by_d,
                "dL/db is right, but dL/dw is divided by d, the number of features (X.shape[1]), where the loss "
                "averages over N, the number of examples: X has shape (N, d)."),
        Mistake("db-summed", _db_summed,
                "dL/dw is right, but dL/db is N times too large: it is the sum of the N errors pᵢ − yᵢ, while the "
                "loss is their MEAN, so its gradient is the mean too (as you did for dL/dw)."),
        BIAS_MISSING.mistake(_bias_missing, after="Here z = Xw + b, for dL/dw as well as for dL/db."),
        LOGIT_FOR_PREDICTION.mistake(_vector_mistake(lambda z, y: z - y), after="(Here Xᵀ(z − y)/N.)"),
        SIGMOID_DERIVATIVE_PLUS.mistake(
            _vector_mistake(lambda z, y: (torch.sigmoid(z) - y) / (torch.sigmoid(z) * (1 - torch.sigmoid(z)))
                            * torch.sigmoid(z) * (1 + torch.sigmoid(z))),
            before="You went through dL/dp · dp/dz, but with the wrong dp/dz."),
        Mistake("sigmoid-derivative-extra",
                _vector_mistake(lambda z, y: (torch.sigmoid(z) - y) * torch.sigmoid(z) * (1 - torch.sigmoid(z))),
                "You multiplied p − y by the sigmoid's derivative p(1 − p): for cross-entropy p − y is already "
                "dL/dz, the p(1 − p) having cancelled. The extra factor vanishes where predictions saturate."),
    ),
)
