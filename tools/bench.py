"""`make bench`: the course's speed figures, printed (never asserted in tests).

1. What `import checker` adds over `import torch` (fresh interpreters, median of 7).
2. Median `grade` latency at each exercise's points (33 for most; 32 sampled data sets of different
   sizes in lesson 05), without the plot, for a correct and a wrong answer (its first known mistake),
   per exercise and per lesson.
3. `pytest --nbval` over the course's notebooks (both editions) against the same
   number of bare notebooks that only `import torch`, in the same run and settings.

5. Lesson 06 (the heaviest checks: harness exercises) run top to bottom with nbclient, each
   edition, kernel start included (target: under 20 s on a 2-core CPU).

4. Bulk grading (`python -m checker grade`): seconds per submission, solution editions of
   every lesson present in notebooks/student, with --jobs 1 and --jobs 2, against the floor:
   the same notebooks executed by nbclient alone, one after another, in the same run.

6. The class report (`python -m checker report`) of 500 synthetic students over every exercise:
   in process (load, compute, render) and as the command, interpreter start included
   (`python -m tools.bench report` runs this part alone). Target (issue 13): seconds.

Targets (foundation issue): import <= 30 ms; check <= 2 ms correct, <= 10 ms wrong;
nbval <= 1.3x the bare notebooks. Grading (issue 4): <= 1.2x the floor, near-linear in jobs.
"""
from __future__ import annotations

import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_SCRIPT = (
    "import time; t0 = time.perf_counter(); import torch; t1 = time.perf_counter(); "
    "import checker; from checker import lesson01; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
)


def import_cost(runs: int = 7) -> tuple[float, float]:
    torch_s, checker_s = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT], capture_output=True, text=True, check=True)
        a, b = map(float, out.stdout.split())
        torch_s.append(a)
        checker_s.append(b)
    return statistics.median(torch_s) * 1e3, statistics.median(checker_s) * 1e3


def latency_ms(exercise, answer, runs: int = 100) -> float:
    import checker

    checker.grade(exercise, answer)  # warm up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        checker.grade(exercise, answer)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def wrong_answer(ex):
    if ex.mistakes:
        return ex.mistakes[0].answer
    return lambda *args: 0.0


def check_latencies() -> list[tuple[str, int, float, float]]:
    from checker.engine.judge import sample_points
    from checker.lessons.catalog import all_exercises

    rows = []
    for ex in all_exercises():
        rows.append((ex.id, len(sample_points(ex)), latency_ms(ex, ex.solution_fn), latency_ms(ex, wrong_answer(ex))))
    return rows


def bare_notebooks(folder: Path, count: int) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    for i in range(count):
        nb = new_notebook(cells=[new_code_cell("import torch", id=f"bare-{i}")])
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nbformat.write(nb, folder / f"bare_{i:02d}.ipynb")


def nbval_seconds(paths: list[str], cwd: Path) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
               "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "nbval_sanitize.cfg"),
               *paths]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:])
        raise SystemExit("nbval failed during the benchmark")
    return elapsed


def grading_submissions(folder: Path, copies: int = 2) -> list[str]:
    """Solution-edition submissions: one student folder per copy, one notebook per lesson."""
    import shutil

    lessons = sorted(p.name for p in (ROOT / "notebooks" / "student").glob("[0-9][0-9]_*.ipynb"))
    paths = []
    for copy in range(copies):
        student = folder / f"student{copy:02d}"
        student.mkdir(parents=True)
        for name in lessons:
            shutil.copy(ROOT / "notebooks" / "master" / name, student / name)
        paths.append(str(student))
    return paths


def nbclient_floor(paths: list[str]) -> float:
    """Seconds to execute the same notebooks with nbclient alone, sequentially, same kernel settings."""
    import os

    import nbformat
    from nbclient import NotebookClient

    from checker.grading.execute import kernel_env

    os.environ.update({k: v for k, v in kernel_env().items() if k in ("OMP_NUM_THREADS", "MPLBACKEND")})
    start = time.perf_counter()
    for folder in paths:
        for path in sorted(Path(folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            with tempfile.TemporaryDirectory() as work:
                NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300,
                               resources={"metadata": {"path": work}}).execute()
    return time.perf_counter() - start


def grading_throughput() -> None:
    from checker.grading.batch import grade_submissions
    from checker.lessons.catalog import LESSONS

    with tempfile.TemporaryDirectory() as tmp:
        paths = grading_submissions(Path(tmp))
        n = sum(len(list(Path(p).glob("*.ipynb"))) for p in paths)
        floor = nbclient_floor(paths)
        timings = {}
        for jobs in (1, 2):
            start = time.perf_counter()
            reports = grade_submissions(paths, lessons=LESSONS, jobs=jobs, progress=False)
            timings[jobs] = time.perf_counter() - start
            full = all(r["score"] == r["max_score"] for r in reports)
            print(f"--jobs {jobs}: {timings[jobs]:.1f} s for {n} notebooks = {timings[jobs] / n:.2f} s per notebook "
                  f"({'all full marks' if full else 'NOT all full marks'})")
    print(f"nbclient alone (floor): {floor:.1f} s = {floor / n:.2f} s per notebook")
    print(f"ratio --jobs 1 / floor: {timings[1] / floor:.2f} (target <= 1.2); "
          f"speed-up --jobs 2 vs 1: {timings[1] / timings[2]:.2f}x (linear: 2x)")


def lesson_seconds(path: Path) -> float:
    """Seconds to run one notebook top to bottom with nbclient, kernel start and shutdown included."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def synthetic_class(folder: Path, n: int = 500) -> None:
    """students/*.json of n students over every exercise: seeded statuses, known mistakes and diagnoses."""
    import json
    import random

    from checker.grading.report import DIAGNOSES
    from checker.lessons.catalog import all_exercises

    rng = random.Random(13)
    exercises = all_exercises()
    (folder / "students").mkdir(parents=True)
    for i in range(n):
        results = []
        for ex in exercises:
            status = rng.choices(["correct", "incorrect", "not_attempted", "error"], [6, 3, 1, 0.3])[0]
            mistake = (rng.choice(ex.mistakes).id if status == "incorrect" and ex.mistakes and rng.random() < 0.7
                       else None)
            diagnosis = rng.choice(sorted(DIAGNOSES)) if status == "incorrect" and mistake is None else None
            score = ex.max_score if status == "correct" else 0.0
            results.append({"exercise_id": ex.id, "status": status, "message": "m", "title": ex.title,
                            "score": score, "max_score": ex.max_score, "mistake": mistake, "diagnosis": diagnosis,
                            "details": [], "n_points": 33, "passed": status == "correct"})
        report = {"student": f"s{i:04d}", "status": "graded", "score": sum(r["score"] for r in results),
                  "max_score": sum(r["max_score"] for r in results), "results": results, "notebooks": [],
                  "seconds": 1.0}
        (folder / "students" / f"s{i:04d}.json").write_text(json.dumps(report, indent=1))


def report_speed(n: int = 500) -> None:
    from checker.grading import report, report_render

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "grading"
        synthetic_class(folder, n)
        report.build(report.load([folder]))  # the lessons imported once, as the command does
        start = time.perf_counter()
        built = report.build(report.load([folder]))
        page = report_render.page(built)
        report_render.misconceptions_csv(built)
        in_process = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "checker", "report", str(folder), "--out", str(Path(tmp) / "r.html")],
                       check=True, capture_output=True, cwd=ROOT)
        command = time.perf_counter() - start
    print(f"{n} students x {len(built.exercises)} exercises: load + compute + render {in_process:.2f} s in process; "
          f"`python -m checker report` {command:.2f} s (interpreter, torch and lessons imported); "
          f"page {len(page) / 1e3:.0f} kB")


def main() -> int:
    if sys.argv[1:] == ["report"]:
        print("== class report (python -m checker report), 500 synthetic students ==")
        report_speed()
        return 0

    print("== import ==")
    torch_ms, checker_ms = import_cost()
    print(f"import torch: {torch_ms:.0f} ms; import checker (+ lesson01) adds {checker_ms:.1f} ms (target <= 30 ms)")

    print("\n== check latency, no plot (median of 100) ==")
    rows = check_latencies()
    width = max(len(r[0]) for r in rows)
    print(f"{'exercise':<{width}}  points  correct ms  wrong ms")
    for ex_id, n, good, bad in rows:
        print(f"{ex_id:<{width}}  {n:>6}  {good:>10.2f}  {bad:>8.2f}")
    for lesson in sorted({ex_id.split(".")[0] for ex_id, *_ in rows}):
        own = [r for r in rows if r[0].startswith(lesson + ".")]
        print(f"{lesson}: median over its {len(own)} exercises: correct {statistics.median(r[2] for r in own):.2f} ms, "
              f"wrong {statistics.median(r[3] for r in own):.2f} ms")
    worst_good, worst_bad = max(r[2] for r in rows), max(r[3] for r in rows)
    median_good = statistics.median(r[2] for r in rows)
    median_bad = statistics.median(r[3] for r in rows)
    print(f"median over exercises: correct {median_good:.2f} ms (target <= 2), "
          f"wrong {median_bad:.2f} ms (target <= 10)")
    print(f"slowest exercise: correct {worst_good:.2f} ms, wrong {worst_bad:.2f} ms")

    print("\n== pytest --nbval: the course vs bare `import torch` notebooks (2 workers, loadfile) ==")
    course = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*/[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        bare_notebooks(Path(tmp), len(course))
        bare = sorted(str(p) for p in Path(tmp).glob("*.ipynb"))
        bare_s = nbval_seconds(bare, ROOT)
        course_s = nbval_seconds(course, ROOT)
        lesson01 = [p for p in course if "/01_" in p]
        bare01_s = nbval_seconds(bare[: len(lesson01)], ROOT)
        lesson01_s = nbval_seconds(lesson01, ROOT)
    ratio = course_s / bare_s if bare_s else math.nan
    print(f"{len(course)} course notebooks: {course_s:.1f} s; {len(bare)} bare notebooks: {bare_s:.1f} s; "
          f"ratio {ratio:.2f} (target <= 1.3)")
    print(f"lesson 01 alone (both editions): {lesson01_s:.1f} s; {len(lesson01)} bare notebooks: {bare01_s:.1f} s; "
          f"ratio {lesson01_s / bare01_s:.2f}")
    print("(each figure and training loop is the lessons' own content: matplotlib's first import and a figure "
          "cost ~0.7 s per notebook, the checker's own checks a few ms)")

    print("\n== lesson 06 top to bottom (nbclient, kernel start included; target < 20 s on 2 cores) ==")
    for edition in ("master", "student"):
        for path in sorted((ROOT / "notebooks" / edition).glob("06_*.ipynb")):
            print(f"{edition:7} edition: {lesson_seconds(path):.1f} s")

    print("\n== bulk grading (python -m checker grade) vs executing the same notebooks with nbclient ==")
    grading_throughput()

    print("\n== class report (python -m checker report), 500 synthetic students ==")
    report_speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
