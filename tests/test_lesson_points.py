"""No lesson point where a known slip coincides with the answer.

Every known mistake differs from the reference at every lesson point (unless the exercise declares why
it may agree there: a numerically fragile form of the right formula, or the original notebook's b = 0),
and "right only at the lesson's point" is said only of an answer that is the same number elsewhere.
"""
import math

import pytest
import torch

import checker
from checker import lesson01, lesson02, lesson03
from checker.engine.convert import BadAnswer
from checker.engine.diagnose import _mistake_outputs
from checker.engine.judge import sampled_reference
from checker.lessons.catalog import all_exercises

CASES = [(ex, m) for ex in all_exercises() if ex.kind != "value" and ex.points for m in ex.mistakes
         if not m.agrees_at_lesson_points]


@pytest.mark.parametrize("ex, mistake", CASES, ids=[f"{ex.id}:{m.id}" for ex, m in CASES])
def test_every_known_mistake_differs_at_every_lesson_point(ex, mistake):
    ref = sampled_reference(ex)
    try:
        outputs = _mistake_outputs(ex, ref, mistake)
    except BadAnswer:  # a mistake of another shape than the answer's cannot agree with it anywhere
        return
    for row, index in enumerate(ref.valid):
        if index >= len(ex.points):
            continue
        differs = any(
            bool(((o[row] - e[row]).abs() > 100 * ex.tolerance.allowed(e[row])).any())
            for o, e in zip(outputs, ref.expected)
        )
        assert differs, f"{mistake.id} gives the reference's value at the lesson's point {ref.points[index]}"


def test_declared_agreements_say_why():
    declared = [(ex.id, m.id, m.agrees_at_lesson_points) for ex in all_exercises() for m in ex.mistakes
                if m.agrees_at_lesson_points]
    assert declared and all(len(why) > 20 for *_, why in declared)
    assert {ex_id for ex_id, *_ in declared} <= {"lesson04.scalar_grads", "lesson04.stable_bce", "lesson02.fix_leaf",
                                                 "lesson02.vjp", "lesson02.fix_zeroing"}


# the slips that x = 1 hid (x² = x and x·cos x = cos x there), now named wherever they are made
SLIPS = [
    (lesson01.dg_dx, lambda x: math.sin(x) + math.cos(x), "u-dropped-in-second-term"),
    (lesson03.df_dx, lambda x: -math.exp(math.cos(x)) * math.sin(x) * 2 * x, "stages-at-x"),
    (lesson03.df_dx, lambda x: -math.exp(math.cos(x**2)) * math.sin(x**2) * 2, "inner-factor-without-x"),
]


@pytest.mark.parametrize("ex, slip, mistake", SLIPS, ids=[s[2] for s in SLIPS])
def test_slips_hidden_by_x_equal_1_are_named(ex, slip, mistake):
    assert math.isclose(slip(1.0), ex.solution_fn(1.0)), "the reason the lesson's point moved"
    assert ex.points[0][0] != 1.0
    result = checker.grade(ex, slip)
    assert result.status == "incorrect" and result.mistake == mistake
    assert "lesson's own point" not in result.message


def test_the_lesson_points_that_moved():
    assert lesson01.dg_dx.points == ((2.5,),) and lesson02.fix_leaf.points == ((2.5,),)
    assert lesson03.df_dx.points == ((1.5,),)


def test_right_only_at_the_lesson_point_is_said_of_a_typed_in_number_only():
    ex = lesson01.dg_dx
    value = ex.solution_fn(2.5)
    typed = checker.grade(ex, lambda x: value)
    assert typed.status == "incorrect" and "right at x = 2.5, the lesson's own point" in typed.message
    special_cased = checker.grade(ex, lambda x: value if x == 2.5 else 0.0)
    assert "the lesson's own point" in special_cased.message

    def formula_right_only_there(x):  # a formula slip that happens to vanish at x = 2.5
        return ex.solution_fn(x) + (x - 2.5) * 0.3

    formula = checker.grade(ex, formula_right_only_there)
    assert formula.status == "incorrect" and "lesson's own point" not in formula.message
    assert "differs from the derivative at 32 of the 33 points" in formula.message


def test_old_lesson_point_would_have_misled():
    """At the old x = 1, sin(x) + cos(x) was 'right at the lesson's point': now it is named by its slip."""
    result = checker.grade(lesson01.dg_dx, lambda x: math.sin(x) + math.cos(x))
    assert "x = 1" not in result.message
    assert torch.isclose(torch.tensor(math.sin(1) + math.cos(1)), torch.tensor(lesson01._dg_dx(1.0)))
