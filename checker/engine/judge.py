"""Judging an answer: sample points, compute the reference with autograd, compare, diagnose.

grade(exercise, answer) -> Result is the whole pipeline. It never prints and never
raises for anything a student can pass; a broken exercise definition raises
ExerciseDefinitionError, because that is the course's bug, not the student's.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import zlib
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch

from . import convert, diagnose, guard
from .result import Curve, Result
from .spec import ExerciseDefinitionError, ExerciseSpec, Tolerance, as_float64

NOT_ATTEMPTED = (
    "Not attempted yet: replace `raise NotImplementedError` with your answer, then run this cell again."
)


NOT_ATTEMPTED_VALUE = "Not attempted yet: replace `...` with your answer, then run this cell again."


@dataclass
class Reference:
    points: list[tuple]  # every point, lesson points first
    expected: list[torch.Tensor]  # one stacked tensor per output: (n_valid, *shape)
    values: Optional[torch.Tensor]  # the function's own value at each valid point, when scalar
    valid: list[int]  # indices into points where the reference is finite
    shapes: list[tuple]  # per output; for data sets of different sizes, the largest along each dim
    # Per valid point, per output, where the shapes differ from point to point (None where they do not):
    # every output is then zero-padded to `shapes`, the answer's like the reference's, so padding always agrees.
    point_shapes: Optional[list[list[tuple]]] = None
    # per point, the dtype the answer's tensor inputs come in (None: the exercise's own dtype)
    dtypes: Optional[list] = None

    def dtype(self, index: int):
        return None if self.dtypes is None else self.dtypes[index]

    def shapes_at(self, row: int) -> list[tuple]:
        return self.shapes if self.point_shapes is None else self.point_shapes[row]

    def conform(self, row: int, raw: Any, names, strict: bool = False) -> tuple[torch.Tensor, ...]:
        """An answer's outputs at valid point `row` as float64 tensors of the reference's shapes (padded).
        `strict`: a 0-dim output must be 0-dim (convert.to_tensor)."""
        outputs = convert.to_outputs(raw, self.shapes_at(row), names, strict)
        return outputs if self.point_shapes is None else tuple(_pad(t, s) for t, s in zip(outputs, self.shapes))


def _pad(t: torch.Tensor, shape: tuple) -> torch.Tensor:
    if tuple(t.shape) == tuple(shape):
        return t
    padded = t.new_zeros(shape)
    padded[tuple(slice(0, n) for n in t.shape)] = t
    return padded


# -- points ---------------------------------------------------------------------
def sample_points(ex: ExerciseSpec) -> list[tuple]:
    """The lesson's own points, its edge points, then n_samples drawn from a private, seeded generator."""
    generator = torch.Generator().manual_seed(zlib.crc32(ex.id.encode()))
    if ex.kind == "value":
        return [()]
    if ex.sampler is not None:
        sampled = [tuple(ex.sampler(generator)) for _ in range(ex.n_samples)]
        if ex.case_size is not None:
            sampled.sort(key=ex.case_size)  # stable: equal sizes keep the order drawn
    else:
        lows = torch.tensor([ex.domain[name][0] for name in ex.inputs], dtype=torch.float64)
        highs = torch.tensor([ex.domain[name][1] for name in ex.inputs], dtype=torch.float64)
        u = torch.rand(ex.n_samples, len(ex.inputs), generator=generator, dtype=torch.float64)
        sampled = [tuple(row) for row in (lows + u * (highs - lows)).tolist()]
    return [tuple(p) for p in ex.points] + [tuple(p) for p in ex.edge_points] + sampled


def checked_points(ex: ExerciseSpec) -> tuple[list[tuple], Optional[list]]:
    """Every point the answer is judged at and, per point, its inputs' dtype: the sampled points once
    per precision of the exercise (rounded to it), float64 first."""
    points = sample_points(ex)
    if len(ex.precisions) <= 1:
        return points, None
    every, dtypes = [], []
    for dtype in ex.precisions:
        for point in points:
            every.append(tuple(_rounded(v, dtype) for v in point))
            dtypes.append(dtype)
    return every, dtypes


def _rounded(value, dtype):
    """`value` rounded to `dtype`, kept in float64 (so the reference is computed at the same inputs)."""
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():  # integer tensors (class labels) are passed as they are
            return value
        return value.detach().to(device="cpu", dtype=dtype).to(torch.float64)
    return float(torch.tensor(float(value), dtype=torch.float64).to(dtype))


# -- reference ------------------------------------------------------------------
_as_tensor = as_float64


def _autograd(ex: ExerciseSpec, point: tuple) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    inputs = [_as_tensor(v).clone().requires_grad_(name in ex.wrt) for name, v in zip(ex.inputs, point)]
    out = ex.function(*inputs)
    if out.numel() != 1:
        raise ExerciseDefinitionError(f"{ex.id}: function must return a scalar, got shape {tuple(out.shape)}")
    targets = [t for name, t in zip(ex.inputs, inputs) if name in ex.wrt]
    grads = torch.autograd.grad(out.reshape(()), targets, allow_unused=True)
    grads = tuple(torch.zeros_like(t) if g is None else g for g, t in zip(grads, targets))
    return tuple(g.detach() for g in grads), out.detach().reshape(())


def _autograd_batched(ex: ExerciseSpec, points: list[tuple]):
    columns = [torch.tensor([p[i] for p in points], dtype=torch.float64) for i in range(len(ex.inputs))]
    for name, column in zip(ex.inputs, columns):
        column.requires_grad_(name in ex.wrt)
    out = ex.function(*columns)
    if tuple(out.shape) != (len(points),):
        raise ExerciseDefinitionError(f"{ex.id}: batched function must be elementwise")
    targets = [c for name, c in zip(ex.inputs, columns) if name in ex.wrt]
    grads = torch.autograd.grad(out.sum(), targets, allow_unused=True)
    grads = [(torch.zeros_like(t) if g is None else g).detach() for g, t in zip(grads, targets)]
    return grads, out.detach()


def compute_reference(ex: ExerciseSpec, points: list[tuple], dtypes: Optional[list] = None) -> Reference:
    try:
        with torch.enable_grad():
            # every output stacked over the points: (n_points, *shape)
            point_shapes = None
            if ex.batched:
                stacked, values = _autograd_batched(ex, points)
            else:
                if ex.reference is not None:
                    outputs, values = [_reference_outputs(ex, ex.reference(*p)) for p in points], None
                else:
                    pairs = [_autograd(ex, p) for p in points]
                    outputs, values = [grads for grads, _ in pairs], torch.stack([value for _, value in pairs])
                point_shapes = [[tuple(o.shape) for o in out] for out in outputs]
                if any(shapes != point_shapes[0] for shapes in point_shapes):  # data sets of different sizes
                    if any(len(a) != len(b) for shapes in point_shapes for a, b in zip(shapes, point_shapes[0])):
                        raise ExerciseDefinitionError(f"{ex.id}: an output's number of dimensions varies")
                    largest = [tuple(map(max, *(shapes[k] for shapes in point_shapes))) if point_shapes[0][k] else ()
                               for k in range(len(outputs[0]))]
                    outputs = [tuple(_pad(o, s) for o, s in zip(out, largest)) for out in outputs]
                else:
                    point_shapes = None
                stacked = [torch.stack([out[k] for out in outputs]) for k in range(len(outputs[0]))]
    except ExerciseDefinitionError:
        raise
    except Exception as err:  # the exercise's own code failed: that is our bug
        raise ExerciseDefinitionError(f"{ex.id}: computing the reference failed: {err!r}") from err
    finite = torch.ones(len(points), dtype=torch.bool)
    for t in stacked:  # a point counts only where the reference itself is finite
        finite &= torch.isfinite(t).reshape(len(points), -1).all(dim=1)
    valid = torch.nonzero(finite).flatten().tolist()
    if not valid:
        raise ExerciseDefinitionError(f"{ex.id}: the reference is not finite at any point")
    expected = [t[finite] for t in stacked]
    shapes = [tuple(t.shape[1:]) for t in stacked]
    if values is not None:
        values = values[finite]
    if point_shapes is not None:
        point_shapes = [point_shapes[i] for i in valid]
    return Reference(points, expected, values, valid, shapes, point_shapes, dtypes)


def sampled_reference(ex: ExerciseSpec) -> Reference:
    """The reference at the exercise's lesson and sampled points: computed by autograd on the
    first check, then reused (the points are the same every time, and nothing writes to it)."""
    if ex._reference_cache is None:
        ex._reference_cache = compute_reference(ex, *checked_points(ex))
    return ex._reference_cache


def _reference_outputs(ex: ExerciseSpec, value) -> tuple[torch.Tensor, ...]:
    values = (value,) if len(ex.outputs) == 1 else tuple(value)
    if len(values) != len(ex.outputs):
        raise ExerciseDefinitionError(f"{ex.id}: reference returned {len(values)} values for {ex.outputs}")
    return tuple(_as_tensor(v) for v in values)


# -- the answer ------------------------------------------------------------------
def _arguments(ex: ExerciseSpec, point: tuple) -> tuple:
    return ex.arguments(point)


def _signature_problem(ex: ExerciseSpec, answer: Any, args: tuple) -> Optional[str]:
    try:
        inspect.signature(answer).bind(*args)
    except TypeError:
        try:
            shown = str(getattr(answer, "__name__", "your function"))
        except Exception:  # an object whose attributes raise
            shown = "your function"
        try:
            theirs = f"{shown}{inspect.signature(answer)}"
        except Exception:
            theirs = shown
        names = ", ".join(ex.inputs)
        return (
            f"The answer must be a function `{ex.signature}`, taking {len(ex.inputs)} "
            f"input{'s' if len(ex.inputs) != 1 else ''} ({names}); yours is `{theirs}`."
        )
    except Exception:  # builtins without a signature, objects whose attributes raise: just try them
        return None
    return None


def evaluate(ex: ExerciseSpec, answer: Any, ref: Reference,
             printed: Optional[guard.Printed] = None) -> Union[tuple[list[tuple], Optional[torch.dtype]], Result]:
    """The answer's outputs at every valid point and the half-precision dtype it used (float16 or
    bfloat16, None for float32/float64/Python numbers), or a Result explaining why there are none."""

    def stop(status, message, mistake=None, diagnosis=None):
        return Result(ex.id, status, message, title=ex.title, max_score=ex.max_score, mistake=mistake,
                      diagnosis=diagnosis)

    if answer is None or answer is Ellipsis:
        return stop("not_attempted", NOT_ATTEMPTED_VALUE if ex.kind == "value" else NOT_ATTEMPTED)
    original = answer  # what the student wrote: its own body tells the stub from an error deeper down
    if ex.harness is not None:  # a method, a Function, a class: its harness measures it at each case
        answer = ex.measured(answer)
        if answer.problem:
            return stop("error", answer.problem)
    if ex.kind == "value":
        if callable(answer) and not isinstance(answer, torch.Tensor):
            return stop("error", "This question asks for a value; pass the value itself, not a function.")
        calls = [lambda: answer]
    else:
        if not callable(answer):
            return stop(
                "error",
                f"`check` expects your function itself, `{ex.signature.split('(')[0]}` without "
                f"parentheses, but it got {convert.describe(answer)}.",
            )
        args_list = [ex.arguments(ref.points[i], ref.dtype(i)) for i in ref.valid]
        problem = _signature_problem(ex, answer, args_list[0])
        if problem:
            return stop("error", problem)
        calls = [lambda args=args: answer(*args) for args in args_list]

    got, low, raws = [], None, []
    # tensors in, gradients out: a gradient has exactly its input's shape (0-dim included)
    strict = ex.pass_as == "tensor" and ex.kind == "gradient" and ex.reference is None
    try:
        with guard.student_code(ex.time_limit, ex.forbid_autograd, ex.forbidden, printed) as deadline:
            for call in calls:
                raw = call()
                deadline.check()  # an answer that swallowed the time limit is stopped all the same
                raws.append(raw)
                got.append(ref.conform(len(got), raw, ex.outputs, strict))
                low = _lower(low, convert.half_precision(raw))
    except KeyboardInterrupt:
        raise
    except BaseException as err:
        if isinstance(err, convert.BadShape) and ex.kind == "gradient":  # a wrong shape can be a known mistake
            verdict = diagnose.misshaped_mistake(ex, ref, raws)
            if verdict is not None:
                return Result(ex.id, "incorrect", verdict.message, title=ex.title, max_score=ex.max_score,
                              mistake=verdict.mistake, details=verdict.details)
        # the point where it stopped: the first without an output (named only now, as formatting costs time)
        index = ref.valid[len(got)] if len(got) < len(ref.valid) else None
        where = _where(ex, ref.points[index], ref.dtype(index)) if index is not None else ""
        return _stopped(ex, err, where, stop, original)
    return got, low


def _lower(a, b):
    """The less precise of two half-precision dtypes (None: neither)."""
    return torch.bfloat16 if torch.bfloat16 in (a, b) else (a or b)


def _is_stub(err: BaseException, answer: Any) -> bool:
    """True if `err` (a NotImplementedError) is the exercise's stub: raised by the answer's own body (the
    function, or the methods of the class or Function it is), not from deeper down (a helper of the
    student's, or torch refusing a dtype), which is an error to show."""
    marked = getattr(err, "checker_stub", None)  # bulk grading's replay knows it from the student's kernel
    if marked is not None:
        return bool(marked)
    try:
        codes = _own_codes(answer)
    except Exception:  # an object whose attributes raise: not the stub the lesson ships
        return False
    tb = err.__traceback__
    if not codes or tb is None:
        return not codes
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code in codes


def _own_codes(answer: Any) -> set:
    """The code objects of the answer's own body: a function's (partials unwrapped), or the methods a class,
    a torch.autograd.Function or a callable object defines itself (not torch's or Python's). The same rule
    runs in bulk grading's probe."""
    import functools

    while isinstance(answer, functools.partial):
        answer = answer.func
    try:  # through functools.wraps: the checker's own watcher (_watching_autograd), a student's decorator
        answer = inspect.unwrap(answer)
    except (ValueError, TypeError):
        pass
    code = getattr(answer, "__code__", None)
    if code is not None:
        return {code}
    owner = answer if isinstance(answer, type) else type(answer)
    codes = set()
    for klass in owner.__mro__:
        module = str(getattr(klass, "__module__", ""))
        if module == "builtins" or module.startswith("torch"):
            continue
        for value in vars(klass).values():
            value = getattr(value, "__func__", value)  # staticmethod, classmethod
            if getattr(value, "__code__", None) is not None:
                codes.add(value.__code__)
    return codes


def _stopped(ex: ExerciseSpec, err: BaseException, where: str, stop, answer: Any = None) -> Result:
    """The Result for an answer whose evaluation stopped with `err` at the point `where`."""
    if isinstance(err, convert.NotAttempted) and ex.kind == "gradient":
        if ex.none_message:
            return stop("incorrect", ex.none_message, mistake="returned-none")
        also = "" if ex.forbid_autograd else (
            " Or is it returning a `.grad` that autograd never filled (a non-leaf tensor, or no backward call)?")
        return stop("not_attempted", f"Not attempted yet: your function returned None{where}. "
                    f"Did you forget `return`?{also}")
    if isinstance(err, convert.NotAttempted) or (isinstance(err, NotImplementedError) and _is_stub(err, answer)):
        return stop("not_attempted", NOT_ATTEMPTED)
    if isinstance(err, convert.BadShape) and ex.kind == "value":  # a prediction of the wrong shape is wrong
        return stop("incorrect", f"{err} Think about the shape autograd gives it.", mistake="wrong-shape")
    if isinstance(err, convert.BadShape) and ex.shape_advice is not None:
        advice = ex.shape_advice(err.name, err.got, err.want)
        if advice:
            return stop("error", f"{advice}{' (' + where.strip() + ')' if where else ''}", mistake="wrong-shape")
    if isinstance(err, convert.BadAnswer):
        return stop("error", f"{err}{' (' + where.strip() + ')' if where else ''}", diagnosis="wrong-shape")
    if isinstance(err, guard.AutogradUsed):
        return stop(
            "incorrect",
            f"Your answer uses {err.what}. This exercise asks for {ex.asks_for}; autograd is what the checker "
            "compares it with.",
            mistake="used-autograd",
        )
    if isinstance(err, guard.ForbiddenCall):
        why = f": {err.why}" if err.why else ""
        return stop(
            "incorrect",
            f"Your answer calls {err.what}, which this exercise does not accept{why}. Write the formula yourself; "
            f"the checker compares it with {ex.compared_with}.",
            mistake="forbidden-function",
        )
    if isinstance(err, guard.TimeLimitExceeded):
        return stop("error", f"Your answer took longer than {ex.time_limit:g} s{where} and was stopped. "
                    "Is there an infinite loop or a long sleep?")
    # anything else the student's code raised, SystemExit included
    described, advice = guard.describe_exception(err), _advice(ex, err)
    if advice and not described.endswith((".", "!", "?")):
        described += "."  # "(in f, line 3: ...)." then the advice, a sentence of its own
    return stop("error", f"Your code raised an error{where}: {described}{advice}")


def _tolerance(ex: ExerciseSpec, low: Optional[torch.dtype]) -> Tolerance:
    """The exercise's tolerance; for a float16/bfloat16 answer, plus that dtype's rounding of each expected
    value (one ulp there, relative to the value: never a fixed width that a wrong answer could hide in)."""
    if low is None:
        return ex.tolerance
    return dataclasses.replace(ex.tolerance, rounding_of=low)


def _cannot_tell(ex: ExerciseSpec, ref: Reference, got: list[torch.Tensor], tol: Tolerance,
                 low: torch.dtype) -> Optional[str]:
    """For a half-precision answer that is not right at its own rounding: a message if every difference is
    one that rounding in `low` alone could make (then no verdict can be stood behind), else None."""
    eps, biggest = torch.finfo(low).eps, torch.finfo(low).max
    first = None
    for k, (g, e) in enumerate(zip(got, ref.expected)):
        scale = float(e.abs().max()) if e.numel() else 0.0
        loose = tol.allowed(e) + 8 * eps * (e.abs() + scale)
        off = ((g - e).abs() > loose) & ~(g == e) & ~(e.abs() > biggest)  # past its range: cannot hold it
        if bool(off.any()) or not bool(torch.isfinite(g).all()):  # NaN is no rounding
            return None
        miss = ((g - e).abs() > tol.allowed(e)) & ~(g == e)
        if first is None and bool(miss.any()):
            first = (k, int(torch.nonzero(miss.reshape(miss.shape[0], -1).any(dim=1))[0]))
    if first is None:
        return None
    k, row = first
    index = ref.valid[row]
    name = str(low).replace("torch.", "")
    digits = 3 if low == torch.bfloat16 else 4
    g, e = got[k][row], ref.expected[k][row]
    if g.numel() <= 4:
        theirs = f"yours is {diagnose.fmt(g)} where {ex.quantity} is {diagnose.fmt(e)}"
    else:  # a tensor too large to list: the entry where they differ most
        miss_here = ((g - e).abs() > tol.allowed(e)) & ~(g == e)
        at = tuple(int(i) for i in torch.nonzero(miss_here)[0])
        label = diagnose.entry(ex.outputs[k] if len(ex.outputs) > 1 else "your answer", at)
        theirs = (f"yours has {label} = {diagnose.fmt(g[at])} where {ex.quantity} has {label} = "
                  f"{diagnose.fmt(e[at])}")
    return (f"Your answer comes back in {name}, which keeps about {digits} significant digits: "
            f"{_where(ex, ref.points[index], ref.dtype(index)).strip() or 'here'} {theirs}, a difference "
            f"that {name} rounding alone could make. At this precision the checker cannot tell a rounding "
            "error from a mistake: return float32 or float64 (or a Python float).")


def _advice(ex: ExerciseSpec, err: BaseException) -> str:
    """One line of help for errors students commonly meet, after the error itself. By the error's type name:
    in bulk grading the error comes back from the student's kernel as its name and text (checker_type)."""
    name = getattr(err, "checker_type", None) or type(err).__name__
    text = f"{type(err).__name__}: {guard.error_message(err)}"
    if name in ex.error_advice:
        return " " + ex.error_advice[name]
    if ex.pass_as == "float" and name == "TypeError" and "must be Tensor, not float" in text:
        return (" Your function receives Python floats here: use math.sin, math.cos, math.exp "
                "(torch functions need tensors).")
    if ex.pass_as == "tensor" and name == "TypeError" and "must be real number" in text:
        return " Your function receives tensors here: use torch.sin, torch.exp, ... (math functions need floats)."
    return ""


def _where(ex: ExerciseSpec, point: tuple, dtype=None) -> str:
    return diagnose.where(ex, point, dtype)


# -- putting it together ------------------------------------------------------------
def grade(exercise: ExerciseSpec, answer: Any, *, plot: bool = False) -> Result:
    """Grade one answer. `plot=True` adds the data for a plot when the answer is wrong."""
    with guard.on_cpu(), guard.one_thread():
        return _grade(exercise, answer, plot)


def _grade(ex: ExerciseSpec, answer: Any, plot: bool) -> Result:
    ref = sampled_reference(ex)
    printed = guard.Printed()
    result = _judged(ex, answer, ref, plot, printed)
    result.exercise_kind, result.printed = ex.kind, printed.text()
    return result


def _judged(ex: ExerciseSpec, answer: Any, ref: Reference, plot: bool, printed: guard.Printed) -> Result:
    used_autograd: list[bool] = []  # per call, for exercises that require autograd
    if ex.require_autograd and callable(answer) and not isinstance(answer, torch.Tensor):
        answer = _watching_autograd(answer, used_autograd)
    outcome = evaluate(ex, answer, ref, printed)
    if isinstance(outcome, Result):
        outcome.n_points = len(ref.valid)
        return outcome
    outputs, low = outcome
    tolerance = _tolerance(ex, low)
    if tolerance != ex.tolerance:
        ex = dataclasses.replace(ex, tolerance=tolerance)
    got = [torch.stack([point[k] for point in outputs]) for k in range(len(ref.shapes))]
    wrong = diagnose.wrong_points(got, ref.expected, ex.tolerance)
    n = len(ref.valid)
    if not wrong.any() and ex.require_autograd and not (used_autograd and all(used_autograd)):
        return Result(ex.id, "incorrect", NOT_BY_AUTOGRAD, title=ex.title, max_score=ex.max_score,
                      mistake="not-by-autograd", n_points=n)
    if low is not None and wrong.any():
        unsure = _cannot_tell(ex, ref, got, ex.tolerance, low)
        if unsure:
            return Result(ex.id, "error", unsure, title=ex.title, max_score=ex.max_score, mistake="low-precision",
                          n_points=n)
    if not wrong.any():
        message = f"Correct: your answer matches {ex.compared_with} at all {n} points checked."
        message += _at_lesson_points(ex, ref, got)
        if ex.kind == "value":  # one "point": say what the value is instead
            message = f"Correct: {ex.outputs[0]} = {diagnose.fmt(got[0][0])}, as {ex.compared_with} computes it."
        return Result(
            ex.id, "correct", message,
            title=ex.title, score=ex.max_score, max_score=ex.max_score, n_points=n,
        )
    verdict = diagnose.explain(ex, ref, got, wrong)
    result = Result(
        ex.id, "incorrect", verdict.message, title=ex.title, max_score=ex.max_score,
        mistake=verdict.mistake, diagnosis=verdict.diagnosis, details=verdict.details, n_points=n,
    )
    if plot:
        result.curve = curve(ex, answer)
        result.figure = figure(ex, answer, ref, wrong)
    return result


NOT_BY_AUTOGRAD = (
    "Your numbers are right, but autograd did not compute them: this exercise asks you to fix the autograd "
    "code, so keep its backward() call and return the gradient autograd leaves in .grad, rather than "
    "working the derivative out another way."
)


def _watching_autograd(answer, used: list[bool]):
    """`answer`, noting in `used` whether each call went through autograd (signature kept)."""

    @functools.wraps(answer)
    def watched(*args, **kwargs):
        with guard.autograd_counted() as count:
            value = answer(*args, **kwargs)
        used.append(count.calls > 0)
        return value

    return watched


def _at_lesson_points(ex: ExerciseSpec, ref: Reference, got: list[torch.Tensor]) -> str:
    """' At x = 3 yours gives -5.466781571308061.': the lesson's own points, in full precision."""
    shown = []
    for i in range(len(ex.points)):
        if i not in ref.valid:
            continue
        row = ref.valid.index(i)
        values = ", ".join(
            f"{name} = {float(g[row])!r}" if g[row].numel() == 1 else f"{name} = {diagnose.fmt(g[row])}"
            for name, g in zip(ex.outputs, got)
        )
        where = _where(ex, ref.points[i]).strip()  # "at x = 3"
        shown.append(f"A{where[1:]} yours gives {values}.")
    return (" " + " ".join(shown)) if shown else ""


def figure(ex: ExerciseSpec, answer: Any, ref: Reference, wrong: torch.Tensor) -> Optional[bytes]:
    """The exercise's own figure of a wrong answer at the points where it is wrong (None if it has none,
    or if drawing it fails: a figure is a help, never a reason for a verdict to fail)."""
    if ex.figure is None:
        return None
    cases = [ref.points[ref.valid[row]] for row in torch.nonzero(wrong).flatten().tolist()]
    try:  # autograd allowed: the figure computes its own reference (the answer was judged with the ban)
        with guard.student_code(ex.time_limit, forbid_autograd=False):
            return ex.figure(answer, cases)
    except (Exception, guard.CheckerInterrupt, SystemExit):
        return None


def curve(ex: ExerciseSpec, answer: Any, n: int = 121) -> Optional[Curve]:
    """Expected and answered derivative on a grid, for one-input exercises."""
    if ex.kind != "gradient" or len(ex.inputs) != 1 or ex.inputs[0] not in ex.domain or ex.pass_as != "float":
        return None
    low, high = ex.domain[ex.inputs[0]]
    xs = torch.linspace(low, high, n, dtype=torch.float64).tolist()
    ref = compute_reference(ex, [(x,) for x in xs])
    expected = [float("nan")] * n
    for slot, value in zip(ref.valid, ref.expected[0].tolist()):
        expected[slot] = value
    got: list[Optional[float]] = []
    try:
        with guard.student_code(ex.time_limit, ex.forbid_autograd, ex.forbidden):
            for x in xs:
                try:
                    got.append(float(convert.to_tensor(answer(x), (), "answer")))
                except Exception:
                    got.append(None)
    except (guard.CheckerInterrupt, SystemExit):
        return None
    return Curve(xs, expected, got, ex.inputs[0])
