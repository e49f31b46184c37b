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
