"""Instructor self-test: each exercise accepts its solution, names each known mistake
by its own id, and reports the untouched stub as not attempted."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.exercise import Exercise
from ..engine.judge import grade
from .catalog import exercises


def stub(*args, **kwargs):
    raise NotImplementedError("Replace this line with your answer")


def stub_for(ex: Exercise):
    """The exercise edition's answer before it is attempted: None for a value, the exercise's own stub
    (e.g. a class whose methods raise NotImplementedError), else a function that raises it."""
    if ex.kind == "value":
        return None
    return ex.stub if ex.stub is not None else stub


@dataclass
class SelfTestReport:
    lesson: str
    rows: list[tuple[str, str, bool]] = field(default_factory=list)  # (exercise, case, ok)

    @property
    def ok(self) -> bool:
        return all(ok for _, _, ok in self.rows)

    def __repr__(self) -> str:
        failed = [f"  FAILED {ex}: {case}" for ex, case, ok in self.rows if not ok]
        n_ex = len({ex for ex, _, _ in self.rows})
        head = f"Self-test of {self.lesson}: {len(self.rows)} cases over {n_ex} exercises, "
        return head + ("all passed." if not failed else f"{len(failed)} failed:\n" + "\n".join(failed))


def mistake_answer(ex: Exercise, mistake):
    """An answer that makes `mistake`: its own `answer`, or, for a mistake declared as a transform of the
    reference, a fresh function that returns the transformed reference call by call."""
    if mistake.answer is not None or mistake.transform is None:
        return mistake.answer
    from ..engine.judge import sampled_reference

    outputs = mistake.transform([e.clone() for e in sampled_reference(ex).expected])
    calls = iter(range(outputs[0].shape[0]))

    def answer(*args):
        row = next(calls)
        values = tuple(o[row] for o in outputs)
        return values[0] if len(values) == 1 else values

    return answer


def cases(ex: Exercise):
    """(case name, answer, expected status, expected mistake id) for one exercise."""
    yield "solution passes", ex.solution_fn, "correct", None
    for mistake in ex.mistakes:
        yield f"mistake {mistake.id} is named", mistake_answer(ex, mistake), "incorrect", mistake.id
    yield "stub is not attempted", stub_for(ex), "not_attempted", None


def self_test(lesson: str) -> SelfTestReport:
    """Run every case of every exercise in `lesson`; raise AssertionError if any fails."""
    report = SelfTestReport(lesson)
    for ex in exercises(lesson):
        for name, answer, status, mistake in cases(ex):
            result = grade(ex, answer)
            report.rows.append((ex.id, name, result.status == status and result.mistake == mistake))
    if not report.ok:
        raise AssertionError(repr(report))
    return report
