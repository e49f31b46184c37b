"""A student's default device and dtype never reach the checker's own tensors.

On a GPU runtime students call `torch.set_default_device("cuda")`; the "meta" device
reproduces that class of bug on a CPU machine (a meta tensor holds no numbers, so any
checker tensor created without `device=` fails loudly). `make gpu-check` runs the CUDA case.
"""
import math
import subprocess
import sys
import textwrap

import pytest
import torch

import checker
from checker import lesson01
from checker.lessons.catalog import all_exercises

EXERCISES = all_exercises()


@pytest.fixture
def meta_default():
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(None)


def _device():
    return torch.get_default_device()


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.id)
def test_every_exercise_judges_under_a_meta_default_device(meta_default, ex):
    assert checker.grade(ex.id, ex.solution_fn).status == "correct"
    for mistake in ex.mistakes[:2]:
        result = checker.grade(ex.id, mistake.answer)
        assert (result.status, result.mistake) == ("incorrect", mistake.id)
    assert _device().type == "meta", "the student's default device was not put back"


def test_check_gradient_under_a_meta_default_device(meta_default):
    f = lambda a, b: a * b**2 + torch.sin(a)
    right = checker.check_gradient(lambda a, b: (b**2 + math.cos(a), 2 * a * b), f, 1.0, 2.0)
    wrong = checker.check_gradient(lambda a, b: (b**2, 2 * a * b), f, 1.0, 2.0)
    assert right.status == "correct", right.message
    assert wrong.status == "incorrect"
    tensors = checker.check_gradient(lambda x: 2 * x, lambda x: (x**2).sum(), torch.ones(3, device="cpu"))
    assert tensors.status == "correct", tensors.message
    assert _device().type == "meta"


def test_float64_default_dtype_and_meta_device_together(meta_default):
    torch.set_default_dtype(torch.float64)
    try:
        for ex in EXERCISES:
            assert checker.grade(ex.id, ex.solution_fn).status == "correct", ex.id
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)


def test_an_answer_that_changes_the_default_device_is_undone():
    def sneaky(x):
        torch.set_default_device("meta")
        return 2 * x * math.cos(x**2)

    result = lesson01.dz_dx.check(sneaky)
    try:
        assert result.status == "correct", result.message
        assert _device().type == "cpu"
    finally:
        torch.set_default_device(None)


def test_an_answer_on_the_meta_device_is_an_error_not_not_attempted():
    result = lesson01.dz_dx.check(lambda x: torch.tensor(2 * x * math.cos(x**2), device="meta"))
    assert result.status == "error" and "meta" in result.message


def test_lesson_modules_imported_after_set_default_device_hold_cpu_data():
    """`torch.set_default_device(...)` in the first cell, then `from checker import lesson02`."""
    code = textwrap.dedent("""
        import torch
        torch.set_default_device("meta")
        from checker import lesson02, lesson04
        import checker
        from checker.lessons.catalog import all_exercises
        bad = [ex.id for ex in all_exercises() if checker.grade(ex.id, ex.solution_fn).status != "correct"]
        assert not bad, bad
        assert torch.get_default_device().type == "meta"
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_lesson_figures_under_a_meta_default_device(meta_default):
    from checker.figures import plots

    fig = plots.tangent_figure(lambda x: torch.sin(x**2), at=[1.0])
    assert fig.axes
    assert plots.slope(lambda x: x**2, 3.0) == pytest.approx(6.0)
