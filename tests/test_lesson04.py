"""Lesson 04 (logistic regression): the numbers the lesson shows, the checker's verdicts in
the saturated region, and the loss-surface explorer."""
import html
import json
import math
import pathlib
import sys

import pytest
import torch
import torch.nn.functional as F

import checker
from checker import lesson04 as ex
from checker.engine.judge import compute_reference, sample_points

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTER = ROOT / "notebooks" / "master" / "04_logistic_regression.ipynb"
STUDENT = ROOT / "notebooks" / "student" / "04_logistic_regression.ipynb"


def clamped_bce(prediction, target):
    """Section 1's loss (from the course's original notebook), clamp included."""
    epsilon = 1e-8
    prediction = torch.clamp(prediction, epsilon, 1 - epsilon)
    return -(target * torch.log(prediction) + (1 - target) * torch.log(1 - prediction))


def grads_by_hand(x, y, w, b):
    """Section 2's hand-written gradient, float32, as a function."""
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
    loss = clamped_bce(torch.sigmoid(w * x + b), y)
    assert repr(loss.detach()) == "tensor(6.7012)"
    dw, db = grads_by_hand(6.7, 0.0, 1.0, 0.0)
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
    loss = clamped_bce(torch.sigmoid(z), torch.tensor(0.0))
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
                if "text/html" in data:  # expect_error's box: its plain text too
                    texts.append("".join(data.get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.parametrize("shown", [
    "tensor(6.7012)",
    "(dw): 6.691762447357178",
    "(db): 0.998770534992218",
    "autograd dw: 6.6917619705200195",
    "autograd db: 0.9987704753875732",
    "difference:         4.76837158203125e-07",
    "by-hand order:     6.691762447357178",
    "autograd's order:  6.6917619705200195",
    "float64 dw: 6.691763029237442",
    " by hand: relative error 8.7e-08",
    "autograd: relative error 1.6e-07",
    "At x = 1.5, y = 1, w = 1, b = -0.5 yours gives d/dw = -0.4034121036529541, d/db = -0.26894140243530273",
    "yours gives dL/dw = 0.01643346034218128, dL/db = 0.00245275527495243",
    "    z  cross-entropy dL/dz  squared error dL/dz",
    "  6.7               0.9988             2.45e-03",
    " 20.0               1.0000             4.12e-09",
    "e^88.7 = 3.325976864406685e+38   e^88.8 = inf",
    "log(1 + e^z) − z·y      tensor([100.0000,  20.0000,   0.6931,  20.0000,      inf])",
    "z + log(1 + e^−z) − z·y tensor([     inf,  20.0000,   0.6931,  20.0000, 100.0000])",
    "tensor(True)",
    "    z  p == 1.0  clamped loss  clamped dL/dz  stable loss  stable dL/dz",
    " 15.0     False       14.8438         1.0000      15.0000        1.0000",
    " 16.6     False       15.9424         1.0000      16.6000        1.0000",
    " 16.7      True           inf            nan      16.7000        1.0000",
    "clamped      tensor([18.4207, 18.4207,  0.6931,  6.7012,     inf,     inf])",
    "AssertionError (an error this cell shows on purpose):\nloss = inf, gradient = nan",
    "AssertionError (an error this cell shows on purpose):\nper-example losses have shape (100, 100), not (100,)",
    "same trajectory at all 300 steps (within 1e-5): True",
    "final loss 0.0972, accuracy 96%",
    "matches the correct gradient: True",
    "Self-test of lesson04: ",
])
def test_master_shows(shown):
    assert shown in _outputs()


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_no_authors_jargon_and_the_run_all_warning():
    """Students do not know the authors' word "seed" (for the course's original notebook)."""
    for path in (MASTER, STUDENT):
        for cell in _cells(path):
            text = "".join(cell["source"]).replace("manual_seed", "")
            assert "seed" not in text.lower(), text[:200]
    intro = "".join(_cells(MASTER)[2]["source"])
    assert "This course began as a rewrite of one of them" in intro and "original notebook" not in intro
    assert "*Run all* runs every cell, in Colab as in Jupyter" in intro


def test_exercise_edition_does_not_show_the_vectorized_answer_before_exercise_4():
    sources = ["".join(cell["source"]) for cell in _cells(STUDENT)]
    stub = next(i for i, src in enumerate(sources) if src.startswith("def grad_vectorized("))
    assert "raise NotImplementedError" in sources[stub]
    shown = next(i for i, src in enumerate(sources) if src.startswith("def manual_gradient("))
    assert stub < shown
    assert not any("X.T @" in src for src in sources[:stub])


def test_master_names_the_broadcast_and_clamp_mistakes():
    text = _outputs()
    for exercise, mistake in ((ex.grad_vectorized, "broadcast-nn"), (ex.stable_bce, "clamped-p")):
        message = next(m.message for m in exercise.mistakes if m.id == mistake)
        assert html.escape(message)[:80] in text  # the notebook shows it as HTML


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
    # float32 arithmetic passes (the squared error's gradient, computed in float32)
    result = ex.scalar_grads.check(lambda x, y, w, b: tuple(torch.tensor(v) for v in ex._scalar_grads(x, y, w, b)),
                                   plot=False)
    assert result.status == "correct"
    assert "dL/dw = 0.01643346" in result.message


def test_section_2s_gradient_is_not_exercise_1s():
    """Section 2 shows cross-entropy's gradient, in float32: check_gradient accepts it where float32 is fine,
    and Exercise 1 (the squared error) names it as cross-entropy's."""
    def loss_of(x, y, w, b):
        return F.binary_cross_entropy_with_logits(w * x + b, y)

    assert checker.check_gradient(grads_by_hand, loss_of, 1.5, 1.0, 1.0, -0.5, wrt=("w", "b")).passed
    result = ex.scalar_grads.check(grads_by_hand, plot=False)
    assert (result.status, result.mistake) == ("incorrect", "cross-entropy-gradient")


def _by_sign(z, y):
    """Section 4's two forms, each for its own sign of z (the answer gets 0-dim tensors: `if` works)."""
    if z > 0:
        return z + torch.log1p(torch.exp(-z)) - z * y
    return torch.log1p(torch.exp(z)) - z * y


@pytest.mark.parametrize("answer", [
    lambda z, y: torch.clamp(z, min=0) - z * y + torch.log(1 + torch.exp(-torch.abs(z))),
    _by_sign,
    lambda z, y: torch.maximum(z, torch.zeros_like(z)) - z * y + torch.log1p(torch.exp(-z.abs())),
    lambda z, y: ex._stable_bce(z.float(), y.float()),
], ids=["log-not-log1p", "if-by-sign", "maximum", "stable-in-float32"])
def test_other_stable_losses_pass(answer):
    result = ex.stable_bce.check(answer, plot=False)
    assert result.status == "correct", result.message
    assert "matches F.binary_cross_entropy_with_logits" in result.message


def test_losses_that_only_look_stable_are_rejected():
    """(1 − y)·z + log(1 + e^(−z)), section 4's form for z > 0 spelled otherwise, overflows for z below −88.7 in
    float32 (−709.8 in float64); the function the answer is compared with is refused, under any dtype."""
    overflow = ex.stable_bce.check(lambda z, y: (1 - y) * z + torch.log1p(torch.exp(-z)), plot=False)
    assert (overflow.status, overflow.mistake) == ("incorrect", "positive-form-everywhere")
    builtin = ex.stable_bce.check(lambda z, y: F.binary_cross_entropy_with_logits(z.float(), y.float()), plot=False)
    assert builtin.status == "incorrect" and builtin.mistake == "forbidden-function"


@pytest.mark.parametrize("answer, named", [
    (lambda z, y: -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)), "F.logsigmoid"),
    (lambda z, y: torch.where(y == 1, F.softplus(-z), F.softplus(z)), "F.softplus"),
    (lambda z, y: torch.logaddexp(torch.zeros_like(z), z) - z * y, "torch.logaddexp"),
    (lambda z, y: torch.logsumexp(torch.stack([torch.zeros_like(z), z]), 0) - z * y, "torch.logsumexp"),
], ids=["logsigmoid", "softplus", "logaddexp", "logsumexp"])
def test_library_functions_that_remove_the_overflow_are_refused(answer, named):
    """They do exactly the step Exercise 3 asks for; the refusal names them and says what they compute."""
    result = ex.stable_bce.check(answer, plot=False)
    assert (result.status, result.mistake) == ("incorrect", "forbidden-function"), result.message
    assert named in result.message and "without overflow" in result.message


@pytest.mark.parametrize("answer, mistake", [
    (lambda z, y: clamped_bce(torch.sigmoid(z), y), "clamped-p"),
    (lambda z, y: clamped_bce(torch.sigmoid(z.float()), y.float()), "clamped-p-float32"),
    (lambda z, y: -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z))),
     "through-probabilities"),
])
def test_unstable_losses_are_named(answer, mistake):
    result = ex.stable_bce.check(answer, plot=False)
    assert (result.status, result.mistake) == ("incorrect", mistake)


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize("exercise, answer, mistake", [
    (ex.scalar_grads, lambda x, y, w, b: ((_sigmoid(w * x + b) - y) * x, _sigmoid(w * x + b) - y),
     "cross-entropy-gradient"),
    (ex.scalar_grads, lambda x, y, w, b: (2 * (_sigmoid(w * x + b) - y) * x, 2 * (_sigmoid(w * x + b) - y)),
     "sigmoid-derivative-missing"),
    (ex.scalar_grads, lambda x, y, w, b: ((_sigmoid(w * x + b) - y) * _sigmoid(w * x + b) * (1 - _sigmoid(w * x + b))
                                          * x, (_sigmoid(w * x + b) - y) * _sigmoid(w * x + b)
                                          * (1 - _sigmoid(w * x + b))), "power-rule-factor-missing"),
    (ex.scalar_grads, lambda x, y, w, b: (2 * (w * x + b - y) * x, 2 * (w * x + b - y)), "linear-regression"),
    (ex.dL_dz, lambda z, y: y * (1 - _sigmoid(z)) - (1 - y) * _sigmoid(z), "sign-flipped"),
    (ex.dL_dz, lambda z, y: 1 / (1 + math.exp(z)) - y, "sigmoid-sign"),
    (ex.stable_bce, lambda z, y: torch.clamp(z, min=0) - z * (1 - y) + torch.log1p(torch.exp(-torch.abs(z))),
     "labels-swapped"),
    (ex.stable_bce, lambda z, y: torch.log1p(torch.exp(z)) - y * z, "softplus-overflow"),
    (ex.stable_bce, lambda z, y: (torch.log1p(torch.exp(z)) if z > 0 else z + torch.log1p(torch.exp(-z))) - y * z,
     "forms-swapped"),
    (ex.stable_bce, lambda z, y: torch.log1p(torch.exp(-torch.abs(z))) - z * y, "max-missing"),
    (ex.stable_bce, lambda z, y: torch.clamp(z, min=0) + torch.log1p(torch.exp(-torch.abs(z))),
     "label-term-missing"),
    (ex.grad_vectorized, lambda X, y, w, b: (X.T @ (torch.sigmoid(X @ w + b) - y) / X.shape[1],
                                             (torch.sigmoid(X @ w + b) - y).mean()), "divided-by-d"),
    (ex.grad_vectorized, lambda X, y, w, b: (X.T @ (torch.sigmoid(X @ w + b) - y) / len(y),
                                             (torch.sigmoid(X @ w + b) - y).sum()), "db-summed"),
], ids=["cross-entropy", "no-sigmoid-derivative", "half", "linear-regression", "minus-form", "dz-exp-sign",
        "labels-swapped", "first-form-everywhere", "forms-swapped", "no-max", "no-label-term", "over-d", "db-sum"])
def test_students_own_spelling_of_known_mistakes_is_named(exercise, answer, mistake):
    result = exercise.check(answer, plot=False)
    assert (result.status, result.mistake) == ("incorrect", mistake), result.message


def test_mistake_messages_leave_the_code_to_hints():
    for exercise in (ex.scalar_grads, ex.dL_dz, ex.stable_bce, ex.grad_vectorized):
        for mistake in exercise.mistakes:
            assert "squeeze" not in mistake.message and "F.logsigmoid(z)" not in mistake.message
            assert "coincidence" not in mistake.message, mistake.id


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

    result = checker.check_gradient(grads_by_hand, loss_of, 6.7, 0.0, 1.0, 0.0, wrt=("w", "b"))
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


def test_loss_gradient_is_autograd_or_yours():
    from checker.figures.plots import loss_gradient

    loss, x, y = _loss_1d()
    p = torch.sigmoid(0.5 * x - 0.25)
    manual = (((p - y) * x).mean().item(), (p - y).mean().item())
    assert loss_gradient(loss, 0.5, -0.25) == pytest.approx(manual, rel=1e-5)
    assert loss_gradient(loss, 0.5, -0.25, grad=lambda w, b: (1.0, 2.0)) == (1.0, 2.0)


def test_explorer_sliders_redraw(shown):
    pytest.importorskip("ipywidgets")
    from IPython.display import Image

    from checker.figures.plots import explore_loss_surface

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

    from checker.figures.plots import explore_loss_surface

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    loss, _, _ = _loss_1d()
    explore_loss_surface(loss, n=11)
    assert "ipywidgets is not installed" in capsys.readouterr().out
    assert len(shown["objects"]) == 1 and isinstance(shown["objects"][0], Image)


def test_surface_figure_draws_arrow_and_path():
    pytest.importorskip("matplotlib")
    from checker.figures.plots import loss_surface_figure

    loss, _, _ = _loss_1d()
    fig = loss_surface_figure(loss, 0.0, 0.0, path=[(0.0, 0.0), (0.5, 0.1)], n=11)
    ax = fig.axes[0]
    assert "∇L" in ax.get_title() and len(ax.texts) == 1  # the arrow is an annotation
    # a loss that vmap cannot batch falls back to one point at a time
    fig = loss_surface_figure(lambda w, b: torch.tensor(float(w) ** 2 + float(b) ** 2), 1.0, 1.0, n=5,
                              grad=lambda w, b: (2 * w, 2 * b))
    assert "(2, 2)" in fig.axes[0].get_title()


# -- the exercise edition --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["scalar_grads", "dL_dz", "stable_bce", "grad_vectorized"])
def test_exercise_edition_has_stubs_reported_not_attempted(name):
    cells = [c for c in _cells(STUDENT) if c["cell_type"] == "code"]
    stub = next(c for c in cells if "".join(c["source"]).startswith(f"def {name}("))
    source = "".join(stub["source"])
    assert "raise NotImplementedError" in source and "BEGIN SOLUTION" not in source
    check = next(c for c in cells if f"ex.{name}.check({name})" in "".join(c["source"]))
    shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in check["outputs"])
    assert "Not attempted" in shown, shown[:300]
