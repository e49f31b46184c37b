"""Bulk grading without kernels: sharding, merging, outputs of submissions that cannot run, `import checker`."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

from checker.grading import cli, exports, submissions


def broken(folder, n=5):
    paths = []
    for i in range(n):
        path = folder / f"student{i}" / "01_derivatives.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text("{ not json" if i % 2 else json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                                "nbformat_minor": 5}))
        paths.append(str(path.parent))
    return paths


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_shards_are_disjoint_deterministic_and_merge_into_one_gradebook(tmp_path):
    paths = broken(tmp_path / "subs")
    slices = [[s.student for s in submissions.shard(submissions.discover(paths[::-1]), k, 3)] for k in (1, 2, 3)]
    assert sorted(sum(slices, [])) == [f"student{i}" for i in range(5)]
    assert slices == [[s.student for s in submissions.shard(submissions.discover(paths), k, 3)] for k in (1, 2, 3)]
    for k in (1, 2):
        assert cli.main(["grade", *paths, "--shard", f"{k}/2", "--out", str(tmp_path / f"shard{k}"), "--quiet",
                         "--lesson", "lesson01"]) == 0
    assert len(rows(tmp_path / "shard1" / "grades.csv")) == 3 and len(rows(tmp_path / "shard2" / "grades.csv")) == 2
    assert cli.main(["merge", str(tmp_path / "shard1"), str(tmp_path / "shard2"), "--out", str(tmp_path / "all")]) == 0
    merged = rows(tmp_path / "all" / "grades.csv")
    assert [r["student"] for r in merged] == [f"student{i}" for i in range(5)]
    assert all(r["total"] == "0" and r["max"] == "3" for r in merged)
    summary = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert summary["graded"] == 5 and summary["failed"] == 5
    for i in range(5):
        assert (tmp_path / "all" / "gradescope" / f"student{i}" / "results.json").exists()


def test_bad_shard_is_a_usage_error(tmp_path):
    assert cli.main(["grade", str(tmp_path), "--shard", "3/2", "--out", str(tmp_path / "o"), "--lesson", "01"]) == 2


def test_missing_path_and_folder_without_notebooks(tmp_path):
    (tmp_path / "empty_folder").mkdir()
    out = tmp_path / "out"
    assert cli.main(["grade", str(tmp_path / "nope.ipynb"), str(tmp_path / "empty_folder"), "--out", str(out),
                     "--quiet", "--lesson", "lesson01"]) == 0
    reports = {p.stem: json.loads(p.read_text()) for p in (out / "students").glob("*.json")}
    assert "no such file" in reports["nope"]["results"][0]["message"]
    assert "no notebook" in reports["empty_folder"]["results"][0]["message"]


def test_gradescope_entry_point_always_writes_results(tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "01_derivatives.ipynb").write_text("{ truncated")
    results = tmp_path / "results" / "results.json"
    assert cli.main(["gradescope", "--submission", str(sub), "--results", str(results), "--lesson", "lesson01"]) == 0
    data = json.loads(results.read_text())
    assert data["score"] == 0 and len(data["tests"]) == 3
    assert all(t["status"] == "failed" and "not valid notebook JSON" in t["output"] for t in data["tests"])


def test_classroom_entry_point_writes_the_reporter_output(tmp_path):
    sub = tmp_path / "repo"
    sub.mkdir()
    (sub / "01_derivatives.ipynb").write_text("[]")
    github_output = tmp_path / "github_output"
    assert cli.main(["classroom", str(sub), "--out", str(tmp_path / "grading"), "--lesson", "01",
                     "--github-output", str(github_output)]) == 0
    line = github_output.read_text().strip()
    assert line.startswith("result=")
    import base64

    payload = json.loads(base64.b64decode(line[len("result="):]))
    assert payload["version"] == 1 and payload["max_score"] == 3 and payload["status"] == "fail"


def test_safe_names():
    assert exports.safe_name("../etc/passwd") == "etc_passwd"
    assert exports.safe_name("Ana María") == "Ana_Mar_a"


def test_import_checker_stays_light():
    # (tqdm is left out: torch itself imports it when it is installed)
    code = ("import sys, checker, checker.lessons.catalog; "
            "print(sorted(m for m in ('nbclient', 'nbformat', 'jupyter_client', 'checker.grading') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
