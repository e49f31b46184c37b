"""Judging in the grader's own process what the student's kernel answered.

The probe sent back plain data. Here it becomes a "replay" answer: a callable that, called
at the n-th point, returns (a rebuilt copy of) what the student's function returned there,
or raises what it raised; or, for a value exercise, the rebuilt value. The grader then calls
`checker.judge.grade(ex, replay)` with its own exercises, reference and diagnosis, so the
messages are the ones the student saw in the notebook, and nothing from the kernel decides
a verdict.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Optional

import torch

from .. import convert, guard
from ..harness import Measured
from ..judge import grade
from ..result import Result

MAX_REBUILT_NUMEL = 1_000_000


class Unreadable(Exception):
    """The probe's data is not something this module wrote (a disturbed or forged probe)."""


class _Shown:
    """Prints as the text it was given: rebuilds defaults and annotations in a signature."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _too_big(shape) -> None:
    numel = math.prod(int(s) for s in shape)
    if numel > MAX_REBUILT_NUMEL:
        shown = tuple(int(s) for s in shape)
        raise convert.BadAnswer(f"Your answer came back as a tensor of shape {shown}, far larger than asked.")


def decode(data: Any) -> Any:
    """Rebuild a value from the probe's description of it (probe.KERNEL_CODE's `encode`)."""
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise Unreadable(repr(data)[:100])
    t = data["t"]
    if t == "none":
        return None
    if t == "ellipsis":
        return Ellipsis
    if t == "bool":
        return bool(data["v"])
    if t == "int":
        return int(data["v"])
    if t == "float":
        return float(data["v"])
    if t == "complex":
        return complex(float(data.get("re", 0.0)), float(data.get("im", 0.0)))
    if t == "str":
        return str(data["v"])
    if t in ("list", "tuple"):
        items = [decode(item) for item in data["v"]]
        n = min(int(data.get("n", len(items))), 100_000)
        items += [None] * max(0, n - len(items))
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        return {i: None for i in range(min(int(data.get("n", 0)), 1000))}
    if t == "tensor":
        dtype = getattr(torch, str(data["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise Unreadable(f"dtype {data['dtype']!r}")
        shape = [int(s) for s in data["shape"]]
        _too_big(shape)
        if "v" in data:
            return torch.tensor(data["v"], dtype=dtype).reshape(shape)
        return torch.zeros(shape, dtype=dtype)
    if t == "numpy":
        import numpy

        shape = [int(s) for s in data["shape"]]
        _too_big(shape)
        dtype = numpy.dtype(str(data["dtype"]))
        array = numpy.array(data["v"], dtype=dtype).reshape(shape) if "v" in data else numpy.zeros(shape, dtype)
        return array if data.get("array", True) else array[()]
    if t == "other":
        namespace = {"__call__": lambda self, *a, **k: None} if data.get("callable") else {}
        return type(str(data.get("type", "object"))[:80], (), namespace)()
    raise Unreadable(f"type {t!r}")


def _raise(stop: dict, ex) -> None:
    kind = stop.get("kind")
    if kind == "timeout":
        raise guard.TimeLimitExceeded()
    if kind == "autograd":
        raise guard.AutogradUsed(str(stop.get("what", "autograd")))
    if kind == "forbidden":
        raise guard.ForbiddenCall(str(stop.get("what", "a forbidden function")), str(stop.get("why", "")))
    if kind == "not_implemented":  # raised by the answer's own body: the untouched stub
        err = NotImplementedError(str(stop.get("text", "")))
        err.checker_stub = True
        raise err
    if kind == "bad_answer":  # a harness found the answer not of the form asked for
        raise convert.BadAnswer(str(stop.get("text", "")))
    # Shown as the kernel described it (guard.describe_exception there): `Type: message (in f, line n: ...)`.
    # The class is named after that whole text so that describe_exception here prints exactly it.
    text = str(stop.get("text") or stop.get("type") or "Exception")
    raise type(text, (Exception,), {})()


def _signature(shown: Optional[dict]) -> Optional[inspect.Signature]:
    if not isinstance(shown, dict):
        return None
    params = []
    for p in shown.get("params", []):
        default = inspect.Parameter.empty if p.get("default") is None else _Shown(str(p["default"]))
        annotation = inspect.Parameter.empty if p.get("annotation") is None else _Shown(str(p["annotation"]))
        params.append(inspect.Parameter(str(p["name"]), inspect._ParameterKind(int(p["kind"])),
                                        default=default, annotation=annotation))
    ret = inspect.Signature.empty if shown.get("return") is None else _Shown(str(shown["return"]))
    return inspect.Signature(params, return_annotation=ret)


class Replay(Measured):
    """Stands in for the student's function: returns, call by call, what it returned in the kernel.
    For an exercise with a harness, what the harness measured there: a Measured answer, with the
    harness's `problem` if it found the answer could not be measured at all."""

    def __init__(self, ex, record: dict):
        self._ex = ex
        problem = record.get("problem")
        self.problem = str(problem) if isinstance(problem, str) else None
        self._values = []  # rebuilt now, so that unreadable data is found before judging
        for call in list(record.get("calls", [])):
            try:
                self._values.append((decode(call), None))
            except convert.BadAnswer as err:  # raised where the student's function returned it
                self._values.append((None, err))
        self._stop = record.get("stop")
        self._n = 0
        signature = _signature(record.get("signature"))
        if signature is not None:
            self.__signature__ = signature
        if isinstance(record.get("name"), str):
            self.__name__ = record["name"]

    def __call__(self, *args):
        n, self._n = self._n, self._n + 1
        if n < len(self._values):
            value, problem = self._values[n]
            if problem is not None:
                raise problem
            return value
        if isinstance(self._stop, dict):
            _raise(self._stop, self._ex)
        raise Unreadable("fewer values than points")


def not_graded(ex, reason: str) -> Result:
    return Result(ex.id, "error", f"Not graded: {reason}", title=ex.title, max_score=ex.max_score,
                  mistake="not-graded")


def judge(ex, answer: Optional[dict], why_missing: str) -> Result:
    """The Result for one exercise from the probe's raw answer (None: the probe never reported it)."""
    if answer is None:
        return not_graded(ex, why_missing)
    name = ex.answer_name
    if answer.get("missing"):
        defined = f"`{name} = ...`" if ex.kind == "value" else f"`def {name}(...)`"
        return not_graded(ex, f"the notebook does not define `{name}`. The cell with {defined} was deleted "
                              f"or renamed, or it did not run.")
    if answer.get("died"):
        return Result(ex.id, "error", "Your answer stopped the Python kernel (a crash, or os._exit) while it was "
                      "being checked.", title=ex.title, max_score=ex.max_score)
    if "probe_error" in answer:
        return not_graded(ex, f"the grader could not evaluate `{name}` in your notebook "
                              f"({str(answer['probe_error'])[:200]}).")
    try:
        if "value" in answer:
            replay = decode(answer["value"])
        elif answer.get("callable"):
            replay = Replay(ex, answer)
        else:
            raise Unreadable("no value")
        return grade(ex, replay)
    except Unreadable:
        return not_graded(ex, f"the grader could not read back what `{name}` returned in your notebook.")
    except convert.BadAnswer as err:  # a value too large to rebuild
        return Result(ex.id, "error", str(err), title=ex.title, max_score=ex.max_score)
