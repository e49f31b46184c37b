"""The GitHub Actions workflows: `make lint-workflows` passes them and fails broken ones; the classroom
workflow's reporting step gives GitHub Classroom the points the checker computed."""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from checker.grading import exports

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
VENV = pathlib.Path(sys.executable).parent.parent
ZIZMOR = sys.version_info >= (3, 11)  # zizmor's wheel needs Python 3.11+; `make lint` says so and skips it
CHECKOUT_V7 = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"


def lint_workflows(folder: pathlib.Path) -> subprocess.CompletedProcess:
    """`make lint-workflows` from the repository's Makefile, run in `folder` (with its .github/workflows)."""
    return subprocess.run(["make", "--no-print-directory", "-C", str(folder), "-f", str(ROOT / "Makefile"),
                           "lint-workflows", f"VENV={VENV}"], capture_output=True, text=True, timeout=120)


def copy_with(tmp_path: pathlib.Path, name: str, old: str, new: str) -> pathlib.Path:
    """A copy of the real workflows in which `old` in `name` is replaced by `new`."""
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    path = tmp_path / ".github" / "workflows" / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return tmp_path


def test_the_real_workflows_pass_actionlint_and_zizmor():
    run = lint_workflows(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "actionlint" in run.stdout
    assert ("No findings to report" in run.stdout + run.stderr) if ZIZMOR else "zizmor not run" in run.stdout


def test_a_node20_checkout_by_tag_fails_both_linters(tmp_path):
    folder = copy_with(tmp_path, "ci.yml", CHECKOUT_V7, "actions/checkout@v4")
    run = lint_workflows(folder)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert 'runtime "node20" is deprecated' in out and '"actions/checkout@v4"' in out  # actionlint
    if ZIZMOR:
        assert "unpinned-uses" in out and "ci.yml" in out


@pytest.mark.skipif(not ZIZMOR, reason="zizmor's wheel needs Python 3.11+")
@pytest.mark.parametrize("name, old, new, finding", [
    ("ci.yml", "        with:\n          persist-credentials: false\n", "", "artipacked"),
    ("ci.yml", "    permissions:\n      contents: read\n", "    permissions: write-all\n", "excessive-permissions"),
    ("classroom.yml", 'python -m checker classroom "$GITHUB_WORKSPACE/notebooks/student"',
     'python -m checker classroom "${{ github.event.head_commit.message }}"', "template-injection"),
])
def test_zizmor_fails_on_credentials_permissions_and_injection(tmp_path, name, old, new, finding):
    run = lint_workflows(copy_with(tmp_path, name, old, new))
    assert run.returncode != 0 and finding in run.stdout + run.stderr, run.stdout + run.stderr


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
