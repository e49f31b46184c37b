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


def _close(got: torch.Tensor, expected: torch.Tensor, tol, equal_nan: bool = False) -> torch.Tensor:
    """Per point: every element within tolerance. Shapes (n, *shape) -> (n,)."""
    ok = torch.isclose(got, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=equal_nan)
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
    from .convert import to_outputs
    from .judge import ExerciseDefinitionError, _arguments

    for mistake in ex.mistakes:
        try:
            outs = [
                to_outputs(mistake.answer(*_arguments(ex, ref.points[i])) if callable(mistake.answer)
                           else mistake.answer, ref.shapes, ex.outputs)  # a value exercise's mistake is a value
                for i in ref.valid
            ]
        except Exception as err:
            raise ExerciseDefinitionError(f"{ex.id}: mistake {mistake.id!r} failed: {err!r}") from err
        stacked = [torch.stack([o[k] for o in outs]) for k in range(len(ref.shapes))]
        with torch.no_grad():
            # NaN where the mistake gives NaN is part of the mistake (e.g. 0·log(0) in a loss)
            if matches(got, stacked, ex.tolerance, equal_nan=True):
                return mistake.id
    return None


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
    bad = ~torch.isfinite(flat_g)
    if bad.any():
        return (f"{name} is not a finite number at some points (NaN or infinity). "
                "Look for a division by zero, a log of 0 or of a negative number, or an overflow.")
    scale = float(flat_e.abs().max()) or 1.0
    if torch.allclose(flat_g, -flat_e, rtol=ex.tolerance.rtol, atol=ex.tolerance.atol):
        return f"{name} has the right size but the wrong sign everywhere: check each minus sign."
    if float(flat_g.abs().max()) == 0.0:
        return f"{name} is 0 at every point checked, but {getattr(ex, 'quantity', 'the derivative')} is not."
    if ex.kind == "value" and flat_e.numel() == 1:  # one number: any ratio or offset is "constant"
        return None
    usable = flat_e.abs() > 1e-3 * scale
    ratio = _constant(flat_g[usable] / flat_e[usable])
    if ratio is not None and not math.isclose(ratio, 1.0, rel_tol=1e-4):
        return (f"{name} is {ratio:.4g} times the correct value at every point checked: "
                "a constant factor is missing or extra somewhere.")
    offset = _constant(flat_g - flat_e, floor=1e-3 * scale)
    if offset is not None:
        return (f"{name} is off by the same constant ({offset:+.4g}) at every point checked: "
                "a constant term is missing or extra. Remember that the derivative of a constant is 0.")
    if ref.values is not None and g.shape == ref.values.shape and torch.allclose(
        g, ref.values, rtol=ex.tolerance.rtol, atol=ex.tolerance.atol
    ):
        return f"{name} equals the function itself, not its derivative: differentiate it."
    return None


def _side_of_domain(ex, ref, wrong: torch.Tensor) -> Optional[str]:
    """For one-input exercises: right for x > 0 only, or for x < 0 only."""
    if len(ex.inputs) != 1 or ex.pass_as != "float":
        return None
    xs = torch.tensor([float(ref.points[i][0]) for i in ref.valid])
    right = ~wrong
    x = ex.inputs[0]
    if right.any() and bool((xs[right] > 0).all()) and bool((xs[wrong] < 0).all()):
        return f"Your answer is right for {x} > 0 but wrong for {x} < 0: check the signs (an abs() or a square?)."
    if right.any() and bool((xs[right] < 0).all()) and bool((xs[wrong] > 0).all()):
        return f"Your answer is right for {x} < 0 but wrong for {x} > 0: check the signs (an abs() or a square?)."
    return None


def _details(ex, ref, got, wrong) -> list[PointDetail]:
    details = []
    for row in torch.nonzero(wrong).flatten().tolist()[:MAX_DETAILS]:
        point = ref.points[ref.valid[row]]
        inputs = {name: fmt(v) for name, v in zip(ex.inputs, point)}
        expected = ", ".join(fmt(e[row]) for e in ref.expected)
        answered = ", ".join(fmt(g[row]) for g in got)
        details.append(PointDetail(inputs, expected, answered))
    return details


def explain(ex, ref, got: list[torch.Tensor], wrong: torch.Tensor) -> Verdict:
    details = _details(ex, ref, got, wrong)
    mistake_id = _known_mistake(ex, ref, got)
    if mistake_id is not None:
        message = next(m.message for m in ex.mistakes if m.id == mistake_id)
        return Verdict(message, mistake_id, details)

    names = ex.outputs
    per_output_wrong = [bool(wrong_points([g], [e], ex.tolerance).any()) for g, e in zip(got, ref.expected)]
    prefix = ""
    if len(names) > 1:
        right = [n for n, w in zip(names, per_output_wrong) if not w]
        if right:
            prefix = f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} right. "
    for name, g, e, is_wrong in zip(names, got, ref.expected, per_output_wrong):
        if not is_wrong:
            continue
        shown = "Your answer" if len(names) == 1 else name
        pattern = _pattern(ex, ref, g, e, shown)
        if pattern:
            return Verdict(prefix + pattern, None, details)
        break
    if ex.kind == "value":
        return Verdict(prefix + f"Not yet: that is not what {getattr(ex, 'compared_with', 'torch.autograd')} "
                       "gives. Think it through again (hint() helps), or run the code and find out why.",
                       None, details)
    side = _side_of_domain(ex, ref, wrong)
    if side:
        return Verdict(prefix + side, None, details)
    n_wrong, n = int(wrong.sum()), int(wrong.numel())
    return Verdict(
        prefix + f"Not yet: your answer differs from {getattr(ex, 'quantity', 'the derivative')} "
        f"at {n_wrong} of the {n} points checked.",
        None,
        details,
    )
