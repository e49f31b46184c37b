"""The engine: how an answer is judged, whatever the lesson.

Layers, lowest first (a module imports only from the ones above it in this list):

- `render`: how results look (HTML in a notebook, text in a terminal); `printed`: where an answer's prints go
  while it is checked. Neither imports anything of the checker.
- `result`: the plain dataclasses a check returns (`Result`, `Hint`, `Solution`), with `to_dict()`.
- `ban`, `guard`, `convert`, `offgraph`: running student code safely (autograd refused, the student's
  state restored, answers turned into float64 tensors, an `f` that leaves the graph found).
- `spec`: what an exercise declares (`ExerciseSpec`, `Mistake`, `Tolerance`), as data.
- `harness`: answers that are not functions of numbers (a numerical method, a Function, a class).
- `diagnose`, `judge`: the reference computed with torch.autograd at check time, compared, and named.
- `exercise`: `Exercise`, a spec plus what students call (`check`, `hint`, `solution`, `practice`).
- `gradient`: `check_gradient` for a student's own derivation; `errors`: `expect_error` for lessons.

Nothing here knows a lesson: the lessons (`checker.lessons`) declare exercises with it.
"""
