"""Where the exercises are: one module per lesson, each exposing its Exercise objects."""
from __future__ import annotations

import importlib
import pathlib

from ..engine.exercise import Exercise
from ..engine.guard import on_cpu

# The course's lessons, in order: every module checker/lessons/lessonNN.py. A lesson module
# defines its exercises at top level.
LESSONS = tuple(sorted(p.stem for p in pathlib.Path(__file__).parent.glob("lesson[0-9][0-9].py")))


def lesson_module(lesson: str):
    """The module checker.lessons.lessonNN, imported (the first time) with the CPU as default device."""
    if lesson not in LESSONS:
        raise AttributeError(f"no lesson {lesson!r}; the lessons are {', '.join(LESSONS)}")
    with on_cpu():
        return importlib.import_module(f"{__package__}.{lesson}")


def exercises(lesson: str) -> list[Exercise]:
    module = lesson_module(lesson)
    return [value for value in vars(module).values() if isinstance(value, Exercise)]


def all_exercises() -> list[Exercise]:
    return [ex for lesson in LESSONS for ex in exercises(lesson)]


def find(exercise_id: str) -> Exercise:
    lesson = exercise_id.split(".", 1)[0]
    if lesson in LESSONS:
        for ex in exercises(lesson):
            if ex.id == exercise_id:
                return ex
    known = ", ".join(ex.id for ex in all_exercises())
    raise KeyError(f"no exercise {exercise_id!r}; known: {known}")


def catalog() -> list[dict]:
    """Every exercise: id, lesson, title, the answer's signature, and whether `ex.<name>.practice()` gives
    variants of it."""
    return [
        {"id": ex.id, "lesson": ex.lesson, "title": ex.title, "signature": ex.signature, "kind": ex.kind,
         "practice": ex.variants is not None}
        for ex in all_exercises()
    ]
