"""Grading a batch: each notebook runs in its own worker process, answers are judged here.

The grader's own process imports every lesson and computes every probe request (points,
reference, and points drawn from the run's secret) before any submitted code runs, and it
alone judges. Worker processes only drive kernels (`execute.execute`) and hand back plain
data (JSON, size-capped) through a pipe.

One submission never costs another its grade:
- every step that touches a submission (reading, parsing, running, judging, reporting)
  records its problem on that submission and the batch goes on;
- each notebook has its own worker, forked for it, so a notebook that kills its worker
  (or stops it) loses only its own run: the worker is killed at a hard deadline if need
  be, the notebook is run once more, and a notebook that breaks its worker twice gets 0
  with the reason;
- a submission's notebooks run one after another, within its own time budget
  (`submission_timeout`), while different submissions run side by side (`jobs`);
- every process a notebook starts is ended with it (see `processes`): the worker adopts
  and kills its orphans, and the grader, a subreaper during the batch, ends the orphans of
  workers that were killed.
"""
from __future__ import annotations

import collections
import gc
import json
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Callable, Optional, Sequence

from ..lessons.catalog import LESSONS, exercises
from . import execute, probe, processes, replay, submissions

MAX_RESULT_BYTES = probe.MAX_CHANNEL_BYTES + 2_000_000  # a worker's reply: the probe's data and notes


def worker_grace(timeout: float) -> float:
    """How long past a notebook's deadline its worker may take to finish (shut the kernel, clean up)."""
    return min(40.0, 10.0 + 0.1 * timeout)


MAX_WORKER_RUNS = 2  # a notebook whose worker fails twice gets 0


def cell_name(index: int, cells: Sequence[dict] = ()) -> str:
    """A run's cell (an index among the code cells that ran) as the student finds it: its place among all
    the notebook's cells, Markdown included, and its first line."""
    if not 0 <= index < len(cells):
        return f"code cell {index + 1}"
    cell = cells[index]
    first = next((line.strip() for line in cell["source"].splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"cell {cell.get('number', index + 1)} (`{first}`)"


def notes_from_run(raw: dict, notebook_timeout: float, cell_timeout: float, cells: Sequence[dict] = ()) -> list[str]:
    notes = []

    def _cell_name(index: int) -> str:
        return cell_name(index, cells)

    for index, ename, evalue in raw["errors"][:10]:
        notes.append(f"{_cell_name(index)} raised {ename}: {evalue}".rstrip(": "))
    if len(raw["errors"]) > 10:
        notes.append(f"... and {len(raw['errors']) - 10} more cells raised errors")
    for index in raw["timed_out"]:
        notes.append(f"{_cell_name(index)} ran past the {cell_timeout:g} s limit per cell and was interrupted")
    for where in raw["died"]:
        if isinstance(where, int):
            notes.append(f"{_cell_name(where)} stopped the Python kernel (a crash, sys.exit in a thread, or "
                         "os._exit); the notebook was run again without it")
        elif where == "start":
            notes.append("the Python kernel stopped before the notebook could run")
    if raw["skipped_from"] is not None or raw["deadline_hit"]:
        notes.append(f"the notebook ran past its {notebook_timeout:g} s time limit"
                     + (f"; cells from {_cell_name(raw['skipped_from'])} on were not run"
                        if raw["skipped_from"] is not None else ""))
    if raw["output_bytes"] > 1_000_000:
        notes.append(f"the notebook printed {raw['output_bytes'] / 1e6:.1f} MB of output (not kept)")
    notes += [f"the notebook could not be run: {f}" for f in raw.get("failures", [])]
    return notes


def _why_missing(raw: dict, notebook_timeout: float) -> str:
    if raw.get("failures"):
        return f"the notebook could not be run ({raw['failures'][0]})."
    if raw["deadline_hit"]:
        return f"the notebook ran past its {notebook_timeout:g} s time limit before this answer could be checked."
    return "the notebook's Python kernel stopped before this answer could be checked."


@dataclass
class Plan:
    """What the grader asks a lesson's notebooks, and the hidden copies it judges the extra points with."""

    requests: list[dict]
    hidden: dict[str, object]  # exercise id -> replay.hidden_exercise (or None)


def make_plans(lessons: Sequence[str], secret: bytes) -> dict[str, Plan]:
    plans = {}
    for lesson in lessons:
        hidden = {ex.id: replay.hidden_exercise(ex, secret) for ex in exercises(lesson)}
        plans[lesson] = Plan([probe.exercise_request(ex, hidden[ex.id]) for ex in exercises(lesson)], hidden)
    return plans


def judge_notebook(lesson: str, raw: Optional[dict], problem: Optional[str], notebook_timeout: float,
                   plan: Optional[Plan] = None) -> list:
    """One Result per exercise of `lesson`; a failure here costs this notebook only."""
    results = []
    budget = replay.Budget()  # one for everything this notebook sent back
    for ex in exercises(lesson):
        if problem is not None:
            results.append(replay.not_graded(ex, problem))
            continue
        try:
            answers = raw.get("answers") if isinstance(raw.get("answers"), dict) else {}
            hidden = plan.hidden.get(ex.id) if plan is not None else None
            results.append(replay.judge(ex, answers.get(ex.id), _why_missing(raw, notebook_timeout), budget, hidden))
        except Exception as err:  # a grader bug on strange data: reported on this exercise only
            results.append(replay.not_graded(ex, f"the grader failed on this answer ({type(err).__name__}: "
                                                 f"{str(err)[:200]})"))
    return results


def _notebook_entry(name, lesson, results, notes, seconds, ran_to_end):
    score = sum(r.score for r in results)
    return {"file": name, "lesson": lesson, "notes": notes,
            "score": score, "max_score": sum(r.max_score for r in results), "seconds": seconds,
            "ran_to_end": ran_to_end, "used": True, "results": results}


def build_report(sub, entries: list[dict], lessons: Sequence[str]) -> dict:
    """Exactly the exercises of `lessons`: the best notebook of each lesson counts, a lesson with
    no notebook scores 0, and a notebook of any other lesson earns nothing."""
    best: dict[str, dict] = {}
    for entry in entries:
        lesson = entry["lesson"]
        if lesson not in lessons or not entry["results"]:
            continue
        if lesson not in best or entry["score"] > best[lesson]["score"]:
            best[lesson] = entry
    for entry in entries:
        entry["used"] = entry["lesson"] in best and best[entry["lesson"]] is entry
    results = []
    for lesson in lessons:
        if lesson in best:
            results += [r.to_dict() for r in best[lesson]["results"]]
        else:
            why = sub.problem or f"no notebook of {lesson} was submitted"
            results += [replay.not_graded(ex, why).to_dict() for ex in exercises(lesson)]
    failed = sub.problem is not None or any(not e["ran_to_end"] for e in entries)
    notebooks = [{k: v for k, v in e.items() if k != "results"} for e in entries]
    notes = list(sub.notes)
    for lesson in lessons:  # several notebooks of one lesson: say which counted, for the instructor to see
        same = [e for e in entries if e["lesson"] == lesson and e["results"]]
        if len(same) > 1:
            others = ", ".join(f"{e['file']} ({e['score']:g})" for e in same if e is not best[lesson])
            notes.append(f"{len(same)} notebooks of {lesson} were submitted; the best one counts: "
                         f"{best[lesson]['file']} ({best[lesson]['score']:g}); not counted: {others}")
    return {
        "student": sub.student, "source": sub.source, "status": "failed" if failed else "graded",
        "problem": sub.problem, "notes": notes, "score": sum(r["score"] for r in results),
        "max_score": sum(r["max_score"] for r in results), "seconds": sum(e["seconds"] for e in entries),
        "notebooks": notebooks, "results": results,
    }


# -- workers ----------------------------------------------------------------------------------
@dataclass
class Job:
    sub: submissions.Submission
    name: str  # the notebook's path in the submission
    parsed: submissions.Parsed
    runs: int = 0
    notes: list[str] = field(default_factory=list)
    timeout: float = 0.0  # this run's notebook time limit (the submission's time left may shorten it)


@dataclass
class Running:
    job: Job
    process: multiprocessing.Process
    fd: int  # the read end of the pipe the worker answers through
    started: float
    kill_at: float
    data: bytearray = field(default_factory=bytearray)
    eof: bool = False

    def read(self) -> None:
        """Take what the worker has written so far (never blocks: the fd is non-blocking)."""
        try:
            while not self.eof:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    self.eof = True
                elif len(self.data) <= MAX_RESULT_BYTES:
                    self.data += chunk
        except BlockingIOError:
            pass
        except OSError:
            self.eof = True


def _worker(fd: int, kwargs: dict, close: list[int]) -> None:
    """In the forked worker: run the notebook, end everything it started, write the result to fd."""
    for other in close:  # the grader's ends of the pipes, this worker's and the others'
        try:
            os.close(other)
        except OSError:
            pass
    processes.set_dumpable(False)  # its pipe and memory closed to the notebook's code
    processes.die_with_parent()
    processes.set_subreaper(True)
    try:
        raw = execute.execute(**kwargs)
    except BaseException as err:
        raw = {"worker_error": f"{type(err).__name__}: {str(err)[:300]}"}
    finally:
        orphans = processes.children(os.getpid())
        processes.kill_tree(os.getpid())
        processes.reap(orphans)
    try:
        data = json.dumps(raw).encode()
        if len(data) > MAX_RESULT_BYTES:
            data = json.dumps({"worker_error": "the notebook's results were too large"}).encode()
        view = memoryview(data)
        while len(view):
            view = view[os.write(fd, view):]
    finally:
        os._exit(0)


def _context():
    # fork: the worker inherits the modules already imported here (and imports nothing a
    # submission might have edited on disk since), and the pipe it answers through
    if "fork" not in multiprocessing.get_all_start_methods():
        raise RuntimeError("bulk grading needs os.fork (Linux or macOS)")
    return multiprocessing.get_context("fork")


def _result(run: Running) -> tuple[Optional[dict], Optional[str]]:
    """(raw, None) or (None, why the worker gave nothing usable)."""
    if not run.eof:
        return None, "its worker process was still running past the notebook's time limit, and was killed"
    if not run.data:
        return None, "its worker process ended without a result"
    if len(run.data) > MAX_RESULT_BYTES:
        return None, "its worker process sent back too much data"
    try:
        raw = json.loads(bytes(run.data))
    except (ValueError, RecursionError):
        return None, "its worker process sent back unreadable data"
    if not isinstance(raw, dict):
        return None, "its worker process sent back unreadable data"
    if "worker_error" in raw:
        return None, f"its worker process failed ({str(raw['worker_error'])[:300]})"
    expected = {"answers": dict, "errors": list, "timed_out": list, "died": list, "failures": list}
    if not all(isinstance(raw.get(k), t) for k, t in expected.items()):
        return None, "its worker process sent back unreadable data"
    return raw, None


def _stop(run: Running) -> None:
    if run.process.is_alive():
        processes.kill_tree(run.process.pid, include_root=True)
    run.process.join(timeout=5)
    try:
        os.close(run.fd)
    except OSError:
        pass


def grade_submissions(paths: list[str], *, lessons: Sequence[str], jobs: Optional[int] = None,
                      notebook_timeout: float = 300.0, cell_timeout: float = 60.0,
                      submission_timeout: Optional[float] = None, shard: Optional[tuple[int, int]] = None,
                      progress: bool = True, on_report: Optional[Callable[[dict], None]] = None,
                      secret: Optional[bytes] = None) -> list[dict]:
    """Grade every submission on `lessons`; returns one report (plain dict) per student, sorted by student.

    submission_timeout: seconds for all of one submission's notebooks together (default:
    notebook_timeout per lesson graded). secret: what the extra points are drawn from
    (default: $CHECKER_GRADING_SECRET, else random for this run).
    """
    lessons = tuple(lessons)
    unknown = [name for name in lessons if name not in LESSONS]
    if not lessons or unknown:
        raise ValueError(f"unknown lesson(s) {', '.join(unknown) or '(none)'}; lessons: {', '.join(LESSONS)}")
    if submission_timeout is None:
        submission_timeout = notebook_timeout * len(lessons)
    if secret is None:
        secret = os.environ.get("CHECKER_GRADING_SECRET", "").encode() or secrets.token_bytes(16)
    subs = submissions.discover(paths)
    if shard is not None:
        subs = submissions.shard(subs, *shard)
    plans = make_plans(lessons, secret)

    entries: dict[int, list[dict]] = {id(sub): [] for sub in subs}
    queues: dict[int, collections.deque] = {}
    for sub in subs:
        queues[id(sub)] = collections.deque()
        try:
            submissions.load(sub)
            for nb_file in sub.notebooks:
                parsed = submissions.parse(nb_file, lessons, LESSONS)
                nb_file.text = None  # keep only the code cells
                if parsed.problem is None:
                    queues[id(sub)].append(Job(sub, nb_file.name, parsed))
                else:
                    results = judge_notebook(parsed.lesson, None, parsed.problem, notebook_timeout) \
                        if parsed.lesson in lessons else []
                    notes = parsed.notes + [f"not graded: {parsed.problem}"]
                    entries[id(sub)].append(_notebook_entry(nb_file.name, parsed.lesson, results, notes, 0.0,
                                                            False))
        except Exception as err:  # a bug of ours on a strange submission: this submission only
            sub.problem = f"the grader could not read this submission ({type(err).__name__}: {str(err)[:200]})"
            queues[id(sub)].clear()

    total = sum(len(q) for q in queues.values())
    if total:
        execute.preload()
        gc.collect()
        gc.freeze()  # forked workers then never touch (so never copy) the grader's objects when they collect
    bar = None
    if progress and total:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: workers are forked
        bar = tqdm(total=total, unit="notebook", file=sys.stderr, dynamic_ncols=True)

    def finish(job: Job, raw: Optional[dict], problem: Optional[str], seconds: float) -> None:
        lesson = job.parsed.lesson
        try:
            if problem is None:
                notes = job.parsed.notes + job.notes + notes_from_run(raw, job.timeout, cell_timeout, job.parsed.cells)
                results = judge_notebook(lesson, raw, None, job.timeout, plans[lesson])
                ran_to_end = bool(raw.get("probe_done")) and not raw.get("deadline_hit") and not raw["died"] \
                    and not raw["failures"]
            else:
                notes, ran_to_end = job.parsed.notes + job.notes + [f"not graded: {problem}"], False
                results = judge_notebook(lesson, None, problem, notebook_timeout)
        except Exception as err:
            problem = f"the grader failed on this notebook ({type(err).__name__}: {str(err)[:200]})"
            notes, ran_to_end = job.parsed.notes + [problem], False
            results = judge_notebook(lesson, None, problem, notebook_timeout)
        entries[id(job.sub)].append(_notebook_entry(job.name, lesson, results, notes, seconds, ran_to_end))
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(job.sub.student[:20])

    order = [id(sub) for sub in subs]
    used = collections.Counter()  # seconds each submission's notebooks have run
    running: dict[int, Running] = {}  # by submission
    workers = max(1, min(jobs or os.cpu_count() or 1, total or 1))
    before = set(processes.children(os.getpid()))
    was_subreaper = processes.set_subreaper(True) if total else None
    was_dumpable = processes.set_dumpable(False) if total else None
    root = tempfile.mkdtemp(prefix="checker-grading-")
    os.chmod(root, 0o300)  # its notebook folders can be entered by their own name only: not listed
    try:
        while any(queues.values()) or running:
            for key in order:  # start what may start: one notebook per submission at a time
                if len(running) >= workers:
                    break
                if key in running or not queues[key]:
                    continue
                job = queues[key].popleft()
                left = submission_timeout - used[key]
                if left < 5:
                    finish(job, None, f"the submission's notebooks used up its {submission_timeout:g} s time limit",
                           0.0)
                    continue
                timeout = job.timeout = min(notebook_timeout, left)
                job.runs += 1
                reader, writer = os.pipe()
                os.set_blocking(reader, False)
                kwargs = {"cells": job.parsed.cells, "exercises": plans[job.parsed.lesson].requests,
                          "cell_timeout": cell_timeout, "notebook_timeout": timeout, "workroot": root}
                close = [reader] + [r.fd for r in running.values()]
                process = _context().Process(target=_worker, args=(writer, kwargs, close), daemon=False)
                process.start()
                os.close(writer)
                now = time.monotonic()
                running[key] = Running(job, process, reader, now, now + timeout + worker_grace(timeout))
            if not running:
                continue
            soonest = min(r.kill_at for r in running.values())
            wait([r.fd for r in running.values()], timeout=max(0.05, min(1.0, soonest - time.monotonic())))
            now = time.monotonic()
            for run in running.values():
                run.read()
            # done: the worker closed its end (it wrote its result and exited); or past the hard deadline
            ended = [key for key, run in running.items() if run.eof or now > run.kill_at]
            for key in ended:
                run = running.pop(key)
                _stop(run)
                raw, problem = _result(run)
                seconds = time.monotonic() - run.started
                used[key] += seconds
                if raw is None and run.job.runs < MAX_WORKER_RUNS:
                    run.job.notes.append(f"the first run failed ({problem}); the notebook was run again")
                    queues[key].appendleft(run.job)
                    continue
                if raw is None:
                    problem = f"this notebook broke the grader's worker twice: {problem}"
                finish(run.job, raw, problem, seconds)
            processes.kill_orphans(before | {r.process.pid for r in running.values()})
    finally:
        for run in running.values():  # only on an error of ours (or Ctrl-C): leave nothing behind
            _stop(run)
        if bar is not None:
            bar.close()
        if was_subreaper is not None:
            processes.kill_orphans(before)
            processes.set_subreaper(was_subreaper)
        if was_dumpable is not None:
            processes.set_dumpable(was_dumpable)
        os.chmod(root, 0o700)
        execute._remove(root)
        if total:
            gc.unfreeze()

    reports = []
    for sub in subs:
        ordered = sorted(entries[id(sub)], key=lambda e: e["file"])
        try:
            report = build_report(sub, ordered, lessons)
        except Exception as err:  # never a missing row
            sub.problem = f"the grader could not build this report ({type(err).__name__}: {str(err)[:200]})"
            report = build_report(sub, [], lessons)
        reports.append(report)
        if on_report:
            on_report(report)
    return sorted(reports, key=lambda r: r["student"])


def parse_shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    k_, n_ = int(k), int(n)
    if not 1 <= k_ <= n_:
        raise ValueError(f"--shard {text}: want K/N with 1 <= K <= N")
    return k_, n_


def parse_lessons(text: Optional[str]) -> tuple[str, ...]:
    """`lesson01`, `01`, `1`, `lesson01,lesson03` or `all` -> lesson names; ValueError otherwise."""
    if not text or not text.strip():
        raise ValueError("--lesson is required: the lesson(s) this assignment grades, e.g. --lesson lesson01 "
                         f"(or a comma-separated list, or `all`); lessons: {', '.join(LESSONS)}")
    if text.strip() == "all":
        return LESSONS
    names = []
    for part in text.split(","):
        part = part.strip().lower()
        digits = part[len("lesson"):] if part.startswith("lesson") else part
        name = f"lesson{int(digits):02d}" if digits.isdigit() else part
        if name not in LESSONS:
            raise ValueError(f"--lesson: unknown lesson {part!r}; lessons: {', '.join(LESSONS)}")
        if name not in names:
            names.append(name)
    return tuple(names)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start
