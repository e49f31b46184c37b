"""Lesson 05 (backpropagation through a network): what the lesson shows, the checker in float32 where stability is
the point, data sets of varying sizes, known mistakes of the wrong shape, the first wrong stage of a backward pass,
the same verdicts through bulk grading's probe, and the figures."""
import html
import json
import math
import pathlib
import sys

import pytest
import torch
import torch.nn.functional as F

import checker
from checker import lesson05 as ex
from checker.engine.judge import _arguments, compute_reference, sample_points

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTER = ROOT / "notebooks" / "master" / "05_backprop_network.ipynb"
STUDENT = ROOT / "notebooks" / "student" / "05_backprop_network.ipynb"
EXERCISES = (ex.log_softmax, ex.ce_grad, ex.linear_backward, ex.activation_backward, ex.backward_pass)


def onehot(Z, y):
    return F.one_hot(y, Z.shape[1]).to(Z.dtype)


# -- what the committed notebook shows --------------------------------------------------------
def _outputs(path=MASTER):
    texts = []
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                texts.append("".join(out["text"]))
            else:
                data = out.get("data", {})
                texts.append("".join(data.get("text/html", data.get("text/plain", ""))))
    return "\n".join(texts)


def _sources(path):
    return ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]


@pytest.mark.parametrize("shown", [
    "losses: tensor([0.3490, 0.1520])  mean: tensor(0.2505)",
    "tensor([1.6516e+38, 3.3260e+38,        inf,        inf])",
    "tensor([[nan, nan, nan],\n        [nan, nan, nan]])",
    "log of softmax:   tensor([[0., -inf]])",
    "F.log_softmax:    tensor([[   0., -120.]])",
    "[ 0.0353,  0.0353, -0.0705]])",
    "W: shape (3, 2),  dW: shape (3, 2)",
    "slopes of relu at -1, 0, 1: tensor([0., 0., 1.])",
    "dead units: [2, 7, 10, 11]",
    "their largest |gradient|: weights 0.0  bias 0.0",
    "[ 0.1327,  0.0000,  0.0000]], dtype=torch.float64)",
    "examples per class: [60, 60, 60]",
    "1. by hand, with backward_pass",
    "loss at the start 1.063, after 2000 steps 0.071; accuracy 97%",
    "largest difference between the three curves, below 1e-3: True",
    "after 50 steps at learning rate 10: 0 of 64 hidden units alive, accuracy 33%",
    "Self-test of lesson05: ",
])
def test_master_shows(shown):
    assert shown in _outputs()


def test_prose_numbers_are_the_outputs():
    prose = "\n".join(s for s in _sources(MASTER))
    for number in ("0.3490 and 0.1520, mean 0.2505", "Units 2, 7, 10 and 11", "starts at 1.063",
                   "falls to 0.071", "97% of the training points", "2000 steps", "33%, are right by chance",
                   "all 64 units of section 5 die"):
        assert number in prose, number


def test_master_names_the_demonstrated_mistakes():
    text = _outputs()
    for exercise, mistake in ((ex.log_softmax, "unstable"), (ex.linear_backward, "dW-transposed"),
                              (ex.backward_pass, "dpre-no-relu-mask")):
        message = next(m.message for m in exercise.mistakes if m.id == mistake)
        assert html.escape(message)[:80] in text


def test_student_edition_trains_with_the_lessons_backward_and_hides_answers():
    assert "1. by hand, with lesson_backward" in _outputs(STUDENT)
    sources = _sources(STUDENT)
    stub = next(i for i, s in enumerate(sources) if s.startswith("def backward_pass("))
    assert "raise NotImplementedError" in sources[stub]
    shown = next(i for i, s in enumerate(sources) if s.startswith("def lesson_backward("))
    assert stub < shown
    for name in ("log_softmax", "ce_grad", "linear_backward", "activation_backward"):
        cell = next(s for s in sources if s.startswith(f"def {name}("))
        assert "raise NotImplementedError" in cell
    linear = next(i for i, s in enumerate(sources) if s.startswith("def linear_backward("))
    assert not any("X.T @ dY" in s or "dY @ W.T" in s for s in sources[:linear]), "no answer above its exercise"


def test_no_cell_tagged_to_hide_an_error_and_widget_cell_ignored():
    cells = json.loads(MASTER.read_text())["cells"]
    explorer = next(c for c in cells if "explore_training(" in "".join(c["source"]) and c["cell_type"] == "code")
    assert "nbval-ignore-output" in explorer["metadata"]["tags"]


# -- float32 where stability is the point ------------------------------------------------------------
def test_answers_receive_float32_logits_and_int64_labels():
    seen = []
    answer = lambda Z, y: seen.append((Z.dtype, y.dtype)) or ex._ce_grad(Z, y)  # noqa: E731
    assert checker.grade(ex.ce_grad, answer).passed
    assert set(seen) == {(torch.float32, torch.int64)}
    seen.clear()
    assert checker.grade(ex.backward_pass, lambda X, y, *p: seen.append((X.dtype, y.dtype))
                         or ex._backward_pass(X, y, *p)).passed
    assert set(seen) == {(torch.float64, torch.int64)}


@pytest.mark.parametrize("exercise", [ex.log_softmax, ex.ce_grad])
def test_sampled_logits_reach_every_kind_of_overflow(exercise):
    points = sample_points(exercise)
    Zs = [p[0] for p in points]
    assert all(Z.dtype == torch.float32 for Z in Zs)
    assert sum(bool((Z > 88.72).any()) for Z in Zs) >= 5  # exp overflows in float32
    assert sum(bool((Z.max(dim=1).values < -104).any()) for Z in Zs) >= 3  # every exp underflows to 0
    assert sum(bool((Z.abs() > 709.78).any()) for Z in Zs) >= 2  # overflows float64's exp too
    assert sum(bool((Z.max(dim=1).values.max() - Z.max(dim=1).values.min()) > 110) for Z in Zs) >= 2  # rows apart
    assert len(compute_reference(exercise, points).valid) == len(points), "the reference is finite everywhere"


@pytest.mark.parametrize("answer", [
    lambda Z: Z - torch.logsumexp(Z, dim=1, keepdim=True),
    lambda Z: F.log_softmax(Z, dim=1),
    lambda Z: Z - (Z.max(1, keepdim=True).values + torch.log(torch.exp(Z - Z.max(1, keepdim=True).values)
                                                              .sum(1, keepdim=True))),
    lambda Z: ex._log_softmax(Z.double()),
], ids=["logsumexp", "torch", "max-added-back", "float64"])
def test_other_stable_log_softmaxes_pass(answer):
    result = checker.grade(ex.log_softmax, answer)
    assert result.status == "correct", result.message


@pytest.mark.parametrize("answer", [
    lambda Z, y: (torch.softmax(Z, dim=1) - onehot(Z, y)) / Z.shape[0],
    lambda Z, y: (torch.exp(F.log_softmax(Z, dim=1)) - onehot(Z, y)) / len(y),
    lambda Z, y: (torch.exp(Z - torch.logsumexp(Z, 1, keepdim=True)) - onehot(Z, y)) / len(y),
    lambda Z, y: torch.softmax(Z.double(), 1).sub(onehot(Z, y)).div(len(y)),
    lambda Z, y: torch.softmax(Z, 1) / len(y) - onehot(Z, y) / len(y),
], ids=["softmax", "exp-log-softmax", "exp-logsumexp", "float64", "divided-first"])
def test_other_correct_ce_grads_pass(answer):
    result = checker.grade(ex.ce_grad, answer)
    assert result.status == "correct", result.message


def _unstable_ce(Z, y):
    E = torch.exp(Z)
    return (E / E.sum(dim=1, keepdim=True) - onehot(Z, y)) / len(y)


def _onehot_by_columns(Z, y):
    Y = torch.zeros_like(Z)
    for label in y:  # a loop that sets the whole column of every label
        Y[:, label] = 1
    return (torch.softmax(Z, dim=1) - Y) / len(y)


@pytest.mark.parametrize("exercise, answer, mistake", [
    (ex.ce_grad, _unstable_ce, "unstable-softmax"),
    (ex.ce_grad, lambda Z, y: _unstable_ce(Z.double(), y), "unstable-float64"),
    (ex.ce_grad, _onehot_by_columns, "onehot-columns"),
    (ex.ce_grad, lambda Z, y: torch.where(onehot(Z, y) == 1, torch.softmax(Z, 1) - 1, 0.0) / len(y),
     "jacobian-diagonal"),
    (ex.ce_grad, lambda Z, y: torch.softmax(Z, 1) - onehot(Z, y), "mean-missing"),
    (ex.log_softmax, lambda Z: torch.log(torch.exp(Z) / torch.exp(Z).sum(1, keepdim=True)), "unstable"),
    (ex.log_softmax, lambda Z: torch.log(torch.softmax(Z, dim=1)), "log-of-softmax"),
    (ex.log_softmax, lambda Z: Z - torch.exp(Z).sum(dim=-1, keepdim=True).log(), "unstable-logsumexp"),
    (ex.log_softmax, lambda Z: Z - torch.max(Z, 1, keepdim=True)[0] - torch.log(torch.sum(torch.exp(Z), 1,
                                                                                         keepdim=True)),
     "max-outside-exp"),
    (ex.log_softmax, lambda Z: (Z - Z.max()) - torch.log(torch.exp(Z - Z.max()).sum(1, keepdim=True)), "global-max"),
    (ex.linear_backward, lambda X, W, b, dY: (dY @ W.T, (dY.T @ X).view(W.shape[0], W.shape[1]), dY.sum(0)),
     "dW-reshaped"),
    (ex.linear_backward, lambda X, W, b, dY: (dY @ W.T, X.T @ dY / len(X), dY.sum(0) / len(X)), "divided-by-N"),
    (ex.activation_backward, lambda A, dH: (torch.where(A >= 0, dH, 0.0), dH / torch.cosh(A) ** 2),
     "relu-mask-at-zero"),
    (ex.activation_backward, lambda A, dH: (dH * (A > 0), dH * (1 - A * A)), "tanh-of-input"),
], ids=["ce-unstable", "ce-unstable-64", "ce-onehot-loop", "ce-diagonal-where", "ce-sum", "ls-unstable",
        "ls-log-softmax", "ls-naive-lse", "ls-max-outside", "ls-global-max", "lin-view", "lin-over-N", "relu-ge",
        "tanh-a2"])
def test_students_own_spelling_of_known_mistakes_is_named(exercise, answer, mistake):
    result = checker.grade(exercise, answer)
    assert (result.status, result.mistake) == ("incorrect", mistake), result.message


# -- data sets of different sizes ------------------------------------------------------------------
@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.id for e in EXERCISES])
def test_data_sets_vary_in_size(exercise):
    shapes = {tuple(tuple(v.shape) for v in point if isinstance(v, torch.Tensor)) for point in sample_points(exercise)}
    assert len(shapes) >= 15
    ref = compute_reference(exercise, sample_points(exercise))
    assert ref.point_shapes is not None and len(ref.point_shapes) == len(ref.valid)


@pytest.mark.parametrize("exercise, answer", [
    (ex.ce_grad, lambda Z, y: (torch.softmax(Z, 1) - onehot(Z, y)) / 5),
    (ex.linear_backward, lambda X, W, b, dY: (dY @ W.T, X[:3].T @ dY[:3], dY[:3].sum(0))),
], ids=["fixed-N", "first-rows"])
def test_an_answer_right_for_one_size_only_is_wrong(exercise, answer):
    result = checker.grade(exercise, answer)
    assert result.status == "incorrect" and "of the 32 points" in result.message


def test_details_show_the_entry_that_differs_most():
    result = checker.grade(ex.activation_backward, lambda A, dH: (dH * (A > 0), dH * (1 - torch.tanh(A))))
    assert result.mistake == "tanh-not-squared"
    detail = result.details[0]
    assert detail.expected.startswith("dA_tanh[") and detail.got.startswith("dA_tanh[")
    assert detail.expected.split(" = ")[0] == detail.got.split(" = ")[0]


# -- known mistakes of the wrong shape ----------------------------------------------------------------
@pytest.mark.parametrize("answer, mistake", [
    (lambda X, W, b, dY: (dY @ W.T, dY.T @ X, dY.sum(0)), "dW-transposed"),
    (lambda X, W, b, dY: ((dY @ W.T).T.contiguous(), X.T @ dY, dY.sum(0)), "dX-transposed"),
    (lambda X, W, b, dY: (dY @ W.T, X.T @ dY, dY.clone()), "db-not-summed"),
    (lambda X, W, b, dY: (dY @ W.T, X.T @ dY, torch.sum(dY, dim=-1)), "db-summed-over-outputs"),
], ids=["dW", "dX", "db", "db-axis"])
def test_misshaped_known_mistakes_are_named(answer, mistake):
    result = checker.grade(ex.linear_backward, answer)
    assert (result.status, result.mistake) == ("incorrect", mistake), result.message
    assert result.details and "shape" in result.details[0].expected


def test_a_misshaped_answer_that_is_no_known_mistake_gets_the_shape_message():
    result = checker.grade(ex.linear_backward, lambda X, W, b, dY: (dY @ W.T, 2 * dY.T @ X, dY.sum(0)))
    assert (result.status, result.mistake) == ("error", None)
    assert "it should have shape" in result.message and "A gradient has the shape" in result.message
    result = checker.grade(ex.linear_backward, lambda X, W, b, dY: (dY @ W.T, X.T @ dY, [1.0]))
    assert result.status == "error"


def test_a_matmul_in_the_wrong_order_shows_the_error_and_its_line():
    result = checker.grade(ex.linear_backward, lambda X, W, b, dY: (dY @ W, X.T @ dY, dY.sum(0)))
    assert result.status == "error" and "cannot be multiplied" in result.message


# -- the first wrong stage ---------------------------------------------------------------------------
def test_first_wrong_stage_is_named_even_with_later_mistakes():
    two_mistakes = ex._backward_with(dpre=lambda v: v["dh"], db1=lambda v: v["dpre"].mean(0) * 7)
    result = checker.grade(ex.backward_pass, two_mistakes)
    assert result.mistake == "dpre-no-relu-mask"
    assert result.details[0].expected.startswith("dpre[")


def test_unknown_stage_mistake_says_which_stages_are_right():
    result = checker.grade(ex.backward_pass, ex._backward_with(dh=lambda v: 2 * v["dlogits"] @ v["W2"].T))
    assert result.mistake is None
    assert result.message.startswith("dlogits, dW2 and db2 are right; dh is the first stage that is not "
                                     "(dpre, dW1, db1 and dX are wrong too")
    assert "dh is 2 times the correct value" in result.message
    result = checker.grade(ex.backward_pass, ex._backward_with(db1=lambda v: v["dpre"].sum(0) + 1))
    assert result.message.startswith("dlogits, dW2, db2, dh, dpre and dW1 are right; db1 is the first stage")
    result = checker.grade(ex.backward_pass, ex._backward_with(dlogits=lambda v: 3 * torch.softmax(v["logits"], 1)))
    assert result.message.startswith("dlogits, the first stage, is not right (")


def test_reference_stages_are_autograds_retained_gradients():
    X, y, W1, b1, W2, b2 = sample_points(ex.backward_pass)[0]
    W1, b1, W2, b2 = (t.clone().requires_grad_() for t in (W1, b1, W2, b2))
    logits = torch.relu(X @ W1 + b1) @ W2 + b2
    F.cross_entropy(logits, y).backward()
    reference = ex._backward_by_autograd(X, y, W1.detach(), b1.detach(), W2.detach(), b2.detach())
    for got, expected in zip(reference[1:3] + reference[5:7], (W2.grad, b2.grad, W1.grad, b1.grad)):
        assert torch.allclose(got, expected)


def test_sampled_networks_have_units_off_for_some_examples():
    off = [bool(((X @ W1 + b1) < 0).any()) for X, y, W1, b1, W2, b2 in sample_points(ex.backward_pass)]
    assert sum(off) >= 28  # else a forgotten ReLU mask would pass


def test_activation_data_has_exact_zeros_with_gradient_arriving():
    for A, dH in sample_points(ex.activation_backward):
        assert bool(((A == 0) & (dH != 0)).any())


# -- the same verdicts through bulk grading's probe ---------------------------------------------------------
def test_probe_passes_the_same_arguments_and_gets_the_same_verdicts(tmp_path):
    from checker.grading import probe, replay
    from tests.inprocess_probe import probe_answers

    answers = {
        "log_softmax": lambda Z: torch.log(torch.softmax(Z, dim=1)),  # a named mistake in float32
        "ce_grad": ex._ce_grad,
        "linear_backward": lambda X, W, b, dY: (dY @ W.T, dY.T @ X, dY.sum(0)),  # misshaped
        "activation_backward": lambda A, dH: (dH * (A > 0), dH * (1 - torch.tanh(A))),
        "backward_pass": ex._backward_with(dpre=lambda v: v["dh"], db1=lambda v: v["dpre"].mean(0) * 7),
    }
    requests = [probe.exercise_request(e) for e in EXERCISES]
    assert requests[1]["dtypes"] == ["float32", "int64"] and requests[4]["dtypes"][1] == "int64"
    records = probe_answers(requests, dict(answers, torch=torch, F=F))
    for e in EXERCISES:
        direct = checker.grade(e, answers[e.answer_name])
        replayed = replay.judge(e, records[e.id], "")
        assert (replayed.status, replayed.mistake, replayed.message) == (direct.status, direct.mistake,
                                                                         direct.message), e.id


# -- the judge's helpers -------------------------------------------------------------------------------
def test_judging_runs_on_one_thread_and_restores_the_students_count():
    threads = torch.get_num_threads()
    seen = []
    checker.grade(ex.ce_grad, lambda Z, y: seen.append(torch.get_num_threads()) or ex._ce_grad(Z, y))
    assert set(seen) == {1}
    assert torch.get_num_threads() == threads


def test_integer_arguments_stay_integers_and_floats_take_the_exercise_dtype():
    Z, y = sample_points(ex.ce_grad)[0]
    args = _arguments(ex.ce_grad, (Z, y))
    assert (args[0].dtype, args[1].dtype) == (torch.float32, torch.int64)
    assert args[0] is not Z and torch.equal(args[1], y)
    args = _arguments(ex.linear_backward, sample_points(ex.linear_backward)[0])
    assert all(a.dtype == torch.float64 for a in args)


# -- figures -----------------------------------------------------------------------------------------------
def _spirals():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 2, generator=g)
    return X, (X[:, 0] > 0).long() + (X[:, 1] > 0).long()


def _train(width, learning_rate):
    X, y = _spirals()
    W = torch.randn(2, 3, generator=torch.Generator().manual_seed(width))
    return (lambda points: points @ W), [1.0, 0.5 * learning_rate], 0.5


def test_training_explorer_sliders_retrain_and_redraw(shown):
    pytest.importorskip("ipywidgets")
    from IPython.display import Image

    from checker.figures.netplots import explore_training

    calls = []
    X, y = _spirals()
    explore_training(lambda w, lr: calls.append((w, lr)) or _train(w, lr), X, y, width=8, learning_rate=0.3)
    box, first = shown["objects"]
    assert isinstance(first, Image) and calls == [(8, 0.3)]
    width, lr = box.children
    assert (width.value, lr.value) == (8, 0.3) and 64 in width.options and 3.0 in lr.options
    width.value = 32
    lr.value = 1.0
    assert calls[1:] == [(32, 0.3), (32, 1.0)]
    assert len(shown["handle"].updates) == 2 and isinstance(shown["handle"].updates[-1], Image)


def test_training_explorer_without_ipywidgets_shows_one_figure(shown, monkeypatch, capsys):
    from IPython.display import Image

    from checker.figures.netplots import explore_training

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    X, y = _spirals()
    explore_training(_train, X, y)
    assert "ipywidgets is not installed" in capsys.readouterr().out
    assert len(shown["objects"]) == 1 and isinstance(shown["objects"][0], Image)


def test_static_figures():
    pytest.importorskip("matplotlib")
    from checker.figures import netplots

    fig = netplots.activation_figure()
    assert "slope at a = 0: 0" in fig.axes[2].get_legend().get_texts()[0].get_text()
    pre = torch.tensor([[-1.0, 2.0, -3.0], [-0.5, 1.0, 4.0]])
    fig = netplots.dead_units_figure(pre)
    assert fig.axes[1].get_title() == "dead units (red): 1 of 3"
    assert [t.get_text() for t in fig.axes[1].texts] == ["dead"]
    X, y = _spirals()
    fig = netplots.training_figure(lambda points: points @ torch.eye(2, 3), [1.0, math.exp(-1)], X, y, "t")
    assert fig.axes[0].get_title() == "t" and fig.axes[1].get_yscale() == "log"


def test_import_checker_stays_light():
    import subprocess

    code = "import sys, checker; from checker import lesson05; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
