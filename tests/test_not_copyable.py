"""An exercise asks for a step the lesson prepared, not for code the lesson already showed (issue 11).

For each exercise below, the cells of the master notebook above the exercise are run as a student sees them
(other exercises' answers replaced by their stubs, instructor cells left out), and every function they define
with the answer's number of arguments is submitted as the answer: the worked examples (section 2's neuron as a
function, the cross-entropy gradient by hand, the two forms of the loss from the logit), and anything else the
lesson defines there. None may pass. `test_a_copyable_exercise_is_caught` puts an exercise's own solution among
those cells and checks that the same test then fails.
"""
import contextlib
import inspect
import io
import pathlib
import types

import nbformat
import pytest
import torch
import torch.nn.functional as F

import checker
from checker.lessons.catalog import all_exercises, find
from tools.editions import INSTRUCTOR_ONLY_TAGS, strip_solutions

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTERS = ROOT / "notebooks" / "master"

# (notebook, exercise, the worked examples the lesson shows above it, library functions it shows there too)
CASES = [
    ("03_chain_rule.ipynb", "lesson03.two_neurons_grad", {"neuron_grad"}, ()),
    ("04_logistic_regression.ipynb", "lesson04.scalar_grads", {"grads_by_hand"}, ()),
    ("04_logistic_regression.ipynb", "lesson04.stable_bce", {"loss_from_logit", "loss_from_logit_for_positive_z"},
     (F.binary_cross_entropy_with_logits,)),
]
ANSWER_NAMES = {ex.answer_name for ex in all_exercises()}
_CELL_FILE = "<lesson cell {}>"


def _exercise_cell(cells, answer_name: str) -> int:
    """The index of the cell where the exercise's answer is written (its solution block, in the master)."""
    return next(i for i, c in enumerate(cells) if c.cell_type == "code" and f"def {answer_name}(" in c.source
                and "### BEGIN SOLUTION" in c.source)


def run_above(notebook: str, answer_name: str) -> dict:
    """The namespace left by the code cells above the exercise, run as a student sees them."""
    cells = nbformat.read(MASTERS / notebook, as_version=4).cells
    namespace = {"__name__": "__lesson__"}
    import matplotlib

    matplotlib.use("Agg")  # figures are drawn, not shown
    with torch.random.fork_rng(), contextlib.redirect_stdout(io.StringIO()):
        for cell in cells[:_exercise_cell(cells, answer_name)]:
            tags = set(cell.metadata.get("tags", []))
            if cell.cell_type != "code" or tags & (INSTRUCTOR_ONLY_TAGS | {"colab-setup"}):
                continue
            source = strip_solutions(cell.source)  # an earlier exercise's cell holds the stub, not the answer
            exec(compile(source, _CELL_FILE.format(cell.id), "exec"), namespace)
    return namespace


def shown_functions(namespace: dict, n_inputs: int) -> dict:
    """The functions the lesson's cells defined that take the answer's arguments (the stubs of exercises left out)."""
    found = {}
    for name, value in namespace.items():
        if not isinstance(value, types.FunctionType) or name in ANSWER_NAMES:
            continue
        if not value.__code__.co_filename.startswith(_CELL_FILE.format("")[:-1]):
            continue
        parameters = inspect.signature(value).parameters.values()
        if sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in parameters) == n_inputs:
            found[name] = value
    return found


def passing(ex, candidates: dict) -> list[str]:
    """The candidates that the checker accepts as answers."""
    return [name for name, answer in candidates.items() if checker.grade(ex, answer).status == "correct"]


@pytest.fixture(scope="module")
def namespaces():
    cache = {}

    def above(notebook, answer_name):
        if (notebook, answer_name) not in cache:
            cache[notebook, answer_name] = run_above(notebook, answer_name)
        return cache[notebook, answer_name]

    return above


@pytest.mark.parametrize("notebook, exercise_id, worked, library", CASES, ids=[c[1] for c in CASES])
def test_code_shown_above_an_exercise_does_not_pass_it(namespaces, notebook, exercise_id, worked, library):
    ex = find(exercise_id)
    candidates = shown_functions(namespaces(notebook, ex.answer_name), len(ex.inputs))
    assert worked <= set(candidates), f"the lesson's worked examples moved: found only {sorted(candidates)}"
    candidates.update({f.__name__: f for f in library})
    assert passing(ex, candidates) == [], f"{exercise_id} can be answered with code the lesson shows above it"


@pytest.mark.parametrize("notebook, exercise_id", [c[:2] for c in CASES], ids=[c[1] for c in CASES])
def test_no_cell_above_an_exercise_runs_its_checker(notebook, exercise_id):
    """A green box of the exercise above the exercise means the lesson answered it already (the old lesson 04
    checked section 2's gradient with Exercise 1's checker just above Exercise 1)."""
    ex = find(exercise_id)
    cells = nbformat.read(MASTERS / notebook, as_version=4).cells
    above = [c.source for c in cells[:_exercise_cell(cells, ex.answer_name)] if c.cell_type == "code"]
    name = exercise_id.split(".", 1)[1]
    assert not any(f"ex.{name}.check(" in source or f"grade({exercise_id!r}" in source for source in above)


def test_the_worked_examples_are_right_about_their_own_task(namespaces):
    """What the lesson shows is right (so the exercises differ from it in substance, not by a broken copy)."""
    ns = namespaces("03_chain_rule.ipynb", "two_neurons_grad")
    assert checker.check_gradient(ns["neuron_grad"], ns["neuron"], 0.5, 1.5, -1.0, 2.0, 0.3).passed
    ns = namespaces("04_logistic_regression.ipynb", "scalar_grads")
    assert checker.check_gradient(ns["grads_by_hand"], ns["loss_of"], 1.5, 1.0, 1.0, -0.5, wrt=("w", "b")).passed
    ns = namespaces("04_logistic_regression.ipynb", "stable_bce")
    z, y = torch.tensor([-5.0, 0.0, 5.0], dtype=torch.float64), torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    reference = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    for name in ("loss_from_logit", "loss_from_logit_for_positive_z"):
        assert torch.allclose(ns[name](z, y), reference), name


def test_a_copyable_exercise_is_caught(namespaces):
    """The test above can fail: with an exercise's solution shown among the cells above it, it is found."""
    ex = find("lesson04.stable_bce")
    namespace = dict(namespaces("04_logistic_regression.ipynb", ex.answer_name))
    source = inspect.getsource(ex.solution_fn).replace("def _stable_bce(", "def shown_loss(")
    exec(compile(source, _CELL_FILE.format("shown"), "exec"), {"torch": torch}, namespace)
    candidates = shown_functions(namespace, len(ex.inputs))
    assert passing(ex, candidates) == ["shown_loss"]
