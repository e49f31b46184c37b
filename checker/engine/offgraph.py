"""Does autograd see all of a student's `f`? (check_gradient's `f` is student code too.)

A function that takes a value out of autograd's graph (math.sin of a tensor, float(), .item(),
numpy, torch.tensor(a) of an input, .detach(), .data) still runs, but the part computed outside
the graph is missing from autograd's gradient, which then silently fills the gap with zeros.
Comparing a student's derivative with that would give a false verdict, so before judging:

- `GraphExits` (a TorchFunctionMode) records, while f runs, every operation that takes a value
  out of the graph from a tensor that requires grad, with the student's line that did it;
- `audit` compares autograd's directional derivative of f with f's own rate of change, measured
  by central differences at two step sizes. Only a clear, converged disagreement at a point where
  f is smooth counts (so kinks such as relu(0) and noisy float32 f stay fine), and an input that
  truly does not affect f (autograd 0, f flat) is fine too.

A disagreement is reported as a problem with f, named from the recorded exits when there are any.
"""
from __future__ import annotations

import linecache
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch.overrides import TorchFunctionMode

# torch's own files and ours: frames there are not the student's
_SKIP = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,  # the whole checker package
    os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
)


@dataclass
class Exit:
    """One operation that left the graph: what it was and the student's line."""

    kind: str  # "number", "item", "tolist", "numpy", "copy", "detach", "data"
    call: str  # as written: "float()", ".item()", "torch.tensor(...)"
    function: str = ""  # the student's function it happened in
    lineno: int = 0
    line: str = ""
    expression: str = ""  # the call being made when it happened, e.g. "math.sin(a)" (Python >= 3.11)


# func.__name__ (or a getset's name) -> (kind, how the student wrote it)
_EXITS = {
    "__float__": ("number", "float()"),
    "__int__": ("number", "int()"),
    "__index__": ("number", "int()"),
    "__complex__": ("number", "complex()"),
    "item": ("item", ".item()"),
    "tolist": ("tolist", ".tolist()"),
    "numpy": ("numpy", ".numpy()"),
    "__array__": ("numpy", "numpy"),
    "detach": ("detach", ".detach()"),
    "detach_": ("detach", ".detach_()"),
    "data": ("data", ".data"),
    "tensor": ("copy", "torch.tensor(...)"),
    "as_tensor": ("copy", "torch.as_tensor(...)"),
    "asarray": ("copy", "torch.asarray(...)"),
    "new_tensor": ("copy", ".new_tensor(...)"),
}


def _requires_grad(value, depth: int = 0) -> bool:
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if isinstance(value, (list, tuple)) and depth < 3:
        return any(_requires_grad(v, depth + 1) for v in list(value)[:1000])
    return False


def _student_frame():
    frame = sys._getframe(2)
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if not name.startswith(_SKIP) and "contextlib" not in name and "/numpy/" not in name:
            return frame
        frame = frame.f_back
    return None


def _expression(frame) -> str:
    """The source of the expression the frame is evaluating (a one-line call such as math.sin(a))."""
    positions = getattr(frame.f_code, "co_positions", None)
    if positions is None:  # Python 3.10: no column information
        return ""
    try:
        lineno, end_lineno, col, end_col = list(positions())[frame.f_lasti // 2]
    except (IndexError, ValueError, TypeError):
        return ""
    if lineno is None or lineno != end_lineno or col is None or end_col is None:
        return ""
    return linecache.getline(frame.f_code.co_filename, lineno)[col:end_col].strip()


class GraphExits(TorchFunctionMode):
    """Records the operations that take a value out of autograd's graph (see the module doc)."""

    def __init__(self):
        super().__init__()
        self.exits: list[Exit] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name == "__get__":  # a property such as .data: the descriptor names it
            name = getattr(getattr(func, "__self__", None), "__name__", "")
            if name != "data":
                name = ""
        exit_ = _EXITS.get(name)
        if exit_ is not None and len(self.exits) < 20 and (
                _requires_grad(args[:1]) or _requires_grad(kwargs.get("data"))):
            frame = _student_frame()
            record = Exit(*exit_)
            if frame is not None:
                record.function = frame.f_code.co_name
                record.lineno = frame.f_lineno
                record.line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
                record.expression = _expression(frame)
            self.exits.append(record)
        return func(*args, **kwargs)


_LIBRARY_CALL = re.compile(r"\b(math|np|numpy|cmath|scipy\.special)\.(\w+)\s*\(")


def _torch_name(name: str) -> str:
    if name in ("fabs",):
        return "torch.abs"
    if name in ("pow",):
        return "**"
    return f"torch.{name}" if hasattr(torch, name) else "the torch function of the same name"


def explain(exits: list[Exit]) -> Optional[str]:
    """'your f uses math.sin, which autograd cannot see: write it with torch.sin (in f, line 2: ...)'."""
    if not exits:
        return None
    first = exits[0]
    where = ""
    if first.expression:
        where = f" (at `{first.expression}`, in {first.function}, line {first.lineno})"
    elif first.line:
        where = f" (in {first.function}, line {first.lineno}: {first.line})"
    library = _LIBRARY_CALL.search(first.expression or first.line or "")
    if first.kind in ("number", "numpy") and library:
        module, name = library.groups()
        shown = f"{module}.{name}"
        which = "numpy, " if module in ("np", "numpy") else ""
        return (f"your f uses {shown} ({which}a function on plain numbers), which autograd cannot see: "
                f"write it with {_torch_name(name)}{where}")
    if first.kind == "number":
        return (f"your f turns a tensor into a Python number ({first.call}, or a math function), which "
                f"autograd cannot follow: keep it a tensor and use torch functions{where}")
    if first.kind in ("item", "tolist"):
        return (f"your f calls {first.call}, which turns a tensor into plain Python numbers that autograd "
                f"cannot follow: keep it a tensor{where}")
    if first.kind == "numpy":
        return (f"your f goes through numpy, which autograd cannot see: use the torch function of the same "
                f"name{where}")
    if first.kind == "copy":
        return (f"your f makes a new tensor from an input's values with {first.call}: autograd does not "
                f"connect the copy to the input. Use the input itself (or torch.stack/torch.cat to combine "
                f"several){where}")
    if first.kind == "detach":
        return (f"your f calls {first.call}, which cuts the gradient: autograd treats the result as a "
                f"constant{where}")
    return (f"your f uses {first.call}, which is outside autograd's graph: autograd treats it as a "
            f"constant{where}")


# -- the numerical audit ---------------------------------------------------------------------
@dataclass
class Disagreement:
    input_name: str
    autograd: float
    measured: float
    along: bool = False  # measured along a direction in a tensor input, not d/dx itself


def _finite_float(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all())


def audit(
    evaluate: Callable[[list[torch.Tensor]], Optional[torch.Tensor]],
    point: list[torch.Tensor],
    jacobians: list[torch.Tensor],
    wrt: list[int],
    names: list[str],
    generator: torch.Generator,
) -> Optional[Disagreement]:
    """The first input along which autograd's derivative of f clearly disagrees with f's own slope.

    `evaluate(inputs)` runs f (no grad needed) and returns its output as a float64 tensor, or None if
    it failed; `jacobians[k]` is autograd's d f / d input wrt[k], of shape f's shape + the input's.
    """
    base = evaluate(point)
    if base is None or not _finite_float(base):
        return None
    for k, i in enumerate(wrt):
        x = point[i]
        direction = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        direction = direction / max(float(direction.abs().max()), 1e-12) if direction.numel() else direction
        if x.dim() == 0:  # a number: move it up, so that the slopes are d/dx themselves
            direction = torch.ones((), dtype=torch.float64)
        h = 1e-4 * max(1.0, float(x.abs().max()) if x.numel() else 1.0)
        values = {}
        for step in (-2, -1, 1, 2):
            moved = list(point)
            moved[i] = x + step * h * direction
            out = evaluate(moved)
            if out is None or out.shape != base.shape or not _finite_float(out):
                break
            values[step] = out
        if len(values) < 4:
            continue
        jac = jacobians[k].reshape(base.numel(), -1)
        autograd = (jac @ direction.reshape(-1)).reshape(base.shape)
        central = (values[1] - values[-1]) / (2 * h)
        wide = (values[2] - values[-2]) / (4 * h)
        left, right = (base - values[-1]) / h, (values[1] - base) / h
        scale = float(torch.maximum(central.abs(), autograd.abs()).max())
        # what f's own noise and curvature allow: the two step sizes and the two sides must agree
        noise = float((central - wide).abs().max()) + 1e-12 * (1.0 + float(base.abs().max())) / h
        if float((right - left).abs().max()) > 0.05 * scale + 10 * noise:
            continue  # a kink or a jump here: the slope is not one number, so no verdict on it
        gap = float((central - autograd).abs().max())
        if gap > 1e-3 * scale + 10 * noise + 1e-8:
            worst = int((central - autograd).abs().reshape(-1).argmax())
            return Disagreement(names[k], float(autograd.reshape(-1)[worst]), float(central.reshape(-1)[worst]),
                                along=x.dim() > 0)
    return None


def fmt(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else str(value)
