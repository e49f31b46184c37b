"""The rough edges students met in the messages: each has its test here."""
import contextlib
import io
import math

import pytest
import torch

import checker
from checker import lesson01, lesson02, lesson03, lesson04
from checker.engine.render import hint_markdown, hint_text, markdown_escape
from checker.engine.result import Hint
from checker.lessons.catalog import all_exercises
from checker.lessons.selftest import stub
from tests.inprocess_probe import bulk_grade

DZ = lesson01.dz_dx


# -- NotImplementedError: the stub, or an error? ------------------------------------------------
def _helper(x):
    raise NotImplementedError("my helper is not written yet")


def deep(x):
    return 2 * x * _helper(x)


def from_torch(x):
    return float(torch.ones(1, dtype=torch.float8_e5m2) * x)  # torch: "mul" not implemented for float8


def partly_written(x):
    if x > 100:
        return 0.0
    raise NotImplementedError


class Stub:
    def __call__(self, x):
        raise NotImplementedError


def test_a_not_implemented_error_from_deep_inside_is_an_error(tmp_path):
    for result in (checker.grade(DZ, deep), bulk_grade(DZ, deep, tmp_path)):
        assert result.status == "error", result.message
        assert "NotImplementedError" in result.message and "my helper is not written yet" in result.message
    assert checker.grade(DZ, from_torch).status == "error"


@pytest.mark.parametrize("answer", [stub, partly_written, Stub()], ids=["stub", "partly", "callable object"])
def test_the_stub_itself_is_not_attempted(answer, tmp_path):
    assert checker.grade(DZ, answer).status == "not_attempted"
    assert bulk_grade(DZ, answer, tmp_path).status == "not_attempted"


# -- sentences that end -------------------------------------------------------------------------
def test_when_every_output_is_wrong_the_sentence_ends():
    result = checker.grade(lesson03.two_neurons_grad, lambda *args: (1.0, 2.0, 3.0, 4.0, 5.0))
    assert result.status == "incorrect"
    assert "are not." not in result.message and "None of your 5 values is right" in result.message
    some = checker.grade(lesson03.fork_grad, lambda x, y: (lesson03._fork_grad(x, y)[0], 7.0))
    assert some.message.startswith("df/dx is right; df/dy is not.")


# -- "not a finite number" shows the points that are not ------------------------------------------
def test_not_finite_lists_only_the_points_that_are_not_finite():
    def nan_for_negative(x):
        return float("nan") if x < 0 else 0.5  # wrong everywhere, NaN only for x < 0

    result = checker.grade(DZ, nan_for_negative)
    assert "not a finite number" in result.message
    assert result.details and all(d.got == "nan" for d in result.details)


# -- "predict the value" questions ----------------------------------------------------------------
def test_a_wrong_shaped_prediction_is_a_wrong_prediction():
    result = checker.grade(lesson02.sum_grad, 12.0)
    assert result.status == "incorrect" and result.mistake == "wrong-shape"
    assert "Your code could not be checked" not in (str(result) + result._repr_html_())


def test_an_unreadable_prediction_says_answer_not_code():
    result = checker.grade(lesson02.two_backward, "12")
    assert result.status == "error"
    for shown in (str(result), result._repr_html_()):
        assert "Your answer could not be checked" in shown and "Your code" not in shown
    code = checker.grade(DZ, lambda x: "text")
    assert "Your code could not be checked" in str(code)


# -- prints during a check ---------------------------------------------------------------------------
def test_what_an_answer_prints_is_captured_and_limited():
    def chatty(x):
        for i in range(5):
            print("debug", x, i)
        return math.cos(x**2)  # wrong

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = checker.grade(DZ, chatty)
    assert out.getvalue() == "" and err.getvalue() == ""
    assert result.status == "incorrect" and result.mistake == "missing-inner-factor"
    shown = result.printed.split("\n")
    assert len(shown) == 11 and shown[0] == "debug 3.0 0" and "more lines" in shown[-1]
    assert "debug 3.0 0" in result._repr_html_() and "debug 3.0 0" in str(result)
    assert "155 more lines" in result.printed  # 33 points x 5 lines, 10 of them shown


def test_a_quiet_answer_shows_no_printed_block():
    result = checker.grade(DZ, lesson01._dz_dx)
    assert result.printed == "" and "printed" not in result._repr_html_()


# -- Markdown in hints, titles and solutions ----------------------------------------------------------
def test_hints_keep_their_stars_and_titles_their_powers():
    hint = Hint("Predict: x.grad for y = (x**2).sum()", ("return (p - y) * x, (p - y)", "use `x**2`"), 2)
    text = hint_text(hint)
    assert "(p - y) * x" in text and "(x**2)" in text
    markdown = hint_markdown(hint)
    assert r"(p - y) \* x" in markdown and r"(x\*\*2)" in markdown and "`x**2`" in markdown
    assert markdown_escape("a_b [c]") == r"a\_b \[c\]"


def test_every_hint_and_title_is_escaped():
    for ex in all_exercises():
        ex._hints_shown = 0
        for _ in ex.hints:
            shown = ex.hint()
        ex._hints_shown = 0
        markdown = shown._repr_markdown_()
        assert markdown.count("**") >= 2
        for text in shown.shown:
            assert text in repr(shown), "the plain text keeps every character"
        assert "*" not in markdown.replace(r"\*", "").replace("**Hints:", "").split("**", 1)[1].split("\n\n")[1]


# -- solutions are code ------------------------------------------------------------------------
@pytest.mark.parametrize("ex", all_exercises(), ids=[ex.id for ex in all_exercises()])
def test_a_solution_is_valid_code_that_passes(ex):
    source = ex.solution().source
    namespace = {"torch": torch, "math": math, "F": torch.nn.functional}
    exec(compile(source, "<solution>", "exec"), namespace)
    answer = namespace[ex.answer_name] if ex.kind == "value" else next(
        v for k, v in namespace.items() if callable(v) and k not in ("torch", "math", "F") and not k.startswith("how"))
    assert checker.grade(ex, answer).passed


def test_sum_grad_solution_is_a_tensor_expression():
    assert "sum_grad = torch.tensor([2.0, 4.0, 6.0])" in lesson02.sum_grad.solution().source
    assert "tensor([2., 4., 6.])" not in lesson04.stable_bce.solution().source


def test_an_answer_whose_attributes_raise_is_still_judged():
    class Hostile:
        def __getattr__(self, name):
            raise ZeroDivisionError("no attributes here")

        def __call__(self, x):
            raise NotImplementedError

    result = checker.grade(DZ, Hostile())
    assert result.status in ("error", "not_attempted") and "Traceback" not in result.message


# -- a number where a number is expected: never "tensor of shape (12,)" in a sentence ------------------
def test_not_finite_in_a_large_tensor_names_the_entry_and_the_expected_number_there():
    from checker import lesson05

    ce = lesson05.ce_grad
    result = checker.grade(ce, lambda Z, y: ce.solution_fn(Z, y) * float("nan"))
    assert result.diagnosis == "not-finite"
    assert result.message.startswith("Your answer is not a finite number: its entry [0, 0] is nan at Z = ")
    assert ", where the gradient has entry [0, 0] = " in result.message
    assert "there is tensor" not in result.message and "is tensor of shape" not in result.message


def test_half_precision_in_a_large_tensor_names_the_entry_and_the_expected_number_there():
    from checker import lesson05

    ce = lesson05.ce_grad
    result = checker.grade(ce, lambda Z, y: (ce.solution_fn(Z, y) * 1.02).to(torch.bfloat16))
    assert (result.status, result.mistake) == ("error", "low-precision"), result.message
    assert " yours has entry [0, 1] = " in result.message
    assert " where the gradient has entry [0, 1] = " in result.message
    assert "tensor of shape (10, 3) where" not in result.message and "yours is tensor" not in result.message


def test_compared_lists_short_values_and_shows_one_entry_of_long_ones():
    from checker.engine.diagnose import compared

    short = compared("dL/db", torch.tensor([1.0, math.nan]), torch.tensor([1.0, 2.0]), "the reference", " at x = 1")
    assert short == "it is [1, nan] at x = 1, where the reference is [1, 2]"
    got, expected = torch.zeros(3, 4), torch.zeros(3, 4)
    got[2, 1] = math.inf
    assert compared("y", got, expected, "the reference", " at x = 1") == \
        "y[2, 1] is inf at x = 1, where the reference has y[2, 1] = 0"
    assert compared("Your answer", got, expected + 0.5, "the Jacobian", index=(0, 3)) == \
        "its entry [0, 3] is 0, where the Jacobian has entry [0, 3] = 0.5"
