"""Bulk grading of submitted notebooks, with verdicts computed in the grader's process.

    python -m checker grade SUBMISSION... [--jobs N] [--timeout S] [--out DIR] [--shard K/N]
    python -m checker merge OUT_DIR... --out DIR
    python -m checker report OUT_DIR... [--out report.html] [--anonymize]
    python -m checker gradescope        (an autograder's run_autograder)
    python -m checker classroom         (a GitHub Classroom workflow step)

Modules, one job each: `submissions` (what was submitted, which lesson), `probe` (the cell
sent to the student's kernel and its channel back), `execute` (running a notebook and the
probe in a fresh kernel), `replay` (judging the kernel's answers with checker.judge),
`batch` (the process pool and reports), `exports` (CSV, JSON, Gradescope, Classroom),
`report` (the class report, computed) and `report_render` (its page and CSV),
`cli`. Nothing here is imported by `import checker`.
"""
