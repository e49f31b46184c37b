"""Grading a batch: notebooks run in a process pool, answers judged here, one report per student.

The grader's own process imports every lesson and computes every probe request (points,
reference) before any submitted code runs, and it alone judges. Worker processes only
drive kernels (`execute.execute`) and hand back plain data.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Optional

from ..catalog import LESSONS, exercises
from . import execute, probe, replay, submissions


def _pool_context():
    # fork: the workers inherit the modules already imported here (and import nothing a
    # submission might have edited on disk since); elsewhere, the platform's default.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _cell_name(index: int) -> str:
    return f"cell {index + 1}"


def notes_from_run(raw: dict, notebook_timeout: float, cell_timeout: float) -> list[str]:
    notes = []
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


def _why_missing(raw: dict, ex_id: str, notebook_timeout: float) -> str:
    if raw.get("failures"):
        return f"the notebook could not be run ({raw['failures'][0]})."
    if raw["deadline_hit"]:
        return f"the notebook ran past its {notebook_timeout:g} s time limit before this answer could be checked."
    return "the notebook's Python kernel stopped before this answer could be checked."


def judge_notebook(lesson: str, raw: Optional[dict], problem: Optional[str], notebook_timeout: float) -> list:
    results = []
    for ex in exercises(lesson):
        if problem is not None:
            results.append(replay.not_graded(ex, problem))
        else:
            answer = raw["answers"].get(ex.id)
            results.append(replay.judge(ex, answer, _why_missing(raw, ex.id, notebook_timeout)))
    return results


def _notebook_entry(nb_file, parsed, results, notes, seconds, ran_to_end):
    score = sum(r.score for r in results)
    return {"file": nb_file.name, "lesson": parsed.lesson if parsed else None, "notes": notes,
            "score": score, "max_score": sum(r.max_score for r in results), "seconds": seconds,
            "ran_to_end": ran_to_end, "used": True, "results": results}


def build_report(sub, entries: list[dict], required: Optional[str]) -> dict:
    """Best notebook per lesson counts; with `required`, that lesson only (0 if not submitted)."""
    best: dict[str, dict] = {}
    for entry in entries:
        lesson = entry["lesson"]
        if lesson not in LESSONS or not entry["results"]:
            continue
        if lesson not in best or entry["score"] > best[lesson]["score"]:
            best[lesson] = entry
    for entry in entries:
        entry["used"] = entry["lesson"] in best and best[entry["lesson"]] is entry or not entry["results"]
    lessons = [required] if required else sorted(best)
    results = []
    for lesson in lessons:
        if lesson in best:
            results += [r.to_dict() for r in best[lesson]["results"]]
        else:
            why = sub.problem or f"no notebook of {lesson} was submitted"
            results += [replay.not_graded(ex, why).to_dict() for ex in exercises(lesson)]
    failed = sub.problem is not None or any(not e["ran_to_end"] for e in entries)
    notebooks = [{k: v for k, v in e.items() if k != "results"} for e in entries]
    return {
        "student": sub.student, "source": sub.source, "status": "failed" if failed else "graded",
        "problem": sub.problem, "score": sum(r["score"] for r in results),
        "max_score": sum(r["max_score"] for r in results), "seconds": sum(e["seconds"] for e in entries),
        "notebooks": notebooks, "results": results,
    }


def grade_submissions(paths: list[str], *, jobs: Optional[int] = None, notebook_timeout: float = 300.0,
                      cell_timeout: float = 60.0, lesson: Optional[str] = None,
                      shard: Optional[tuple[int, int]] = None, progress: bool = True,
                      on_report: Optional[Callable[[dict], None]] = None) -> list[dict]:
    """Grade every submission; returns one report (plain dict) per student, sorted by student."""
    subs = submissions.discover(paths)
    if shard is not None:
        subs = submissions.shard(subs, *shard)
    requests = {name: [probe.exercise_request(ex) for ex in exercises(name)] for name in LESSONS}

    plan = []  # (submission, notebook file, parsed)
    for sub in subs:
        submissions.load(sub)
        for nb_file in sub.notebooks:
            plan.append((sub, nb_file, submissions.parse(nb_file, LESSONS, lesson)))
    entries: dict[int, list[dict]] = {id(sub): [] for sub in subs}

    runnable = [(i, item) for i, item in enumerate(plan) if item[2].problem is None]
    for sub, nb_file, parsed in (item for item in plan if item[2].problem is not None):
        results = judge_notebook(parsed.lesson, None, parsed.problem, notebook_timeout) \
            if parsed.lesson in LESSONS else []
        notes = parsed.notes + [f"not graded: {parsed.problem}"]
        entries[id(sub)].append(_notebook_entry(nb_file, parsed, results, notes, 0.0, False))

    bar = None
    if progress:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: the pool forks
        bar = tqdm(total=len(runnable), unit="notebook", file=sys.stderr, dynamic_ncols=True)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(runnable) or 1))
    if runnable:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            futures = {
                pool.submit(execute.execute, item[1].text, requests[item[2].lesson], cell_timeout,
                            notebook_timeout): item
                for _, item in runnable
            }
            for future in as_completed(futures):
                sub, nb_file, parsed = futures[future]
                try:
                    raw = future.result()
                    notes = parsed.notes + notes_from_run(raw, notebook_timeout, cell_timeout)
                    results = judge_notebook(parsed.lesson, raw, None, notebook_timeout)
                    ran_to_end = raw["probe_done"] and not raw["deadline_hit"] and not raw["died"] \
                        and not raw.get("failures")
                    seconds = raw["seconds"]
                except Exception as err:  # the worker itself failed: that notebook only
                    problem = f"the grader's worker failed ({type(err).__name__}: {err})"
                    results = judge_notebook(parsed.lesson, None, problem, notebook_timeout)
                    notes, ran_to_end, seconds = parsed.notes + [problem], False, 0.0
                entries[id(sub)].append(_notebook_entry(nb_file, parsed, results, notes, seconds, ran_to_end))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(sub.student[:20])
    if bar is not None:
        bar.close()

    reports = []
    for sub in subs:
        ordered = sorted(entries[id(sub)], key=lambda e: e["file"])
        report = build_report(sub, ordered, lesson)
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


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start
