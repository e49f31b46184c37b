"""Writing the gradebook: grades.csv, one JSON per student, Gradescope and GitHub Classroom results.

Layout of an output folder:
    grades.csv                          one row per student, one column per exercise, total, max
    students/<id>.json                  every exercise's Result.to_dict() (with its message) and notes
    gradescope/<id>/results.json        Gradescope's autograder format
    summary.json                        the batch: counts, mean score, slowest submission
`merge` rebuilds all of them from several folders' students/*.json (shards of one class).
"""
from __future__ import annotations

import base64
import csv
import json
import pathlib
import re
import statistics

from ..catalog import LESSONS, exercises


def safe_name(student: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._") or "student"


def exercise_columns(reports: list[dict]) -> list[str]:
    """Every exercise of every lesson any student was graded on, in course order."""
    seen = {r["exercise_id"] for report in reports for r in report["results"]}
    ordered = []
    for lesson in LESSONS:
        ordered += [ex.id for ex in exercises(lesson) if ex.id in seen]
    return ordered + sorted(seen - set(ordered))


def write_csv(reports: list[dict], path: pathlib.Path) -> None:
    columns = exercise_columns(reports)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *columns, "total", "max"])
        for report in sorted(reports, key=lambda r: r["student"]):
            scores = {r["exercise_id"]: r["score"] for r in report["results"]}
            writer.writerow([report["student"], *(_number(scores[c]) if c in scores else "" for c in columns),
                             _number(report["score"]), _number(report["max_score"])])


def _number(x: float) -> str:
    return f"{x:g}"


def overview(report: dict) -> str:
    lines = [f"Score: {_number(report['score'])} / {_number(report['max_score'])}"]
    for nb in report["notebooks"]:
        head = f"{nb['file']}" + (f" ({nb['lesson']})" if nb.get("lesson") else "")
        if not nb.get("used", True):
            head += ": not counted (another notebook of the same lesson scored higher)"
        lines.append(head)
        lines += [f"  - {note}" for note in nb["notes"]]
    if report.get("problem"):
        lines.append(f"Not graded: {report['problem']}")
    return "\n".join(lines)


def gradescope(report: dict) -> dict:
    """Gradescope's results.json: tests[] per exercise, with the message the student saw."""
    tests = [
        {
            "name": f"{r['title']} ({r['exercise_id']})" if r.get("title") else r["exercise_id"],
            "score": r["score"], "max_score": r["max_score"],
            "status": "passed" if r["passed"] else "failed",
            "output": r["message"], "visibility": "visible",
        }
        for r in report["results"]
    ]
    return {
        "score": report["score"], "execution_time": int(round(report["seconds"])),
        "output": overview(report), "output_format": "text", "visibility": "visible",
        "stdout_visibility": "hidden", "tests": tests,
    }


def classroom(report: dict) -> dict:
    """The payload GitHub Classroom's autograding-grading-reporter reads (base64 in <RUNNER>_RESULTS)."""
    tests = [
        {"name": r["exercise_id"], "status": "pass" if r["passed"] else "fail", "score": r["score"],
         "max_score": r["max_score"], "message": r["message"], "line_no": 0, "execution_time": "0s",
         "test_code": ""}
        for r in report["results"]
    ]
    passed = bool(tests) and all(t["status"] == "pass" for t in tests)
    return {"version": 1, "status": "pass" if passed else "fail", "max_score": report["max_score"], "tests": tests}


def classroom_output(report: dict) -> str:
    return base64.b64encode(json.dumps(classroom(report)).encode()).decode()


def summary(reports: list[dict], seconds: float) -> dict:
    scores = [r["score"] for r in reports]
    slowest = max(reports, key=lambda r: r["seconds"], default=None)
    return {
        "graded": len(reports), "failed": sum(1 for r in reports if r["status"] == "failed"),
        "notebooks": sum(len(r["notebooks"]) for r in reports),
        "mean_score": statistics.fmean(scores) if scores else 0.0,
        "mean_max_score": statistics.fmean(r["max_score"] for r in reports) if reports else 0.0,
        "slowest": {"student": slowest["student"], "seconds": slowest["seconds"]} if slowest else None,
        "seconds": seconds,
    }


def summary_text(s: dict) -> str:
    text = (f"graded {s['graded']} submissions ({s['notebooks']} notebooks) in {s['seconds']:.1f} s; "
            f"failed: {s['failed']} (could not be run to the end, see students/*.json); "
            f"mean score {s['mean_score']:.2f} / {s['mean_max_score']:.2f}")
    if s["slowest"]:
        text += f"; slowest: {s['slowest']['student']} ({s['slowest']['seconds']:.1f} s)"
    return text


def write_all(reports: list[dict], out: pathlib.Path, seconds: float) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / "students").mkdir(exist_ok=True)
    (out / "gradescope").mkdir(exist_ok=True)
    for report in reports:
        name = safe_name(report["student"])
        (out / "students" / f"{name}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        (out / "gradescope" / name).mkdir(exist_ok=True)
        (out / "gradescope" / name / "results.json").write_text(json.dumps(gradescope(report), indent=1),
                                                                 encoding="utf-8")
    write_csv(reports, out / "grades.csv")
    batch = summary(reports, seconds)
    (out / "summary.json").write_text(json.dumps(batch, indent=1), encoding="utf-8")
    return batch


def merge(folders: list[pathlib.Path], out: pathlib.Path) -> dict:
    """One gradebook from several output folders (e.g. the shards of a GitHub Actions matrix)."""
    reports: dict[str, dict] = {}
    seconds = 0.0
    for folder in folders:
        for path in sorted((folder / "students").glob("*.json")):
            report = json.loads(path.read_text(encoding="utf-8"))
            reports[report["student"]] = report
        batch = folder / "summary.json"
        if batch.exists():
            seconds += float(json.loads(batch.read_text(encoding="utf-8")).get("seconds", 0.0))
    return write_all(sorted(reports.values(), key=lambda r: r["student"]), out, seconds)
