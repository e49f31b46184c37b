"""`python -m checker report`: what the class got wrong, computed from a grading folder's students/*.json.

Computing only: `ClassReport` is plain data (to_dict()); `report_render` turns it into the HTML page and
misconceptions.csv. Works on the output of `grade` and of `merge`, and on several folders at once (shards):
a student found in more than one folder counts once, the last folder given wins (as in `merge`).
"""
from __future__ import annotations

import json
import pathlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

# Generic diagnoses of a wrong answer no known mistake matched (Result.diagnosis), in words.
DIAGNOSES = {
    "sign": "wrong sign",
    "factor": "off by a constant factor",
    "offset": "off by a constant term",
    "zero": "zero everywhere",
    "function-itself": "the function itself, not its derivative",
    "one-side": "right on one side of 0 only (e.g. only for x > 0)",
    "only-lesson-point": "right only at the lesson's own point",
    "reordered": "right values in the wrong order",
    "not-finite": "NaN or infinity",
    "wrong-shape": "wrong shape or type of output",
    "other": "other wrong answers (no common pattern)",
}
TOP = 10


@dataclass
class Count:
    """One misconception of one exercise: a named mistake (kind "mistake") or a generic diagnosis."""

    exercise_id: str
    kind: str  # "mistake" or "diagnosis"
    id: str
    count: int
    share: float  # of the students graded on the exercise
    message: str
    section: str = ""
    students: list[str] = field(default_factory=list)


@dataclass
class ExerciseSummary:
    exercise_id: str
    title: str
    graded: int
    correct: int = 0
    incorrect: int = 0
    not_attempted: int = 0
    error: int = 0
    mistakes: list[Count] = field(default_factory=list)  # ranked by count
    diagnoses: list[Count] = field(default_factory=list)  # ranked by count


@dataclass
class Bin:
    low: float
    high: float  # exclusive, but for the last bin
    count: int


@dataclass
class ClassReport:
    students: int
    max_score: float
    mean_score: float
    exercises: list[ExerciseSummary]
    top_misconceptions: list[Count]
    histogram: list[Bin]
    most_skipped: list[ExerciseSummary]
    not_graded: list[str] = field(default_factory=list)  # students whose submission could not be run

    def to_dict(self) -> dict:
        return asdict(self)


def load(folders: list[pathlib.Path]) -> list[dict]:
    """Every student's report, once each (the last folder wins), sorted by student id."""
    reports: dict[str, dict] = {}
    for folder in folders:
        students = pathlib.Path(folder) / "students"
        if not students.is_dir():
            raise FileNotFoundError(f"{folder} has no students/ folder: is it the output of `grade` or `merge`?")
        for path in sorted(students.glob("*.json")):
            report = json.loads(path.read_text(encoding="utf-8"))
            reports[report["student"]] = report
    return [reports[k] for k in sorted(reports)]


def anonymize(reports: list[dict]) -> list[dict]:
    """The same reports with student ids replaced by student-001, student-002, ... in sorted order."""
    ids = sorted(r["student"] for r in reports)
    width = max(3, len(str(len(ids))))
    alias = {sid: f"student-{i:0{width}d}" for i, sid in enumerate(ids, 1)}
    return [dict(r, student=alias[r["student"]]) for r in reports]


def _catalog_lookup() -> Callable[[str], Optional[object]]:
    """exercise id -> Exercise, or None for an id this version of the course does not know."""
    from ..lessons.catalog import find

    cache: dict[str, Optional[object]] = {}

    def lookup(exercise_id: str):
        if exercise_id not in cache:
            try:
                cache[exercise_id] = find(exercise_id)
            except (KeyError, AttributeError):
                cache[exercise_id] = None
        return cache[exercise_id]

    return lookup


def _ranked(counts: list[Count]) -> list[Count]:
    return sorted(counts, key=lambda c: (-c.count, c.exercise_id, c.kind, c.id))


def _histogram(totals: list[float], max_score: float) -> list[Bin]:
    """Up to 20 points: one bin per whole point, 0 to max_score ([k, k+1)); above: 10 equal bins, the last one
    including max_score."""
    top = max([max_score, *totals], default=0.0)
    if top <= 20:
        n, width = int(top) + 1, 1.0
    else:
        n, width = 10, top / 10
    bins = [Bin(round(i * width, 6), round((i + 1) * width, 6), 0) for i in range(n)]
    for t in totals:
        bins[min(n - 1, max(0, int(t // width)))].count += 1
    return bins


def build(reports: list[dict], lookup: Optional[Callable[[str], Optional[object]]] = None) -> ClassReport:
    """The class report of these students' graded reports (see `load`)."""
    from .exports import exercise_columns

    lookup = lookup or _catalog_lookup()
    by_exercise: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for report in reports:
        for r in report["results"]:
            by_exercise[r["exercise_id"]].append((report["student"], r))

    summaries = []
    for exercise_id in exercise_columns(reports):
        rows = by_exercise[exercise_id]
        ex = lookup(exercise_id)
        title = getattr(ex, "title", "") or next((r.get("title", "") for _, r in rows if r.get("title")), "")
        s = ExerciseSummary(exercise_id, title, graded=len(rows))
        statuses = Counter(r["status"] for _, r in rows)
        s.correct, s.incorrect = statuses["correct"], statuses["incorrect"]
        s.not_attempted, s.error = statuses["not_attempted"], statuses["error"]
        named: dict[str, list[str]] = defaultdict(list)
        generic: dict[str, list[str]] = defaultdict(list)
        seen_messages: dict[str, Counter] = defaultdict(Counter)
        for student, r in rows:
            if r["status"] not in ("incorrect", "error"):
                continue
            if r.get("mistake") and r["status"] == "incorrect":  # an error's "mistake" (not-graded) is none
                named[r["mistake"]].append(student)
                seen_messages[r["mistake"]][r.get("message", "")] += 1
            elif r.get("diagnosis") or (r["status"] == "incorrect" and not r.get("mistake")):
                # no diagnosis: graded before diagnoses were recorded, "other"
                diagnosis = r.get("diagnosis") or "other"
                generic[diagnosis if diagnosis in DIAGNOSES else "other"].append(student)
        known = {m.id: m for m in getattr(ex, "mistakes", ())}
        default_section = f"{exercise_id.split('.')[0]}: {title}" if title else exercise_id.split(".")[0]
        for mistake_id, students in named.items():
            m = known.get(mistake_id)
            message = m.message if m is not None else seen_messages[mistake_id].most_common(1)[0][0]
            section = (getattr(m, "section", "") if m is not None else "") or default_section
            s.mistakes.append(Count(exercise_id, "mistake", mistake_id, len(students),
                                    len(students) / len(rows), message, section, sorted(students)))
        for diagnosis, students in generic.items():
            s.diagnoses.append(Count(exercise_id, "diagnosis", diagnosis, len(students), len(students) / len(rows),
                                     DIAGNOSES[diagnosis], default_section, sorted(students)))
        s.mistakes, s.diagnoses = _ranked(s.mistakes), _ranked(s.diagnoses)
        summaries.append(s)

    misconceptions = [c for s in summaries for c in s.mistakes + s.diagnoses if c.id != "other"]
    totals = [float(r["score"]) for r in reports]
    max_score = max((float(r["max_score"]) for r in reports), default=0.0)
    skipped = sorted((s for s in summaries if s.not_attempted), key=lambda s: (-s.not_attempted, s.exercise_id))
    return ClassReport(
        students=len(reports), max_score=max_score,
        mean_score=sum(totals) / len(totals) if totals else 0.0,
        exercises=summaries, top_misconceptions=_ranked(misconceptions)[:TOP],
        histogram=_histogram(totals, max_score), most_skipped=skipped[:TOP],
        not_graded=sorted(r["student"] for r in reports if r.get("status") == "failed"),
    )
