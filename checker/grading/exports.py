"""Writing the gradebook: grades.csv, one JSON per student, Gradescope and GitHub Classroom results.

Layout of an output folder:
    grades.csv                          one row per student, one column per exercise, total, max
    students/<id>.json                  every exercise's Result.to_dict() (with its message) and notes
    gradescope/<id>/results.json        Gradescope's autograder format
    summary.json                        the batch: counts, mean score, slowest submission
`merge` rebuilds all of them from several folders' students/*.json (shards of one class).

Student ids are unique and file-name safe (`submissions.unique_ids`), so no report can
overwrite another. Every text cell of grades.csv that a spreadsheet would read as a formula
is escaped. Everything is written to a fresh private folder inside the output folder, then
moved into place, entry by entry, after every notebook has ended: whatever a notebook wrote
into the output folder while it ran is replaced, and a failure leaves the previous gradebook.
"""
from __future__ import annotations

import base64
import csv
import json
import os
import pathlib
import shutil
import statistics
import tempfile

from ..lessons.catalog import LESSONS, exercises
from .submissions import MAX_NOTEBOOK_BYTES, Skipped, read_file, safe_name, unique_ids

OUTPUTS = ("grades.csv", "students", "gradescope", "summary.json")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def spreadsheet_text(value: str) -> str:
    """A text cell no spreadsheet evaluates: a leading ' when it starts like a formula (OWASP's advice)."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


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
        writer.writerow(["student", *(spreadsheet_text(c) for c in columns), "total", "max"])
        for report in sorted(reports, key=lambda r: r["student"]):
            scores = {r["exercise_id"]: r["score"] for r in report["results"]}
            writer.writerow([spreadsheet_text(report["student"]),
                             *(_number(scores[c]) if c in scores else "" for c in columns),
                             _number(report["score"]), _number(report["max_score"])])


def _number(x: float) -> str:
    return f"{x:g}"


def overview(report: dict) -> str:
    lines = [f"Score: {_number(report['score'])} / {_number(report['max_score'])}"]
    for nb in report["notebooks"]:
        head = f"{nb['file']}" + (f" ({nb['lesson']})" if nb.get("lesson") else "")
        if not nb.get("used", True):
            head += (": not counted (another notebook of the same lesson scored higher)" if nb.get("max_score")
                     else ": not counted")
        lines.append(head)
        lines += [f"  - {note}" for note in nb["notes"]]
    lines += [f"- {note}" for note in report.get("notes", [])]
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


def _write(path: pathlib.Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as f:  # "x": a fresh file, never through a planted link
        f.write(text)


def _clear(path: pathlib.Path) -> None:
    """Remove what is at path, without following a link (a notebook may have planted one)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def replace_file(path: pathlib.Path, text: str) -> None:
    """Write a file by renaming a fresh one over `path`: whatever a notebook planted there (a link,
    a FIFO, a folder) is replaced, never followed or opened."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    fd, fresh = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(fresh, 0o644)
        os.replace(fresh, path)
    except BaseException:
        if os.path.lexists(fresh):
            os.unlink(fresh)
        raise


def _folder(out: pathlib.Path) -> pathlib.Path:
    """The output folder, created if need be; anything else already there is moved aside."""
    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir()):
        aside = out.with_name(out.name + ".not-a-folder")
        _clear(aside)
        os.replace(out, aside)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_all(reports: list[dict], out: pathlib.Path, seconds: float) -> dict:
    """Write the gradebook to a private folder, then move each entry into `out`."""
    ids = [r["student"] for r in reports]
    if len({i.casefold() for i in ids}) != len(ids) or any(safe_name(i) != i for i in ids):
        raise ValueError("student ids must be unique and safe (submissions.unique_ids)")
    out = _folder(pathlib.Path(out))
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".grading-", dir=out))
    try:
        (staging / "students").mkdir()
        (staging / "gradescope").mkdir()
        for report in reports:
            name = report["student"]
            _write(staging / "students" / f"{name}.json", json.dumps(report, indent=1))
            (staging / "gradescope" / name).mkdir()
            _write(staging / "gradescope" / name / "results.json", json.dumps(gradescope(report), indent=1))
        write_csv(reports, staging / "grades.csv")
        batch = summary(reports, seconds)
        _write(staging / "summary.json", json.dumps(batch, indent=1))
        for entry in OUTPUTS:
            _clear(out / entry)
            os.replace(staging / entry, out / entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return batch


_REPORT_FIELDS = {"student": str, "source": str, "status": str, "score": (int, float), "max_score": (int, float),
                  "seconds": (int, float), "notebooks": list, "results": list}
_RESULT_FIELDS = {"exercise_id": str, "score": (int, float), "max_score": (int, float), "passed": bool,
                  "message": str}


def _report(path: pathlib.Path) -> dict:
    """A report written by write_all, read back within bounds; ValueError otherwise."""
    try:
        report = json.loads(read_file(str(path), MAX_NOTEBOOK_BYTES))
    except (Skipped, OSError, ValueError, RecursionError) as err:
        raise ValueError(f"{path.name}: {err}") from err
    if not isinstance(report, dict) or not all(isinstance(report.get(k), t) for k, t in _REPORT_FIELDS.items()):
        raise ValueError(f"{path.name}: not a student report")
    if not all(isinstance(r, dict) and all(isinstance(r.get(k), t) for k, t in _RESULT_FIELDS.items())
               for r in report["results"]):
        raise ValueError(f"{path.name}: not a student report")
    return report


def merge(folders: list[pathlib.Path], out: pathlib.Path, problems: list[str] | None = None) -> dict:
    """One gradebook from several output folders (e.g. the shards of a GitHub Actions matrix).

    The same report found twice (a shard merged twice) counts once; two different students
    with the same id (folders from different batches) both stay, the second renamed.
    Files that are not reports are skipped and listed in `problems`.
    """
    problems = problems if problems is not None else []
    reports: list[dict] = []
    seen: dict[str, str] = {}
    seconds = 0.0
    for folder in folders:
        folder = pathlib.Path(folder)
        for path in sorted((folder / "students").glob("*.json")):
            try:
                report = _report(path)
            except ValueError as err:
                problems.append(f"skipped {folder.name}/students/{err}")
                continue
            fingerprint = json.dumps(report, sort_keys=True)
            key = report["student"].casefold()
            if seen.get(key) == fingerprint:
                continue
            seen.setdefault(key, fingerprint)
            reports.append(report)
        try:
            batch = json.loads(read_file(str(folder / "summary.json"), 1_000_000))
            seconds += float(batch.get("seconds", 0.0)) if isinstance(batch, dict) else 0.0
        except (Skipped, OSError, ValueError, TypeError, RecursionError):
            pass
    reports.sort(key=lambda r: (r["student"], r["source"]))
    for report, student in zip(reports, unique_ids([r["student"] for r in reports])):
        if student != report["student"]:
            why = ("two different students were both called" if safe_name(report["student"]) == report["student"]
                   else "a report had the unsafe id")
            problems.append(f"{why} {report['student']!r}; it is {student!r} in the merged gradebook")
            report["student"] = student
    return write_all(sorted(reports, key=lambda r: r["student"]), out, seconds)
