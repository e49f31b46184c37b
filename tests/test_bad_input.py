"""Anything a student can pass gets a clear message and never an exception."""
import dataclasses
import math
import sys
import time

import numpy as np
import pytest
import torch

import checker
from checker import lesson01

EX = lesson01.dz_dx


def right(x):
    return 2 * x * math.cos(x**2)


def loop_forever(x):
    while True:
        pass


def sleep_long(x):
    time.sleep(30)
    return right(x)


def recurse(x):
    return recurse(x)


def generator(x):
    yield right(x)


def exits(x):
    sys.exit(1)


def raises_value_error(x):
    raise ValueError("bad value")


def mutates_globals(x):
    torch.manual_seed(123)
    torch.set_grad_enabled(False)
    return right(x)


class CallableObject:
    def __call__(self, x):
        return right(x)


def swallows_everything(x):
    try:
        while True:
            pass
    except Exception:
        return right(x)


# (label, answer, expected status, words the message must contain)
CASES = [
    ("None", None, "not_attempted", "Not attempted"),
    ("Ellipsis", ..., "not_attempted", "Not attempted"),
    ("a string", "2*x*cos(x**2)", "error", "expects your function itself"),
    ("a list", [1.0, 2.0], "error", "a list of 2 items"),
    ("a dict", {"x": 1}, "error", "type dict"),
    ("the value instead of the function", -5.466781571308061, "error", "without parentheses"),
    ("a tensor instead of the function", torch.tensor(1.0), "error", "expects your function itself"),
    ("returns None", lambda x: None, "not_attempted", "forget `return`"),
    ("returns ...", lambda x: ..., "not_attempted", "Not attempted"),
    ("returns a string", lambda x: "2x cos(x^2)", "error", "not text"),
    ("returns a list", lambda x: [right(x)], "error", "one number, not a collection"),
    ("returns a dict", lambda x: {"d": right(x)}, "error", "type dict"),
    ("returns a tuple", lambda x: (right(x), 0.0), "error", "tuple of 2 items"),
    ("returns NaN", lambda x: float("nan"), "incorrect", "not a finite number"),
    ("returns inf", lambda x: math.inf, "incorrect", "not a finite number"),
    ("returns NaN at some points", lambda x: right(x) if x > 0 else float("nan"), "incorrect", "not a finite"),
    ("returns complex", lambda x: complex(right(x), 1), "error", "complex"),
    ("returns a complex tensor", lambda x: torch.tensor(right(x) + 1j), "error", "complex"),
    ("returns a bool", lambda x: True, "error", "True/False"),
    ("returns a bool tensor", lambda x: torch.tensor(True), "error", "True/False"),
    ("returns an int tensor", lambda x: torch.tensor(int(right(x))), "incorrect", "Not yet"),
    ("returns a 3-element tensor", lambda x: torch.ones(3), "error", "shape (3,)"),
    ("returns a 2x2 tensor", lambda x: torch.ones(2, 2), "error", "single number"),
    ("returns an empty tensor", lambda x: torch.ones(0), "error", "single number"),
    ("returns a numpy string", lambda x: np.str_("a"), "error", "not text"),
    ("returns a numpy object array", lambda x: np.array([object()]), "error", "should be a single number"),
    ("returns the derivative function", lambda x: right, "error", "forget to call it"),
    ("returns a generator", generator, "error", "generator"),
    ("raises ValueError", raises_value_error, "error", "ValueError: bad value"),
    ("raises ZeroDivisionError", lambda x: 1 / 0, "error", "ZeroDivisionError"),
    ("takes no argument", lambda: 1.0, "error", "taking 1 input"),
    ("takes two arguments", lambda x, y: 1.0, "error", "taking 1 input"),
    ("infinite recursion", recurse, "error", "RecursionError"),
    ("calls sys.exit", exits, "error", "SystemExit"),
    ("a builtin function (math.cos)", math.cos, "incorrect", "Not yet"),
]


@pytest.mark.parametrize("label, answer, status, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_message(label, answer, status, words):
    result = checker.grade(EX.id, answer)
    assert result.status == status, result.message
    assert words in result.message, result.message
    assert result.score == 0
    assert "Traceback" not in result.message and "checker/" not in result.message
    assert str(result) and result._repr_html_()


GOOD = [
    ("a float", right),
    ("an int-valued answer via int inputs", lambda x: 2 * x * math.cos(x**2)),
    ("a numpy float64", lambda x: np.float64(right(x))),
    ("a numpy float32", lambda x: np.float32(right(x))),
    ("a numpy 1-element array", lambda x: np.array([right(x)])),
    ("a 0-d float32 tensor", lambda x: torch.tensor(right(x))),
    ("a 1-element float64 tensor", lambda x: torch.tensor([right(x)], dtype=torch.float64)),
    ("a tensor with grad_fn", lambda x: torch.tensor(x, requires_grad=True) * 0 + right(x)),
    ("a bfloat16 tensor", lambda x: torch.tensor(right(x), dtype=torch.bfloat16)),
    ("a float16 tensor", lambda x: torch.tensor(right(x), dtype=torch.float16)),
    ("a callable object", CallableObject()),
    ("a function that changes global torch state", mutates_globals),
]


@pytest.mark.parametrize("label, answer", GOOD, ids=[g[0] for g in GOOD])
def test_accepted_answer_types(label, answer):
    result = checker.grade(EX.id, answer)
    assert result.status == "correct", result.message


@pytest.mark.parametrize("answer", [loop_forever, sleep_long, swallows_everything],
                         ids=["loop", "sleep", "loop-catching-Exception"])
def test_time_limit_stops_runaway_answers(answer):
    ex = dataclasses.replace(EX, time_limit=0.3)
    start = time.perf_counter()
    result = checker.grade(ex, answer)
    assert time.perf_counter() - start < 5
    assert result.status == "error" and "longer than 0.3 s" in result.message


def test_time_limit_also_works_outside_the_main_thread():
    import threading

    ex = dataclasses.replace(EX, time_limit=0.3)
    results = []
    thread = threading.Thread(target=lambda: results.append(checker.grade(ex, loop_forever)))
    thread.start()
    thread.join(10)
    assert results and results[0].status == "error" and "longer than" in results[0].message


def test_keyboard_interrupt_is_not_swallowed():
    def interrupted(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        checker.grade(EX.id, interrupted)


def test_error_message_points_at_the_students_line():
    def dz_dx(x):
        inner = x**2
        return 2 * x * math.cos(inner) / 0

    message = checker.grade(EX.id, dz_dx).message
    assert "ZeroDivisionError" in message and "in dz_dx, line" in message
    assert "return 2 * x * math.cos(inner) / 0" in message


def test_manual_gradient_exercise_refuses_autograd():
    def with_backward(x):
        t = torch.tensor(x, requires_grad=True)
        torch.sin(t**2).backward()
        return t.grad

    def with_grad(x):
        t = torch.tensor(x, requires_grad=True)
        return torch.autograd.grad(torch.sin(t**2), t)[0]

    for answer in (with_backward, with_grad):
        result = checker.grade(EX.id, answer)
        assert result.status == "incorrect" and result.mistake == "used-autograd"
        assert "by hand" in result.message
    # and autograd works again afterwards
    t = torch.tensor(2.0, requires_grad=True)
    (t**2).backward()
    assert float(t.grad) == 4.0


def test_unknown_exercise_id_is_a_clear_error():
    with pytest.raises(KeyError, match="no exercise 'lesson01.nope'"):
        checker.grade("lesson01.nope", right)


def test_torch_function_on_a_float_gets_advice():
    message = checker.grade(EX.id, lambda x: 2 * x * torch.cos(x**2)).message
    assert "TypeError" in message and "use math.sin, math.cos" in message
    assert "use math" not in checker.grade(EX.id, raises_value_error).message
