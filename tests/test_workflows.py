"""The GitHub Actions workflows: actions pinned by commit, the Python matrix, and the classroom workflow's
reporting step, which gives GitHub Classroom the points the checker computed."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import yaml

from checker.grading import exports

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def test_every_action_is_pinned_by_commit_with_its_version():
    uses = [line.strip() for path in sorted(WORKFLOWS.glob("*.yml")) for line in path.read_text().splitlines()
            if line.strip().startswith(("uses:", "- uses:"))]
    assert len(uses) == 5
    for line in uses:
        assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_ci_runs_every_python_the_course_supports():
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]


def report_step():
    workflow = yaml.safe_load((WORKFLOWS / "classroom.yml").read_text())
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    return next(s for s in steps if s.get("name") == "Report the points to GitHub Classroom")


def run_report(results: list[tuple[str, bool, float, float]]) -> subprocess.CompletedProcess:
    report = {"max_score": sum(r[3] for r in results),
              "results": [{"exercise_id": ex, "passed": ok, "score": score, "max_score": top, "message": "m"}
                          for ex, ok, score, top in results]}
    env = dict(os.environ, NOTEBOOKS_RESULTS=exports.classroom_output(report),
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["bash", "-e", "-c", report_step()["run"]], env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_report_step_reads_the_checkers_output():
    step = report_step()
    assert step["env"] == {"NOTEBOOKS_RESULTS": "${{ steps.notebooks.outputs.result }}"}
    assert "uses" not in step


def test_the_report_step_gives_classroom_the_points_and_fails_unless_all_passed():
    run = run_report([("lesson01.dz_dx", True, 1.0, 1.0), ("lesson01.slope", False, 0.0, 1.0),
                      ("lesson02.grad", True, 1.0, 1.0)])
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        "::notice title=Autograding complete::Points 2/3",
        '::notice title=Autograding report::{"totalPoints": 2, "maxPoints": 3}',
        "::error::Some tests failed.",
    ]
    run = run_report([("lesson01.dz_dx", True, 1.0, 1.0), ("lesson01.half", True, 0.5, 0.5)])
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "::notice title=Autograding complete::Points 1.5/1.5",
        '::notice title=Autograding report::{"totalPoints": 1.5, "maxPoints": 1.5}',
    ]
    run = run_report([])  # nothing gradable: no points to report, and the step fails
    assert run.returncode == 1 and run.stdout.splitlines() == ["::error::Some tests failed."]
