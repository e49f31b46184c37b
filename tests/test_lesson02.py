"""Lesson 02: the graph drawing module, the lesson's own exercises beyond the generic
tests, and the numbers the committed notebook shows (the seed's and the issue's)."""
import json
import pathlib
import sys

import pytest
import torch

import checker
from checker import lesson02
from checker.figures import graph
from checker.lessons.catalog import exercises as lesson_exercises
from tests.notebook_errors import shown_errors

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTER = ROOT / "notebooks" / "master" / "02_autograd.ipynb"


# -- checker.figures.graph ----------------------------------------------------------------
def test_graph_of_sin_of_square():
    x = torch.tensor(3.0, requires_grad=True)
    y = x**2
    z = torch.sin(y)
    g = graph.graph_of(z, names={"x": x, "y": y, "z": z})
    assert g.labels == ["z", "SinBackward0", "PowBackward0", "AccumulateGrad"]
    assert [n.kind for n in g.nodes] == ["output", "function", "function", "leaf"]
    assert g.edges == [(0, 1), (1, 2), (2, 3)]
    assert [n.depth for n in g.nodes] == [0, 1, 2, 3]
    assert g.nodes[2].note == "made y" and g.nodes[3].note == "x.grad"
    assert g.nodes[0].note == "0.4121"
    assert "PowBackward0 (made y) -> AccumulateGrad (x.grad)" in repr(g)


def test_graph_without_names():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = graph.graph_of((x**2).mean())
    assert g.labels == ["output", "MeanBackward0", "PowBackward0", "AccumulateGrad"]
    assert g.nodes[3].note == "leaf .grad (shape (3,))"


def test_graph_with_several_inputs_and_a_shared_leaf():
    a = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(2.0, requires_grad=True)
    f = a * b**2 + torch.sin(a)
    g = graph.graph_of(f, names={"a": a, "b": b, "f": f})
    assert sorted(g.labels) == sorted(
        ["f", "AddBackward0", "MulBackward0", "SinBackward0", "PowBackward0", "AccumulateGrad", "AccumulateGrad"]
    )
    leaves = {n.note: n.index for n in g.nodes if n.kind == "leaf"}
    assert set(leaves) == {"a.grad", "b.grad"}
    into_a = [src for src, dst in g.edges if dst == leaves["a.grad"]]
    assert sorted(g.nodes[i].label for i in into_a) == ["MulBackward0", "SinBackward0"]
    # every edge points down at least one layer: the layout has no upward arrows
    assert all(g.nodes[dst].depth > g.nodes[src].depth for src, dst in g.edges)


def test_graph_keeps_an_input_used_twice_as_two_edges():
    x = torch.tensor(3.0, requires_grad=True)
    g = graph.graph_of(x * x)
    assert g.labels == ["output", "MulBackward0", "AccumulateGrad"]
    assert g.edges == [(0, 1), (1, 2), (1, 2)]


def test_graph_skips_inputs_that_do_not_require_grad():
    x = torch.tensor(3.0, requires_grad=True)
    g = graph.graph_of(x * torch.tensor(2.0))
    assert g.labels == ["output", "MulBackward0", "AccumulateGrad"]


def test_graph_of_a_leaf():
    x = torch.tensor(3.0, requires_grad=True)
    g = graph.graph_of(x, names={"x": x})
    assert g.labels == ["x (leaf)"] and g.edges == [] and g.nodes[0].kind == "leaf"


@pytest.mark.parametrize("make", [
    lambda: torch.tensor(3.0),
    lambda: torch.tensor(3.0, requires_grad=True).detach() ** 2,
    lambda: torch.tensor(3.0, requires_grad=True).pow(2).detach(),
])
def test_graph_of_an_untracked_tensor_explains(make):
    with pytest.raises(ValueError, match="no graph to draw.*no_grad"):
        graph.graph_of(make())


def test_graph_of_no_grad_result_explains():
    x = torch.tensor(3.0, requires_grad=True)
    with torch.no_grad():
        y = x**2
    with pytest.raises(ValueError, match="no grad_fn"):
        graph.draw_graph(y)


def test_graph_of_a_non_tensor():
    with pytest.raises(TypeError, match="expects a tensor"):
        graph.graph_of(3.0)


def test_layout_is_deterministic_and_centred():
    def positions():
        a = torch.tensor(1.0, requires_grad=True)
        b = torch.tensor(2.0, requires_grad=True)
        return graph.layout(graph.graph_of(a * b**2 + torch.sin(a)))

    first = positions()
    assert first == positions()
    assert first[0] == (0.0, 0.0)  # the output on top, centred
    rows = {}
    for x, y in first.values():
        rows.setdefault(y, []).append(x)
    for xs in rows.values():
        assert sum(xs) == pytest.approx(0.0)  # each row centred
        assert len(set(xs)) == len(xs)  # no two boxes on top of each other


def test_figure_has_one_box_per_node_and_one_arrow_per_edge():
    x = torch.tensor(3.0, requires_grad=True)
    fig = graph.graph_figure(torch.sin(x**2), names={"x": x}, title="z")
    ax = fig.axes[0]
    boxes = [t for t in ax.texts if t.get_text()]
    assert len(boxes) == 4
    assert len(ax.texts) - len(boxes) == 3  # arrows are empty annotations
    assert fig._suptitle.get_text() == "z"


def test_figure_png_is_the_same_every_time():
    from checker.engine.render import figure_png

    def png():
        x = torch.tensor(3.0, requires_grad=True)
        return figure_png(graph.graph_figure(x * x + torch.sin(x), names={"x": x}))

    assert png() == png()


def test_importing_the_graph_module_does_not_import_matplotlib():
    import subprocess

    code = "import checker.figures.graph, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- lesson 02's exercises, beyond the generic tests ------------------------------------
def _dg_dx_buggy(x):
    x = torch.tensor(x, requires_grad=True).double()
    g = x * torch.sin(x)
    g.backward()
    return x.grad


def test_fix_leaf_names_the_original_bug():
    with pytest.warns(UserWarning, match="not a leaf"):
        result = checker.grade("lesson02.fix_leaf", _dg_dx_buggy)
    assert result.status == "incorrect" and result.mistake == "returned-none"
    assert "not a leaf" in result.message and "float64 copy" in result.message
    # it names the cause; the code of the fix is left to hint() and solution()
    assert "dtype=torch.float64" not in result.message and "torch.tensor(" not in result.message


def test_fix_leaf_message_fits_other_dtype_changes():
    def with_to(x):
        x = torch.tensor(x, requires_grad=True).to(torch.float64)
        g = x * torch.sin(x)
        g.backward()
        return x.grad

    with pytest.warns(UserWarning, match="not a leaf"):
        result = checker.grade("lesson02.fix_leaf", with_to)
    assert result.mistake == "returned-none"
    assert ".double()" not in result.message  # the student did not write .double()


def test_fix_leaf_accepts_retain_grad_as_a_fix():
    def fixed(x):
        x = torch.tensor(x, requires_grad=True).double()
        x.retain_grad()
        g = x * torch.sin(x)
        g.backward()
        return x.grad

    assert checker.grade("lesson02.fix_leaf", fixed).passed


def test_fix_zeroing_names_the_original_bug():
    def buggy(x):
        x = torch.tensor(x, requires_grad=True)
        y = x**2
        y.backward(retain_graph=True)
        z = torch.sin(y)
        z.backward()
        return x.grad

    assert float(buggy(3.0)) == pytest.approx(0.5332, abs=1e-4)
    result = checker.grade("lesson02.fix_zeroing", buggy)
    assert result.mistake == "accumulated"


def test_fix_zeroing_accepts_grad_set_to_none():
    def fixed(x):
        x = torch.tensor(x, requires_grad=True)
        y = x**2
        y.backward(retain_graph=True)
        x.grad = None
        torch.sin(y).backward()
        return x.grad

    assert checker.grade("lesson02.fix_zeroing", fixed).passed


def _dz_dx_with(line):
    """Exercise 5's function with `line` (a function of x) in place of the student's line."""
    def answer(x):
        x = torch.tensor(x, requires_grad=True)
        y = x**2
        y.backward(retain_graph=True)
        x = line(x)
        z = torch.sin(y)
        z.backward()
        return x.grad

    return answer


def test_fix_zeroing_without_parentheses_is_named():
    def no_call(x):
        x.grad.zero_  # noqa: B018 (the student's bug: the method is named, not called)
        return x

    result = checker.grade("lesson02.fix_zeroing", _dz_dx_with(no_call))
    assert result.mistake == "accumulated"
    assert "without `()`" in result.message
    assert "x.grad.zero_()" not in result.message  # the cause, not the code of the fix


def test_fix_zeroing_new_leaf_is_a_real_attempt():
    result = checker.grade("lesson02.fix_zeroing", _dz_dx_with(lambda x: torch.tensor(3.0, requires_grad=True)))
    assert result.status == "incorrect" and result.mistake == "returned-none"
    assert "new tensor named x" in result.message and "forget `return`" not in result.message


def test_vjp_without_return_is_a_real_attempt():
    def no_return(x, v):
        x.requires_grad_(True)
        torch.sin(x**2).backward(gradient=v)

    result = checker.grade("lesson02.vjp", no_return)
    assert result.status == "incorrect" and result.mistake == "returned-none"
    assert "no `return`" in result.message


def test_untouched_stubs_are_still_not_attempted():
    def stub(*args):
        raise NotImplementedError("Replace this line with your answer")

    for name in ("fix_leaf", "vjp", "fix_zeroing"):
        assert checker.grade(f"lesson02.{name}", stub).status == "not_attempted", name


FIX_CODE = ("x.grad.zero_()", "x.grad = None", "dtype=torch.float64", "y.backward(gradient=v)", "return x.grad")


@pytest.mark.parametrize("exercise", lesson_exercises("lesson02"), ids=lambda ex: ex.id)
def test_mistake_messages_leave_the_code_of_the_fix_to_hints(exercise):
    messages = [m.message for m in exercise.mistakes] + [exercise.none_message or ""]
    for message in messages:
        assert not any(code in message for code in FIX_CODE), message


@pytest.mark.parametrize("answer", [12.0, 12, torch.tensor(12.0), torch.tensor([12.0]), torch.tensor(12.0).double()])
def test_two_backward_accepts_numbers_and_tensors(answer):
    assert checker.grade("lesson02.two_backward", answer).passed


def test_two_backward_accepts_the_tensor_autograd_gives():
    x = torch.tensor(3.0, requires_grad=True)
    for _ in range(2):
        (x**2).backward()
    assert checker.grade("lesson02.two_backward", x.grad).passed


def test_value_stub_is_not_attempted_with_its_own_message():
    result = checker.grade("lesson02.two_backward", ...)
    assert result.status == "not_attempted" and "replace `...`" in result.message


def test_value_answer_that_is_a_function_is_refused():
    result = checker.grade("lesson02.two_backward", lambda: 12.0)
    assert result.status == "error" and "value itself" in result.message


def test_wrong_value_without_a_known_mistake():
    result = checker.grade("lesson02.two_backward", 7.0)
    assert result.status == "incorrect" and result.mistake is None
    assert "not what torch.autograd gives" in result.message
    assert "times the correct value" not in result.message  # a ratio of two numbers says nothing
    assert "at :" not in str(result)


def test_sum_grad_wrong_shape_is_explained():
    result = checker.grade("lesson02.sum_grad", torch.tensor(12.0))
    # a prediction of the wrong shape is a wrong prediction (no code was written that could not be checked)
    assert result.status == "incorrect" and result.mistake == "wrong-shape" and "shape (3,)" in result.message


def test_value_solution_shows_the_value_and_where_it_comes_from():
    text = repr(lesson02.two_backward.solution())
    assert "two_backward = 12.0" in text and "y.backward()" in text
    # the reference has another name: copying the whole display must not rebind the answer to a function
    assert "def two_backward" not in text and "def how_autograd_gets_it" in text
    text = repr(lesson02.sum_grad.solution())
    # valid code: `tensor([2., 4., 6.])`, the repr, would raise NameError when copied
    assert "def sum_grad" not in text and "sum_grad = torch.tensor([2.0, 4.0, 6.0])" in text


def test_vjp_sum_instead_of_v_is_named():
    def summed(x, v):
        x.requires_grad_(True)
        torch.sin(x**2).sum().backward()
        return x.grad

    assert checker.grade("lesson02.vjp", summed).mistake == "sum-not-v"


@pytest.mark.parametrize("answer, mistake", [
    (lambda x, v: torch.sin(x**2), "returned-y"),
    (lambda x, v: v * 2 * x * torch.sin(x**2), "sin-not-cos"),
])
def test_vjp_by_hand_mistakes_are_named(answer, mistake):
    assert checker.grade("lesson02.vjp", answer).mistake == mistake


def test_vjp_unknown_wrong_answer_names_the_vector_jacobian_product():
    result = checker.grade("lesson02.vjp", lambda x, v: v * x)
    assert result.status == "incorrect" and "vector-Jacobian product vᵀJ" in result.message


def test_vjp_by_weighted_sum_passes():
    def weighted(x, v):
        x.requires_grad_(True)
        (v * torch.sin(x**2)).sum().backward()
        return x.grad

    assert checker.grade("lesson02.vjp", weighted).passed


# -- the committed notebook shows the numbers -------------------------------------
def _outputs():
    nb = json.loads(MASTER.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    texts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                texts.append("".join(out["text"]))
            else:
                texts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts), shown_errors(cells)


def test_notebook_shows_the_seed_numbers():
    text, _ = _outputs()
    for expected in [
        "tensor(3., requires_grad=True)",
        "tensor(9., grad_fn=<PowBackward0>)",
        "tensor(6.)",
        "tensor(0.4121, grad_fn=<SinBackward0>)",
        "tensor(-5.4668)",
        "tensor(0.5332)",  # without zeroing
        "tensor([0.6667, 1.3333, 2.0000])",  # the mean
        "SinBackward0\nPowBackward0\nAccumulateGrad",
    ]:
        assert expected in text, expected


def test_notebook_shows_accumulation_6_12_18():
    text, _ = _outputs()
    for step, value in [(1, 6), (2, 12), (3, 18)]:
        assert f"after backward() number {step}: x.grad = tensor({value}.)" in text


def test_notebook_shows_each_error_with_expect_error():
    """PyTorch's real message for each deliberate error, shown by expect_error: Colab's Run all goes on."""
    _, errors = _outputs()
    assert len(errors) == 8
    assert all("with expect_error(" in source for _, _, source in errors)
    messages = "\n".join(f"{name}: {value}" for name, value, _ in errors)
    for expected in [
        "grad can be implicitly created only for scalar outputs",
        "Trying to backward through the graph a second time",
        "a leaf Variable that requires grad is being used in an in-place operation",
        "Only Tensors of floating point and complex dtype can require gradients",
        "Can't call numpy() on Tensor that requires grad",
        "does not require grad and does not have a grad_fn",
        "AttributeError: 'NoneType' object has no attribute 'zero_'",
        "ValueError: This tensor has no graph to draw",
    ]:
        assert expected in messages, expected


STUDENT = ROOT / "notebooks" / "student" / "02_autograd.ipynb"


def _code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _shown(cell):
    return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for o in cell["outputs"])


@pytest.mark.parametrize("name, answer", [
    ("two_backward", "after backward() number 2: x.grad = tensor(12.)"),
    ("sum_grad", "tensor([2., 4., 6.])"),
])
def test_predictions_are_not_revealed_in_the_exercise_edition(name, answer):
    """The cell that runs a prediction's code shows its result only once a prediction was made."""
    def reveal(cells):
        return next(c for c in cells if f"if {name} is ...:" in "".join(c["source"]))

    master, student = _code_cells(MASTER), _code_cells(STUDENT)
    assert answer in _shown(reveal(master))
    assert "Make your prediction first" in _shown(reveal(student))
    assert answer not in _shown(reveal(student))
    # the prediction and its check come before the reveal, in both editions
    for cells in (master, student):
        sources = ["".join(c["source"]) for c in cells]
        check = sources.index(f"ex.{name}.check({name})")
        assert sources.index(next(s for s in sources if f"if {name} is ...:" in s)) == check + 1


def test_lesson_prose_warns_about_run_all_and_says_no_seed():
    nb = json.loads(MASTER.read_text())
    prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "*Run all* runs every cell, in Colab as in Jupyter" in prose
    assert "seed" not in prose.lower()
    assert "x.requires_grad_(True)" in prose  # Exercise 4's instructions name it


def test_no_cell_changes_how_tracebacks_look():
    """%xmode in one cell would change every later error, the student's own included."""
    for path in (MASTER, STUDENT):
        assert not any("%xmode" in "".join(c["source"]) for c in _code_cells(path))


def test_notebook_has_a_figure_and_every_error_is_followed_by_code():
    nb = json.loads(MASTER.read_text())
    pngs = [o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(pngs) >= 3
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        if "with expect_error(" in "".join(cell["source"]):
            following = [c for c in cells[i + 1:] if c["cell_type"] == "code"]
            assert following and not any(o["output_type"] == "error" for o in following[0]["outputs"])


# -- autograd nodes identified by the node, not by its Python object (torch 2.11) ----------------
class _Rewrapped:
    """A new Python object for the same autograd node on every access, as torch 2.11 gives."""

    def __init__(self, node):
        self._node = node

    @property
    def next_functions(self):
        return tuple((_rewrap(child) if child is not None else None, k) for child, k in self._node.next_functions)

    @property
    def metadata(self):
        return self._node.metadata

    @property
    def variable(self):
        return self._node.variable


def _rewrap(node):
    kind = type(type(node).__name__, (_Rewrapped,), {})  # keeps the label "SinBackward0", ...
    if not hasattr(node, "variable"):
        kind.variable = None
    return kind(node)


def test_graph_labels_hold_when_every_access_gives_a_new_node_object(monkeypatch):
    real = torch.Tensor.grad_fn
    x = torch.tensor(3.0, requires_grad=True)
    y = x**2
    z = torch.sin(y) * y  # y used twice: one PowBackward0 box, reached by two edges
    expected = graph.graph_of(z, names={"x": x, "y": y, "z": z})
    monkeypatch.setattr(torch.Tensor, "grad_fn", property(lambda t: None if real.__get__(t) is None
                                                          else _rewrap(real.__get__(t))))
    assert z.grad_fn is not z.grad_fn  # the situation on torch 2.11
    seen = graph.graph_of(z, names={"x": x, "y": y, "z": z})
    assert [str(n) for n in seen.nodes] == [str(n) for n in expected.nodes]
    assert seen.edges == expected.edges
    assert "PowBackward0 (made y)" in [str(n) for n in seen.nodes]
    assert [str(n) for n in seen.nodes].count("AccumulateGrad (x.grad)") == 1


def test_graph_of_leaves_no_trace_in_the_nodes():
    x = torch.tensor(3.0, requires_grad=True)
    y = x**2
    z = torch.sin(y)
    graph.graph_of(z, names={"x": x, "y": y})
    assert dict(z.grad_fn.metadata) == {} and dict(y.grad_fn.metadata) == {}
    assert dict(z.grad_fn.next_functions[0][0].next_functions[0][0].metadata) == {}
