"""Bulk grading of submitted notebooks, with verdicts computed in the grader's process.

    python -m checker grade SUBMISSION... --lesson L [--jobs N] [--timeout S] [--out DIR] [--shard K/N]
    python -m checker merge OUT_DIR... --out DIR
    python -m checker report OUT_DIR... [--out report.html] [--anonymize]
    python -m checker gradescope --lesson L        (an autograder's run_autograder)
    python -m checker classroom --lesson L         (a GitHub Classroom workflow step)

Modules, one job each, lowest first: `processes` (process hygiene with what Linux gives
without root), `submissions` (what was submitted, read within bounds, which lesson),
`probe` (the cells sent to the student's kernel and the pipe back), `execute` (running a
notebook and the probe in a fresh kernel, in a worker), `replay` (judging the kernel's
answers with checker.engine.judge, at the lesson's points and the run's secret ones), `batch`
(one worker per notebook, reports), `exports` (CSV, JSON, Gradescope, Classroom),
`report` (the class report, computed) and `report_render` (its page and CSV), `cli`.
Nothing here is imported by `import checker`.
"""
