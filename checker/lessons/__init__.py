"""The course's exercises, declared as data: one module per lesson (`lesson01` ... `lesson06`).

In a notebook: `from checker import lesson01 as ex`, then `ex.dz_dx.check(dz_dx)`.

- `lessonNN`: a lesson's `Exercise` objects, at top level, with their known mistakes and solutions.
- `slips`: mistakes several lessons share; `families`: the practice families each exercise declares,
  built by `practice` on first use.
- `catalog`: where the exercises are (by lesson, by id); `selftest`: every solution passes and every
  known mistake is named, for all of them.

Lessons import the engine (`checker.engine`) and the figures (`checker.figures`), never the reverse.
"""
