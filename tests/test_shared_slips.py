"""A slip named in one exercise is named wherever it can occur (checker/lessons/slips.py: declared once).

The table lists, for each exercise, which of the shared slips apply to it; each attached slip keeps the
shared explanation, and a real answer making the slip is named in every exercise of the table.
"""
import math

import pytest
import torch

import checker
from checker import lesson02, lesson03, lesson04
from checker.lessons import slips
from checker.lessons.catalog import all_exercises

SHARED = {value.id: value for value in vars(slips).values() if isinstance(value, slips.Slip)}

# exercise -> the shared slips that apply to it (every exercise of the course is listed)
TABLE = {
    "lesson01.dy_dx": set(),
    "lesson01.dz_dx": set(),
    "lesson01.dg_dx": set(),
    "lesson02.two_backward": set(),  # a value: accumulation is what it asks about, named by its own mistakes
    "lesson02.fix_leaf": {"accumulated-across-calls"},
    "lesson02.sum_grad": set(),
    "lesson02.vjp": {"accumulated-across-calls"},
    "lesson02.fix_zeroing": {"accumulated", "accumulated-across-calls"},
    "lesson03.df_dx": set(),
    "lesson03.two_neurons_grad": {"sigmoid-derivative-plus", "bias-missing"},
    "lesson03.fork_grad": set(),
    # the squared error: z − y there is linear regression's own error term, named by the exercise itself
    "lesson04.scalar_grads": {"bias-missing", "sigmoid-derivative-plus"},
    "lesson04.dL_dz": {"sigmoid-missing"},  # its input is z itself: no bias; σ′ cannot be finite where it saturates
    "lesson04.stable_bce": set(),
    "lesson04.grad_vectorized": {"bias-missing", "sigmoid-missing", "sigmoid-derivative-plus", "broadcast-nn"},
    "lesson05.log_softmax": set(),
    "lesson05.ce_grad": set(),
    "lesson05.linear_backward": set(),
    "lesson05.activation_backward": set(),
    "lesson05.backward_pass": set(),
    "lesson06.numerical_gradient": set(),
    "lesson06.numerical_jacobian": set(),
    "lesson06.bias_softplus": set(),
    "lesson06.d2z_dx2": set(),
    "lesson06.hvp": {"accumulated"},  # x.grad still holding ∇f when H·v is added
    "lesson06.engine": set(),  # its "grads-not-reset" is the engine's own .grad, named there
}


def test_the_table_lists_every_exercise():
    assert set(TABLE) == {ex.id for ex in all_exercises()}
    assert set().union(*TABLE.values()) == set(SHARED), "every shared slip is attached somewhere"


@pytest.mark.parametrize("ex", all_exercises(), ids=[ex.id for ex in all_exercises()])
def test_shared_slips_attached_with_their_shared_words(ex):
    attached = {m.id: m for m in ex.mistakes if m.id in SHARED}
    assert set(attached) == TABLE[ex.id]
    for slip_id, mistake in attached.items():
        assert SHARED[slip_id].message[1:] in mistake.message


def _sigma(z):
    return 1 / (1 + math.exp(-z))


def two_neurons_sigma_plus(x, w0, b0, w1, b1):
    h = _sigma(w0 * x + b0)
    f = _sigma(w1 * h + b1)
    d1 = f * (1 + f)
    d0 = d1 * w1 * h * (1 + h)
    return d0 * w0, d0 * x, d0, d1 * h, d1


def two_neurons_no_bias(x, w0, b0, w1, b1):
    h = _sigma(w0 * x)  # the first neuron's bias forgotten
    f = _sigma(w1 * h + b1)
    d0 = f * (1 - f) * w1 * h * (1 - h)
    return d0 * w0, d0 * x, d0, f * (1 - f) * h, f * (1 - f)


def scalar_sigma_plus(x, y, w, b):
    p = _sigma(w * x + b)
    dz = 2 * (p - y) * p * (1 + p)  # the squared error's dL/dp times a wrong dp/dz
    return dz * x, dz


def vectorized_sigma_plus(X, y, w, b):
    p = torch.sigmoid(X @ w + b)
    dz = (p - y) / (p * (1 - p)) * p * (1 + p)
    return X.T @ dz / X.shape[0], dz.mean()


def vectorized_column(X, y, w, b):
    p = torch.sigmoid(X @ w + b).unsqueeze(1)  # (N, 1), as nn.Linear(d, 1) returns it
    error = p - y  # (N, N)
    return X.T @ error.mean(dim=1) / X.shape[0], error.mean()


LEAF = torch.zeros((), dtype=torch.float64, requires_grad=True)


def fix_leaf_global(x):
    with torch.no_grad():
        LEAF.copy_(torch.tensor(x))
    g = LEAF * torch.sin(LEAF)
    g.backward()
    return LEAF.grad


def fix_zeroing_global(x):
    with torch.no_grad():
        LEAF.copy_(torch.tensor(x))
    z = torch.sin(LEAF**2)
    z.backward()
    return LEAF.grad


# (exercise, a student's answer making the slip, the slip)
REAL = [
    (lesson03.two_neurons_grad, two_neurons_sigma_plus, "sigmoid-derivative-plus"),
    (lesson03.two_neurons_grad, two_neurons_no_bias, "bias-missing"),
    (lesson04.scalar_grads, scalar_sigma_plus, "sigmoid-derivative-plus"),
    (lesson04.dL_dz, lambda z, y: z - y, "sigmoid-missing"),
    (lesson04.grad_vectorized, vectorized_sigma_plus, "sigmoid-derivative-plus"),
    (lesson04.grad_vectorized, vectorized_column, "broadcast-nn"),
    (lesson02.fix_leaf, fix_leaf_global, "accumulated-across-calls"),
    (lesson02.fix_zeroing, fix_zeroing_global, "accumulated-across-calls"),
]


@pytest.mark.parametrize("ex, answer, slip", REAL, ids=[f"{ex.id}:{s}" for ex, _, s in REAL])
def test_a_real_slip_is_named_in_every_exercise_where_it_can_occur(ex, answer, slip):
    LEAF.grad = None
    result = checker.grade(ex, answer)
    assert result.status == "incorrect" and result.mistake == slip, result.message
    assert SHARED[slip].message[1:] in result.message
