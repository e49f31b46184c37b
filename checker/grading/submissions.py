"""What was submitted: students, their notebooks, and which lesson each notebook is.

A submission is a notebook (student id: its stem), a folder of notebooks (one student: the
folder's name) or a zip of such a folder (the zip's stem). Zips are read in memory, only
their `.ipynb` members, so nothing is extracted anywhere.
"""
from __future__ import annotations

import json
import pathlib
import re
import zipfile
from dataclasses import dataclass, field
from typing import Optional

MAX_NOTEBOOK_BYTES = 50_000_000
PYTHON_KERNELS = {"python", "python3", "python2"}


@dataclass
class NotebookFile:
    name: str  # path inside the submission
    text: Optional[str] = None
    problem: Optional[str] = None  # why it cannot be run at all


@dataclass
class Submission:
    student: str
    source: str
    notebooks: list[NotebookFile] = field(default_factory=list)
    problem: Optional[str] = None


def _wanted(path: str) -> bool:
    parts = pathlib.PurePosixPath(path.replace("\\", "/")).parts
    return path.endswith(".ipynb") and not any(p.startswith((".", "__MACOSX")) for p in parts)


def discover(paths: list[str]) -> list[Submission]:
    """One Submission per argument, sorted by source; student ids made unique ("-2", "-3")."""
    found = []
    for raw in paths:
        path = pathlib.Path(raw)
        student = path.stem if path.suffix in (".ipynb", ".zip") else path.name
        found.append(Submission(student or "submission", str(path)))
    found.sort(key=lambda s: s.source)
    seen: dict[str, int] = {}
    for sub in found:
        n = seen.get(sub.student, 0) + 1
        seen[sub.student] = n
        if n > 1:
            sub.student = f"{sub.student}-{n}"
    return found


def shard(subs: list[Submission], k: int, n: int) -> list[Submission]:
    """The k-th (1-based) of n deterministic slices: every n-th submission in sorted order."""
    return [s for i, s in enumerate(sorted(subs, key=lambda s: s.source)) if i % n == k - 1]


def _read_bytes(data: bytes, name: str) -> NotebookFile:
    if len(data) > MAX_NOTEBOOK_BYTES:
        return NotebookFile(name, problem=f"the file is {len(data) / 1e6:.0f} MB, over the grader's limit")
    return NotebookFile(name, data.decode("utf-8", errors="replace"))


def load(sub: Submission) -> Submission:
    """Read the submission's notebooks (their text); problems are recorded, never raised."""
    path = pathlib.Path(sub.source)
    try:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.ipynb") if _wanted(p.relative_to(path).as_posix()))
            sub.notebooks = [_read_bytes(p.read_bytes(), p.relative_to(path).as_posix()) for p in files]
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                members = sorted(m for m in archive.infolist() if not m.is_dir() and _wanted(m.filename))
                for m in members:
                    if m.file_size > MAX_NOTEBOOK_BYTES:
                        sub.notebooks.append(NotebookFile(m.filename, problem="the file is over the grader's limit"))
                    else:
                        sub.notebooks.append(_read_bytes(archive.read(m), m.filename))
        elif path.is_file():
            sub.notebooks = [_read_bytes(path.read_bytes(), path.name)]
        else:
            sub.problem = f"no such file or folder: {path}"
    except (OSError, zipfile.BadZipFile, RuntimeError) as err:
        sub.problem = f"could not read {path.name}: {err}"
    if sub.problem is None and not sub.notebooks:
        sub.problem = "no notebook (.ipynb) in the submission"
    return sub


_LESSON_IN_NAME = re.compile(r"(?<!\d)(\d\d)_[A-Za-z]")


def _lesson_from(name: str) -> Optional[str]:
    match = _LESSON_IN_NAME.search(pathlib.PurePosixPath(name.replace("\\", "/")).name)
    return f"lesson{match.group(1)}" if match else None


@dataclass
class Parsed:
    notebook: Optional[dict]  # the JSON, when it parsed
    lesson: Optional[str]
    problem: Optional[str]  # why it cannot be graded at all
    notes: list[str]


def parse(nb_file: NotebookFile, known_lessons, required: Optional[str] = None) -> Parsed:
    """Parse a notebook, tell which lesson it is, and whether it can be run."""
    notes: list[str] = []
    if nb_file.problem:
        return Parsed(None, _lesson_from(nb_file.name), nb_file.problem, notes)
    try:
        data = json.loads(nb_file.text)
    except ValueError as err:
        return Parsed(None, _lesson_from(nb_file.name),
                      f"the file is not valid notebook JSON ({err}); was it saved or uploaded completely?", notes)
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        return Parsed(None, _lesson_from(nb_file.name), "the file is JSON but not a Jupyter notebook", notes)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    course = metadata.get("course") if isinstance(metadata.get("course"), dict) else {}
    from_meta = _lesson_from(str(course.get("generated_from", ""))) if course.get("generated_from") else None
    from_name = _lesson_from(nb_file.name)
    lesson = from_meta or from_name
    if lesson is None and required:
        lesson = required
        notes.append(f"Nothing in the notebook says which lesson it is; graded as {required}.")
    if from_meta and from_name and from_meta != from_name:
        notes.append(f"The file is named like {from_name}, but the notebook is {from_meta}'s; graded as {from_meta}.")
    if lesson is None:
        return Parsed(data, None, "cannot tell which lesson this notebook is (no course metadata, and its name "
                                  "does not start with the lesson's number, like 01_derivatives.ipynb)", notes)
    if required and lesson != required:
        return Parsed(data, lesson, f"this notebook is from {lesson}, not {required}, the lesson being graded", notes)
    if lesson not in known_lessons:
        return Parsed(data, lesson, f"this notebook is {lesson}, which has no exercises in this course "
                                    f"(lessons: {', '.join(known_lessons)})", notes)
    spec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    language = str(spec.get("language") or info.get("name") or "python").lower()
    if language != "python":
        return Parsed(data, lesson, f"this notebook is for a {language} kernel (`{spec.get('name', '?')}`); "
                                    "the course's notebooks are Python", notes)
    if spec.get("name") and str(spec["name"]) not in PYTHON_KERNELS:
        notes.append(f"The notebook names the kernel `{str(spec['name'])[:60]}`; it was run with the grader's "
                     "Python kernel.")
    code = [c for c in data.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"
            and "".join(c.get("source", "")).strip()]
    if not code:
        return Parsed(data, lesson, "the notebook has no code (is it empty?)", notes)
    return Parsed(data, lesson, None, notes)
