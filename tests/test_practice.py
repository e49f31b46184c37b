"""Practice variants (checker.lessons.practice): every family, for seeds 0..29."""
import subprocess
import sys

import pytest
import torch

import checker
from checker.engine.judge import compute_reference, grade
from checker.lessons.practice import FAMILIES, coincide

SEEDS = range(30)
LESSONS_WITH_PRACTICE = ("lesson01", "lesson02", "lesson03", "lesson04", "lesson05")


def _stub(*args):
    raise NotImplementedError


def _returns_none(*args):
    return None


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_variants_grade_their_solution_and_name_each_mistake(family):
    for seed in SEEDS:
        ex = family.variant(seed)
        assert ex.id == f"{family.exercise_id}~{seed}"
        assert f"(variant {seed})" in ex.title
        solved = grade(ex, ex.solution_fn)
        assert solved.status == "correct", (ex.title, solved.message)
        assert grade(ex, _stub).status == "not_attempted", ex.title
        none = grade(ex, _returns_none)  # "not attempted", unless None is this exercise's own bug
        assert (none.status, none.mistake) == (("incorrect", "returned-none") if ex.none_message else
                                               ("not_attempted", None)), ex.title
        messages = [m.message for m in ex.mistakes]
        assert len(set(messages)) == len(messages) and len(ex.mistakes) >= 3
        for mistake in ex.mistakes:
            result = grade(ex, mistake.answer)
            assert result.status == "incorrect", (ex.title, mistake.id)
            assert result.mistake == mistake.id, (ex.title, mistake.id, result.mistake)
            assert result.message == mistake.message


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_no_known_mistake_passes_at_a_lesson_point(family):
    for seed in SEEDS:
        ex = family.variant(seed)
        assert ex.points, ex.title
        for point in ex.points:
            assert coincide(ex, point) == [], (ex.title, point)


def test_coincide_sees_a_mistake_equal_to_the_reference():
    """The test above can fail: a 'mistake' that is the solution coincides everywhere."""
    ex = FAMILIES[0].variant(3)
    fake = checker.Mistake("not-a-mistake", ex.solution_fn, "…")
    ex.mistakes = ex.mistakes + (fake,)
    assert coincide(ex, ex.points[0]) == ["not-a-mistake"]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_same_seed_same_variant_other_seeds_differ(family):
    def fingerprint(ex):
        ref = compute_reference(ex, list(ex.points))
        return ex.title, [e.tolist() for e in ref.expected]

    first, again = family.variant(5), family.variant(5)
    assert fingerprint(first) == fingerprint(again)
    assert [m.message for m in first.mistakes] == [m.message for m in again.mistakes]
    prints = {repr(fingerprint(family.variant(seed))) for seed in SEEDS}
    assert len(prints) >= 10, f"{family.name}: only {len(prints)} different variants in {len(SEEDS)} seeds"


def test_without_a_seed_each_call_draws_one_and_shows_it():
    exercise = checker.lesson01.dz_dx
    variants = [exercise.practice() for _ in range(5)]
    assert len({v.id for v in variants}) > 1
    for v in variants:
        seed = int(v.id.split("~")[1])
        assert f"(variant {seed})" in v.title
        assert exercise.practice(seed=seed).title == v.title


def test_practice_on_an_exercise_and_on_a_variant():
    v = checker.lesson03.df_dx.practice(seed=7)
    assert v.id == "lesson03.df_dx~7"
    assert v.check(v.solution_fn, plot=False).passed
    assert v.practice(seed=8).id == "lesson03.df_dx~8"
    assert "def df_dx(x):" in v.solution().source
    with pytest.raises(ValueError, match="no practice variants"):
        checker.lesson02.two_backward.practice()


def test_solution_and_hints_show_the_variants_numbers():
    v = checker.lesson01.dz_dx.practice(seed=7)  # sin(-2·x³ + 1)
    assert "sin(-2·x³ + 1)" in v.title
    source = v.solution().source
    assert "def dz_dx(x):" in source and "-2 * x**3 + 1" in source
    assert "sin(" in v.hint().shown[0] and "-2·x³ + 1" in v.hint().shown[0]
    assert any("-2·x³ + 1" in m.message for m in v.mistakes)


def test_catalog_says_which_exercises_have_practice():
    rows = checker.catalog()
    with_practice = {r["id"] for r in rows if r["practice"]}
    assert with_practice == {f.exercise_id for f in FAMILIES}
    for lesson in LESSONS_WITH_PRACTICE:
        assert sum(1 for r in rows if r["lesson"] == lesson and r["practice"]) >= 2, lesson
    assert not next(r for r in rows if r["id"] == "lesson02.two_backward")["practice"]


def test_families_belong_to_real_exercises():
    ids = {r["id"] for r in checker.catalog()}
    assert {f.exercise_id for f in FAMILIES} <= ids
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)


def test_import_checker_does_not_import_practice():
    code = "import sys, checker; print('checker.lessons.practice' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_variants_leave_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    for family in FAMILIES:
        family.variant(11)
    assert torch.equal(torch.rand(3), expected)
