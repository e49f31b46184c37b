"""Results render as HTML in notebooks and as text in terminals; they serialise to dicts."""
import json
import math
import subprocess
import sys

import checker
from checker import lesson01
from checker.engine.result import Result


def test_html_and_text_for_each_status():
    answers = {
        "correct": lesson01._dz_dx,
        "incorrect": lambda x: math.cos(x**2),
        "not_attempted": None,
        "error": lambda x: 1 / 0,
    }
    for status, answer in answers.items():
        result = lesson01.dz_dx.check(answer)
        assert result.status == status
        html = result._repr_html_()
        assert f"checker-{status}" in html and "sin(x²)" in html
        assert result.message.split(":")[0] in str(result)
        assert "Traceback" not in html


def test_wrong_answer_shows_a_plot_and_a_table():
    result = lesson01.dz_dx.check(lambda x: math.cos(x**2))
    html = result._repr_html_()
    assert 'class="checker-plot"' in html and "data:image/png;base64," in html
    assert "<table" in html and html.count("<tr>") == 1 + len(result.details) <= 4
    plain = checker.grade(lesson01.dz_dx.id, lambda x: math.cos(x**2))
    assert plain.curve is None and "checker-plot" not in plain._repr_html_()


def test_html_escapes_student_text():
    result = Result("x.y", "error", "<script>alert(1)</script>", title="a < b")
    html = result._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &lt; b" in html


def test_to_dict_is_json_and_complete():
    data = checker.grade("lesson01.dz_dx", lambda x: math.cos(x**2)).to_dict()
    json.dumps(data)
    assert data["exercise_id"] == "lesson01.dz_dx" and data["status"] == "incorrect"
    assert data["passed"] is False and data["score"] == 0 and data["max_score"] == 1
    assert data["mistake"] == "missing-inner-factor" and data["details"][0]["inputs"] == {"x": "3"}
    assert set(data) >= {"exercise_id", "status", "passed", "score", "max_score", "message", "mistake", "details"}


def test_hints_are_progressive_and_solution_is_shown():
    ex = lesson01.dz_dx
    ex._hints_shown = 0
    first, second = ex.hint(), ex.hint()
    assert len(first.shown) == 1 and len(second.shown) == 2
    assert "Hint 2 of 3" in second._repr_markdown_()
    ex.hint()
    assert "last hint" in ex.hint()._repr_markdown_()
    ex._hints_shown = 0
    solution = ex.solution()
    assert "def dz_dx(x):" in solution.source and "_dz_dx" not in solution.source
    assert "```python" in solution._repr_markdown_()


def test_grade_never_prints(capsys):
    checker.grade("lesson01.dz_dx", lambda x: math.cos(x**2))
    result = checker.grade("lesson01.dz_dx", lambda x: print("hello") or 0.0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # the student's own prints are captured too
    assert result.printed.startswith("hello\nhello") and "23 more lines" in result.printed


def test_import_checker_is_light():
    code = (
        "import sys, checker; from checker import lesson01; "
        "print([m for m in ('matplotlib', 'ipywidgets', 'IPython', 'nbformat') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
