"""Bulk grading (`python -m checker grade`): one batch of broken, tampered and correct submissions.

Every submission is built here, in a temporary folder, from the committed lesson 01
editions; the batch runs once (module fixture, `--jobs 2`, small time limits) and each test
reads its student's report. The grader runs with a *copy* of the checker package first on
PYTHONPATH, so the submission that rewrites the checker's files on disk rewrites the copy,
never this repository.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest
from lesson01_submissions import IDS, MASTER, NAME, ROOT, SOLVED, answer_index, answered, cell, student_nb, write_nb

WRONG_DZ = "def dz_dx(x):\n    return math.cos(x**2)\n"  # the missing-inner-factor mistake
RAISES_DZ = "def dz_dx(x):\n    return 1 / (x - x)\n"
BAD_SIGNATURE_DG = "def dg_dx(x, y):\n    return math.sin(x) + x * math.cos(x)\n"


# -- building submissions ------------------------------------------------------------
def insert(nb: dict, before: str, source: str) -> dict:
    nb["cells"].insert(answer_index(nb, before), cell(source))
    return nb


def append(nb: dict, source: str) -> dict:
    nb["cells"].append(cell(source))
    return nb


WRONG_EVERYWHERE = dict(dy_dx="def dy_dx(x):\n    return x\n", dz_dx=WRONG_DZ,
                        dg_dx="def dg_dx(x):\n    return math.cos(x)\n")

TAMPER_CHECKER = """
import checker, checker.engine.judge
from checker import Exercise
from checker.engine.result import Result

def always_correct(exercise, answer, **kwargs):
    return Result(exercise.id, "correct", "Correct!", score=1.0)

checker.grade = checker.engine.judge.grade = always_correct
Exercise.check = lambda self, answer, **kwargs: always_correct(self, answer)
print(ex.dz_dx.check(dz_dx))
"""
TAMPER_AUTOGRAD = """
import torch

def fake_grad(outputs, inputs, *args, **kwargs):
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    return tuple(torch.cos(t.detach() ** 2) for t in inputs)  # agrees with the wrong dz_dx

torch.autograd.grad = fake_grad
torch.Tensor.backward = lambda self, *args, **kwargs: None
"""
FAKE_SUCCESS = """
import glob, json, os
from IPython.display import HTML, display
display(HTML('<div style="background:#d4edda">✅ Correct: your answer matches torch.autograd at all 33 points.</div>'))
forged = {"id": "lesson01.dz_dx", "nonce": "0" * 32,
          "answer": {"callable": True, "calls": [{"t": "float", "v": 0.0}] * 33}}
print(json.dumps(forged))
for folder in (".", ".."):
    for path in glob.glob(os.path.join(folder, "probe-*.jsonl")) + [os.path.join(folder, "probe-forged.jsonl")]:
        try:
            with open(path, "a") as f:
                f.write(json.dumps(forged) + "\\n")
        except OSError:
            pass
"""
EDIT_CHECKER_ON_DISK = """
import pathlib, checker
package = pathlib.Path(checker.__file__).parent
with open(package / "judge.py", "a") as f:
    f.write("\\n\\ndef grade(exercise, answer, *, plot=False):\\n"
            "    from .result import Result\\n"
            "    return Result(exercise.id, 'correct', 'Correct!', score=1.0)\\n")
(package / "TAMPERED").write_text("yes")
"""


def build(folder: pathlib.Path) -> dict[str, str]:
    """Every submission, as student id -> what is expected (documentation for the reader)."""
    cases = {}

    def student(name: str, nb: dict, expect: str, filename: str = NAME):
        write_nb(folder / name / filename, nb)
        cases[name] = expect

    master = json.loads(MASTER.read_text())
    student("solution", master, "the master edition: full marks")
    student("untouched", student_nb(), "the student edition as generated: 0, all not attempted")
    (folder / "invalid_json").mkdir()
    (folder / "invalid_json" / NAME).write_text(json.dumps(answered())[:5000])
    cases["invalid_json"] = "truncated JSON"
    missing = answered()
    del missing["cells"][answer_index(missing, "dz_dx")]
    student("missing_cell", missing, "dz_dx's cell deleted")
    student("renamed", answered(dz_dx=SOLVED["dz_dx"].replace("def dz_dx", "def dzdx")), "dz_dx renamed")
    student("infinite_loop_cell", insert(answered(), "dy_dx", "while True:\n    pass\n"), "a cell that loops")
    student("sys_exit", insert(answered(), "dz_dx", "import sys\nsys.exit()\n"), "sys.exit() in a cell")
    student("os_exit", insert(answered(), "dg_dx", "import os\nos._exit(3)\n"), "os._exit() in a cell")
    student("kernel_crash", insert(answered(), "dz_dx", "import ctypes\nctypes.string_at(0)\n"), "a segfault")
    student("megabytes", insert(answered(), "dy_dx", "for _ in range(300):\n    print('x' * 10_000)\n"),
            "3 MB of output")
    student("raises", answered(dz_dx=RAISES_DZ), "dz_dx raises ZeroDivisionError")
    student("wrong_type", answered(dg_dx="def dg_dx(x):\n    return 'hello'\n"), "dg_dx returns a string")
    student("returns_none", answered(dg_dx="def dg_dx(x):\n    y = math.sin(x) + x * math.cos(x)\n"),
            "dg_dx forgot return")
    student("wrong", answered(dz_dx=WRONG_DZ), "dz_dx misses the inner factor")
    student("bad_signature", answered(dg_dx=BAD_SIGNATURE_DG), "dg_dx takes two arguments")
    student("answer_loops", answered(dy_dx="def dy_dx(x):\n    while True:\n        pass\n"), "dy_dx never returns")
    student("uses_autograd", answered(
        dz_dx="def dz_dx(x):\n    t = torch.tensor(x, requires_grad=True)\n    torch.sin(t**2).backward()\n"
              "    return t.grad.item()\n"), "dz_dx asks autograd")
    other = answered()
    other["metadata"]["course"]["generated_from"] = "notebooks/master/09_optimizers.ipynb"
    student("other_lesson", other, "lesson 09's notebook under lesson 01's name")
    student("empty", {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, "no cells")
    dup = answered(dz_dx=WRONG_DZ)
    dup["cells"] += [copy.deepcopy(c) for c in dup["cells"]]  # everything twice ...
    dup["cells"].append(cell(SOLVED["dz_dx"]))  # ... then the right dz_dx, last
    student("duplicated_cells", dup, "every cell twice, the last definition right")
    kernel = answered()
    kernel["metadata"]["kernelspec"] = {"name": "my-old-venv", "display_name": "venv", "language": "python"}
    student("unknown_kernel", kernel, "a kernel name this machine does not have")
    r_kernel = answered()
    r_kernel["metadata"]["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    student("r_kernel", r_kernel, "an R notebook")
    student("tamper_checker", append(answered(**WRONG_EVERYWHERE), TAMPER_CHECKER), "checker patched to pass")
    student("tamper_autograd", insert(answered(**WRONG_EVERYWHERE), "dy_dx", TAMPER_AUTOGRAD),
            "torch.autograd.grad replaced")
    student("fake_success", append(answered(**WRONG_EVERYWHERE), FAKE_SUCCESS), "a fake green box, forged probe lines")
    student("edits_checker_files", insert(answered(**WRONG_EVERYWHERE), "dy_dx", EDIT_CHECKER_ON_DISK),
            "rewrites the checker's files on disk")
    student("no_metadata", master, "the master edition, file name without a lesson number", filename="mine.ipynb")
    write_nb(folder / "zipped_src" / "zipped" / NAME, answered())
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.write(folder / "zipped_src" / "zipped" / NAME, f"zipped/{NAME}")
    shutil.rmtree(folder / "zipped_src")
    cases["zipped"] = "a zip of a solved folder"
    return cases


def repo_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "checker").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    cases = build(subs)
    site = root / "site"  # the checker copy the kernels (and this grader) import
    shutil.copytree(ROOT / "checker", site / "checker", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(site))
    before = repo_fingerprint()
    out = root / "out"
    paths = sorted(str(p) for p in subs.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "checker", "grade", *paths, "--jobs", "2", "--timeout", "120", "--cell-timeout", "15",
         "--lesson", "lesson01", "--out", str(out), "--quiet"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reports = {p.stem: json.loads(p.read_text()) for p in (out / "students").glob("*.json")}
    return {"cases": cases, "reports": reports, "out": out, "stderr": done.stderr, "site": site,
            "repo_unchanged": repo_fingerprint() == before}


def results(batch, student: str) -> dict:
    return {r["exercise_id"]: r for r in batch["reports"][student]["results"]}


def notes(batch, student: str) -> str:
    return " | ".join(n for nb in batch["reports"][student]["notebooks"] for n in nb["notes"])


def scores(batch, student: str) -> tuple:
    got = results(batch, student)
    return tuple(got[i]["score"] for i in IDS)


def in_process(source: str, exercise_id: str, tmp_path):
    """The verdict the student saw in the notebook: checker.grade on the same source, in this process."""
    import math

    import torch

    import checker

    path = tmp_path / f"answer_{abs(hash(source))}.py"
    path.write_text(source)  # same line numbers as in the notebook's cell
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    module.math, module.torch = math, torch
    spec.loader.exec_module(module)
    return checker.grade(exercise_id, getattr(module, exercise_id.split(".")[1]))


# -- the batch ------------------------------------------------------------------------
def test_every_submission_has_a_report_and_a_row(batch):
    assert set(batch["reports"]) == set(batch["cases"]), batch["stderr"][-2000:]
    assert len(batch["cases"]) >= 20
    with open(batch["out"] / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(batch["cases"])
    assert list(rows["solution"]) == ["student", *IDS, "total", "max"]
    assert rows["solution"]["total"] == "3" and rows["untouched"]["total"] == "0"
    assert "graded" in batch["stderr"] and "slowest" in batch["stderr"]


def test_the_repository_is_never_touched(batch):
    assert batch["repo_unchanged"]


def test_solution_full_marks(batch):
    got = results(batch, "solution")
    assert all(got[i]["status"] == "correct" for i in IDS)
    assert scores(batch, "solution") == (1, 1, 1)
    assert "-5.466781571308061" in got["lesson01.dz_dx"]["message"]
    assert batch["reports"]["solution"]["status"] == "graded"


def test_untouched_student_edition_not_attempted(batch):
    got = results(batch, "untouched")
    assert [got[i]["status"] for i in IDS] == ["not_attempted"] * 3
    assert scores(batch, "untouched") == (0, 0, 0)


def test_invalid_json(batch):
    got = results(batch, "invalid_json")
    assert scores(batch, "invalid_json") == (0, 0, 0)
    assert all("not valid notebook JSON" in got[i]["message"] for i in IDS)
    assert batch["reports"]["invalid_json"]["status"] == "failed"


@pytest.mark.parametrize("student", ["missing_cell", "renamed"])
def test_missing_or_renamed_exercise(batch, student):
    got = results(batch, student)
    assert scores(batch, student) == (1, 0, 1)
    assert got["lesson01.dz_dx"]["status"] == "error"
    assert "does not define `dz_dx`" in got["lesson01.dz_dx"]["message"]


def test_infinite_loop_in_a_cell_is_interrupted(batch):
    assert scores(batch, "infinite_loop_cell") == (1, 1, 1)
    assert "ran past the 15 s limit per cell" in notes(batch, "infinite_loop_cell")


def test_sys_exit_in_a_cell(batch):
    assert scores(batch, "sys_exit") == (1, 1, 1)
    assert "SystemExit" in notes(batch, "sys_exit")


@pytest.mark.parametrize("student", ["os_exit", "kernel_crash"])
def test_a_dead_kernel_is_restarted_without_that_cell(batch, student):
    assert scores(batch, student) == (1, 1, 1)
    assert "stopped the Python kernel" in notes(batch, student)


def test_megabytes_of_output(batch):
    assert scores(batch, "megabytes") == (1, 1, 1)
    assert "MB of output" in notes(batch, "megabytes")


def test_answer_that_raises_gets_the_notebook_message(batch, tmp_path):
    got = results(batch, "raises")["lesson01.dz_dx"]
    assert got["status"] == "error" and got["score"] == 0
    assert "ZeroDivisionError" in got["message"] and "line 2: return 1 / (x - x)" in got["message"]
    assert got["message"] == in_process(RAISES_DZ, "lesson01.dz_dx", tmp_path).message


def test_wrong_answer_gets_the_notebook_message(batch, tmp_path):
    got = results(batch, "wrong")["lesson01.dz_dx"]
    seen = in_process(WRONG_DZ, "lesson01.dz_dx", tmp_path)
    assert got["status"] == "incorrect" and got["mistake"] == "missing-inner-factor"
    assert got["message"] == seen.message
    assert got["details"] == seen.to_dict()["details"]


def test_wrong_signature_gets_the_notebook_message(batch, tmp_path):
    got = results(batch, "bad_signature")["lesson01.dg_dx"]
    assert got["status"] == "error"
    assert got["message"] == in_process(BAD_SIGNATURE_DG, "lesson01.dg_dx", tmp_path).message


def test_wrong_type(batch):
    got = results(batch, "wrong_type")["lesson01.dg_dx"]
    assert got["status"] == "error" and "the string 'hello'" in got["message"]


def test_returns_none(batch):
    got = results(batch, "returns_none")["lesson01.dg_dx"]
    assert got["status"] == "not_attempted" and "returned None at x = 2.5" in got["message"]


def test_answer_that_never_returns(batch):
    got = results(batch, "answer_loops")["lesson01.dy_dx"]
    assert got["status"] == "error" and "took longer than 5 s" in got["message"]
    assert scores(batch, "answer_loops") == (0, 1, 1)


def test_manual_gradient_that_asks_autograd(batch):
    got = results(batch, "uses_autograd")["lesson01.dz_dx"]
    assert got["status"] == "incorrect" and got["mistake"] == "used-autograd"


def test_notebook_from_a_different_lesson(batch):
    got = results(batch, "other_lesson")
    assert scores(batch, "other_lesson") == (0, 0, 0)
    assert "lesson09, not lesson01" in notes(batch, "other_lesson")
    assert all("no notebook of lesson01" in got[i]["message"] for i in IDS)


def test_empty_notebook(batch):
    got = results(batch, "empty")
    assert scores(batch, "empty") == (0, 0, 0)
    assert all("no code" in got[i]["message"] for i in IDS)


def test_duplicated_cells_last_definition_counts(batch):
    assert scores(batch, "duplicated_cells") == (1, 1, 1)


def test_unknown_kernel_name_runs_with_the_graders_python(batch):
    assert scores(batch, "unknown_kernel") == (1, 1, 1)
    assert "my-old-venv" in notes(batch, "unknown_kernel")


def test_non_python_notebook(batch):
    got = results(batch, "r_kernel")
    assert scores(batch, "r_kernel") == (0, 0, 0)
    assert "the course's notebooks are Python" in got["lesson01.dy_dx"]["message"]


@pytest.mark.parametrize("student", ["tamper_checker", "tamper_autograd", "fake_success", "edits_checker_files"])
def test_tampering_gets_no_credit_for_wrong_answers(batch, student):
    got = results(batch, student)
    assert scores(batch, student) == (0, 0, 0)
    assert [got[i]["status"] for i in IDS] == ["incorrect"] * 3
    assert got["lesson01.dz_dx"]["mistake"] == "missing-inner-factor"


def test_the_on_disk_edit_happened_in_the_copy(batch):
    assert (batch["site"] / "checker" / "TAMPERED").exists()  # the attack ran ...
    assert not (ROOT / "checker" / "TAMPERED").exists()  # ... on the copy only


def test_no_lesson_metadata_graded_as_the_requested_lesson(batch):
    assert scores(batch, "no_metadata") == (1, 1, 1)
    assert "graded as lesson01" in notes(batch, "no_metadata")


def test_zip_submission(batch):
    assert scores(batch, "zipped") == (1, 1, 1)


def test_gradescope_results_follow_the_spec(batch):
    data = json.loads((batch["out"] / "gradescope" / "wrong" / "results.json").read_text())
    assert data["score"] == 2 and isinstance(data["execution_time"], int) and "output" in data
    assert len(data["tests"]) == 3
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
    dz = next(t for t in data["tests"] if "lesson01.dz_dx" in t["name"])
    assert dz["status"] == "failed" and dz["output"] == results(batch, "wrong")["lesson01.dz_dx"]["message"]


def test_classroom_payload(batch):
    from checker.grading import exports

    payload = exports.classroom(batch["reports"]["wrong"])
    assert payload["max_score"] == 3 and sum(t["score"] for t in payload["tests"]) == 2
    assert payload["status"] == "fail" and {t["status"] for t in payload["tests"]} == {"pass", "fail"}
