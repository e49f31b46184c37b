"""Every exercise of every lesson: its solution passes, each known mistake is rejected
with its own message, the stub is "not attempted", and the data is well formed."""
import pytest
import torch

import checker
from checker.engine.judge import compute_reference, evaluate, sample_points
from checker.lessons.catalog import all_exercises
from checker.lessons.selftest import mistake_answer, stub_for

EXERCISES = all_exercises()
IDS = [ex.id for ex in EXERCISES]
MISTAKES = [(ex, m) for ex in EXERCISES for m in ex.mistakes]
MISTAKE_IDS = [f"{ex.id}:{m.id}" for ex, m in MISTAKES]


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_solution_passes(ex):
    result = checker.grade(ex.id, ex.solution_fn)
    assert result.status == "correct", result.message
    assert result.passed and result.score == result.max_score


@pytest.mark.parametrize("ex, mistake", MISTAKES, ids=MISTAKE_IDS)
def test_known_mistake_is_named(ex, mistake):
    result = checker.grade(ex.id, mistake_answer(ex, mistake))
    assert result.status == "incorrect"
    assert result.mistake == mistake.id
    assert result.message == mistake.message
    assert result.score == 0 and result.details, "a wrong answer shows failing points"


@pytest.mark.parametrize("ex, mistake", MISTAKES, ids=MISTAKE_IDS)
def test_known_mistake_differs_from_reference(ex, mistake):
    ref = compute_reference(ex, sample_points(ex))
    outcome = evaluate(ex, mistake_answer(ex, mistake), ref)
    if isinstance(outcome, checker.Result):  # a mistake of the wrong shape (dYᵀX for XᵀdY): named there
        assert (outcome.status, outcome.mistake) == ("incorrect", mistake.id)
        return
    got, _ = outcome
    differs = any(
        not torch.allclose(g, e[row], rtol=ex.tolerance.rtol, atol=ex.tolerance.atol)
        for row, outputs in enumerate(got)
        for g, e in zip(outputs, ref.expected)
    )
    assert differs


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_stub_is_not_attempted(ex):
    result = checker.grade(ex.id, stub_for(ex))
    assert result.status == "not_attempted"
    assert result.score == 0 and "Not attempted" in result.message


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_exercise_is_well_formed(ex):
    assert ex.id.startswith(ex.lesson + ".")
    assert ex.title and ex.signature and ex.hints
    messages = [m.message for m in ex.mistakes]
    assert len(set(messages)) == len(messages), "each mistake has its own message"
    assert len({m.id for m in ex.mistakes}) == len(ex.mistakes)
    if ex.kind == "gradient":
        assert len(sample_points(ex)) >= 32 + len(ex.points) or ex.sampler is not None


def test_catalog_lists_every_exercise():
    rows = checker.catalog()
    assert [r["id"] for r in rows] == IDS
    assert {"id", "lesson", "title", "signature"} <= set(rows[0])
    assert any(r["id"] == "lesson01.dz_dx" for r in rows)


def test_reference_is_computed_not_stored():
    """Changing the function changes the reference: nothing is hard-coded."""
    ex = checker.lesson01.dz_dx
    ref = compute_reference(ex, [(3.0,)])
    assert float(ref.expected[0][0]) == pytest.approx(-5.466781571308061, abs=1e-12)


def test_self_test_of_each_lesson_passes():
    for lesson in sorted({ex.lesson for ex in EXERCISES}):
        assert checker.self_test(lesson).ok


def test_a_broken_exercise_is_an_author_error_not_a_wrong_answer():
    import dataclasses

    from checker import ExerciseDefinitionError, Mistake, lesson01

    broken_function = dataclasses.replace(lesson01.dz_dx, function=lambda x: undefined_name)  # noqa: F821
    with pytest.raises(ExerciseDefinitionError, match="computing the reference failed"):
        checker.grade(broken_function, lesson01._dz_dx)
    broken_mistake = dataclasses.replace(
        lesson01.dz_dx, mistakes=(Mistake("oops", lambda x: 1 / 0, "never shown"),)
    )
    with pytest.raises(ExerciseDefinitionError, match="mistake 'oops' failed"):
        checker.grade(broken_mistake, lambda x: 0.0)
