"""Lesson 05, backpropagation through a small neural network, by hand.

Exercises 1 and 2 (softmax and cross-entropy) give the answer float32 logits, as a network computes them, and
some of the sampled data sets have logits far beyond where exp overflows in float32 (88.72) or underflows to 0
(below about -103.97), a few even beyond float64's overflow (709.78): there, stability is the point. The
reference is torch's own log_softmax / cross_entropy in float64, at exactly the same (float32) values.

Exercises 3 to 5 give float64 tensors of sampled shapes: N examples, d features, H hidden units, C classes,
m outputs of a linear layer. Class labels are int64 tensors.
"""
import math

import torch
import torch.nn.functional as F

from ..engine.exercise import Exercise, Mistake, Tolerance
from .families import CE_TEMPERATURE, LEAKY_RELU_SIGMOID

F64 = torch.float64


def _int(generator, low: int, high: int) -> int:
    """An integer from low to high, both included."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def _uniform(generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=F64))


def _as64(t) -> torch.Tensor:
    return torch.as_tensor(t).detach().to(device="cpu", dtype=F64)


# -- Exercises 1 and 2: softmax and cross-entropy, stable in float32 -------------------------------
# Six kinds of logits, one drawn per data set (tests/test_lesson05.py checks that each occurs).
LOGIT_KINDS = ("moderate", "shifted up", "shifted down", "spread", "rows apart", "beyond float64")


def _sample_logits(generator):
    """(Z, y): float32 logits of shape (N, C) and int64 labels of shape (N,)."""
    N, C = _int(generator, 2, 10), _int(generator, 2, 6)
    kind = LOGIT_KINDS[_int(generator, 0, len(LOGIT_KINDS) - 1)]
    Z = 3 * torch.randn(N, C, generator=generator, dtype=torch.float32)
    if kind == "shifted up":  # every exp(z) overflows to inf in float32 (z > 88.72)
        Z = Z + _uniform(generator, 95.0, 130.0)
    elif kind == "shifted down":  # every exp(z) underflows to 0 in float32 (z < -103.97)
        Z = Z - _uniform(generator, 115.0, 160.0)
    elif kind == "spread":  # logits hundreds apart within a row
        Z = 40 * Z
    elif kind == "rows apart":  # each row at its own level, hundreds apart from the others
        Z = Z + 100 * torch.randn(N, 1, generator=generator, dtype=torch.float32)
    elif kind == "beyond float64":  # exp overflows even in float64 (z > 709.78)
        Z = Z + math.copysign(_uniform(generator, 720.0, 900.0), _uniform(generator, -1.0, 1.0))
    y = torch.randint(0, C, (N,), generator=generator)
    return Z, y


def _sample_logits_only(generator):
    return _sample_logits(generator)[:1]


def _log_softmax(Z):
    m = Z.max(dim=1, keepdim=True).values  # each row's largest logit
    shifted = Z - m  # <= 0, so exp(shifted) is in (0, 1]: no overflow, and the row's sum is >= 1
    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))


def _reference_log_softmax(Z):
    """What the checker compares with: torch's own log-softmax, in float64."""
    return F.log_softmax(_as64(Z), dim=1)


def _log_softmax_shift(Z, m, dim=1):
    """(Z - m) - log Σ exp(Z - m), the sum over `dim`: right only when m is constant along that dim."""
    return (Z - m) - torch.log(torch.exp(Z - m).sum(dim=dim, keepdim=True))


log_softmax = Exercise(
    id="lesson05.log_softmax",
    title="Log-softmax, stable in float32",
    signature="log_softmax(Z) -> tensor of shape (N, C)",
    reference=_reference_log_softmax,
    compared_with="torch.log_softmax (in float64)",
    quantity="the log-probabilities",
    inputs=("Z",),
    outputs=("log_softmax(Z)",),
    sampler=_sample_logits_only,
    pass_as="tensor",
    dtype="float32",
    batched=False,
    # float32 logits near 900 are 6e-5 apart: z − logsumexp(z), stable but rounding once more than torch's
    # (z − m) − log Σ exp(z − m), is up to ~3e-5 off there, and must pass.
    tolerance=Tolerance(rtol=1e-4, atol=5e-4),
    solution_fn=_log_softmax,
    hints=(
        "Row by row: log softmax(z)_k = z_k − log Σ_j exp(z_j). Written like that, exp(z_j) overflows to inf "
        "in float32 as soon as a logit is above 88.72, and underflows to 0 below about −104.",
        "Subtracting the same number m from every logit of a row changes nothing: "
        "log softmax(z) = (z − m) − log Σ_j exp(z_j − m). Choose m so that no exp can overflow.",
        "With m = the row's max (Z.max(dim=1, keepdim=True).values), every z_j − m is ≤ 0, so each exp is at "
        "most 1, and the largest is exactly 1: the sum is between 1 and C, and its log is never log(0).",
    ),
    mistakes=(
        Mistake("max-not-subtracted-in-result", lambda Z: Z - torch.log(
                    torch.exp(Z - Z.max(dim=1, keepdim=True).values).sum(dim=1, keepdim=True)),
                "Each row of yours is too large by that row's max m: you shifted the logits inside the exp but not "
                "in front of it. log Σ exp(z_j) = m + log Σ exp(z_j − m), so log softmax(z) = (z − m) − "
                "log Σ exp(z_j − m): the m comes off the first term too."),
        Mistake("max-over-batch", lambda Z: _log_softmax_shift(Z, Z.max(dim=0, keepdim=True).values),
                "You took the max over the batch (dim 0), one per class. Subtracting a constant leaves a row's "
                "softmax unchanged only if it is the same constant for every class of that row: take each row's "
                "max, over the classes (dim 1)."),
        Mistake("normalised-over-batch", lambda Z: F.log_softmax(Z, dim=0),
                "You normalised over the batch (dim 0): your probabilities sum to 1 down each column, over the "
                "examples. Each example (a row) has its own distribution over the C classes, so the max, the "
                "exp-sum and its log all run over dim 1."),
        Mistake("unstable", lambda Z: torch.log(torch.exp(Z) / torch.exp(Z).sum(dim=1, keepdim=True)),
                "Your log-softmax is NaN or ±inf for large logits: in float32, exp(z) is inf for z above 88.72 "
                "(and inf / inf is NaN), and exp(z) is 0 for z below about −104 (and 0 / 0 is NaN). Subtract "
                "each row's max from its logits first: that leaves the softmax unchanged (section 1)."),
        Mistake("unstable-logsumexp", lambda Z: Z - torch.log(torch.exp(Z).sum(dim=1, keepdim=True)),
                "Your log-softmax is ±inf for large logits: log Σ exp(z_j) is computed from exp(z_j), which in "
                "float32 is inf above 88.72 and 0 below about −104, so its log is +inf or −inf. Take the row's "
                "max m out of the sum first: log Σ exp(z_j) = m + log Σ exp(z_j − m)."),
        Mistake("max-outside-exp", lambda Z: (Z - Z.max(dim=1, keepdim=True).values) - torch.log(
                    torch.exp(Z).sum(dim=1, keepdim=True)),
                "You subtracted the row's max m in front, but the exponentials inside the sum still see the raw "
                "logits: your result is the log-softmax minus m where it is finite, and ±inf where exp(z) "
                "overflows or underflows. Subtract m inside the exp too: log softmax(z) = (z − m) − "
                "log Σ exp(z_j − m)."),
        Mistake("log-of-softmax", lambda Z: torch.log(torch.softmax(Z, dim=1)),
                "You took the log of a softmax. The softmax itself is computed stably, but a probability below "
                "about 1e-45 rounds to 0 in float32, and log(0) = −inf, while the log-probability is a "
                "perfectly ordinary number (−150, say). Compute the log-softmax directly from the shifted "
                "logits, without ever forming the probabilities."),
        Mistake("global-max", lambda Z: _log_softmax_shift(Z, Z.max()),
                "You subtracted one max for the whole batch. On paper that is allowed (it is the same constant "
                "for every class of a row), but a row whose logits all lie more than about 104 below the "
                "batch's max has every exp(z − m) = 0 in float32: log(0) = −inf. Use each row's own max."),
    ),
)


def _ce_grad(Z, y):
    N, C = Z.shape
    P = torch.exp(Z - Z.max(dim=1, keepdim=True).values)  # stable softmax, row by row
    P = P / P.sum(dim=1, keepdim=True)
    onehot = torch.zeros_like(Z)
    onehot[torch.arange(N), y] = 1.0  # row i has its 1 in column y[i]
    return (P - onehot) / N  # the loss is a mean over the N rows


def _onehot(Z, y):
    return F.one_hot(y, Z.shape[1]).to(Z.dtype)


def _stable_softmax(Z, dim=1):
    P = torch.exp(Z - Z.max(dim=dim, keepdim=True).values)
    return P / P.sum(dim=dim, keepdim=True)


def _onehot_columns(Z, y):
    """The indexing slip: onehot[:, y] = 1 sets whole columns, every class that occurs in y, in every row."""
    onehot = torch.zeros_like(Z)
    onehot[:, y] = 1.0
    return (_stable_softmax(Z) - onehot) / Z.shape[0]


def _unstable_softmax(Z):
    return torch.exp(Z) / torch.exp(Z).sum(dim=1, keepdim=True)


ce_grad = Exercise(
    id="lesson05.ce_grad",
    variants=CE_TEMPERATURE,  # ex.ce_grad.practice(): checker.lessons.families
    title="The gradient of mean cross-entropy with respect to the logits",
    signature="ce_grad(Z, y) -> dZ, a tensor of shape (N, C)",
    function=lambda Z, y: F.cross_entropy(Z, y.long()),
    inputs=("Z", "y"),
    wrt=("Z",),
    outputs=("dZ",),
    quantity="the gradient",
    sampler=_sample_logits,
    pass_as="tensor",
    dtype="float32",
    batched=False,
    solution_fn=_ce_grad,
    hints=(
        "Z has shape (N, C): one row of C logits per example; y has shape (N,): the true class of each row, an "
        "integer from 0 to C − 1. The loss is L = (1/N) Σ_i −log softmax(z_i)[y_i].",
        "Section 1 derived it: for one row, ∂(−log p_y)/∂z_k = p_k − [k = y], with p = softmax(z). For the "
        "mean over N rows, every row's gradient is divided by N.",
        "So dZ = (softmax(Z) − onehot(y)) / N, with onehot(y) the (N, C) matrix with a single 1 per row, in "
        "column y_i. Compute the softmax stably (subtract each row's max) and build the one-hot with "
        "torch.arange(N) and y as row and column indices, or with F.one_hot(y, C): without C, F.one_hot guesses "
        "the number of classes from the largest label in y.",
    ),
    mistakes=(
        Mistake("sign-flipped", lambda Z, y: (_onehot(Z, y) - _stable_softmax(Z)) / Z.shape[0],
                "Wrong sign: the gradient is softmax(Z) − onehot(y), not onehot(y) − softmax(Z). Raising the true "
                "class's logit lowers the loss, so that entry of the gradient must be negative (p_y − 1 < 0)."),
        Mistake("mean-missing", lambda Z, y: _stable_softmax(Z) - _onehot(Z, y),
                "Your gradient is N times too large: it is the gradient of the SUM of the N losses. The loss is "
                "their mean, so each row's gradient is divided by N."),
        Mistake("onehot-columns", _onehot_columns,
                "Your one-hot matrix is wrong: it has a 1 in every column whose class occurs anywhere in y, in "
                "every row. That is what indexing with [:, y] does: it selects whole columns. Each row i needs a "
                "single 1, in column y[i]: index rows and columns together, with one row index per label."),
        Mistake("jacobian-diagonal", lambda Z, y: (_stable_softmax(Z) - 1) * _onehot(Z, y) / Z.shape[0],
                "Only the true class's logit gets a gradient in yours: you kept only the diagonal of the softmax's "
                "Jacobian, ∂p_y/∂z_y = p_y(1 − p_y). But every logit moves p_y: for k ≠ y, "
                "∂p_y/∂z_k = −p_y·p_k, and that gives the p_k in ∂L/∂z_k = p_k − [k = y] (section 1)."),
        Mistake("softmax-over-batch", lambda Z, y: (_stable_softmax(Z, dim=0) - _onehot(Z, y)) / Z.shape[0],
                "Your softmax runs over the batch (dim 0): its columns sum to 1, not its rows. Each example "
                "(a row) has its own probabilities over the C classes: the max, the exps' sum and the division "
                "all go along dim 1."),
        Mistake("unstable-softmax", lambda Z, y: (_unstable_softmax(Z) - _onehot(Z, y)) / Z.shape[0],
                "Your gradient is NaN for large logits: in float32, exp(z) is inf above 88.72, and inf / inf is "
                "NaN (and below about −104 every exp is 0, and 0 / 0 is NaN). Subtract each row's max before "
                "exp: it leaves the softmax unchanged and keeps every exp in (0, 1]."),
        Mistake("unstable-float64",
                lambda Z, y: (_unstable_softmax(Z.double()) - _onehot(Z.double(), y)) / Z.shape[0],
                "Computing in float64 only moves the overflow, from 88.72 to 709.78: your gradient is NaN for the "
                "data sets whose logits are beyond that (exp(z) = inf, inf / inf = NaN). Subtract each row's max "
                "before exp; then float32 is enough."),
    ),
)


# -- Exercise 3: the linear layer Y = X W + b, and the shape rule -----------------------------------
def _sample_linear(generator):
    """X (N, d), W (d, m), b (m,) and dY = ∂L/∂Y (N, m), float64, for a loss L of which we know only dY."""
    N, d, m = _int(generator, 2, 9), _int(generator, 1, 6), _int(generator, 1, 6)
    X = torch.randn(N, d, generator=generator, dtype=F64)
    W = torch.randn(d, m, generator=generator, dtype=F64)
    b = torch.randn(m, generator=generator, dtype=F64)
    dY = torch.randn(N, m, generator=generator, dtype=F64)
    return X, W, b, dY


def _linear_backward(X, W, b, dY):
    dX = dY @ W.T  # (N, m) @ (m, d) -> (N, d): the shape of X
    dW = X.T @ dY  # (d, N) @ (N, m) -> (d, m): the shape of W
    db = dY.sum(dim=0)  # b is added to every row: its gradient sums over the batch, (m,)
    return dX, dW, db


linear_backward = Exercise(
    id="lesson05.linear_backward",
    title="Backward through a linear layer Y = X W + b",
    signature="linear_backward(X, W, b, dY) -> (dX, dW, db)",
    # L = Σ Y ⊙ dY is a loss whose gradient with respect to Y is dY: autograd then gives dX, dW and db.
    function=lambda X, W, b, dY: ((X @ W + b) * dY).sum(),
    inputs=("X", "W", "b", "dY"),
    wrt=("X", "W", "b"),
    outputs=("dX", "dW", "db"),
    quantity="the gradient",
    sampler=_sample_linear,
    pass_as="tensor",
    batched=False,
    solution_fn=_linear_backward,
    hints=(
        "Shapes first: X is (N, d), W is (d, m), b is (m,), dY is (N, m). A gradient has the shape of its "
        "variable: dX is (N, d), dW is (d, m), db is (m,).",
        "Elementwise: Y_ij = Σ_k X_ik W_kj + b_j. So ∂L/∂W_kj = Σ_i dY_ij X_ik (a sum over the batch), "
        "∂L/∂X_ik = Σ_j dY_ij W_kj, and ∂L/∂b_j = Σ_i dY_ij.",
        "Each sum is a matrix product whose shape is forced: the only product of X and dY of shape (d, m) is "
        "Xᵀ dY; the only product of dY and W of shape (N, d) is dY Wᵀ; db sums dY over dim 0.",
    ),
    mistakes=(
        Mistake("divided-by-N", lambda X, W, b, dY: (dY @ W.T, X.T @ dY / X.shape[0], dY.mean(dim=0)),
                "dX is right, but dW and db are N times too small: you divided by N. If the loss is a mean over "
                "the batch, its 1/N is already inside dY (each row of dY carries it). A layer's backward only "
                "multiplies by its own local derivatives and sums over the batch: dW = Xᵀ dY, db = Σ_i dY_i."),
        Mistake("db-mean", lambda X, W, b, dY: (dY @ W.T, X.T @ dY, dY.mean(dim=0)),
                "dX and dW are right, but db is N times too small: you averaged dY over the batch. b was added to "
                "every one of the N rows, so its gradient is the SUM of their gradients (any 1/N of a mean loss "
                "is already inside dY)."),
        Mistake("dW-reshaped", lambda X, W, b, dY: (dY @ W.T, (dY.T @ X).reshape(W.shape), dY.sum(dim=0)),
                "Your dW has the right shape, (d, m), but its entries are scrambled: you computed dYᵀX, of shape "
                "(m, d), and reshaped it to (d, m). A reshape (or view) keeps the entries in memory order and "
                "only cuts the rows differently: it is not a transpose. The shape rule picks the product "
                "directly: (d, m) = (d, N) · (N, m), that is Xᵀ dY."),
        Mistake("dX-reshaped", lambda X, W, b, dY: ((W @ dY.T).reshape(X.shape), X.T @ dY, dY.sum(dim=0)),
                "Your dX has the right shape, (N, d), but its entries are scrambled: you computed W dYᵀ, of shape "
                "(d, N), and reshaped it to (N, d). A reshape is not a transpose. The shape rule picks the product "
                "directly: (N, d) = (N, m) · (m, d), that is dY Wᵀ."),
        Mistake("dW-transposed", lambda X, W, b, dY: (dY @ W.T, dY.T @ X, dY.sum(dim=0)),
                "Your dW has shape (m, d), W's shape turned around: you computed dYᵀ X, the transpose of the "
                "gradient. A gradient has the shape of its variable: dW must be (d, m), like W, and the only "
                "product of X (N, d) and dY (N, m) with that shape is Xᵀ dY."),
        Mistake("dX-transposed", lambda X, W, b, dY: (W @ dY.T, X.T @ dY, dY.sum(dim=0)),
                "Your dX has shape (d, N), X's shape turned around: you computed W dYᵀ, the transpose of the "
                "gradient. dX must have X's shape, (N, d), and the only product of dY (N, m) and W (d, m) with "
                "that shape is dY Wᵀ."),
        Mistake("db-not-summed", lambda X, W, b, dY: (dY @ W.T, X.T @ dY, dY),
                "Your db has shape (N, m), one row per example: you did not sum over the batch. b has shape (m,) "
                "and was added to every row of X W, so its gradient adds up the N rows of dY."),
        Mistake("db-summed-over-outputs", lambda X, W, b, dY: (dY @ W.T, X.T @ dY, dY.sum(dim=1)),
                "Your db has one entry per example: you summed dY over its outputs (dim 1). b has one entry per "
                "output, shape (m,), so sum over the batch instead, dim 0."),
    ),
)


# -- Exercise 4: ReLU and tanh, backward ------------------------------------------------------------
def _sample_activation(generator):
    """A (N, H) pre-activations, some exactly 0 (ReLU's kink), and dH (N, H), the gradient arriving from above."""
    N, H = _int(generator, 2, 8), _int(generator, 2, 8)
    A = 2.5 * torch.randn(N, H, generator=generator, dtype=F64)
    zeros = torch.rand(N, H, generator=generator, dtype=F64) < 0.2
    zeros[0, 0] = True  # at least one exact 0 in every data set
    A[zeros] = 0.0
    dH = torch.randn(N, H, generator=generator, dtype=F64)
    dH[0, 0] = 1.0 + dH[0, 0].abs()  # and a non-zero gradient arriving there
    return A, dH


def _activation_backward(A, dH):
    dA_relu = dH * (A > 0)  # ReLU passes the gradient where it was active (A > 0), blocks it elsewhere
    dA_tanh = dH * (1 - torch.tanh(A) ** 2)  # d tanh(a)/da = 1 − tanh(a)²
    return dA_relu, dA_tanh


def _activation_reference(A, dH):
    """Autograd's backward of torch.relu and torch.tanh, given dH, in float64."""
    A, dH = _as64(A).requires_grad_(), _as64(dH)
    # Σ relu(A) ⊙ dH is a loss whose gradient with respect to relu(A) is dH (a scalar: no grad_outputs needed)
    (d_relu,) = torch.autograd.grad((torch.relu(A) * dH).sum(), A)
    (d_tanh,) = torch.autograd.grad((torch.tanh(A) * dH).sum(), A)
    return d_relu, d_tanh


activation_backward = Exercise(
    id="lesson05.activation_backward",
    variants=LEAKY_RELU_SIGMOID,  # ex.activation_backward.practice(): checker.lessons.families
    title="Backward through ReLU and tanh",
    signature="activation_backward(A, dH) -> (dA_relu, dA_tanh)",
    reference=_activation_reference,
    compared_with="torch.autograd (backward of torch.relu and torch.tanh)",
    inputs=("A", "dH"),
    outputs=("dA_relu", "dA_tanh"),
    quantity="the gradient",
    sampler=_sample_activation,
    pass_as="tensor",
    batched=False,
    solution_fn=_activation_backward,
    hints=(
        "Both functions act elementwise, so each entry's gradient is dH times that entry's local derivative: "
        "dA = dH ⊙ f′(A).",
        "relu(a) = max(a, 0) has slope 1 for a > 0 and 0 for a < 0. At exactly a = 0 there is a kink; "
        "PyTorch uses slope 0 there (section 3).",
        "tanh′(a) = 1 − tanh(a)². Compute tanh(A) first, then square it.",
    ),
    mistakes=(
        Mistake("relu-mask-at-zero", lambda A, dH: (dH * (A >= 0), dH * (1 - torch.tanh(A) ** 2)),
                "dA_tanh is right, and so is dA_relu except where A is exactly 0: there ReLU has a kink, and "
                "PyTorch's convention is slope 0, so no gradient passes (a strict A > 0). Yours passes dH through "
                "at 0. It matters more than it seems: a unit whose input is exactly 0 (after a ReLU, say) must "
                "get the same gradient by hand as from autograd."),
        Mistake("relu-upstream-missing", lambda A, dH: ((A > 0).to(A.dtype), dH * (1 - torch.tanh(A) ** 2)),
                "dA_tanh is right, but your dA_relu is ReLU's local derivative alone, 0 or 1: the chain rule "
                "multiplies it by dH, the gradient arriving from above."),
        Mistake("relu-output-as-mask", lambda A, dH: (dH * torch.relu(A), dH * (1 - torch.tanh(A) ** 2)),
                "dA_tanh is right, but dA_relu multiplies dH by ReLU's output, relu(A), instead of its derivative. "
                "The slope of max(a, 0) is 1 wherever a > 0, whatever the size of a."),
        Mistake("tanh-not-squared", lambda A, dH: (dH * (A > 0), dH * (1 - torch.tanh(A))),
                "dA_relu is right, but your tanh derivative is 1 − tanh(a), not 1 − tanh(a)²: the square is "
                "missing."),
        Mistake("tanh-of-input", lambda A, dH: (dH * (A > 0), dH * (1 - A**2)),
                "dA_relu is right, but your tanh derivative is 1 − a², from the input a itself: the formula is "
                "1 − tanh(a)², with the tanh's output. (Yours even turns negative for |a| > 1, where tanh is "
                "still increasing.)"),
        Mistake("tanh-upstream-missing", lambda A, dH: (dH * (A > 0), 1 - torch.tanh(A) ** 2),
                "dA_relu is right, but your dA_tanh is tanh's local derivative alone: the chain rule multiplies "
                "1 − tanh(A)² by dH, the gradient arriving from above."),
    ),
)


# -- Exercise 5: the whole backward pass of a two-layer network, stage by stage -----------------------
STAGES = ("dlogits", "dW2", "db2", "dh", "dpre", "dW1", "db1", "dX")


def _sample_network(generator):
    """X (N, d), labels y (N,), and the parameters W1 (d, H), b1 (H,), W2 (H, C), b2 (C,): float64."""
    N, d = _int(generator, 2, 10), _int(generator, 1, 4)
    H, C = _int(generator, 2, 8), _int(generator, 2, 5)
    X = torch.randn(N, d, generator=generator, dtype=F64)
    y = torch.randint(0, C, (N,), generator=generator)
    W1 = 1.5 * torch.randn(d, H, generator=generator, dtype=F64) / math.sqrt(d)
    b1 = 0.8 * torch.randn(H, generator=generator, dtype=F64)  # some units below 0 for every example
    W2 = torch.randn(H, C, generator=generator, dtype=F64) / math.sqrt(H)
    b2 = 0.5 * torch.randn(C, generator=generator, dtype=F64)
    return X, y, W1, b1, W2, b2


def _backward_pass(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    # forward
    pre = X @ W1 + b1  # (N, H) pre-activation
    h = torch.relu(pre)  # (N, H) hidden layer
    logits = h @ W2 + b2  # (N, C)
    # backward, stage by stage
    P = torch.softmax(logits, dim=1)
    onehot = torch.zeros_like(logits)
    onehot[torch.arange(N), y] = 1.0
    dlogits = (P - onehot) / N  # mean cross-entropy (exercise 2)
    dW2 = h.T @ dlogits  # linear layer 2 (exercise 3): its input is h
    db2 = dlogits.sum(dim=0)
    dh = dlogits @ W2.T
    dpre = dh * (pre > 0)  # ReLU (exercise 4)
    dW1 = X.T @ dpre  # linear layer 1: its input is X
    db1 = dpre.sum(dim=0)
    dX = dpre @ W1.T
    return dlogits, dW2, db2, dh, dpre, dW1, db1, dX


def _backward_by_autograd(X, y, W1, b1, W2, b2):
    """The reference: autograd's gradient of every intermediate value (retain_grad) and every leaf, in float64."""
    X, W1, b1, W2, b2 = (_as64(t).requires_grad_() for t in (X, W1, b1, W2, b2))
    pre = X @ W1 + b1
    h = torch.relu(pre)
    logits = h @ W2 + b2
    for t in (pre, h, logits):
        t.retain_grad()  # keep the .grad of these non-leaf tensors
    F.cross_entropy(logits, y.long()).backward()
    return logits.grad, W2.grad, b2.grad, h.grad, pre.grad, W1.grad, b1.grad, X.grad


# Each stage computed from the values before it; a mistake replaces one stage, and the later stages are
# computed from it as a student's code would.
_STAGE_RULES = {
    "dlogits": lambda v: (torch.softmax(v["logits"], dim=1) - _onehot(v["logits"], v["y"])) / v["N"],
    "dW2": lambda v: v["h"].T @ v["dlogits"],
    "db2": lambda v: v["dlogits"].sum(dim=0),
    "dh": lambda v: v["dlogits"] @ v["W2"].T,
    "dpre": lambda v: v["dh"] * (v["pre"] > 0),
    "dW1": lambda v: v["X"].T @ v["dpre"],
    "db1": lambda v: v["dpre"].sum(dim=0),
    "dX": lambda v: v["dpre"] @ v["W1"].T,
}


def _backward_with(**wrong):
    def answer(X, y, W1, b1, W2, b2):
        v = {"X": X, "y": y, "W1": W1, "W2": W2, "N": X.shape[0]}
        v["pre"] = X @ W1 + b1
        v["h"] = torch.relu(v["pre"])
        v["logits"] = v["h"] @ W2 + b2
        for name, rule in _STAGE_RULES.items():
            v[name] = wrong.get(name, rule)(v)
        return tuple(v[name] for name in STAGES)

    return answer


backward_pass = Exercise(
    id="lesson05.backward_pass",
    title="The whole backward pass of a two-layer network, stage by stage",
    signature="backward_pass(X, y, W1, b1, W2, b2) -> (dlogits, dW2, db2, dh, dpre, dW1, db1, dX)",
    reference=_backward_by_autograd,
    compared_with="torch.autograd (the .grad of every stage, kept with retain_grad)",
    quantity="autograd's gradient",
    inputs=("X", "y", "W1", "b1", "W2", "b2"),
    outputs=STAGES,
    staged=True,
    sampler=_sample_network,
    pass_as="tensor",
    batched=False,
    solution_fn=_backward_pass,
    hints=(
        "Forward first: pre = X W1 + b1, h = relu(pre), logits = h W2 + b2, L = mean cross-entropy. Then go "
        "backwards through these lines, last first, one stage per line.",
        "Every stage is one of the earlier exercises: dlogits is exercise 2; (dh, dW2, db2) is exercise 3's "
        "linear layer with input h and dY = dlogits; dpre is exercise 4's ReLU with dH = dh; (dX, dW1, db1) "
        "is the linear layer again, with input X and dY = dpre.",
        "Check each shape against its variable as you go: dW2 (H, C), db2 (C,), dh and dpre (N, H), dW1 (d, H), "
        "db1 (H,), dX (N, d).",
    ),
    mistakes=(
        Mistake("dlogits-mean-missing", _backward_with(
                    dlogits=lambda v: torch.softmax(v["logits"], dim=1) - _onehot(v["logits"], v["y"])),
                "Your first stage, dlogits, is N times too large: the loss is the MEAN cross-entropy over the N "
                "examples, so dlogits = (softmax(logits) − onehot(y)) / N. (Every later stage inherits the "
                "factor: fix this one first.)"),
        Mistake("dlogits-sign", _backward_with(
                    dlogits=lambda v: (_onehot(v["logits"], v["y"]) - torch.softmax(v["logits"], dim=1)) / v["N"]),
                "Your first stage, dlogits, has the wrong sign: it is (softmax − onehot) / N. Raising the true "
                "class's logit lowers the loss, so that entry must be negative."),
        Mistake("dW2-uses-pre", _backward_with(dW2=lambda v: v["pre"].T @ v["dlogits"]),
                "Your dlogits is right, your dW2 is not: it uses pre, the value before the ReLU. The second layer "
                "multiplies W2 by its own input, h = relu(pre), so dW2 = hᵀ dlogits."),
        Mistake("db2-mean", _backward_with(db2=lambda v: v["dlogits"].mean(dim=0)),
                "Your dlogits and dW2 are right, your db2 is not: it is N times too small. The 1/N of the mean "
                "loss is already inside dlogits: b2 was added to every row, so db2 sums dlogits over the batch."),
        Mistake("dh-masked", _backward_with(dh=lambda v: (v["dlogits"] @ v["W2"].T) * (v["pre"] > 0)),
                "Your dlogits, dW2 and db2 are right, your dh is not: it has the ReLU mask applied already. dh is "
                "the gradient at h, the ReLU's output, above the ReLU: dh = dlogits W2ᵀ. The mask belongs to the "
                "next stage, dpre (where it then makes no difference to apply it twice)."),
        Mistake("dpre-no-relu-mask", _backward_with(dpre=lambda v: v["dh"]),
                "Your dh is right, your dpre is not: the ReLU mask is missing. Where pre ≤ 0 the ReLU's output "
                "is flat (0 whatever pre does), so no gradient passes: dpre = dh where pre > 0, and 0 elsewhere."),
        Mistake("dpre-times-h", _backward_with(dpre=lambda v: v["dh"] * v["h"]),
                "Your dh is right, your dpre is not: you multiplied dh by the ReLU's output h instead of its "
                "derivative. The slope of relu is 1 where pre > 0 (whatever the size of pre) and 0 elsewhere."),
        Mistake("dpre-mask-from-dh", _backward_with(dpre=lambda v: v["dh"] * (v["dh"] > 0)),
                "Your dh is right, your dpre is not: your mask comes from the sign of the gradient dh. The ReLU "
                "lets the gradient through where the unit was active in the forward pass, where pre > 0, "
                "whatever the gradient's sign."),
        Mistake("dW1-skips-relu", _backward_with(dW1=lambda v: v["X"].T @ v["dh"]),
                "Your stages up to dpre are right, your dW1 is not: it uses dh, the gradient above the ReLU. The "
                "first layer's output is pre, so dW1 = Xᵀ dpre, with the gradient that got through the ReLU."),
        Mistake("db1-mean", _backward_with(db1=lambda v: v["dpre"].mean(dim=0)),
                "Your stages up to dW1 are right, your db1 is not: it is N times too small. b1 was added to every "
                "row, so db1 sums dpre over the batch; the mean's 1/N is already inside dlogits and every stage "
                "after it."),
        Mistake("dX-skips-relu", _backward_with(dX=lambda v: v["dh"] @ v["W1"].T),
                "Your stages up to db1 are right, your dX is not: it uses dh, the gradient above the ReLU. X "
                "reaches the loss through pre = X W1 + b1, so dX = dpre W1ᵀ."),
    ),
)
