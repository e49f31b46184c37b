"""execute.execute, the worker's kernel run, on small notebooks: where the answer's cell sits must not matter.

nbclient stores each executed cell back into the notebook at the index it is given; the grader's
prelude and probe once ran at indices -2 and -1, so the prelude replaced the notebook's
second-to-last cell (whose answer then vanished) and, after a kernel restart, the old probe
replaced the last one. Lesson 06's exercise edition met the first in bulk grading.
"""
from __future__ import annotations

import pytest

from checker import lesson01
from checker.grading import execute, probe

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SETUP = "import math, os\n"
DY = "def dy_dx(x):\n    return 2 * x\n"
DZ = "def dz_dx(x):\n    return 2 * x * math.cos(x**2)\n"
DIES = "def dz_dx(x):\n    os._exit(3)\n"


def run(*sources: str, exercises=(lesson01.dy_dx, lesson01.dz_dx)) -> dict:
    cells = [{"source": s, "tags": []} for s in (SETUP, *sources)]
    return execute.execute(cells, [probe.exercise_request(e) for e in exercises], cell_timeout=30,
                           notebook_timeout=120)


def called(out: dict, exercise) -> bool:
    answer = out["answers"].get(exercise.id, {})
    return bool(answer.get("calls")) and "stop" not in answer


@pytest.mark.parametrize("tail", [(), ("x = 1\n",), ("x = 1\n", "x\n")], ids=["last", "then-one", "then-two"])
def test_answers_in_the_last_cells_are_read(tail):
    out = run(DY, DZ, *tail)  # dy_dx second to last (or further up), dz_dx last (or further up)
    assert called(out, lesson01.dy_dx) and called(out, lesson01.dz_dx), out["answers"]
    assert out["n_code_cells"] == 3 + len(tail) and out["errors"] == []


def test_a_restart_in_the_probe_reruns_the_notebooks_own_last_cell():
    out = run(DIES, DY, exercises=(lesson01.dz_dx, lesson01.dy_dx))  # dz_dx kills the kernel when called
    assert out["answers"][lesson01.dz_dx.id] == {"died": True}
    assert out["died"] == [f"probe:{lesson01.dz_dx.id}"]
    assert called(out, lesson01.dy_dx), out["answers"]  # read in the second kernel, from the last cell


def test_an_error_in_a_cell_is_the_notebooks_not_the_probes():
    out = run(DY, "1 / 0\n", DZ)
    assert [(cell, name) for cell, name, _ in out["errors"]] == [(2, "ZeroDivisionError")]
    assert called(out, lesson01.dy_dx) and called(out, lesson01.dz_dx)


CHATTY = ("def dz_dx(x):\n"
          "    for i in range(20_000):  # 20,000 lines a call, 33 calls: 7 MB a run if it were sent\n"
          "        print('debug', x, 'y' * 200)\n"
          "    return 2 * x * math.cos(x**2)\n")


def test_what_an_answer_prints_is_kept_in_the_kernel_as_the_notebook_keeps_it():
    import math

    from checker import grade
    from checker.grading import replay

    hidden = replay.hidden_exercise(lesson01.dz_dx, b"a secret")
    request = probe.exercise_request(lesson01.dz_dx, hidden)
    out = execute.execute([{"source": s, "tags": []} for s in (SETUP, CHATTY)], [request], cell_timeout=30,
                          notebook_timeout=120)
    answer = out["answers"][lesson01.dz_dx.id]
    assert out["output_bytes"] < 1000 and "stop" not in answer  # nothing sent, no time limit hit
    bulk = replay.judge(lesson01.dz_dx, answer, "?", hidden=hidden)
    namespace = {"math": math}
    exec(CHATTY, namespace)
    notebook = grade("lesson01.dz_dx", namespace["dz_dx"])
    assert bulk.status == notebook.status == "correct"
    # what the notebook's own points printed (not the secret ones), line for line
    assert bulk.printed == notebook.printed and "more lines)" in bulk.printed


def test_a_missing_class_is_named_as_a_class():
    from checker import lesson06
    from checker.grading import replay

    message = replay.judge(lesson06.engine, {"missing": True}, "?").message
    assert "`class Value`" in message and "def Value" not in message
    assert "`def dz_dx(...)`" in replay.judge(lesson01.dz_dx, {"missing": True}, "?").message


def test_notes_name_a_cell_as_the_student_finds_it():
    from checker.grading import batch, submissions

    nb = {"cells": [{"cell_type": "markdown", "source": "# Lesson"},
                    {"cell_type": "code", "source": "import math\n", "metadata": {}},
                    {"cell_type": "markdown", "source": "text"},
                    {"cell_type": "code", "source": "\n# my helper\nx = 1 / 0\n", "metadata": {}}],
          "metadata": {"course": {"generated_from": "notebooks/master/01_derivatives.ipynb"}}}
    import json

    parsed = submissions.parse(submissions.NotebookFile("s00_untouched.ipynb", json.dumps(nb)), ["lesson01"])
    assert [c["number"] for c in parsed.cells] == [2, 4]
    assert not any("named like" in n for n in parsed.notes)  # "s00_" is not a lesson number
    raw = {"errors": [(1, "ZeroDivisionError", "division by zero")], "timed_out": [], "died": [],
           "skipped_from": None, "deadline_hit": False, "output_bytes": 0}
    assert batch.notes_from_run(raw, 300, 60, parsed.cells) == [
        "cell 4 (`# my helper`) raised ZeroDivisionError: division by zero"]


@pytest.mark.parametrize("name, lesson", [("01_derivatives.ipynb", "lesson01"),
                                          ("Copy of 03_chain_rule.ipynb", "lesson03"),
                                          ("alice_06_inside_autograd.ipynb", "lesson06"),
                                          ("s00_untouched.ipynb", None), ("v2_final.ipynb", None)])
def test_the_lesson_a_file_name_gives(name, lesson):
    from checker.grading import submissions

    assert submissions._lesson_from(name) == lesson


def test_several_notebooks_of_one_lesson_the_report_says_which_counted():
    from checker.grading import batch, submissions
    from checker.grading.replay import not_graded

    def entry(name, score):
        results = [not_graded(ex, "x") for ex in (lesson01.dy_dx, lesson01.dz_dx, lesson01.dg_dx)]
        for r in results[:score]:
            r.score, r.status = r.max_score, "correct"
        return batch._notebook_entry(name, "lesson01", results, [], 1.0, True)

    sub = submissions.Submission(student="alice", source="alice.zip")
    report = batch.build_report(sub, [entry("a.ipynb", 1), entry("b.ipynb", 3), entry("c.ipynb", 2)], ["lesson01"])
    assert report["score"] == 3
    assert [n["used"] for n in report["notebooks"]] == [False, True, False]
    assert ("3 notebooks of lesson01 were submitted; the best one counts: b.ipynb (3); "
            "not counted: a.ipynb (1), c.ipynb (2)") in report["notes"]
