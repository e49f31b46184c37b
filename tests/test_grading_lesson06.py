"""`python -m checker grade` on lesson 06, whose answers are a method given a function, a
torch.autograd.Function and a class: the solution edition gets full marks, the exercise edition
zero with "not attempted", and a wrong submission the verdicts the notebook shows."""
from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

import checker
from checker.lessons.catalog import exercises

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME = "06_inside_autograd.ipynb"
MASTER = ROOT / "notebooks" / "master" / NAME
STUDENT = ROOT / "notebooks" / "student" / NAME
IDS = [e.id for e in exercises("lesson06")]

def _cell_source(nb: dict, start: str) -> tuple[int, str]:
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith(start):
            return i, source
    raise LookupError(start)


def wrong_submission() -> tuple[dict, dict]:
    """The master edition with two answers made wrong; returns (notebook, {answer name: source})."""
    nb = json.loads(MASTER.read_text())
    i, engine = _cell_source(nb, "class Value:")
    engine = engine.replace("grad += ", "grad = ")
    j, gradient = _cell_source(nb, "def numerical_gradient(")
    gradient = gradient.replace("h = torch.finfo(x.dtype).eps ** (1 / 3)", "h = 1e-5")
    assert "h = 1e-5" in gradient and "grad = out.grad" in engine
    nb["cells"][i]["source"], nb["cells"][j]["source"] = engine, gradient
    return nb, {"Value": engine, "numerical_gradient": gradient}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading06")
    subs = root / "submissions"
    wrong, sources = wrong_submission()
    for student, nb in (("solution", json.loads(MASTER.read_text())), ("untouched", json.loads(STUDENT.read_text())),
                        ("wrong", wrong)):
        (subs / student).mkdir(parents=True)
        (subs / student / NAME).write_text(json.dumps(nb))
    out = root / "out"
    done = subprocess.run(
        [sys.executable, "-m", "checker", "grade", *sorted(str(p) for p in subs.iterdir()), "--jobs", "2",
         "--timeout", "400", "--cell-timeout", "200", "--lesson", "lesson06", "--out", str(out), "--quiet"],
        cwd=root, env=dict(os.environ), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reports = {p.stem: json.loads(p.read_text()) for p in (out / "students").glob("*.json")}
    return {"reports": reports, "sources": sources}


def results(graded, student):
    return {r["exercise_id"]: r for r in graded["reports"][student]["results"]}


def test_solution_edition_full_marks(graded):
    got = results(graded, "solution")
    assert [got[i]["status"] for i in IDS] == ["correct"] * len(IDS), [got[i]["message"] for i in IDS]
    report = graded["reports"]["solution"]
    assert report["score"] == report["max_score"] == len(IDS) and report["status"] == "graded"


def test_exercise_edition_zero_not_attempted(graded):
    got = results(graded, "untouched")
    assert [got[i]["status"] for i in IDS] == ["not_attempted"] * len(IDS)
    assert all("Not attempted" in got[i]["message"] for i in IDS)
    assert graded["reports"]["untouched"]["score"] == 0


def test_wrong_answers_get_the_notebooks_verdicts(graded):
    got = results(graded, "wrong")
    namespace = {"math": math, "torch": __import__("torch")}
    for source in graded["sources"].values():
        exec(source.split("\n\n\nex.")[0], namespace)
    for exercise_id, name, mistake in (("lesson06.engine", "Value", "assigned-at-forks"),
                                       ("lesson06.numerical_gradient", "numerical_gradient", "step-too-small-float32")):
        seen = checker.grade(exercise_id, namespace[name])
        assert (got[exercise_id]["status"], got[exercise_id]["mistake"]) == ("incorrect", mistake)
        assert got[exercise_id]["message"] == seen.message
        assert got[exercise_id]["details"] == seen.to_dict()["details"]
    assert sum(got[i]["score"] for i in IDS) == len(IDS) - 2
