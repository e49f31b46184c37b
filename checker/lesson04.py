"""Lesson 04, logistic regression: the gradient of binary cross-entropy, by hand and stably.

Every reference is computed from the logit z with F.binary_cross_entropy_with_logits in
float64, which is finite and accurate for any z: the sampled points go well into the
saturated region (|z| up to 40) where p = σ(z) rounds to exactly 0 or 1.
"""
import math

import torch
import torch.nn.functional as F

from .exercise import Exercise, Mistake


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


# -- Exercise 1: the seed's example, dL/dw and dL/db for one example -------------------
def _scalar_grads(x, y, w, b):
    z = w * x + b
    p = 1 / (1 + math.exp(-z))
    dL_dz = p - y
    return dL_dz * x, dL_dz


def _sample_scalar(generator):
    # |z| = |w·x + b| <= 14: the derivation is tested here; saturation is exercises 2 and 4.
    x = _uniform(generator, -4.0, 4.0)
    y = _label(generator)
    w = _uniform(generator, -3.0, 3.0)
    b = _uniform(generator, -2.0, 2.0)
    return x, y, w, b


def _scalar_mistake(dz_fn, dw_uses_x=True, db_uses_x=False):
    def answer(x, y, w, b):
        d = dz_fn(w * x + b, y)
        return (d * x if dw_uses_x else d), (d * x if db_uses_x else d)

    return answer


scalar_grads = Exercise(
    id="lesson04.scalar_grads",
    title="dL/dw and dL/db for one example (the seed's logistic regression)",
    signature="scalar_grads(x, y, w, b) -> (dw, db)",
    function=lambda x, y, w, b: _bce_logits(w * x + b, y),
    inputs=("x", "y", "w", "b"),
    wrt=("w", "b"),
    outputs=("dL/dw", "dL/db"),
    points=((6.7, 0.0, 1.0, 0.0),),
    sampler=_sample_scalar,
    solution_fn=_scalar_grads,
    hints=(
        "Forward: z = w·x + b, p = σ(z) = 1 / (1 + e^(−z)), L = −[y·log p + (1 − y)·log(1 − p)].",
        "Chain rule: dL/dw = dL/dp · dp/dz · dz/dw, with dL/dp = (p − y) / (p(1 − p)) and dp/dz = p(1 − p).",
        "The p(1 − p) cancels: dL/dz = p − y. Then dz/dw = x and dz/db = 1.",
        "return (p - y) * x, (p - y)   # with p = 1 / (1 + math.exp(-(w * x + b)))",
    ),
    mistakes=(
        Mistake("sign-flipped", _scalar_mistake(lambda z, y: y - _sigmoid(z)),
                "Wrong sign: dL/dz = p − y, not y − p. The loss must grow when p moves away from y, so "
                "for y = 0 its slope in z is positive. (Gradient descent with y − p would climb the loss.)"),
        Mistake("sigmoid-derivative-missing",
                _scalar_mistake(lambda z, y: (_sigmoid(z) - y) / (_sigmoid(z) * (1 - _sigmoid(z)))),
                "You stopped at dL/dp = (p − y) / (p(1 − p)): the chain rule still needs the sigmoid's "
                "derivative dp/dz = p(1 − p). Multiplied together they cancel to dL/dz = p − y."),
        Mistake("sigmoid-derivative-twice",
                _scalar_mistake(lambda z, y: (_sigmoid(z) - y) * _sigmoid(z) * (1 - _sigmoid(z))),
                "You multiplied p − y by the sigmoid's derivative p(1 − p), but p − y is already dL/dz: "
                "the p(1 − p) of dp/dz was used up cancelling the denominator of dL/dp = (p − y) / (p(1 − p))."),
        Mistake("sigmoid-applied-twice", _scalar_mistake(lambda z, y: _sigmoid(_sigmoid(z)) - y),
                "You applied the sigmoid twice: p = σ(z) is already the prediction, and dL/dz = σ(z) − y. "
                "Using σ(p) instead of p is a common slip when the forward pass is copied into the backward one."),
        Mistake("x-dropped", _scalar_mistake(lambda z, y: _sigmoid(z) - y, dw_uses_x=False),
                "dL/db is right but dL/dw has lost its last chain-rule factor: dz/dw = x, so dL/dw = (p − y)·x."),
        Mistake("x-in-bias", _scalar_mistake(lambda z, y: _sigmoid(z) - y, db_uses_x=True),
                "dL/dw is right, but dL/db is not (p − y)·x: in z = w·x + b the bias is not multiplied by x, "
                "so dz/db = 1 and dL/db = p − y."),
        Mistake("swapped", _scalar_mistake(lambda z, y: _sigmoid(z) - y, dw_uses_x=False, db_uses_x=True),
                "You returned the two partials swapped: the answer is (dL/dw, dL/db) = ((p − y)·x, p − y)."),
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
    title="The simplified gradient dL/dz of binary cross-entropy",
    signature="dL_dz(z, y) -> float",
    function=_bce_logits,
    inputs=("z", "y"),
    wrt=("z",),
    outputs=("dL/dz",),
    points=((6.7, 0.0), (20.0, 0.0), (-30.0, 1.0), (40.0, 1.0)),
    sampler=_sample_logit,
    solution_fn=_dL_dz,
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
        Mistake("label-dropped", lambda z, y: _sigmoid(z),
                "Your answer is p = σ(z), which is right only when y = 0: the gradient is p − y, the prediction "
                "minus the label."),
    ),
)


# -- Exercise 3: the loss itself, stable from the logit ----------------------------------
def _stable_bce(z, y):
    # max(z, 0) - z*y + log(1 + exp(-|z|)): exp never sees a large positive argument.
    return torch.clamp(z, min=0) - z * y + torch.log1p(torch.exp(-torch.abs(z)))


def _through_probabilities(z, y):
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def _seed_clamp(z, y):
    eps = 1e-8
    p = torch.clamp(torch.sigmoid(z), eps, 1 - eps)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def _reference_loss(z, y):
    """What the checker compares with: torch's own stable loss, in float64."""
    z, y = (torch.as_tensor(v, dtype=torch.float64) for v in (z, y))
    return F.binary_cross_entropy_with_logits(z, y)


stable_bce = Exercise(
    id="lesson04.stable_bce",
    title="Binary cross-entropy computed stably from the logit z",
    signature="stable_bce(z, y) -> loss",
    reference=_reference_loss,
    compared_with="F.binary_cross_entropy_with_logits (in float64)",
    quantity="the loss",
    inputs=("z", "y"),
    outputs=("loss",),
    points=((6.7, 0.0), (20.0, 0.0), (40.0, 0.0), (-40.0, 1.0), (40.0, 1.0)),
    sampler=_sample_logit,
    n_samples=40,
    pass_as="tensor",
    batched=False,
    solution_fn=_stable_bce,
    hints=(
        "Never form p = σ(z) and take log(p) or log(1 − p): for large |z| one of them is log(0).",
        "log σ(z) = −log(1 + e^(−z)) and log(1 − σ(z)) = log σ(−z) = −log(1 + e^z). F.logsigmoid computes "
        "log σ stably.",
        "Put together: L = max(z, 0) − z·y + log(1 + e^(−|z|)). Use torch.clamp(z, min=0), torch.abs and "
        "torch.log1p(torch.exp(...)).",
    ),
    mistakes=(
        Mistake("through-probabilities", _through_probabilities,
                "Your loss goes through p = σ(z) and then log(p) and log(1 − p). For z above about 37, p rounds "
                "to exactly 1.0 even in float64 (above about 16.6 in float32), so log(1 − p) = log(0): the loss "
                "is inf for y = 0 and 0·(−inf) = NaN for y = 1. Work from z: log σ(z) = F.logsigmoid(z), or "
                "L = max(z, 0) − z·y + log(1 + e^(−|z|))."),
        Mistake("seed-clamp", _seed_clamp,
                "You clamped p to [1e-8, 1 − 1e-8], as the seed notebook does. That caps the loss at "
                "−log(1e-8) ≈ 18.42, so a confidently wrong prediction at |z| = 30 costs 18.42 instead of about "
                "30, and the clamp's gradient there is 0: training stops learning from its worst mistakes. "
                "(In float32 the clamp does not even work: 1 − 1e-8 rounds to 1.0.) Work from z instead."),
        Mistake("seed-clamp-float32", lambda z, y: _seed_clamp(z.float(), y.float()),
                "This is the seed notebook's loss computed in float32, where 1 − 1e-8 rounds to 1.0: the clamp "
                "does not protect log(1 − p). From z ≈ 16.6 on, σ(z) is exactly 1.0 in float32, so the loss is inf "
                "(y = 0) or NaN (y = 1). Work from z, in the dtype you were given."),
        Mistake("through-probabilities-float32", lambda z, y: _through_probabilities(z.float(), y.float()),
                "Your loss goes through p = σ(z) in float32: from z ≈ 16.6 on, p is exactly 1.0 and log(1 − p) "
                "= log(0), so the loss is inf (y = 0) or NaN (y = 1). Work from z itself: log σ(z) = "
                "F.logsigmoid(z), or L = max(z, 0) − z·y + log(1 + e^(−|z|))."),
        Mistake("bce-on-probabilities", lambda z, y: F.binary_cross_entropy(torch.sigmoid(z), y),
                "F.binary_cross_entropy on σ(z) clamps each log at −100, so where p rounds to 0 or 1 the loss "
                "becomes 100 instead of about |z|. Work from z itself (this is what "
                "F.binary_cross_entropy_with_logits does)."),
        Mistake("abs-missing", lambda z, y: torch.clamp(z, min=0) - z * y + torch.log1p(torch.exp(-z)),
                "For z < 0 your loss is too large by |z|: the last term is log(1 + e^(−|z|)), with the absolute "
                "value. max(z, 0) already accounts for the rest."),
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
    batched=False,
    solution_fn=_grad_vectorized,
    hints=(
        "Shapes: X is (N, d), y is (N,), w is (d,), b is a 0-dim tensor. z = X @ w + b and p = σ(z) are (N,).",
        "The loss is the mean of the N per-example losses, so its gradient is the mean of theirs: "
        "example i contributes (pᵢ − yᵢ)·xᵢ to dL/dw and pᵢ − yᵢ to dL/db.",
        "Summing (pᵢ − yᵢ)·xᵢ over i is a matrix product: Xᵀ(p − y), of shape (d,). Divide by N.",
    ),
    mistakes=(
        Mistake("sum-instead-of-mean", _vector_mistake(lambda z, y: torch.sigmoid(z) - y, reduce="sum"),
                "Your gradient is N times too large: the loss is the MEAN of the per-example losses, so divide "
                "Xᵀ(p − y) and the sum of p − y by N (this is the gradient of the summed loss)."),
        Mistake("sign-flipped", _vector_mistake(lambda z, y: y - torch.sigmoid(z)),
                "Wrong sign: the error term is p − y, not y − p. A step along your gradient would climb the loss."),
        Mistake("broadcast-nn", _broadcast_answer,
                "This is the gradient of a loss whose predictions had shape (N, 1) and labels shape (N,): "
                "broadcasting compared every prediction with every label in an (N, N) table, so each pᵢ met "
                "the average label instead of its own: dW = Xᵀ(p − mean(y))/N. (Your dL/db is right only by "
                "coincidence.) Give p and y the same shape, e.g. with .squeeze(1), and assert the shapes."),
        Mistake("sigmoid-missing", _vector_mistake(lambda z, y: z - y),
                "You used z = Xw + b where the prediction p = σ(z) belongs: Xᵀ(z − y)/N is the gradient of "
                "linear regression's squared error. For cross-entropy the error term is σ(z) − y."),
        Mistake("sigmoid-derivative-extra",
                _vector_mistake(lambda z, y: (torch.sigmoid(z) - y) * torch.sigmoid(z) * (1 - torch.sigmoid(z))),
                "You multiplied p − y by the sigmoid's derivative p(1 − p): for cross-entropy p − y is already "
                "dL/dz, the p(1 − p) having cancelled. The extra factor vanishes where predictions saturate."),
    ),
)
