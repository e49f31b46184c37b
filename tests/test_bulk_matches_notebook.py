"""Odd answers get the same verdict and message in bulk grading as in the notebook (found by trying to break the
grader on lessons 02-05): a default device of "meta", meta and sparse tensors, float8, an error whose __str__
raises, an answer that swallows the time limit. The probe runs in this process (tests/inprocess_probe.py)."""
import math
import time

import pytest
import torch
from inprocess_probe import bulk_grade

from checker import lesson02, lesson03, lesson04


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("str exploded")


def _raises_unprintable(x, w0, b0, w1, b1):
    raise Unprintable()


def _swallows_the_time_limit(x, w0, b0, w1, b1):
    try:
        time.sleep(8)
    except BaseException:  # noqa: B036  what the test is about
        pass
    return 0.0, 0.0, 0.0, 0.0, 0.0


CASES = {
    "meta-tensor": (lesson02.vjp, lambda x, v: torch.empty(3, device="meta")),
    "sparse-tensor": (lesson02.vjp, lambda x, v: (torch.cos(x) * v).to_sparse()),
    "sparse-value": (lesson02.sum_grad, torch.tensor([2.0, 4.0, 6.0]).to_sparse()),
    "float8": (lesson02.vjp, lambda x, v: (torch.cos(x) * v).to(torch.float8_e4m3fn)),
    "unprintable-error": (lesson03.two_neurons_grad, _raises_unprintable),
    # longer than the probe sends (1,000 items): still a list of that length, not "a list of None"
    "long-list": (lesson02.sum_grad, [2.0] * 5000),
    "long-nested-list": (lesson02.sum_grad, [[1.0, 2.0, 3.0]] * 2000),
    "long-list-in-a-function": (lesson02.vjp, lambda x, v: [1.0] * 5000),
    "long-mixed-list": (lesson02.sum_grad, [2.0, "a"] * 600),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_same_verdict_as_the_notebook(name):
    exercise, answer = CASES[name]
    notebook, bulk = exercise.check(answer), bulk_grade(exercise, answer)
    assert notebook.status in ("error", "incorrect")
    assert (bulk.status, bulk.message) == (notebook.status, notebook.message)


def test_sparse_and_meta_answers_are_told_why():
    assert "layout sparse_coo" in lesson02.sum_grad.check(CASES["sparse-value"][1]).message
    assert "'meta' device" in lesson02.vjp.check(CASES["meta-tensor"][1]).message
    assert "its __str__ raised RuntimeError" in lesson03.two_neurons_grad.check(_raises_unprintable).message


def test_a_swallowed_time_limit_stops_the_answer_in_both():
    start = time.monotonic()
    notebook = lesson03.two_neurons_grad.check(_swallows_the_time_limit)
    assert time.monotonic() - start < 7  # not 33 points x 8 s
    bulk = bulk_grade(lesson03.two_neurons_grad, _swallows_the_time_limit)
    assert notebook.status == bulk.status == "error" and notebook.message == bulk.message
    assert "took longer than 5 s" in notebook.message


def test_a_default_device_of_meta_in_the_notebook_changes_nothing():
    def fix_leaf(x):  # the solution's form: tensors made without device=
        x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (x**3 * torch.cos(x)).backward()
        return x.grad

    right = lesson04.scalar_grads.solution_fn
    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        for exercise, answer in ((lesson04.scalar_grads, right), (lesson02.fix_leaf, lesson02.fix_leaf.solution_fn)):
            notebook, bulk = exercise.check(answer), bulk_grade(exercise, answer)
            assert notebook.status == bulk.status == "correct", (notebook.message, bulk.message)
        assert torch.get_default_device().type == "meta"  # the student's setting is left as it was
    finally:
        torch.set_default_device(None if previous.type == "cpu" else previous)
    assert math.isfinite(1.0)
