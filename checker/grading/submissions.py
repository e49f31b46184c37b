"""What was submitted: students, their notebooks, and which lesson each notebook is.

A submission is a notebook (student id: its stem), a folder of notebooks (one student: the
folder's name) or a zip of such a folder (the zip's stem). Student ids are the names made
safe for file names (`safe_name`), then made unique, case-insensitively, over all of them.

Reading is bounded and literal, because submissions are untrusted:
- only regular files are read: symbolic links (at the top or inside a folder or zip) and
  special files (FIFOs, devices, sockets) are skipped and reported, never opened;
- a file's size is checked before it is read, and it is read with a cap;
- a folder is walked to a limited depth and number of entries, and at most MAX_NOTEBOOKS
  notebooks are read per submission;
- zips are read in memory, member by member, each with the same cap, so nothing is
  extracted anywhere and a corrupt member costs only itself.
Every problem is recorded on the submission or the notebook; nothing here raises for
anything a student can submit.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import stat
import zipfile
from dataclasses import dataclass, field
from typing import Optional, Sequence

MAX_NOTEBOOK_BYTES = 20_000_000  # one notebook file
MAX_ZIP_BYTES = 100_000_000  # one zip submission
MAX_NOTEBOOKS = 12  # notebooks read per submission (the course has a handful of lessons)
MAX_ENTRIES = 5_000  # folder entries or zip members looked at per submission
MAX_FOLDER_DEPTH = 8
MAX_CODE_CELLS = 2_000
MAX_NOTES = 20
PYTHON_KERNELS = {"python", "python3", "python2"}


class Skipped(Exception):
    """A file that is not read, and why."""


@dataclass
class NotebookFile:
    name: str  # path inside the submission, for display
    text: Optional[str] = None
    problem: Optional[str] = None  # why it cannot be run at all


@dataclass
class Submission:
    student: str  # unique, safe for file names and spreadsheets
    source: str  # the path as given
    notebooks: list[NotebookFile] = field(default_factory=list)
    problem: Optional[str] = None  # why nothing of it can be graded
    notes: list[str] = field(default_factory=list)  # what was skipped while reading it


# -- ids --------------------------------------------------------------------------------------
def safe_name(student: str) -> str:
    """Letters, digits, `.`, `_` and `-` only, never leading with a dot or a dash (no hidden
    files, no options, no spreadsheet formulas), at most 80 characters."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._-")[:80].rstrip("._-")
    return name or "student"


def shown(name: str, limit: int = 120) -> str:
    """A name from a submission, safe to print: control characters replaced, length capped."""
    text = "".join(c if c.isprintable() else "?" for c in str(name))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unique_ids(names: Sequence[str]) -> list[str]:
    """safe_name of each, made unique case-insensitively: the second `x` becomes `x-2` unless
    another submission is called `x-2`, and so on. Deterministic for a given list."""
    bases = [safe_name(n) for n in names]
    all_bases = {b.casefold() for b in bases}
    taken: set[str] = set()
    ids = []
    for base in bases:
        candidate, n = base, 1
        while candidate.casefold() in taken or (n > 1 and candidate.casefold() in all_bases):
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate.casefold())
        ids.append(candidate)
    return ids


def discover(paths: list[str]) -> list[Submission]:
    """One Submission per argument, sorted by source, with unique safe student ids."""
    found = []
    for raw in paths:
        path = pathlib.PurePath(raw)
        stem = path.stem if path.suffix in (".ipynb", ".zip") else path.name
        found.append(Submission(stem or "submission", str(raw)))
    found.sort(key=lambda s: s.source)
    for sub, student in zip(found, unique_ids([s.student for s in found])):
        sub.student = student
    return found


def shard(subs: list[Submission], k: int, n: int) -> list[Submission]:
    """The k-th (1-based) of n deterministic slices: every n-th submission in sorted order."""
    return [s for i, s in enumerate(sorted(subs, key=lambda s: s.source)) if i % n == k - 1]


# -- reading ----------------------------------------------------------------------------------
def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _open_regular(path: str, limit: int) -> int:
    """An fd for a regular file of at most `limit` bytes, opened without following links.

    The type is checked on lstat *before* opening (opening a FIFO or a device can block or
    act), and again on the open descriptor (the file may have been swapped in between).
    """
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise Skipped(_kind(info.st_mode))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Skipped(_kind(info.st_mode))
        if info.st_size > limit:
            raise Skipped(f"{info.st_size / 1e6:.0f} MB, over the grader's limit of {limit / 1e6:.0f} MB")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_capped(stream, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Skipped(f"over the grader's limit of {limit / 1e6:.0f} MB")
    return data


def read_file(path: str, limit: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """The bytes of a regular file, checked and capped (Skipped otherwise)."""
    with os.fdopen(_open_regular(path, limit), "rb") as f:
        return _read_capped(f, limit)


def _notebook(name: str, data: bytes) -> NotebookFile:
    return NotebookFile(name, data.decode("utf-8", errors="replace"))


def _hidden(parts) -> bool:
    return any(p.startswith((".", "__MACOSX")) for p in parts)


def _walk(root: str, sub: Submission) -> list[str]:
    """Relative paths of the regular *.ipynb files under root, links and special files reported."""
    found: list[str] = []
    skipped: list[str] = []
    seen = 0
    todo = [("", 0)]
    while todo:
        rel, depth = todo.pop()
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError as err:
            skipped.append(f"{shown(rel or '.')} (cannot be listed: {err.strerror})")
            continue
        for entry in listing:
            seen += 1
            if seen > MAX_ENTRIES:
                sub.notes.append(f"only the first {MAX_ENTRIES} entries of the folder were looked at")
                return sorted(found)
            path = f"{rel}/{entry.name}" if rel else entry.name
            if entry.name.startswith((".", "__MACOSX")):
                continue
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                if depth + 1 < MAX_FOLDER_DEPTH:
                    todo.append((path, depth + 1))
            elif stat.S_ISREG(mode):
                if entry.name.endswith(".ipynb"):
                    found.append(path)
            else:
                skipped.append(f"{shown(path)} ({_kind(mode)})")
    if skipped:
        listed = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        sub.notes.append(f"skipped, the grader reads regular files only: {listed}")
    return sorted(found)


def _zip_member_kind(info: zipfile.ZipInfo) -> Optional[str]:
    """What a member is, when it is not a regular file (from its Unix mode, when it has one)."""
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        return _kind(mode)
    return None


def _keep(sub: Submission) -> bool:
    if len(sub.notebooks) < MAX_NOTEBOOKS:
        return True
    note = f"only the first {MAX_NOTEBOOKS} notebooks were read"
    if note not in sub.notes:
        sub.notes.append(note)
    return False


def _load_zip(path: str, sub: Submission) -> None:
    with os.fdopen(_open_regular(path, MAX_ZIP_BYTES), "rb") as f, zipfile.ZipFile(f) as archive:
        members = archive.infolist()
        if len(members) > MAX_ENTRIES:
            sub.notes.append(f"only the first {MAX_ENTRIES} members of the zip were looked at")
            members = members[:MAX_ENTRIES]
        skipped = []
        for m in sorted(members, key=lambda m: m.filename):
            parts = pathlib.PurePosixPath(m.filename.replace("\\", "/")).parts
            if m.is_dir() or not m.filename.endswith(".ipynb"):
                continue
            if ".." in parts or m.filename.startswith("/"):  # a path that points out of the zip: never read
                skipped.append(f"{shown(m.filename)} (a path outside the zip)")
                continue
            if _hidden(parts):
                continue
            kind = _zip_member_kind(m)
            if kind:
                skipped.append(f"{shown(m.filename)} ({kind})")
                continue
            if not _keep(sub):
                break
            name = shown(m.filename, 300)
            if m.file_size > MAX_NOTEBOOK_BYTES:
                sub.notebooks.append(NotebookFile(name, problem=f"the file is {m.file_size / 1e6:.0f} MB, over the "
                                                  f"grader's limit of {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB"))
                continue
            try:  # a corrupt, encrypted or oversized member costs only itself
                with archive.open(m) as member:
                    sub.notebooks.append(_notebook(name, _read_capped(member, MAX_NOTEBOOK_BYTES)))
            except Skipped as why:
                sub.notebooks.append(NotebookFile(name, problem=f"the file is {why}"))
            except Exception as err:
                sub.notebooks.append(NotebookFile(name, problem=f"it could not be read from the zip "
                                                  f"({type(err).__name__}: {shown(err, 200)})"))
        if skipped:  # each with its reason: a link, a special file, a path outside the zip
            sub.notes.append("skipped in the zip: " + ", ".join(skipped[:5])
                             + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""))


def load(sub: Submission) -> Submission:
    """Read the submission's notebooks (their text); problems are recorded, never raised."""
    path = sub.source
    label = shown(os.path.basename(path.rstrip("/")) or path)
    try:
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode):
            for rel in _walk(path, sub):
                if not _keep(sub):
                    break
                try:
                    sub.notebooks.append(_notebook(shown(rel, 300), read_file(os.path.join(path, rel))))
                except Skipped as why:
                    sub.notebooks.append(NotebookFile(shown(rel, 300), problem=f"the file is {why}"))
                except OSError as err:
                    sub.notebooks.append(NotebookFile(shown(rel, 300), problem=f"it could not be read "
                                                      f"({err.strerror or err})"))
        elif not stat.S_ISREG(info.st_mode):
            sub.problem = f"{label} is {_kind(info.st_mode)}; the grader reads only regular files and folders"
        elif path.endswith(".zip"):
            _load_zip(path, sub)
        else:
            sub.notebooks = [_notebook(label, read_file(path))]
    except FileNotFoundError:
        sub.problem = f"no such file or folder: {shown(path)}"
    except Skipped as why:
        sub.problem = f"{label} is {why}"
    except Exception as err:  # unreadable, not a zip, a corrupt zip directory, ...
        sub.problem = f"could not read {label}: {type(err).__name__}: {shown(err, 200)}"
    if sub.problem is None and not sub.notebooks:
        sub.problem = "no notebook (.ipynb) in the submission"
    return sub


# -- parsing ----------------------------------------------------------------------------------
# "01_derivatives.ipynb", "Copy of 01_derivatives.ipynb", "alice_01_derivatives.ipynb"; not "s00_untouched"
_LESSON_IN_NAME = re.compile(r"(?<![A-Za-z0-9])(\d\d)_[A-Za-z]")


def _lesson_from(name: str) -> Optional[str]:
    match = _LESSON_IN_NAME.search(pathlib.PurePosixPath(name.replace("\\", "/")).name)
    return f"lesson{match.group(1)}" if match else None


@dataclass
class Parsed:
    cells: list[dict]  # the code cells to run, in order: {"source", "tags", "number": its place among all cells}
    lesson: Optional[str]
    problem: Optional[str]  # why it cannot be graded at all
    notes: list[str]


def _text(value) -> Optional[str]:
    """A cell's source as nbformat allows it (a string or a list of strings), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _code_cells(data: dict, notes: list[str]) -> list[dict]:
    cells, odd = [], 0
    for number, cell in enumerate(data.get("cells", []), 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _text(cell.get("source", ""))
        if source is None:
            odd += 1
            continue
        if not source.strip():
            continue
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        tags = metadata.get("tags") if isinstance(metadata.get("tags"), list) else []
        cells.append({"source": source, "tags": [t for t in tags if isinstance(t, str)][:20], "number": number})
    if odd:
        notes.append(f"{odd} code cell{'s' if odd > 1 else ''} had a source that is not text and "
                     f"{'were' if odd > 1 else 'was'} not run")
    return cells


def parse(nb_file: NotebookFile, lessons: Sequence[str], known_lessons: Sequence[str] = ()) -> Parsed:
    """Parse a notebook, tell which of `lessons` (the ones being graded) it is, and whether it can be run.

    Only the code cells' text and tags are kept: what runs is rebuilt from them, so nothing
    else in the file (outputs, attachments, odd metadata) reaches the grader's tools.
    """
    notes: list[str] = []
    guess = _lesson_from(nb_file.name)
    if nb_file.problem:
        return Parsed([], guess, nb_file.problem, notes)
    try:
        data = json.loads(nb_file.text or "")
    except (ValueError, RecursionError) as err:  # RecursionError: JSON nested thousands deep
        why = str(err)[:200] if isinstance(err, ValueError) else "nested too deeply"
        return Parsed([], guess, f"the file is not valid notebook JSON ({why}); was it saved or uploaded "
                                 "completely?", notes)
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        return Parsed([], guess, "the file is JSON but not a Jupyter notebook", notes)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    course = metadata.get("course") if isinstance(metadata.get("course"), dict) else {}
    generated = course.get("generated_from")
    from_meta = _lesson_from(generated) if isinstance(generated, str) else None
    lesson = from_meta or guess
    if lesson is None and len(lessons) == 1:
        lesson = lessons[0]
        notes.append(f"Nothing in the notebook says which lesson it is; graded as {lesson}.")
    if from_meta and guess and from_meta != guess:
        notes.append(f"The file is named like {guess}, but the notebook is {from_meta}'s; graded as {from_meta}.")
    if lesson is None:
        return Parsed([], None, "cannot tell which lesson this notebook is (no course metadata, and its name "
                                "does not start with the lesson's number, like 01_derivatives.ipynb)", notes)
    if lesson not in lessons:
        if len(lessons) == 1:
            why = f"this notebook is from {lesson}, not {lessons[0]}, the lesson being graded"
        else:
            why = f"this notebook is from {lesson}, not one of the lessons being graded ({', '.join(lessons)})"
        if known_lessons and lesson not in known_lessons:
            why += f"; {lesson} has no exercises in this course"
        return Parsed([], lesson, why, notes)
    spec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    language = str(spec.get("language") or info.get("name") or "python").lower()
    if language != "python":
        return Parsed([], lesson, f"this notebook is for a {shown(language, 40)} kernel "
                                  f"(`{shown(spec.get('name', '?'), 40)}`); the course's notebooks are Python", notes)
    if spec.get("name") and str(spec["name"]) not in PYTHON_KERNELS:
        notes.append(f"The notebook names the kernel `{shown(spec['name'], 60)}`; it was run with the grader's "
                     "Python kernel.")
    cells = _code_cells(data, notes)
    if not cells:
        return Parsed([], lesson, "the notebook has no code (is it empty?)", notes)
    if len(cells) > MAX_CODE_CELLS:
        return Parsed([], lesson, f"the notebook has {len(cells)} code cells, over the grader's limit of "
                                  f"{MAX_CODE_CELLS}", notes)
    return Parsed(cells, lesson, None, notes)
