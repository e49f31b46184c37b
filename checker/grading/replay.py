"""Judging in the grader's own process what the student's kernel answered.

The probe sent back plain data. Here it becomes a "replay" answer: a callable that, called
at the n-th point, returns (a rebuilt copy of) what the student's function returned there,
or raises what it raised; or, for a value exercise, the rebuilt value. The grader then calls
`checker.engine.judge.grade(ex, replay)` with its own exercises, reference and diagnosis, so the
messages are the ones the student saw in the notebook, and nothing from the kernel decides
a verdict.

Bulk grading also calls each answer at points drawn from a per-run secret (`hidden_exercise`),
after the lesson's public ones: an answer must be right at both, so a table of values
computed in advance at the public points earns nothing. An honest answer's verdict and
message are those of the public points, exactly as in the notebook.

Rebuilding is bounded: one `Budget` of elements for everything decoded from one notebook,
only plain numeric dtypes, shapes checked before anything is allocated, and values that were
not sent (too large) stand in as zero-cost broadcast views.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import math
import re
from typing import Any, Optional

import torch

from ..engine import convert, guard
from ..engine.harness import Measured
from ..engine.judge import ExerciseDefinitionError, grade, sampled_reference
from ..engine.result import Result

MAX_REBUILT_NUMEL = 1_000_000  # one value's elements, above which it is "far larger than asked"
MAX_DECODED = 2_000_000  # elements (numbers, items, values) decoded from one notebook, all exercises together
MAX_DEPTH = 8
N_HIDDEN = 8  # points per exercise drawn from the run's secret

_TORCH_DTYPES = {name: getattr(torch, name) for name in (
    "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")}
# values never sent: complex, and dtypes too coarse to judge (float8, float4), which the judge refuses by dtype
_TORCH_SHAPE_ONLY = {name: getattr(torch, name) for name in (
    "complex64", "complex128", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
    "float8_e8m0fnu", "float4_e2m1fn_x2") if hasattr(torch, name)}
_NUMPY_DTYPE = re.compile(r"[<>|=]?(?:[fiu][1248]|b1|c8|c16)")


class Unreadable(Exception):
    """The probe's data is not something it writes (a disturbed or forged probe)."""


class OverBudget(Exception):
    """Everything decoded from one notebook went over MAX_DECODED."""


class Budget:
    """Elements left to decode for one notebook."""

    def __init__(self, elements: int = MAX_DECODED):
        self.left = elements

    def take(self, n: int) -> None:
        self.left -= max(1, int(n))
        if self.left < 0:
            raise OverBudget()


class _Shown:
    """Prints as the text it was given: rebuilds defaults and annotations in a signature."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _shape(data: dict) -> list[int]:
    shape = data.get("shape")
    if not isinstance(shape, list) or len(shape) > 16 or not all(type(s) is int and 0 <= s < 2**40 for s in shape):
        raise Unreadable("shape")
    numel = math.prod(shape)
    if numel > MAX_REBUILT_NUMEL:
        raise convert.BadAnswer(f"Your answer came back as a tensor of shape {tuple(shape)}, far larger than asked.")
    return shape


def _number(v: Any, kinds: tuple) -> Any:
    if type(v) not in kinds:
        raise Unreadable("number")
    if type(v) is int and not -2**63 < v < 2**63:
        raise Unreadable("int")
    return v


def _nan_like(items: list):
    """For a list of numbers, or of equally long lists of numbers (nested): a maker of one more item of the same
    shape, all NaN. None for anything else."""
    if not items:
        return None
    if all(type(i) in (int, float) for i in items):
        return lambda: math.nan
    if all(type(i) is list for i in items) and len({len(i) for i in items}) == 1:
        inner = _nan_like(items[0])
        if inner is not None and all(_nan_like(i) is not None for i in items):
            size = len(items[0])
            return lambda: [inner() for _ in range(size)]
    return None


def _with_layout(shape: list[int], dtype, layout: str) -> torch.Tensor:
    """An empty tensor of `shape` in the answer's layout (sparse_coo if that one cannot be made): no numbers."""
    empty = torch.sparse_coo_tensor(torch.zeros((len(shape), 0), dtype=torch.long, device="cpu"),
                                    torch.zeros(0, dtype=dtype, device="cpu"), shape, check_invariants=True)
    target = getattr(torch, layout, None)
    if layout != "sparse_coo" and isinstance(target, torch.layout):
        try:
            return empty.to_sparse(layout=target)
        except (RuntimeError, TypeError, ValueError):
            pass
    return empty


def decode(data: Any, budget: Optional[Budget] = None, depth: int = 0) -> Any:
    """Rebuild a value from the probe's description of it (probe.KERNEL_CODE's `encode`)."""
    budget = budget if budget is not None else Budget()
    if not isinstance(data, dict) or not isinstance(data.get("t"), str) or depth > MAX_DEPTH:
        raise Unreadable("record")
    budget.take(1)
    t = data["t"]
    if t == "none":
        return None
    if t == "ellipsis":
        return Ellipsis
    if t == "bool":
        return _number(data.get("v"), (bool,))
    if t == "int":
        return _number(data.get("v"), (int,))
    if t == "float":
        return float(_number(data.get("v"), (int, float)))
    if t == "complex":
        return complex(float(_number(data.get("re", 0.0), (int, float))),
                       float(_number(data.get("im", 0.0), (int, float))))
    if t == "str":
        return str(data.get("v", ""))[:200]
    if t in ("list", "tuple"):
        raw = data.get("v")
        if not isinstance(raw, list):
            raise Unreadable("items")
        n = data.get("n", len(raw))
        n = min(n if type(n) is int and n >= 0 else len(raw), 100_000)
        budget.take(max(n, len(raw)))
        items = [decode(item, budget, depth + 1) for item in raw]
        # items past the first MAX_ITEMS were not sent: a list of numbers stays one (NaN: never a right value), so
        # that the judge sees its length as the notebook did ("shape (5000,), but it should have shape (3,)")
        filler = _nan_like(items)
        items += [filler() if filler else None for _ in range(max(0, n - len(items)))]
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        n = data.get("n", 0)
        n = min(n if type(n) is int and n >= 0 else 0, 1000)
        budget.take(n)
        return {i: None for i in range(n)}
    if t == "tensor":
        name = data.get("dtype")
        dtype = _TORCH_DTYPES.get(name) or _TORCH_SHAPE_ONLY.get(name)
        if dtype is None:
            raise Unreadable("dtype")
        shape = _shape(data)
        if data.get("device") == "meta":  # holds no numbers: the judge says so, as in the notebook
            return torch.empty(shape, dtype=dtype, device="meta")
        if isinstance(data.get("layout"), str):  # sparse and the like: the judge refuses the layout
            return _with_layout(shape, dtype, data["layout"])
        if "v" in data and name in _TORCH_DTYPES:
            budget.take(math.prod(shape))
            try:
                value = torch.tensor(data["v"], dtype=dtype, device="cpu")
            except (TypeError, ValueError, RuntimeError, OverflowError) as err:
                raise Unreadable("values") from err
            if value.numel() != math.prod(shape):
                raise Unreadable("values")
            return value.reshape(shape)
        return torch.zeros((), dtype=dtype, device="cpu").expand(shape)  # what it is, not what it holds: no memory
    if t == "numpy":
        import numpy

        name = data.get("dtype")
        if not isinstance(name, str) or not _NUMPY_DTYPE.fullmatch(name):
            raise Unreadable("dtype")
        dtype = numpy.dtype(name)
        shape = _shape(data)
        if "v" in data and dtype.kind in "biuf":
            budget.take(math.prod(shape))
            try:
                array = numpy.array(data["v"], dtype=dtype)
            except (TypeError, ValueError, OverflowError) as err:
                raise Unreadable("values") from err
            if array.size != math.prod(shape):
                raise Unreadable("values")
            array = array.reshape(shape)
        else:
            array = numpy.broadcast_to(numpy.zeros((), dtype), shape)
        return array if data.get("array", True) else array[()]
    if t == "other":
        namespace = {"__call__": lambda self, *a, **k: None} if data.get("callable") is True else {}
        return type(str(data.get("type", "object"))[:80] or "object", (), namespace)()
    raise Unreadable(f"type {t[:20]!r}")


def _raise(stop: dict) -> None:
    kind = stop.get("kind")
    if kind == "timeout":
        raise guard.TimeLimitExceeded()
    if kind == "autograd":
        raise guard.AutogradUsed(str(stop.get("what", "autograd"))[:100])
    if kind == "forbidden":
        raise guard.ForbiddenCall(str(stop.get("what", "a forbidden function"))[:100], str(stop.get("why", ""))[:500])
    if kind == "not_implemented":  # raised by the answer's own body: the untouched stub
        err = NotImplementedError(str(stop.get("text", ""))[:2000])
        err.checker_stub = True
        raise err
    if kind == "bad_answer":  # a harness found the answer not of the form asked for
        raise convert.BadAnswer(str(stop.get("text", ""))[:2000])
    # Shown as the kernel described it (guard.describe_exception there): `Type: message (in f, line n: ...)`.
    # The class is named after that whole text so that describe_exception here prints exactly it.
    text = str(stop.get("text") or stop.get("type") or "Exception")[:2000]
    err = type(text, (Exception,), {})()
    err.checker_type = str(stop.get("type") or "")[:100]  # its type's name in the kernel, for the judge's advice
    raise err


def _signature(shown: Any) -> Optional[inspect.Signature]:
    if not isinstance(shown, dict):
        return None
    try:
        params = []
        for p in list(shown.get("params", []))[:50]:
            default = inspect.Parameter.empty if p.get("default") is None else _Shown(str(p["default"])[:80])
            annotation = inspect.Parameter.empty if p.get("annotation") is None else _Shown(str(p["annotation"])[:80])
            params.append(inspect.Parameter(str(p["name"]), inspect._ParameterKind(int(p["kind"])),
                                            default=default, annotation=annotation))
        ret = inspect.Signature.empty if shown.get("return") is None else _Shown(str(shown["return"])[:80])
        return inspect.Signature(params, return_annotation=ret)
    except (TypeError, ValueError, AttributeError, KeyError) as err:
        raise Unreadable("signature") from err


class Replay(Measured):
    """Stands in for the student's function: returns, call by call, what it returned in the kernel.
    For an exercise with a harness, what the harness measured there: a Measured answer, with the
    harness's `problem` if it found the answer could not be measured at all."""

    def __init__(self, record: dict, values: list, stop: Any, autograd: Optional[list] = None):
        problem = record.get("problem")  # the harness found the answer could not be measured at all
        self.problem = str(problem)[:2000] if isinstance(problem, str) else None
        self._values = values  # (value, problem) per call, already rebuilt
        self._stop = stop
        self._autograd = autograd or []
        self._n = 0
        signature = _signature(record.get("signature"))
        if signature is not None:
            self.__signature__ = signature
        if isinstance(record.get("name"), str):
            self.__name__ = record["name"][:80]

    def __call__(self, *args):
        n, self._n = self._n, self._n + 1
        if n < len(self._autograd) and self._autograd[n] is True:
            guard.note_autograd_call()  # it went through autograd in the kernel
        if n < len(self._values):
            value, problem = self._values[n]
            if problem is not None:
                raise problem
            return value
        if isinstance(self._stop, dict):
            _raise(self._stop)
        raise Unreadable("fewer values than points")


def hidden_exercise(ex, secret: bytes, n: int = N_HIDDEN):
    """A copy of `ex` whose points are n points drawn from `secret` (None for value exercises).

    Drawn the way the exercise draws its own samples (its sampler, or uniformly in its
    domain), from a generator seeded by the secret and the exercise's id.
    """
    if ex.kind == "value" or not secret or n <= 0:
        return None
    seed = int.from_bytes(hashlib.sha256(bytes(secret) + ex.id.encode()).digest()[:8], "little") & (2**63 - 1)
    generator = torch.Generator().manual_seed(seed)
    if ex.sampler is not None:
        points = [tuple(ex.sampler(generator)) for _ in range(n)]
    else:
        lows = torch.tensor([ex.domain[name][0] for name in ex.inputs], dtype=torch.float64, device="cpu")
        highs = torch.tensor([ex.domain[name][1] for name in ex.inputs], dtype=torch.float64, device="cpu")
        u = torch.rand(n, len(ex.inputs), generator=generator, dtype=torch.float64)
        points = [tuple(row) for row in (lows + u * (highs - lows)).tolist()]
    hidden = dataclasses.replace(ex, points=tuple(points), n_samples=0)
    try:
        sampled_reference(hidden)
    except ExerciseDefinitionError:  # the reference is not finite at any of them: public points only
        return None
    return hidden


def not_graded(ex, reason: str) -> Result:
    return Result(ex.id, "error", f"Not graded: {reason}", title=ex.title, max_score=ex.max_score,
                  mistake="not-graded")


def _timed_out(ex) -> Result:
    return Result(ex.id, "error", f"Reading your answer back took longer than {ex.time_limit:g} s and was stopped. "
                  "Is there an infinite loop or a long sleep in it?", title=ex.title, max_score=ex.max_score)


def _hidden_failed(ex, public: Result, extra: Result, n_hidden: int) -> Result:
    message = (f"Not accepted: your answer matches {ex.compared_with} at the {public.n_points} points the notebook "
               f"checks, but not at {n_hidden} further points drawn for this grading run. {extra.message}")
    return Result(ex.id, "error" if extra.status == "error" else "incorrect", message, title=ex.title,
                  max_score=ex.max_score, mistake=extra.mistake or "wrong-at-unpublished-points",
                  details=extra.details, n_points=public.n_points + n_hidden)


def _calls(answer: dict, budget: Budget) -> list:
    calls = answer.get("calls", [])
    if not isinstance(calls, list):
        raise Unreadable("calls")
    values = []
    for call in calls:
        try:
            values.append((decode(call, budget), None))
        except convert.BadAnswer as err:  # raised where the student's function returned it
            values.append((None, err))
    return values


def judge(ex, answer: Optional[dict], why_missing: str, budget: Optional[Budget] = None, hidden=None) -> Result:
    """The Result for one exercise from the probe's raw answer (None: the probe never reported it).

    `hidden`: the exercise's copy at the run's secret points (hidden_exercise), whose values
    follow the public ones in the answer's calls.
    """
    budget = budget if budget is not None else Budget()
    result = _judged(ex, answer, why_missing, budget, hidden)
    printed = answer.get("printed") if isinstance(answer, dict) else None
    if isinstance(printed, str) and printed:
        result.printed = printed[:6000]  # what the answer printed at the notebook's points, as the notebook showed it
    return result


def _judged(ex, answer: Optional[dict], why_missing: str, budget: Budget, hidden) -> Result:
    if not isinstance(answer, dict):
        return not_graded(ex, why_missing)
    name = ex.answer_name
    if answer.get("missing"):
        if ex.kind == "value":
            defined = f"`{name} = ...`"
        elif (ex.signature or "").lstrip().startswith("class "):
            defined = f"`class {name}`"
        else:
            defined = f"`def {name}(...)`"
        return not_graded(ex, f"the notebook does not define `{name}`. The cell with {defined} was deleted "
                              f"or renamed, or it did not run.")
    if answer.get("died"):
        return Result(ex.id, "error", "Your answer stopped the Python kernel (a crash, or os._exit) while it was "
                      "being checked.", title=ex.title, max_score=ex.max_score)
    if answer.get("timed_out"):
        if ex.kind == "value":
            return _timed_out(ex)
        return grade(ex, Replay({}, [], {"kind": "timeout"}))
    if "probe_error" in answer:
        return not_graded(ex, f"the grader could not evaluate `{name}` in your notebook "
                              f"({str(answer['probe_error'])[:200]}).")
    try:
        if "value" in answer:
            return grade(ex, decode(answer["value"], budget))
        if answer.get("callable") is not True:
            raise Unreadable("no value")
        values, stop = _calls(answer, budget), answer.get("stop")
        autograd = answer.get("autograd") if isinstance(answer.get("autograd"), list) else []
        n_public = len(sampled_reference(ex).valid)
        public = grade(ex, Replay(answer, values[:n_public], stop, autograd[:n_public]))
        if public.status != "correct" or hidden is None:
            return public
        extra = grade(hidden, Replay(answer, values[n_public:], stop, autograd[n_public:]))
        if extra.status == "correct":
            return public
        return _hidden_failed(ex, public, extra, len(sampled_reference(hidden).valid))
    except Unreadable:
        return not_graded(ex, f"the grader could not read back what `{name}` returned in your notebook.")
    except OverBudget:
        return Result(ex.id, "error", "Your answers came back far larger than asked (the grader reads back at "
                      f"most {MAX_DECODED:,} numbers per notebook).", title=ex.title, max_score=ex.max_score)
    except convert.BadAnswer as err:  # a value too large to rebuild
        return Result(ex.id, "error", str(err), title=ex.title, max_score=ex.max_score)
