"""Lesson 03 (the chain rule on a graph): the executed notebooks show the numbers the
lesson talks about, the exercises are hand-gradient exercises, and the graph drawing works."""
import json
import math
import pathlib
import re
import subprocess
import sys

import pytest
import torch

import checker
from checker import lesson03
from checker.engine.judge import compute_reference
from checker.figures.compgraph import graph_figure, layout
from checker.lessons.catalog import exercises as lesson_exercises
from tests.notebook_errors import shown_errors

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTER = ROOT / "notebooks" / "master" / "03_chain_rule.ipynb"
STUDENT = ROOT / "notebooks" / "student" / "03_chain_rule.ipynb"

# The CS231n neuron: w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3, so z = 1.
POINT = (2.0, -1.0, -3.0, -2.0, -3.0)
SIGMA = 1 / (1 + math.exp(-1.0))
DF_DZ = SIGMA * (1 - SIGMA)
# Exercise 2's two neurons in a row: x = 1.5, w0 = 2, b0 = -1, w1 = -3, b1 = 1
TWO_POINT = (1.5, 2.0, -1.0, -3.0, 1.0)


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _text(cell) -> str:
    """Everything a code cell shows: streams, text/plain, text/html, errors."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]))
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
        else:
            for key in ("text/plain", "text/html"):
                value = out.get("data", {}).get(key)
                if value:
                    parts.append("".join(value))
    return "\n".join(parts)


def _cell_with(cells, needle):
    found = [c for c in cells if c["cell_type"] == "code" and needle in "".join(c["source"])]
    assert found, f"no code cell contains {needle!r}"
    return found[0]


@pytest.fixture(scope="module")
def master():
    return _cells(MASTER)


@pytest.fixture(scope="module")
def student():
    return _cells(STUDENT)


# -- the numbers the lesson shows ---------------------------------------------------------
def test_staged_neuron_forward_and_backward(master):
    forward = _text(_cell_with(master, "f = 1 / (1 + math.exp(-z))"))
    assert "a = -2.0, b = 6.0, c = 4.0, z = 1.0, f = σ(z) = 0.7311" in forward
    backward = _text(_cell_with(master, "df_dw0 = df_da * x0"))
    for expected in ("df/dz = 0.1966", "df/dw0 = -0.1966", "df/dx0 = 0.3932", "df/dw1 = -0.3932",
                     "df/dx1 = -0.5898", "df/dw2 = 0.1966"):
        assert expected in backward


def test_every_intermediate_matches_autograd(master):
    table = _text(_cell_with(master, "node.retain_grad()"))
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:] if line.strip()}
    assert set(rows) == {"w0", "x0", "w1", "x1", "w2", "a", "b", "c", "z", "f"}
    expected_grads = {"w0": -DF_DZ, "x0": 2 * DF_DZ, "w1": -2 * DF_DZ, "x1": -3 * DF_DZ, "w2": DF_DZ,
                      "a": DF_DZ, "b": DF_DZ, "c": DF_DZ, "z": DF_DZ, "f": 1.0}
    for name, (hand_value, auto_value, hand_grad, auto_grad, same) in rows.items():
        assert same == "yes", name
        assert hand_value == auto_value and hand_grad == auto_grad, name
        assert float(hand_grad) == pytest.approx(expected_grads[name], abs=5e-5), name
    assert float(rows["f"][0]) == pytest.approx(SIGMA, abs=5e-5)


def test_chain_and_sigmoid_gates(master):
    chain = _text(_cell_with(master, "dz_dx = dz_du * 2 * x"))
    assert "dz/du = -0.9111, dz/dx = -5.4668" in chain
    gates = _text(_cell_with(master, "ds_dz = ds_dm * -1"))
    assert gates.count("dσ/dz = 0.1966") == 2


def test_fork_contributions_add_up(master):
    assert "df/ds = 3.0, df/dx = 5.0, df/dy = 3.0" in _text(_cell_with(master, "f = s * x"))


def test_figures_are_drawn(master):
    images = [c for c in master if c["cell_type"] == "code" and "show_graph(" in "".join(c["source"])]
    assert len(images) == 2
    for cell in images:
        assert any("image/png" in out.get("data", {}) for out in cell["outputs"])


def test_deliberate_error_and_fix(master):
    error_cells = [c for c in master if shown_errors([c])]
    assert len(error_cells) == 1
    (kind, message, source), = shown_errors(error_cells)
    assert kind == "RuntimeError" and "with expect_error(RuntimeError)" in source
    assert "backward through the graph a second time" in message
    fix = master[master.index(error_cells[0]) + 2]  # the markdown explaining the fix, then the fix
    assert "u.grad = -0.9111, x.grad = -5.4668" in _text(fix)
    none_cell = _text(_cell_with(master, "warnings.catch_warnings"))
    assert "u.grad = None" in none_cell and "not a leaf Tensor" in none_cell


def test_autograd_inside_the_answer_is_refused_in_both_editions(master, student):
    for cells in (master, student):
        shown = _text(_cell_with(cells, "ex.two_neurons_grad.check(two_neurons_grad_by_autograd)"))
        assert "Not quite" in shown and "uses .backward()" in shown and "by hand" in shown


def test_prose_numbers_appear_in_outputs(master):
    prose = "".join("".join(c["source"]) for c in master if c["cell_type"] == "markdown")
    outputs = "\n".join(_text(c) for c in master if c["cell_type"] == "code")
    for number in ("0.7311", "0.1966", "-0.1966", "0.3932", "-0.3932", "-0.5898", "-0.9111", "-5.4668"):
        assert number.replace("-", "−") in prose or number in prose, number
        assert number in outputs, number


# -- the student edition ----------------------------------------------------------------------
def test_student_edition_has_stubs_not_solutions(student):
    sources = "".join("".join(c["source"]) for c in student)
    assert "BEGIN SOLUTION" not in sources and "self_test" not in sources
    assert "math.exp(v) * -math.sin(u) * 2 * x" not in sources
    for name in ("df_dx", "two_neurons_grad", "fork_grad"):
        stub = _cell_with(student, f"def {name}(")
        assert "raise NotImplementedError" in "".join(stub["source"])
        assert "Not attempted" in _text(_cell_with(student, f"ex.{name}.check({name})"))


# -- the exercises -----------------------------------------------------------------------------
def test_exercises_are_by_hand_and_enough():
    exercises = lesson_exercises("lesson03")
    assert len(exercises) >= 3
    assert all(ex.kind == "gradient" and ex.forbid_autograd for ex in exercises)
    assert all(len(ex.mistakes) >= 4 for ex in exercises)


def test_worked_neuron_is_checked_at_the_cs231n_numbers(master):
    """Section 4 shows section 2's neuron as a function: check_gradient accepts it with the figure's red numbers."""
    shown = _text(_cell_with(master, "check_gradient(neuron_grad, neuron, 2.0, -1.0, -3.0, -2.0, -3.0)"))
    assert "Correct" in shown and "at all 33 points" in shown
    for value in (-DF_DZ, 2 * DF_DZ, -2 * DF_DZ, -3 * DF_DZ, DF_DZ):
        assert f"{value:.6f}"[:7] in shown


def test_two_neurons_reference_is_the_chain_through_both():
    """Autograd's reference at the lesson's point is the backward pass by hand: the first neuron receives
    df/dh = w1·f(1 − f), not 1."""
    x, w0, b0, w1, b1 = TWO_POINT
    h = 1 / (1 + math.exp(-(w0 * x + b0)))
    f = 1 / (1 + math.exp(-(w1 * h + b1)))
    df_dz0 = f * (1 - f) * w1 * h * (1 - h)
    expected = (df_dz0 * w0, df_dz0 * x, df_dz0, f * (1 - f) * h, f * (1 - f))
    assert lesson03.two_neurons_grad.points == (TWO_POINT,)
    reference = compute_reference(lesson03.two_neurons_grad, [TWO_POINT])
    assert [float(e[0]) for e in reference.expected] == pytest.approx(expected, rel=1e-12)
    assert lesson03._two_neurons_grad(*TWO_POINT) == pytest.approx(expected, rel=1e-12)
    assert checker.grade("lesson03.two_neurons_grad", lesson03._two_neurons_grad).passed


def test_torch_autograd_grad_is_refused_too():
    def answer(x, y):
        x = torch.tensor(x, requires_grad=True)
        y = torch.tensor(y, requires_grad=True)
        return torch.autograd.grad(x * y + y * torch.cos(x), (x, y))

    result = checker.grade("lesson03.fork_grad", answer)
    assert result.status == "incorrect" and result.mistake == "used-autograd"
    assert "torch.autograd.grad" in result.message


def test_tensor_answers_are_accepted():
    def answer(x, w0, b0, w1, b1):
        h = torch.sigmoid(torch.tensor(w0 * x + b0, dtype=torch.float32))
        f = torch.sigmoid(w1 * h + b1)
        d1 = f * (1 - f)
        d0 = d1 * w1 * h * (1 - h)
        return d0 * w0, d0 * x, d0, d1 * h, d1

    assert checker.grade("lesson03.two_neurons_grad", answer).passed


# -- the graph drawing ---------------------------------------------------------------------------
NEURON = [
    ("w0", "", ()), ("x0", "", ()), ("w1", "", ()), ("x1", "", ()), ("w2", "", ()),
    ("a", "w0·x0", ("w0", "x0")), ("b", "w1·x1", ("w1", "x1")),
    ("c", "a + b", ("a", "b")), ("z", "c + w2", ("c", "w2")), ("f", "σ(z)", ("z",)),
]


def test_layout_puts_each_node_right_of_its_inputs():
    pos = layout(NEURON)
    for name, _, inputs in NEURON:
        assert all(pos[i][0] < pos[name][0] for i in inputs)
    assert [pos[n][0] for n in ("w0", "a", "c", "z", "f")] == [0, 1, 2, 3, 4]


def test_layout_refuses_inputs_listed_after_use():
    with pytest.raises(ValueError, match="before it is defined"):
        layout([("a", "x·y", ("x", "y")), ("x", "", ()), ("y", "", ())])


def test_graph_figure_draws_values_and_grads():
    values = {"a": 1.0, "f": 0.5}
    fig = graph_figure(NEURON, values, {"f": 1.0}, edge_grads={("z", "f"): 1.0}, title="t")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "0.5" in texts and "∂f/∂f = 1" in texts and "a = w0·x0" in texts


def test_import_checker_stays_light():
    code = "import sys, checker, checker.figures.compgraph; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_machine_paths_in_error_output(master):
    """The deliberate error is shown by expect_error: the error and the cell's line, no file paths."""
    cell = next(c for c in master if shown_errors([c]))
    text = json.dumps(cell["outputs"])
    assert not re.search(r"(/root/|/tmp/|/work/|/home/\w+/)", text)


# -- the review's additions ---------------------------------------------------------------------
def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


def _copied_neuron_for_the_first(x, w0, b0, w1, b1):
    """Section 2's neuron code pasted for the first neuron, whose backward pass then starts from 1 at h."""
    h = 1 / (1 + math.exp(-(w0 * x + b0)))
    dh_dz = h * (1 - h)
    f = 1 / (1 + math.exp(-(w1 * h + b1)))
    df_dz = f * (1 - f)
    return dh_dz * w0, dh_dz * x, dh_dz, df_dz * h, df_dz


def _same_local_derivative_twice(x, w0, b0, w1, b1):
    """One `s = f * (1 - f)` reused for both neurons."""
    f = _sigmoid(w1 * _sigmoid(w0 * x + b0) + b1)
    s = f * (1 - f)
    return s * w1 * s * w0, s * w1 * s * x, s * w1 * s, s * _sigmoid(w0 * x + b0), s


def _through_tensors_w1_forgotten(x, w0, b0, w1, b1):
    """The backward pass written with torch, df/dh taken to be df/dz1."""
    h = torch.sigmoid(torch.tensor(w0 * x + b0, dtype=torch.float64))
    f = torch.sigmoid(w1 * h + b1)
    df_dz1 = f * (1 - f)
    df_dz0 = df_dz1 * h * (1 - h)
    return df_dz0 * w0, df_dz0 * x, df_dz0, df_dz1 * h, df_dz1


@pytest.mark.parametrize("exercise, answer, mistake", [
    ("two_neurons_grad", _copied_neuron_for_the_first, "upstream-missing"),
    ("two_neurons_grad", _same_local_derivative_twice, "first-sigmoid-at-f"),
    ("two_neurons_grad", _through_tensors_w1_forgotten, "w1-skipped"),
    ("fork_grad", lambda x, y: (y - math.sin(x), x + math.cos(x)), "cos-path-missing-y"),
])
def test_plausible_wrong_answers_are_named(exercise, answer, mistake):
    result = checker.grade(f"lesson03.{exercise}", answer)
    assert result.status == "incorrect" and result.mistake == mistake


def test_fork_messages_name_the_missing_path_not_the_answer():
    for mistake in lesson03.fork_grad.mistakes:
        assert "x + cos(x)" not in mistake.message and "y·(−sin(x))" not in mistake.message, mistake.id


def test_prose_of_the_review(master, student):
    prose = "\n".join("".join(c["source"]) for c in master if c["cell_type"] == "markdown")
    assert "*Run all* runs every cell, in Colab as in Jupyter" in prose
    assert "defined in section 2" in prose and "w2 is the bias" in prose
    assert r"\Big|_{s \text{ held fixed}}" in prose
    # the fork rule (chain rule over paths) and the .grad buffer (adds across backward calls) are told apart
    assert "multiply along each path, then **add** over the paths" in prose
    assert "adds its result to whatever the buffer already holds" in prose
    assert "unless you pass `retain_graph=True`" in prose
    # the intentional "Not quite" in the exercise edition is announced right before it
    demo = student.index(_cell_with(student, "ex.two_neurons_grad.check(two_neurons_grad_by_autograd)"))
    assert student[demo - 1]["cell_type"] == "markdown"
    assert "this red box is expected" in "".join(student[demo - 1]["source"])
