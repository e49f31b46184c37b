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

from .convert import to_outputs
from .exercise import ExerciseDefinitionError
from .result import PointDetail

MAX_DETAILS = 3


@dataclass
class Verdict:
    message: str
    mistake: Optional[str] = None
    details: list[PointDetail] = field(default_factory=list)


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


def _known_mistake(ex, ref, got) -> Optional[str]:
    for mistake in ex.mistakes:
        cached = ex._mistake_cache.get(mistake.id)
        if cached is not None and cached[0] is ref:  # the same points as last time: the same outputs
            stacked = cached[1]
        else:
            try:
                stacked = _mistake_outputs(ex, ref, mistake)
            except Exception as err:
                raise ExerciseDefinitionError(f"{ex.id}: mistake {mistake.id!r} failed: {err!r}") from err
            ex._mistake_cache[mistake.id] = (ref, stacked)
        if stacked is None:
            continue
        by = [k for k, name in enumerate(ex.outputs) if mistake.known_by is None or name in mistake.known_by]
        with torch.no_grad():
            # NaN where the mistake gives NaN is part of the mistake (e.g. 0·log(0) in a loss)
            if matches([got[k] for k in by], [stacked[k] for k in by], ex.tolerance, equal_nan=True):
                return mistake.id
    return None


def _mistake_outputs(ex, ref, mistake) -> Optional[list[torch.Tensor]]:
    """What the mistake gives at every valid point, stacked like the reference (None: it does not apply)."""
    if mistake.transform is not None:
        return mistake.transform([e.clone() for e in ref.expected])
    answer = ex.measured(mistake.answer)  # through the exercise's harness, if it has one
    if callable(answer):
        outs = [to_outputs(answer(*ex.arguments(ref.points[i], ref.dtype(i))), ref.shapes, ex.outputs)
                for i in ref.valid]
    else:  # a value exercise's mistake is a value
        outs = [to_outputs(mistake.answer, ref.shapes, ex.outputs) for _ in ref.valid]
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


def _pattern(ex, ref, g: torch.Tensor, e: torch.Tensor, name: str) -> Optional[str]:
    """A generic explanation of how output `name` (stacked over points) is wrong."""
    flat_g, flat_e = g.reshape(-1), e.reshape(-1)
    single = flat_e.numel() == 1  # a value exercise: one number, so no "at every point"
    everywhere = "" if single else " at every point checked"
    scale = float(flat_e.abs().max()) or 1.0
    if torch.allclose(flat_g, -flat_e, rtol=ex.tolerance.rtol, atol=ex.tolerance.atol):
        return f"{name} has the right size but the wrong sign{everywhere}: check each minus sign."
    if single:  # with one number, any ratio or offset would look "constant"
        return None
    if float(flat_g.abs().max()) == 0.0:
        return f"{name} is 0{everywhere}, but {ex.quantity} is not."
    usable = flat_e.abs() > 1e-3 * scale
    ratio = _constant(flat_g[usable] / flat_e[usable])
    if ratio is not None and not math.isclose(ratio, 1.0, rel_tol=1e-4):
        return (f"{name} is {ratio:.4g} times the correct value{everywhere}: "
                "a constant factor is missing or extra somewhere.")
    offset = _constant(flat_g - flat_e, floor=1e-3 * scale)
    if offset is not None:
        return (f"{name} is off by the same constant ({offset:+.4g}){everywhere}: "
                "a constant term is missing or extra. Remember that the derivative of a constant is 0.")
    if ref.values is not None and g.shape == ref.values.shape and torch.allclose(
        g, ref.values, rtol=ex.tolerance.rtol, atol=ex.tolerance.atol
    ):
        return f"{name} equals the function itself, not its derivative: differentiate it."
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
    value = g[row].reshape(-1)
    shown = fmt(value[~torch.isfinite(value)][0]) if value.numel() > 1 else fmt(g[row])
    others = len(rows) - 1
    more = f" (and at {others} other point{'s' if others != 1 else ''})" if others else ""
    quantity = ex.quantity if e[row].numel() == 1 else f"{ex.quantity} there"
    return (f"{name} is not a finite number: it is {shown}{where(ex, ref.points[index], ref.dtype(index))}{more}, "
            f"where {quantity} is {fmt(e[row])}. {_OVERFLOW}"), rows


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
    return (f"{name} is right when computed in float64 but not in {low}, the precision models train in: "
            f"{where(ex, ref.points[index], ref.dtypes[index]).strip()} it is {fmt(got[first][rows[0]])}, "
            f"where {ex.quantity} is {fmt(ref.expected[first][rows[0]])} ({len(rows)} of the "
            f"{sum(ref.dtypes[i] != torch.float64 for i in ref.valid)} {low} points are wrong). Rewrite it so "
            f"that no step loses the digits that matter or overflows in {low}.")


def _side_of_domain(ex, ref, wrong: torch.Tensor) -> Optional[str]:
    """For one-input exercises: right for x > 0 only, or for x < 0 only."""
    if ex.kind != "gradient" or len(ex.inputs) != 1 or ex.pass_as != "float":
        return None
    xs = torch.tensor([float(ref.points[i][0]) for i in ref.valid], dtype=torch.float64)
    right = ~wrong
    x = ex.inputs[0]
    for good, bad in ((">", "<"), ("<", ">")):
        sign = 1 if good == ">" else -1
        if right.any() and bool((sign * xs[right] > 0).all()) and bool((sign * xs[wrong] < 0).all()):
            return (f"Your answer is right for {x} {good} 0 but wrong for {x} {bad} 0: "
                    "check the signs (an abs() or a square?).")
    return None


def _only_at_lesson_points(ex, ref, got, wrong: torch.Tensor) -> Optional[str]:
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
    return (f"Your answer is right at {where_}, the lesson's own point, but it gives the same value at every other "
            f"point checked. {ex.quantity[0].upper() + ex.quantity[1:]} is a function of the inputs, "
            "so your answer must be right for every input, not just this one.")


def _reordered(ex, ref, got) -> Optional[str]:
    """The right values returned in the wrong order."""
    n = len(got)
    if n < 2:
        return None
    order = []
    for g in got:
        matches_at = [j for j, e in enumerate(ref.expected)
                      if g.shape == e.shape and not wrong_points([g], [e], ex.tolerance).any()]
        if not matches_at:
            return None
        order.append(matches_at)
    if all(i in m for i, m in enumerate(order)):
        return None
    return (f"Your values are right but in the wrong order: return them as ({', '.join(ex.outputs)}). "
            f"Yours look like ({', '.join(ex.outputs[m[0]] for m in order)}).")


def _details(ex, ref, got, wrong, outputs: list[str]) -> list[PointDetail]:
    """Up to three failing points; with several outputs, only `outputs` are shown, by name."""
    def shown(tensors, row):
        if len(tensors) == 1:
            return fmt(tensors[0][row])
        return ", ".join(f"{name} = {fmt(t[row])}" for name, t in zip(ex.outputs, tensors) if name in outputs)

    details = []
    for row in torch.nonzero(wrong).flatten().tolist()[:MAX_DETAILS]:
        point = ref.points[ref.valid[row]]
        inputs = {name: fmt(v) for name, v in zip(ex.inputs, point)}
        if len(ex.precisions) > 1:
            inputs["dtype"] = dtype_name(ref.dtype(ref.valid[row]))
        details.append(PointDetail(inputs, shown(ref.expected, row), shown(got, row)))
    return details


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def explain(ex, ref, got: list[torch.Tensor], wrong: torch.Tensor) -> Verdict:
    names = ex.outputs
    wrong_names = [n for n, g, e in zip(names, got, ref.expected) if wrong_points([g], [e], ex.tolerance).any()]
    details = _details(ex, ref, got, wrong, wrong_names)
    mistake_id = _known_mistake(ex, ref, got)
    if mistake_id is not None:
        message = next(m.message for m in ex.mistakes if m.id == mistake_id)
        return Verdict(message, mistake_id, details)
    reordered = _reordered(ex, ref, got)
    if reordered:
        return Verdict(reordered, None, _details(ex, ref, got, wrong, list(names)))

    prefix = ""
    if len(names) > 1:
        right_names = [n for n in names if n not in wrong_names]
        if right_names:
            prefix = (f"{_and(right_names)} {'is' if len(right_names) == 1 else 'are'} right; "
                      f"{_and(wrong_names)} {'is' if len(wrong_names) == 1 else 'are'} not. ")
        else:  # a sentence that ends: none of them is right
            prefix = f"None of your {len(names)} values is right ({_and(wrong_names)}). "
    first = names.index(wrong_names[0])
    shown = "Your answer" if len(names) == 1 else wrong_names[0]
    hint = " (`hint()` gives a hint.)" if ex.hints else ""
    not_finite = _not_finite(ex, ref, got[first], ref.expected[first], shown)
    if not_finite:  # show the points where it is not a number, not other wrong ones
        message, rows = not_finite
        only = torch.zeros_like(wrong)
        only[rows] = True
        return Verdict(prefix + message, None, _details(ex, ref, got, only, wrong_names))
    lower = _wrong_only_in_lower_precision(ex, ref, got, wrong, shown if len(names) == 1 else wrong_names[0])
    if lower:
        return Verdict(prefix + lower, None, details)
    explanation = (_pattern(ex, ref, got[first], ref.expected[first], shown)
                   or _only_at_lesson_points(ex, ref, got, wrong) or _side_of_domain(ex, ref, wrong))
    if explanation:
        return Verdict(prefix + explanation, None, details)
    if ex.kind == "value":
        return Verdict(prefix + f"Not yet: that is not what {ex.compared_with} gives. Think it through again, "
                       "or run the code and find out why." + hint, None, details)
    n_wrong, n = int(wrong.sum()), int(wrong.numel())
    subject = ("They differ" if len(wrong_names) > 1 else "It differs") if prefix else "Not yet: your answer differs"
    return Verdict(
        prefix + f"{subject} from {ex.quantity} at {n_wrong} of the {n} points checked." + hint,
        None,
        details,
    )
