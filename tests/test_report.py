"""The class report (`python -m checker report`): counts, rankings, the CSV, --anonymize and the page, on
synthetic grading folders with known answers (two shards and a student graded in both), and once end to end
on notebooks graded by `python -m checker grade`."""
from __future__ import annotations

import csv
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

import checker
from checker.grading import cli, report, report_render
from checker.lessons.catalog import find

ROOT = pathlib.Path(__file__).resolve().parent.parent
DY, DZ, DG = "lesson01.dy_dx", "lesson01.dz_dx", "lesson01.dg_dx"
EVIL = "=cmd|' /C calc'!A0"  # a message a spreadsheet would run as a formula


def result(exercise_id, status, mistake=None, diagnosis=None, message="msg"):
    r = {"exercise_id": exercise_id, "status": status, "message": message, "title": "",
         "score": 1.0 if status == "correct" else 0.0, "max_score": 1.0, "mistake": mistake,
         "details": [], "n_points": 33, "passed": status == "correct"}
    if diagnosis is not None:  # absent: a report of a grader older than the field
        r["diagnosis"] = diagnosis
    return r


def student(sid, *results, status="graded"):
    return {"student": sid, "status": status, "score": sum(r["score"] for r in results), "max_score": 3.0,
            "results": list(results), "notebooks": [], "seconds": 1.0}


# After deduplication (carol: shard2 wins), per exercise:
#   dz_dx: correct 1, incorrect 4, not attempted 1; missing-inner-factor 3 (alice, bob, carol), sign 1 (dave)
#   dy_dx: correct 1, incorrect 3, error 2; exponent-not-lowered 1, factor-dropped 1; other 1 (carol, no
#          diagnosis field), wrong-shape 1 (dave, an error); erin's error (mistake "not-graded") is no misconception
#   dg_dx: correct 1, incorrect 2, not attempted 3; factor 1 (bob), used-autograd 1 (frank, not in the catalog)
# grace could not be graded. Totals: 0 x4 (bob, carol, erin, grace), 1 x3 (alice, dave, frank).
SHARD1 = [
    student("alice", result(DY, "correct"), result(DZ, "incorrect", "missing-inner-factor"),
            result(DG, "not_attempted")),
    student("bob", result(DY, "incorrect", "factor-dropped"), result(DZ, "incorrect", "missing-inner-factor"),
            result(DG, "incorrect", diagnosis="factor")),
    student("carol", result(DY, "correct"), result(DZ, "correct"), result(DG, "correct")),  # replaced by shard 2
    student("dave", result(DY, "error", diagnosis="wrong-shape"), result(DZ, "incorrect", diagnosis="sign"),
            result(DG, "correct")),
    student("grace", status="failed"),
]
SHARD2 = [
    student("carol", result(DY, "incorrect"), result(DZ, "incorrect", "missing-inner-factor"),
            result(DG, "not_attempted")),
    student("erin", result(DY, "error", "not-graded"), result(DZ, "not_attempted"), result(DG, "not_attempted")),
    student("frank", result(DY, "incorrect", "exponent-not-lowered"), result(DZ, "correct"),
            result(DG, "incorrect", "used-autograd", message=EVIL)),
]


def write(folder: pathlib.Path, students: list[dict]) -> pathlib.Path:
    (folder / "students").mkdir(parents=True)
    for s in students:
        (folder / "students" / f"{s['student']}.json").write_text(json.dumps(s), encoding="utf-8")
    return folder


@pytest.fixture
def shards(tmp_path):
    return [write(tmp_path / "shard1", SHARD1), write(tmp_path / "shard2", SHARD2)]


def summary(rep, exercise_id):
    return next(e for e in rep.exercises if e.exercise_id == exercise_id)


def ids(counts):
    return [(c.id, c.count) for c in counts]


def test_counts_rankings_and_sections(shards):
    rep = report.build(report.load(shards))
    assert rep.students == 7 and rep.not_graded == ["grace"] and rep.max_score == 3.0
    assert [e.exercise_id for e in rep.exercises] == [DY, DZ, DG]  # course order
    dz, dy, dg = summary(rep, DZ), summary(rep, DY), summary(rep, DG)
    assert (dz.graded, dz.correct, dz.incorrect, dz.not_attempted, dz.error) == (6, 1, 4, 1, 0)
    assert (dy.graded, dy.correct, dy.incorrect, dy.not_attempted, dy.error) == (6, 1, 3, 0, 2)
    assert (dg.graded, dg.correct, dg.incorrect, dg.not_attempted, dg.error) == (6, 1, 2, 3, 0)
    assert ids(dz.mistakes) == [("missing-inner-factor", 3)] and ids(dz.diagnoses) == [("sign", 1)]
    assert dz.mistakes[0].students == ["alice", "bob", "carol"] and dz.mistakes[0].share == 0.5
    assert ids(dy.mistakes) == [("exponent-not-lowered", 1), ("factor-dropped", 1)]  # ties by id
    assert ids(dy.diagnoses) == [("other", 1), ("wrong-shape", 1)]
    assert ids(dg.mistakes) == [("used-autograd", 1)] and ids(dg.diagnoses) == [("factor", 1)]
    # the message of a named mistake is the exercise's; of one the catalog does not know, what the student saw
    inner = next(m for m in find(DZ).mistakes if m.id == "missing-inner-factor")
    assert dz.mistakes[0].message == inner.message
    assert dz.mistakes[0].section == (inner.section or f"lesson01: {find(DZ).title}")
    assert dg.mistakes[0].message == EVIL
    top = rep.top_misconceptions
    assert (top[0].exercise_id, top[0].id, top[0].count) == (DZ, "missing-inner-factor", 3)
    assert "other" not in [c.id for c in top] and len(top) == 7
    assert [(s.exercise_id, s.not_attempted) for s in rep.most_skipped] == [(DG, 3), (DZ, 1)]
    assert [(b.low, b.count) for b in rep.histogram] == [(0.0, 4), (1.0, 3), (2.0, 0), (3.0, 0)]
    assert rep.mean_score == pytest.approx(3 / 7)
    assert [(b.low, b.high) for b in report._histogram([0, 25, 50], 50)][-1] == (45.0, 50.0)
    assert [b.count for b in report._histogram([0, 25, 50], 50)] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert json.loads(json.dumps(rep.to_dict()))["top_misconceptions"][0]["id"] == "missing-inner-factor"


def test_anonymize_in_sorted_order(shards):
    rep = report.build(report.anonymize(report.load(shards)))
    assert summary(rep, DZ).mistakes[0].students == ["student-001", "student-002", "student-003"]
    assert rep.not_graded == ["student-007"]
    text = json.dumps(rep.to_dict()) + report_render.page(rep) + report_render.misconceptions_csv(rep)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace"):
        assert name not in text


def test_cli_writes_the_page_and_the_csv(shards, tmp_path):
    out = tmp_path / "out" / "report.html"
    assert cli.main(["report", *map(str, shards), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    top = re.search(r'id="top-misconception">(.*?)</p>', page, re.S).group(1)
    assert "50%" in top and DZ in top and "missing-inner-factor" not in top  # the message, in words
    inner = next(m for m in find(DZ).mistakes if m.id == "missing-inner-factor")
    assert report_render._e(inner.message) in top
    assert "prefers-color-scheme: dark" in page and "<svg" in page
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert re.escape(EVIL) not in page and "=cmd|&#x27; /C calc&#x27;!A0" in page  # escaped
    with open(out.parent / "misconceptions.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    first = rows[0]  # course order, then rank
    assert (first["exercise_id"], first["kind"], first["id"], first["count"], first["graded"]) == (
        DY, "mistake", "exponent-not-lowered", "1", "6")
    inner_row = next(r for r in rows if r["id"] == "missing-inner-factor")
    assert inner_row["percent"] == "50.0" and inner_row["students"] == "alice;bob;carol"
    evil = next(r for r in rows if r["id"] == "used-autograd")
    assert evil["message"] == "'" + EVIL
    # deterministic: the same input gives the same bytes
    again = tmp_path / "again" / "report.html"
    assert cli.main(["report", *map(str, shards), "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()
    assert (again.parent / "misconceptions.csv").read_bytes() == (out.parent / "misconceptions.csv").read_bytes()


def test_csv_cells_cannot_be_formulas():
    assert [report_render.cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "ok", 3)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "ok", "3"]


def test_a_folder_that_is_not_a_grading_folder(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    assert "students/" in capsys.readouterr().err


def test_empty_class(tmp_path):
    rep = report.build(report.load([write(tmp_path / "g", [])]))
    assert rep.students == 0 and rep.top_misconceptions == [] and rep.exercises == []
    assert "No wrong answers" in report_render.page(rep)


def test_a_generic_wrong_answer_carries_its_diagnosis():
    def negated(x):
        return -2 * x

    def doubled(x):
        return 4 * x

    assert checker.grade(DY, negated).diagnosis == "sign"
    assert checker.grade(DY, doubled).diagnosis == "factor"
    assert checker.grade(DY, lambda x: x**2).to_dict()["diagnosis"] == "function-itself"
    assert checker.grade(DY, lambda x: 2 * x + 3).diagnosis == "offset"
    assert checker.grade(DY, lambda x: 2 * abs(x)).diagnosis == "one-side"
    assert checker.grade(DY, lambda x: 2 * x).diagnosis is None
    assert checker.grade(DY, lambda x: [x, x]).diagnosis == "wrong-shape"


@pytest.mark.skipif(os.environ.get("CHECKER_SKIP_SLOW") == "1", reason="runs notebooks")
def test_end_to_end_on_graded_notebooks(tmp_path):
    """Three students graded by `python -m checker grade`, then reported: the solution, the untouched student
    edition, and one with the missing-inner-factor mistake."""
    student_nb = json.loads((ROOT / "notebooks" / "student" / "01_derivatives.ipynb").read_text())
    master = (ROOT / "notebooks" / "master" / "01_derivatives.ipynb").read_text()
    wrong = json.loads(master)
    for c in wrong["cells"]:
        src = "".join(c["source"])
        if src.startswith("def dz_dx("):
            c["source"] = "def dz_dx(x):\n    return math.cos(x**2)\n"
    for name, nb in (("solved", json.loads(master)), ("untouched", student_nb), ("wrong", wrong)):
        (tmp_path / "subs" / name).mkdir(parents=True)
        (tmp_path / "subs" / name / "01_derivatives.ipynb").write_text(json.dumps(nb))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "checker", "grade", *sorted(map(str, (tmp_path / "subs").iterdir())),
                    "--out", str(tmp_path / "grading"), "--quiet", "--jobs", "2", "--lesson", "lesson01"],
                   check=True, env=env, cwd=tmp_path, capture_output=True)
    subprocess.run([sys.executable, "-m", "checker", "report", str(tmp_path / "grading"), "--out",
                    str(tmp_path / "report.html")], check=True, env=env, cwd=tmp_path, capture_output=True)
    rep = report.build(report.load([tmp_path / "grading"]))
    dz = summary(rep, DZ)
    assert (dz.correct, dz.incorrect, dz.not_attempted) == (1, 1, 1)
    assert ids(dz.mistakes) == [("missing-inner-factor", 1)] and dz.mistakes[0].students == ["wrong"]
    assert rep.top_misconceptions[0].id == "missing-inner-factor"
    with open(tmp_path / "misconceptions.csv", newline="", encoding="utf-8") as f:
        assert [r["id"] for r in csv.DictReader(f)] == ["missing-inner-factor"]
