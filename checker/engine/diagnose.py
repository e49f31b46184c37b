"""Why is a wrong answer wrong? Known mistakes first, then generic patterns, then examples.

Order of diagnosis (the first that fits wins):
1. a known mistake of the exercise that matches the answer at every point;
2. generic patterns on the first wrong output: NaN/inf, sign flipped, a constant
   factor, a constant offset, the function itself instead of its derivative, zero
   everywhere, right on one side of the domain only;
3. otherwise, how many points are wrong.
The message is always followed by up to three failing points (inputs, expected, got).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch

from .convert import too_coarse
from .result import PointDetail
from .spec import ExerciseDefinitionError

MAX_DETAILS = 3


@dataclass
class Verdict:
    message: str
    mistake: Optional[str] = None
    details: list[PointDetail] = field(default_factory=list)
    diagnosis: Optional[str] = None  # the generic pattern's id ("sign", "factor", ...) when no known mistake fits


def fmt(value) -> str:
    """Numbers as a student reads them: 6 significant digits, short tensors listed."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return fmt(float(value))
        if value.numel() <= 4:
            return "[" + ", ".join(fmt(float(v)) for v in value.flatten()) + "]"
        return f"tensor of shape {tuple(value.shape)}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def entry(name: str, index: tuple, own: bool = False) -> str:
    """An entry of output `name`: "y[0, 2]"; of a single answer, "entry [0, 2]" ("its entry [0, 2]" with `own`)."""
    at = ", ".join(map(str, index))
    if name in ("Your answer", "your answer"):
        return f"{'its ' if own else ''}entry [{at}]"
    return f"{name}[{at}]"


def compared(name: str, got: torch.Tensor, expected: torch.Tensor, quantity: str, where_: str = "",
             index: Optional[tuple] = None) -> str:
    """'it is 3 at x = 1, where the derivative is 2': one point's value and the reference's, as numbers. Of a
    tensor too large to list (fmt shows only its shape), one entry and the reference's at the same place:
    'y[4] is inf at ..., where the reference has y[4] = 0'; `index`, else the entry where they differ most."""
    if expected.numel() <= 4 and got.numel() <= 4:
        return f"it is {fmt(got)}{where_}, where {quantity} is {fmt(expected)}"
    if index is None:
        index = tuple(int(i) for i in torch.unravel_index(
            torch.argmax((got - expected).abs().nan_to_num(math.inf)), expected.shape))
    return (f"{entry(name, index, own=True)} is {fmt(got[index])}{where_}, where {quantity} has "
            f"{entry(name, index)} = {fmt(expected[index])}")


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def where(ex, point: tuple, dtype=None) -> str:
    """' at z = 100, y = 0' (and ' in float32' when the exercise checks several precisions)."""
    if not point:
        return ""
    shown = ", ".join(f"{name} = {fmt(v)}" for name, v in zip(ex.inputs, point))
    if dtype is not None and len(ex.precisions) > 1:
        shown += f" in {dtype_name(dtype)}"
    return f" at {shown}"


def _close(got: torch.Tensor, expected: torch.Tensor, tol, equal_nan: bool = False) -> torch.Tensor:
    """Per point: every element within tolerance. Shapes (n, *shape) -> (n,)."""
    # an infinite target matches only the same infinity (its allowed width would be infinite too)
    ok = (torch.isfinite(expected) & ((got - expected).abs() <= tol.allowed(expected))) | (got == expected)
    if equal_nan:
        ok |= torch.isnan(got) & torch.isnan(expected)
    return ok.reshape(ok.shape[0], -1).all(dim=1)


def wrong_points(got: list[torch.Tensor], expected: list[torch.Tensor], tol) -> torch.Tensor:
    right = torch.ones(expected[0].shape[0], dtype=torch.bool)
    for g, e in zip(got, expected):
        right &= _close(g, e, tol)
    return ~right


def matches(got: list[torch.Tensor], other: list[torch.Tensor], tol, equal_nan: bool = False) -> bool:
    """Within tolerance at every point; with equal_nan, NaN where `other` is NaN counts as a match."""
    right = torch.ones(other[0].shape[0], dtype=torch.bool)
    for g, o in zip(got, other):
        right &= _close(g, o, tol, equal_nan)
    return bool(right.all())


def _known_mistake(ex, ref, got, stage: Optional[int] = None) -> Optional[str]:
    """The first known mistake that gives the answer's values at every point; with `stage` (a staged exercise),
    the first whose own first wrong stage is that one and gives the answer's value there."""
    from .convert import BadAnswer

    for mistake in ex.mistakes:
        cached = ex._mistake_cache.get(mistake.id)
        if cached is not None and cached[0] is ref:  # the same points as last time: the same outputs
            stacked = cached[1]
        else:
            try:
                stacked = _mistake_outputs(ex, ref, mistake)
            except BadAnswer:  # a mistake of the wrong shape: misshaped_mistake() recognises it
                stacked = None
            except Exception as err:
                raise ExerciseDefinitionError(f"{ex.id}: mistake {mistake.id!r} failed: {err!r}") from err
            ex._mistake_cache[mistake.id] = (ref, stacked)
        if stacked is None:
            continue
        by = [k for k, name in enumerate(ex.outputs) if mistake.known_by is None or name in mistake.known_by]
        with torch.no_grad():
            # NaN where the mistake gives NaN is part of the mistake (e.g. 0·log(0) in a loss)
            if stage is None and matches([got[k] for k in by], [stacked[k] for k in by], ex.tolerance,
                                         equal_nan=True):
                return mistake.id
            if (stage is not None and _first_wrong_output(ex, ref, stacked) == stage
                    and matches([got[stage]], [stacked[stage]], ex.tolerance, equal_nan=True)):
                return mistake.id
    return None


def _first_wrong_output(ex, ref, got) -> Optional[int]:
    for k, (g, e) in enumerate(zip(got, ref.expected)):
        if wrong_points([g], [e], ex.tolerance).any():
            return k
    return None


def misshaped_mistake(ex, ref, raws: list) -> Optional[Verdict]:
    """For an answer whose output has the wrong shape: the known mistake that returns the same shapes and values
    at every point evaluated so far (`raws`, what the answer returned, the last one misshaped), e.g. dYᵀX, of
    shape (m, d), where dW = XᵀdY (d, m) belongs. None if no mistake does, or the answer is not made of numbers."""

    def real(v) -> bool:  # numbers a known mistake could give: no bool, complex or meta values
        if isinstance(v, torch.Tensor):
            return (v.dtype != torch.bool and not v.is_complex() and v.device.type != "meta"
                    and not too_coarse(v.dtype))  # float8, float4: refused, never compared
        return isinstance(v, (float, int)) and not isinstance(v, bool)

    def tensors(value) -> Optional[list]:
        values = value if len(ex.outputs) > 1 and isinstance(value, (tuple, list)) else (value,)
        if len(values) != len(ex.outputs) or not all(real(v) for v in values):
            return None
        return [torch.as_tensor(v).detach().to(device="cpu", dtype=torch.float64) for v in values]

    def same(a, b) -> bool:
        return a is not None and b is not None and all(
            x.shape == y.shape and bool(torch.isclose(x, y, rtol=ex.tolerance.rtol, atol=ex.tolerance.atol,
                                                      equal_nan=True).all())
            for x, y in zip(a, b))

    answered = [tensors(raw) for raw in raws]
    if not raws or any(a is None for a in answered):
        return None
    for mistake in ex.mistakes:
        try:
            theirs = [tensors(mistake.answer(*ex.arguments(ref.points[i], ref.dtype(i))))
                      for i in ref.valid[:len(raws)]]
        except Exception:  # this mistake fails here: it is not the answer's
            continue
        if all(same(a, t) for a, t in zip(answered, theirs)):
            point = ref.points[ref.valid[len(raws) - 1]]
            inputs = {name: fmt(v) for name, v in zip(ex.inputs, point)}

            def shapes(ts):
                return ", ".join(f"{name}: shape {tuple(t.shape)}" for name, t in zip(ex.outputs, ts))

            expected = shapes([torch.empty(s) for s in ref.shapes_at(len(raws) - 1)])
            return Verdict(mistake.message, mistake.id, [PointDetail(inputs, expected, shapes(answered[-1]))])
    return None


def _mistake_outputs(ex, ref, mistake) -> Optional[list[torch.Tensor]]:
    """What the mistake gives at every valid point, stacked like the reference (None: it does not apply)."""
    if mistake.transform is not None:
        return mistake.transform([e.clone() for e in ref.expected])
    answer = ex.measured(mistake.answer)  # through the exercise's harness, if it has one
    outs = [
        ref.conform(row, answer(*ex.arguments(ref.points[i], ref.dtype(i))) if callable(answer)
                    else answer, ex.outputs)  # a value exercise's mistake is a value
        for row, i in enumerate(ref.valid)
    ]
    return [torch.stack([o[k] for o in outs]) for k in range(len(ref.shapes))]


def _constant(values: torch.Tensor, floor: float = 0.0) -> Optional[float]:
    """The common value if all entries agree to 0.1% of it, else None.

    `floor`: values this close to 0 are not a meaningful constant (only noise).
    """
    if values.numel() == 0:
        return None
    mid = float(values.median())
    if abs(mid) > floor and float((values - mid).abs().max()) <= 1e-3 * abs(mid):
        return mid
    return None


def _pattern(ex, ref, g: torch.Tensor, e: torch.Tensor, name: str) -> Optional[tuple[str, str]]:
    """A generic explanation of how output `name` (stacked over points) is wrong: (diagnosis id, text)."""
    flat_g, flat_e = g.reshape(-1), e.reshape(-1)
    single = flat_e.numel() == 1  # a value exercise: one number, so no "at every point"
    everywhere = "" if single else " at every point checked"
    if not torch.isfinite(flat_g).all():
        where_ = "" if single else " at some points"
        return "not-finite", (f"{name} is not a finite number{where_} (NaN or infinity). "
                "Look for a division by zero, a log of 0 or of a negative number, or an overflow.")
    scale = float(flat_e.abs().max()) or 1.0
    if torch.allclose(flat_g, -flat_e, rtol=ex.tolerance.rtol, atol=ex.tolerance.atol):
        return "sign", f"{name} has the right size but the wrong sign{everywhere}: check each minus sign."
    if single:  # with one number, any ratio or offset would look "constant"
        return None
    if float(flat_g.abs().max()) == 0.0:
        return "zero", f"{name} is 0{everywhere}, but {ex.quantity} is not."
    usable = flat_e.abs() > 1e-3 * scale
    ratio = _constant(flat_g[usable] / flat_e[usable])
    if ratio is not None and not math.isclose(ratio, 1.0, rel_tol=1e-4):
        return "factor", (f"{name} is {ratio:.4g} times the correct value{everywhere}: "
                "a constant factor is missing or extra somewhere.")
    offset = _constant(flat_g - flat_e, floor=1e-3 * scale)
    if offset is not None:
        return "offset", (f"{name} is off by the same constant ({offset:+.4g}){everywhere}: "
                "a constant term is missing or extra. Remember that the derivative of a constant is 0.")
    if ref.values is not None and g.shape == ref.values.shape and torch.allclose(
        g, ref.values, rtol=ex.tolerance.rtol, atol=ex.tolerance.atol
    ):
        return "function-itself", f"{name} equals the function itself, not its derivative: differentiate it."
    return None


# Why a result stops being a number, in the precisions answers are judged in
_OVERFLOW = ("Something overflowed there, or met a log of 0 or a division by 0: exp(t) is inf from t ≈ 88.7 in "
             "float32 (≈ 709.8 in float64), σ(t) rounds to exactly 1.0 from t ≈ 16.6 in float32 (≈ 36.7 in "
             "float64) so that 1 − σ(t) is 0, and 0·inf is NaN.")


def _not_finite(ex, ref, g: torch.Tensor, e: torch.Tensor, name: str) -> Optional[tuple[str, list[int]]]:
    """Where output `name` is NaN or inf although the reference is finite: the message and those rows."""
    bad = ~torch.isfinite(g.reshape(g.shape[0], -1)).all(dim=1)
    rows = torch.nonzero(bad).flatten().tolist()
    if not rows:
        return None
    if e[0].numel() == 1 and len(ref.valid) == 1:  # a value exercise: one number
        return (f"{name} is not a finite number (NaN or infinity). Look for a division by zero, a log of 0 "
                "or of a negative number, or an overflow."), rows
    row = rows[0]
    index = ref.valid[row]
    others = len(rows) - 1
    more = f" (and at {others} other point{'s' if others != 1 else ''})" if others else ""
    at = where(ex, ref.points[index], ref.dtype(index)) + more
    if e[row].numel() == 1:
        return f"{name} is not a finite number: it is {fmt(g[row])}{at}, where {ex.quantity} is {fmt(e[row])}. " \
            f"{_OVERFLOW}", rows
    first = tuple(int(i) for i in torch.nonzero(~torch.isfinite(g[row]))[0])  # its first entry that is not
    return (f"{name} is not a finite number: {compared(name, g[row], e[row], ex.quantity, at, first)}. "
            f"{_OVERFLOW}"), rows


def _wrong_only_in_lower_precision(ex, ref, got, wrong: torch.Tensor, name: str) -> Optional[str]:
    """Right in float64, wrong in float32: a formula that is fine on paper but not in the precision models use."""
    if len(ex.precisions) <= 1 or ref.dtypes is None:
        return None
    rows = torch.nonzero(wrong).flatten().tolist()
    if not rows or any(ref.dtypes[ref.valid[r]] == torch.float64 for r in rows):
        return None
    index = ref.valid[rows[0]]
    low = dtype_name(ref.dtypes[index])
    first = ex.outputs.index(name) if name in ex.outputs else 0
    at = where(ex, ref.points[index], ref.dtypes[index]).strip()
    there = compared(name, got[first][rows[0]], ref.expected[first][rows[0]], ex.quantity)
    return (f"{name} is right when computed in float64 but not in {low}, the precision models train in: "
            f"{at} {there} ({len(rows)} of the "
            f"{sum(ref.dtypes[i] != torch.float64 for i in ref.valid)} {low} points are wrong). Rewrite it so "
            f"that no step loses the digits that matter or overflows in {low}.")


def _side_of_domain(ex, ref, wrong: torch.Tensor) -> Optional[tuple[str, str]]:
    """For one-input exercises: right for x > 0 only, or for x < 0 only."""
    if ex.kind != "gradient" or len(ex.inputs) != 1 or ex.pass_as != "float":
        return None
    xs = torch.tensor([float(ref.points[i][0]) for i in ref.valid], dtype=torch.float64)
    right = ~wrong
    x = ex.inputs[0]
    for good, bad in ((">", "<"), ("<", ">")):
        sign = 1 if good == ">" else -1
        if right.any() and bool((sign * xs[right] > 0).all()) and bool((sign * xs[wrong] < 0).all()):
            return "one-side", (f"Your answer is right for {x} {good} 0 but wrong for {x} {bad} 0: "
                    "check the signs (an abs() or a square?).")
    return None


def _only_at_lesson_points(ex, ref, got, wrong: torch.Tensor) -> Optional[tuple[str, str]]:
    """Right exactly at the lesson's own points, and the same value everywhere else: a number was typed in
    (or the lesson's point special-cased), not a function written. A formula that happens to be right at
    the lesson's point is not told this: it is diagnosed as a formula."""
    lesson_rows = [row for row, index in enumerate(ref.valid) if index < len(ex.points)]
    if not lesson_rows or bool(wrong[lesson_rows].any()) or int((~wrong).sum()) != len(lesson_rows):
        return None
    others = [row for row in range(wrong.numel()) if row not in lesson_rows]
    for g in got:
        values = g[others].reshape(len(others), -1)
        if not bool(torch.isfinite(values).all()):
            return None
        spread = float((values - values[0]).abs().max())
        if spread > 1e-9 + 1e-6 * float(values.abs().max()):
            return None
    where_ = " and ".join(
        ", ".join(f"{name} = {fmt(v)}" for name, v in zip(ex.inputs, ref.points[ref.valid[row]]))
        for row in lesson_rows
    )
    return "only-lesson-point", (
            f"Your answer is right at {where_}, the lesson's own point, but it gives the same value at every other "
            f"point checked. {ex.quantity[0].upper() + ex.quantity[1:]} is a function of the inputs, "
            "so your answer must be right for every input, not just this one.")


def _reordered(ex, ref, got) -> Optional[str]:
    """The right values returned in the wrong order: each returned value matches a different expected output (a
    permutation other than the identity). A value returned twice is a wrong value, not a wrong order."""
    n = len(got)
    if n < 2:
        return None
    candidates = [[j for j, e in enumerate(ref.expected)
                   if g.shape == e.shape and not wrong_points([g], [e], ex.tolerance).any()] for g in got]

    def assign(i: int, used: frozenset) -> Optional[list[int]]:  # backtracking over at most n! orders, n <= 8
        if i == n:
            return []
        for j in candidates[i]:
            if j not in used:
                rest = assign(i + 1, used | {j})
                if rest is not None:
                    return [j, *rest]
        return None

    order = assign(0, frozenset())
    if order is None or order == list(range(n)):
        return None
    return (f"Your values are right but in the wrong order: return them as ({', '.join(ex.outputs)}). "
            f"Yours look like ({', '.join(ex.outputs[j] for j in order)}).")


def _details(ex, ref, got, wrong, outputs: list[str]) -> list[PointDetail]:
    """Up to three failing points; with several outputs, only `outputs` are shown, by name."""
    def at(t, row, k):  # without the padding of data sets of different sizes
        return t[row][tuple(slice(0, n) for n in ref.shapes_at(row)[k])]

    def pair(row, k) -> tuple[str, str]:
        """Output k at this point, expected and got; of a larger tensor, the entry where they differ most."""
        e, g = at(ref.expected[k], row, k), at(got[k], row, k)
        if e.numel() <= 4:
            return fmt(e), fmt(g)
        index = tuple(int(i) for i in torch.unravel_index(torch.argmax((g - e).abs().nan_to_num(math.inf)), e.shape))
        where = f"{ex.outputs[k]}[{', '.join(map(str, index))}]"
        return f"{where} = {fmt(e[index])}", f"{where} = {fmt(g[index])}"

    def shown(row, side):
        if len(got) == 1:
            return pair(row, 0)[side]
        return ", ".join(pair(row, k)[side] if at(got[k], row, k).numel() > 4 else f"{name} = {pair(row, k)[side]}"
                         for k, name in enumerate(ex.outputs) if name in outputs)

    details = []
    for row in torch.nonzero(wrong).flatten().tolist()[:MAX_DETAILS]:
        point = ref.points[ref.valid[row]]
        inputs = {name: fmt(v) for name, v in zip(ex.inputs, point)}
        if len(ex.precisions) > 1:
            inputs["dtype"] = dtype_name(ref.dtype(ref.valid[row]))
        details.append(PointDetail(inputs, shown(row, 0), shown(row, 1)))
    return details


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _first_wrong_stage(ex, ref, got, wrong_names: list[str]) -> Verdict:
    """A staged exercise: the verdict is about the first wrong stage, the later ones may only inherit its error."""
    names = ex.outputs
    k = names.index(wrong_names[0])
    wrong_here = wrong_points([got[k]], [ref.expected[k]], ex.tolerance)
    details = _details(ex, ref, got, wrong_here, [names[k]])
    mistake_id = _known_mistake(ex, ref, got, stage=k)
    if mistake_id is not None:
        return Verdict(next(m.message for m in ex.mistakes if m.id == mistake_id), mistake_id, details)
    right, later = list(names[:k]), wrong_names[1:]
    if right:
        head = f"{_and(right)} {'is' if len(right) == 1 else 'are'} right; {names[k]} is the first stage that is not"
    else:
        head = f"{names[k]}, the first stage, is not right"
    if later:
        head += (f" ({_and(later)} {'is' if len(later) == 1 else 'are'} wrong too: start with {names[k]}, "
                 "later stages are computed from the earlier ones)")
    hint = " (`hint()` gives a hint.)" if ex.hints else ""
    diagnosis, explanation = _pattern(ex, ref, got[k], ref.expected[k], names[k]) or ("other",
        f"It differs from {ex.quantity} at {int(wrong_here.sum())} of the {int(wrong_here.numel())} points "
        f"checked.{hint}")
    return Verdict(f"{head}. {explanation}", None, details, diagnosis)


def explain(ex, ref, got: list[torch.Tensor], wrong: torch.Tensor) -> Verdict:
    names = ex.outputs
    wrong_names = [n for n, g, e in zip(names, got, ref.expected) if wrong_points([g], [e], ex.tolerance).any()]
    if ex.staged:
        return _first_wrong_stage(ex, ref, got, wrong_names)
    details = _details(ex, ref, got, wrong, wrong_names)
    mistake_id = _known_mistake(ex, ref, got)
    if mistake_id is not None:
        message = next(m.message for m in ex.mistakes if m.id == mistake_id)
        return Verdict(message, mistake_id, details)
    reordered = _reordered(ex, ref, got)
    if reordered:
        return Verdict(reordered, None, _details(ex, ref, got, wrong, list(names)), "reordered")

    prefix = ""
    if len(names) > 1:
        right_names = [n for n in names if n not in wrong_names]
        if right_names:
            prefix = (f"{_and(right_names)} {'is' if len(right_names) == 1 else 'are'} right; "
                      f"{_and(wrong_names)} {'is' if len(wrong_names) == 1 else 'are'} not. ")
        elif bool(wrong.all()) and all(wrong_points([g], [e], ex.tolerance).all() for g, e in zip(got, ref.expected)):
            prefix = f"None of your {len(names)} values is right ({_and(wrong_names)}). "
        else:  # every output is wrong somewhere, not everywhere: say so, not "none is right"
            prefix = f"{_and(wrong_names)} are each wrong at some of the points checked. "
    first = names.index(wrong_names[0])
    shown = "Your answer" if len(names) == 1 else wrong_names[0]
    hint = " (`hint()` gives a hint.)" if ex.hints else ""
    not_finite = _not_finite(ex, ref, got[first], ref.expected[first], shown)
    if not_finite:  # show the points where it is not a number, not other wrong ones
        message, rows = not_finite
        only = torch.zeros_like(wrong)
        only[rows] = True
        return Verdict(prefix + message, None, _details(ex, ref, got, only, wrong_names), "not-finite")
    lower = _wrong_only_in_lower_precision(ex, ref, got, wrong, shown if len(names) == 1 else wrong_names[0])
    if lower:
        return Verdict(prefix + lower, None, details, "lower-precision")
    found = _pattern(ex, ref, got[first], ref.expected[first], shown)
    if found and found[0] == "sign" and len(wrong_names) > 1:  # name every output whose sign is flipped
        flipped = [n for n in wrong_names
                   if (_pattern(ex, ref, got[names.index(n)], ref.expected[names.index(n)], n) or ("",))[0] == "sign"]
        if len(flipped) > 1:
            found = ("sign", f"{_and(flipped)} have the right size but the wrong sign at every point checked: "
                             "check each minus sign.")
    found = found or _only_at_lesson_points(ex, ref, got, wrong) or _side_of_domain(ex, ref, wrong)
    if found:
        return Verdict(prefix + found[1], None, details, found[0])
    if ex.kind == "value":
        return Verdict(prefix + f"Not yet: that is not what {ex.compared_with} gives. Think it through again, "
                       "or run the code and find out why." + hint, None, details, "other")
    n_wrong, n = int(wrong.sum()), int(wrong.numel())
    subject = ("They differ" if len(wrong_names) > 1 else "It differs") if prefix else "Not yet: your answer differs"
    return Verdict(
        prefix + f"{subject} from {ex.quantity} at {n_wrong} of the {n} points checked." + hint,
        None,
        details,
        "other",
    )
