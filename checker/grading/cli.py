"""`python -m checker grade | merge | report | gradescope | classroom`: bulk grading from the command line."""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Optional

from . import batch, exports


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S",
                        help="time limit per notebook, in seconds (default 300)")
    parser.add_argument("--cell-timeout", type=float, default=60.0, metavar="S",
                        help="time limit per cell, in seconds (default 60)")
    parser.add_argument("--lesson", default=None, help="grade this lesson only (e.g. lesson01): other "
                        "notebooks are reported, and a missing one scores 0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m checker", description="Grade submitted lesson notebooks.")
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade submissions: notebooks, folders (one student each), zips")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION")
    grade.add_argument("--jobs", type=int, default=None, help="notebooks run in parallel (default: cores)")
    grade.add_argument("--out", default="grading", help="output folder (default: grading)")
    grade.add_argument("--shard", default=None, metavar="K/N", help="grade the K-th of N deterministic slices")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(grade)

    merge = commands.add_parser("merge", help="combine the output folders of several shards into one")
    merge.add_argument("folders", nargs="+", metavar="OUT_DIR")
    merge.add_argument("--out", required=True)

    report = commands.add_parser("report", help="the class report: what students got wrong, as one HTML page "
                                 "and misconceptions.csv")
    report.add_argument("folders", nargs="+", metavar="GRADING_DIR", help="output folders of `grade` or `merge`")
    report.add_argument("--out", default="report.html", help="the HTML page (default: report.html); "
                        "misconceptions.csv is written beside it")
    report.add_argument("--anonymize", action="store_true", help="student ids become student-001, ... (sorted)")

    scope = commands.add_parser("gradescope", help="Gradescope autograder: grade one submission folder")
    scope.add_argument("--submission", default="/autograder/submission")
    scope.add_argument("--results", default="/autograder/results/results.json")
    _common(scope)

    room = commands.add_parser("classroom", help="GitHub Classroom: grade this repository's notebooks, write the "
                               "reporter's `result` output")
    room.add_argument("submission", nargs="?", default="notebooks/student")
    room.add_argument("--out", default="grading")
    room.add_argument("--github-output", default=os.environ.get("GITHUB_OUTPUT"),
                      help="file to append `result=<base64>` to (default: $GITHUB_OUTPUT)")
    _common(room)
    return parser


def _grade_one(path: str, args) -> dict:
    reports = batch.grade_submissions([path], jobs=1, notebook_timeout=args.timeout, cell_timeout=args.cell_timeout,
                                      lesson=args.lesson, progress=False)
    return reports[0]


def _report(args) -> int:
    from . import report, report_render

    try:
        reports = report.load([pathlib.Path(f) for f in args.folders])
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.anonymize:
        reports = report.anonymize(reports)
    result = report.build(reports)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_render.page(result), encoding="utf-8")
    table = out.parent / "misconceptions.csv"
    table.write_text(report_render.misconceptions_csv(result), encoding="utf-8", newline="")
    print(f"class report of {result.students} students: {out} and {table}", file=sys.stderr)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "grade":
        try:
            shard = batch.parse_shard(args.shard) if args.shard else None
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        reports, seconds = batch.timed(
            batch.grade_submissions, args.submissions, jobs=args.jobs, notebook_timeout=args.timeout,
            cell_timeout=args.cell_timeout, lesson=args.lesson, shard=shard, progress=not args.quiet)
        summary = exports.write_all(reports, pathlib.Path(args.out), seconds)
        print(exports.summary_text(summary), file=sys.stderr)
        print(f"wrote {pathlib.Path(args.out) / 'grades.csv'}", file=sys.stderr)
        return 0
    if args.command == "merge":
        summary = exports.merge([pathlib.Path(f) for f in args.folders], pathlib.Path(args.out))
        print(f"merged {summary['graded']} students into {pathlib.Path(args.out) / 'grades.csv'}", file=sys.stderr)
        return 0
    if args.command == "report":
        return _report(args)
    if args.command == "gradescope":
        results = pathlib.Path(args.results)
        results.parent.mkdir(parents=True, exist_ok=True)
        try:
            report = _grade_one(args.submission, args)
            payload = exports.gradescope(report)
        except Exception as err:  # never leave Gradescope without a results.json
            payload = {"score": 0, "output": f"The autograder failed: {type(err).__name__}: {err}. "
                       "Please tell the course staff.", "tests": []}
        results.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(payload.get("output", ""))
        return 0
    if args.command == "classroom":
        report, seconds = batch.timed(_grade_one, args.submission, args)
        exports.write_all([report], pathlib.Path(args.out), seconds)
        print(exports.overview(report))
        for r in report["results"]:
            print(f"{'PASS' if r['passed'] else 'FAIL'} {r['exercise_id']}: {r['message']}")
        if args.github_output:
            with open(args.github_output, "a", encoding="utf-8") as f:
                f.write(f"result={exports.classroom_output(report)}\n")
        return 0
    return 2
