"""Every exercise of every lesson, graded in bulk with the run's secret points: its solution gets full marks
and its untouched stub "not attempted", exactly as in the notebook. (In-process probe: the same prelude,
probe cell, pipe and replay as `python -m checker grade`, without starting a kernel per exercise.)

This found that exercises judged in several precisions (lesson 04's stable_bce and grad_vectorized) lost their
secret points' precisions on the way to the kernel, so their own solutions were refused in bulk grading."""
import pytest
from inprocess_probe import probe_answers

from checker.grading import probe, replay
from checker.lessons.catalog import all_exercises
from checker.lessons.selftest import stub_for

EXERCISES = [ex for ex in all_exercises() if ex.kind != "value"]
SECRET = b"a secret of this test"


def bulk(ex, answer):
    hidden = replay.hidden_exercise(ex, SECRET)
    request = probe.exercise_request(ex, hidden)
    answers = probe_answers([request], {ex.answer_name: answer})
    return replay.judge(ex, answers.get(ex.id), "the probe never reported it", hidden=hidden)


@pytest.mark.parametrize("ex", EXERCISES, ids=[ex.id for ex in EXERCISES])
def test_the_solution_gets_full_marks_at_the_secret_points_too(ex):
    result = bulk(ex, ex.solution_fn)
    assert result.status == "correct" and result.score == ex.max_score, result.message


@pytest.mark.parametrize("ex", EXERCISES, ids=[ex.id for ex in EXERCISES])
def test_the_stub_is_not_attempted(ex):
    result = bulk(ex, stub_for(ex))
    assert result.status == "not_attempted", result.message


def test_every_point_of_a_request_has_its_precision():
    from checker import lesson04

    for ex in (lesson04.stable_bce, lesson04.grad_vectorized):
        request = probe.exercise_request(ex, replay.hidden_exercise(ex, SECRET))
        assert len(request["point_dtypes"]) == len(request["points"]) > request["n_public"]
