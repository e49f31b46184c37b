"""Lesson 04 (logistic regression): the numbers the lesson shows, the checker's verdicts in
the saturated region, and the loss-surface explorer."""
import json
import math
import pathlib
import sys

import pytest
import torch
import torch.nn.functional as F

import checker
from checker import lesson04 as ex
from checker.judge import compute_reference, sample_points

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTER = ROOT / "notebooks" / "master" / "04_logistic_regression.ipynb"


def seed_bce(prediction, target):
    """The seed notebook's loss, clamp included."""
    epsilon = 1e-8
    prediction = torch.clamp(prediction, epsilon, 1 - epsilon)
    return -(target * torch.log(prediction) + (1 - target) * torch.log(1 - prediction))


def seed_grads(x, y, w, b):
    """The seed's hand-written gradient, float32, as a function."""
    x, y, w, b = (torch.tensor(v) for v in (x, y, w, b))
    p = torch.sigmoid(w * x + b)
    dloss_dp = (p - y) / (p * (1 - p))
    dp_dz = p * (1 - p)
    return dloss_dp * dp_dz * x, dloss_dp * dp_dz


# -- the seed's numbers, live ------------------------------------------------------------
def test_seed_numbers_reproduce():
    x, y = torch.tensor(6.7), torch.tensor(0.0)
    w = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    loss = seed_bce(torch.sigmoid(w * x + b), y)
    assert repr(loss.detach()) == "tensor(6.7012)"
    dw, db = seed_grads(6.7, 0.0, 1.0, 0.0)
    assert (dw.item(), db.item()) == (6.691762447357178, 0.998770534992218)
    loss.backward()
    assert (w.grad.item(), b.grad.item()) == (6.6917619705200195, 0.9987704753875732)
    # one float32 ulp apart, and autograd's order of operations gives autograd's bits
    assert dw.item() - w.grad.item() == 2.0**-21
    p = torch.sigmoid(x)
    assert ((1 / (1 - p)) * (1 - p) * p * x).item() == w.grad.item()
    w64 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    F.binary_cross_entropy_with_logits(w64 * 6.7, torch.tensor(0.0, dtype=torch.float64)).backward()
    assert w64.grad.item() == 6.691763029237442


def test_float32_clamp_and_saturation_facts():
    assert bool(torch.tensor(1 - 1e-8) == 1.0)
    assert bool(torch.sigmoid(torch.tensor(16.63)) < 1.0)
    assert bool(torch.sigmoid(torch.tensor(16.64)) == 1.0)
    z = torch.tensor(20.0, requires_grad=True)
    loss = seed_bce(torch.sigmoid(z), torch.tensor(0.0))
    loss.backward()
    assert math.isinf(loss.item()) and math.isnan(z.grad.item())


# -- what the committed notebook shows -----------------------------------------------------
def _outputs():
    nb = json.loads(MASTER.read_text())
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                texts.append("".join(out["text"]))
            elif out["output_type"] == "error":
                texts.append(f"{out['ename']}: {out['evalue']}")
            else:
                data = out.get("data", {})
                texts.append("".join(data.get("text/html", data.get("text/plain", ""))))
    return "\n".join(texts)


@pytest.mark.parametrize("shown", [
    "tensor(6.7012)",
    "(dw): 6.691762447357178",
    "(db): 0.998770534992218",
    "autograd dw: 6.6917619705200195",
    "autograd db: 0.9987704753875732",
    "difference:         4.76837158203125e-07",
    "autograd's order:  6.6917619705200195",
    "float64 dw: 6.691763029237442",
    "yours gives dL/dw = 6.691762447357178, dL/db = 0.998770534992218",
    "tensor(True)",
    " 16.7      True         inf          nan       16.7000         1.0000",
    "AssertionError: loss = inf, gradient = nan",
    "AssertionError: per-example losses have shape (100, 100), not (100,)",
    "same trajectory at all 300 steps (within 1e-5): True",
    "matches the correct gradient: True",
    "Self-test of lesson04: ",
])
def test_master_shows(shown):
    assert shown in _outputs()


def test_master_names_the_broadcast_and_clamp_mistakes():
    text = _outputs()
    assert next(m.message for m in ex.grad_vectorized.mistakes if m.id == "broadcast-nn")[:60] in text
    assert next(m.message for m in ex.stable_bce.mistakes if m.id == "seed-clamp")[:60] in text


# -- the checker in the saturated region ---------------------------------------------------
@pytest.mark.parametrize("exercise", [ex.dL_dz, ex.stable_bce])
def test_sampled_logits_reach_saturation_for_both_labels(exercise):
    points = sample_points(exercise)
    for label in (0.0, 1.0):
        assert max(z for z, y in points if y == label) > 36.8  # p == 1.0 even in float64
        assert min(z for z, y in points if y == label) < -30
    ref = compute_reference(exercise, points)
    assert ref.valid == list(range(len(points))), "the stable reference is finite everywhere"


def test_vectorized_datasets_saturate_and_vary_in_size():
    points = sample_points(ex.grad_vectorized)
    assert max(float((X @ w + b).abs().max()) for X, y, w, b in points) > 30
    assert len({X.shape[0] for X, *_ in points}) > 5
    assert len(compute_reference(ex.grad_vectorized, points).valid) == len(points)


def test_scalar_exercise_stays_where_float32_is_fine():
    assert max(abs(w * x + b) for x, y, w, b in sample_points(ex.scalar_grads)) < 16.6
    result = ex.scalar_grads.check(seed_grads, plot=False)
    assert result.status == "correct"
    assert "dL/dw = 6.691762447357178" in result.message


@pytest.mark.parametrize("answer", [
    lambda z, y: -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)),
    lambda z, y: (1 - y) * z + torch.log1p(torch.exp(-z)),
    lambda z, y: torch.clamp(z, min=0) - z * y + torch.log(1 + torch.exp(-torch.abs(z))),
    lambda z, y: F.binary_cross_entropy_with_logits(z.float(), y.float()),
    lambda z, y: torch.where(y == 1, F.softplus(-z), F.softplus(z)),
], ids=["logsigmoid", "unclamped-softplus", "log-not-log1p", "torch-float32", "softplus"])
def test_other_stable_losses_pass(answer):
    result = ex.stable_bce.check(answer, plot=False)
    assert result.status == "correct", result.message
    assert "matches F.binary_cross_entropy_with_logits" in result.message


@pytest.mark.parametrize("answer, mistake", [
    (lambda z, y: seed_bce(torch.sigmoid(z), y), "seed-clamp"),
    (lambda z, y: seed_bce(torch.sigmoid(z.float()), y.float()), "seed-clamp-float32"),
    (lambda z, y: -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z))),
     "through-probabilities"),
])
def test_unstable_losses_are_named(answer, mistake):
    result = ex.stable_bce.check(answer, plot=False)
    assert (result.status, result.mistake) == ("incorrect", mistake)


def test_dL_dz_accepts_float32_and_refuses_the_unsimplified_form():
    assert ex.dL_dz.check(lambda z, y: float(torch.sigmoid(torch.tensor(z)) - y), plot=False).passed

    def unsimplified(z, y):
        p = 1 / (1 + math.exp(-z))
        return (p - y) / (p * (1 - p)) * (p * (1 - p))

    result = ex.dL_dz.check(unsimplified, plot=False)
    assert result.status == "error" and "ZeroDivisionError" in result.message


def test_check_gradient_finds_the_seed_float32_nan():
    def loss_of(x, y, w, b):
        return F.binary_cross_entropy_with_logits(w * x + b, y)

    result = checker.check_gradient(seed_grads, loss_of, 6.7, 0.0, 1.0, 0.0, wrt=("w", "b"))
    assert result.status == "incorrect" and "not a finite number" in result.message


def test_broadcast_gradient_agrees_with_autograd_but_is_named():
    torch.manual_seed(0)
    X, y = torch.randn(12, 3, dtype=torch.float64), torch.randint(0, 2, (12,)).double()
    W = torch.randn(3, 1, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    z = X @ W + b  # (N, 1) against y (N,): an (N, N) loss
    (-(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z))).mean().backward()
    dW, db = ex._broadcast_answer(X, y, W.detach().flatten(), b.detach())
    assert torch.allclose(dW, W.grad.flatten()) and torch.allclose(db, b.grad)
    correct, _ = ex._grad_vectorized(X, y, W.detach().flatten(), b.detach())
    assert not torch.allclose(dW, correct)

    result = ex.grad_vectorized.check(ex._broadcast_answer, plot=False)
    assert (result.status, result.mistake) == ("incorrect", "broadcast-nn")


# -- the loss-surface explorer ---------------------------------------------------------------
def _loss_1d():
    torch.manual_seed(1)
    x = torch.cat([torch.randn(20) - 1.0, torch.randn(20) + 1.0])
    y = torch.cat([torch.zeros(20), torch.ones(20)])
    return lambda w, b: F.binary_cross_entropy_with_logits(w * x + b, y), x, y


class _Handle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


@pytest.fixture
def shown(monkeypatch):
    """Record what the explorer displays instead of printing it."""
    pytest.importorskip("matplotlib")
    IPython_display = pytest.importorskip("IPython.display")
    record = {"objects": [], "handle": _Handle()}

    def display(*objs, display_id=None, **kwargs):
        record["objects"].extend(objs)
        return record["handle"] if display_id else None

    monkeypatch.setattr(IPython_display, "display", display)
    return record


def test_loss_gradient_is_autograd_or_yours():
    from checker.plots import loss_gradient

    loss, x, y = _loss_1d()
    p = torch.sigmoid(0.5 * x - 0.25)
    manual = (((p - y) * x).mean().item(), (p - y).mean().item())
    assert loss_gradient(loss, 0.5, -0.25) == pytest.approx(manual, rel=1e-5)
    assert loss_gradient(loss, 0.5, -0.25, grad=lambda w, b: (1.0, 2.0)) == (1.0, 2.0)


def test_explorer_sliders_redraw(shown):
    pytest.importorskip("ipywidgets")
    from IPython.display import Image

    from checker.plots import explore_loss_surface

    loss, _, _ = _loss_1d()
    explore_loss_surface(loss, (-2.0, 4.0), (-3.0, 3.0), w0=-1.0, b0=2.0, path=[(-1.0, 2.0), (0.0, 1.0)], n=21)
    box, first = shown["objects"]
    assert isinstance(first, Image)
    w_slider, b_slider = box.children
    assert (w_slider.description, w_slider.value, b_slider.value) == ("w", -1.0, 2.0)
    w_slider.value = 1.5
    b_slider.value = -0.5
    assert len(shown["handle"].updates) == 2 and isinstance(shown["handle"].updates[-1], Image)


def test_explorer_without_ipywidgets_shows_one_figure(shown, monkeypatch, capsys):
    from IPython.display import Image

    from checker.plots import explore_loss_surface

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    loss, _, _ = _loss_1d()
    explore_loss_surface(loss, n=11)
    assert "ipywidgets is not installed" in capsys.readouterr().out
    assert len(shown["objects"]) == 1 and isinstance(shown["objects"][0], Image)


def test_surface_figure_draws_arrow_and_path():
    pytest.importorskip("matplotlib")
    from checker.plots import loss_surface_figure

    loss, _, _ = _loss_1d()
    fig = loss_surface_figure(loss, 0.0, 0.0, path=[(0.0, 0.0), (0.5, 0.1)], n=11)
    ax = fig.axes[0]
    assert "∇L" in ax.get_title() and len(ax.texts) == 1  # the arrow is an annotation
    # a loss that vmap cannot batch falls back to one point at a time
    fig = loss_surface_figure(lambda w, b: torch.tensor(float(w) ** 2 + float(b) ** 2), 1.0, 1.0, n=5,
                              grad=lambda w, b: (2 * w, 2 * b))
    assert "(2, 2)" in fig.axes[0].get_title()
