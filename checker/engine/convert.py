"""Turning whatever an answer returned into float64 CPU tensors, or a clear message.

Accepted: Python floats and ints, numpy scalars and arrays, tensors of any real dtype
on any device (with or without grad_fn). For several outputs, a tuple or list of those.
Everything else gets a message that says what came back and what was expected.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import torch


class NotAttempted(Exception):
    """The answer is still the stub (None, `...`, or NotImplementedError)."""


class BadAnswer(Exception):
    """The answer has the wrong type or shape; the message is for the student."""


class BadShape(BadAnswer):
    """A tensor of the wrong shape: `got` where `want` was expected, for the output `name`."""

    def __init__(self, message: str, name: str, got: tuple, want: tuple):
        super().__init__(message)
        self.name, self.got, self.want = name, got, want


def describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        shape = tuple(value.shape)
        return f"a tensor of shape {shape} and dtype {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, str):
        shown = str(value) if len(value) <= 30 else str(value[:27]) + "..."
        return f"the string {shown!r}"
    return f"a value of type {type(value).__name__}"


def _number_word(shape: tuple) -> str:
    return "a single number" if shape == () else f"a tensor of shape {shape}"


def _numbers(value) -> bool:
    """A (nested) list of plain real numbers, as torch.tensor() takes it."""
    if isinstance(value, (list, tuple)):
        return all(_numbers(v) for v in value)
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def to_tensor(value: Any, shape: tuple, name: str, strict: bool = False) -> torch.Tensor:
    """One output as a float64 CPU tensor of `shape` (() means a single number).

    `strict`: a gradient with respect to a 0-dim tensor must be 0-dim too, not a tensor of shape (1,)
    (which broadcasts the parameter to shape (1,) in an update such as `b - lr * db`)."""
    if value is None or value is Ellipsis:
        raise NotAttempted()
    if isinstance(value, str):
        raise BadAnswer(f"{name} came back as {describe(value)}; give the number itself, not text.")
    if isinstance(value, bool):
        raise BadAnswer(f"{name} came back as {value}, a True/False value; it should be a number.")
    if isinstance(value, complex) or (isinstance(value, torch.Tensor) and value.is_complex()):
        raise BadAnswer(f"{name} came back as a complex number; derivatives here are real numbers.")
    if isinstance(value, numbers.Real):
        tensor = torch.tensor(float(value), dtype=torch.float64, device="cpu")
    elif isinstance(value, torch.Tensor):
        if value.dtype == torch.bool:
            raise BadAnswer(f"{name} came back as a tensor of True/False values; it should hold numbers.")
        if value.device.type == "meta":
            raise BadAnswer(f"{name} came back as a tensor on the 'meta' device, which holds no numbers: "
                            "compute it on the CPU or a GPU.")
        if value.layout != torch.strided:  # sparse and other layouts: comparing them would raise in torch itself
            layout = str(value.layout).replace("torch.", "")
            raise BadAnswer(f"{name} came back as a tensor with layout {layout}, not an ordinary (dense) tensor; "
                            "return a dense one, e.g. with `.to_dense()`.")
        if too_coarse(value.dtype):
            raise _too_coarse(name, value.dtype)
        # a copy: an answer that returns the same tensor each call (a .grad it keeps filling) must not
        # change the values already collected at earlier points
        tensor = value.detach().to(device="cpu", dtype=torch.float64, copy=True)
    elif isinstance(value, (list, tuple)) and shape != () and _numbers(value):
        tensor = torch.tensor(value, dtype=torch.float64, device="cpu")  # [2.0, 4.0, 6.0] for a tensor of shape (3,)
    elif type(value).__module__ == "numpy" and hasattr(value, "dtype"):
        if value.dtype.kind == "c":
            raise BadAnswer(f"{name} came back as a complex number; derivatives here are real numbers.")
        if value.dtype.kind not in "fiu":
            raise BadAnswer(f"{name} came back as {describe(value)}; it should be {_number_word(shape)}.")
        if value.dtype.kind == "f" and value.dtype.itemsize < 2:  # numpy extensions such as float8
            raise _too_coarse(name, value.dtype)
        tensor = torch.as_tensor(value.astype("float64"), device="cpu")
    else:
        hint = ""
        if callable(value):
            hint = " Did you forget to call it, or return the function instead of its value?"
        elif isinstance(value, (list, tuple)) and shape == ():
            hint = " Return one number, not a collection."
        elif isinstance(value, (list, tuple)):
            hint = " Make it a tensor, e.g. torch.tensor([...])."
        raise BadAnswer(f"{name} came back as {describe(value)}; it should be {_number_word(shape)}.{hint}")

    if shape == ():
        if strict and isinstance(value, torch.Tensor) and value.dim() > 0 and tensor.numel() == 1:
            raise BadShape(
                f"{name} has shape {tuple(tensor.shape)}, but it should be a 0-dim tensor, shape (): the gradient "
                "with respect to a 0-dim tensor is 0-dim too. (A shape (1,) gradient would turn the parameter "
                "into shape (1,) in an update such as b - lr * db.) `.reshape(())` or `.squeeze()` gives one.",
                name, tuple(tensor.shape), shape,
            )
        if tensor.numel() != 1:
            raise BadShape(
                f"{name} came back as {describe(value)}; it should be a single number "
                "(a float, or a tensor with one element).",
                name, tuple(tensor.shape), shape,
            )
        return tensor.reshape(())
    if tuple(tensor.shape) != shape:
        raise BadShape(
            f"{name} has shape {tuple(tensor.shape)}, but it should have shape {shape}. "
            "A gradient has the shape of the tensor it is taken with respect to.",
            name, tuple(tensor.shape), shape,
        )
    return tensor


def to_outputs(value: Any, shapes: Sequence[tuple], names: Sequence[str],
               strict: bool = False) -> tuple[torch.Tensor, ...]:
    """All outputs of one answer: a single value when one is expected, else a tuple."""
    if value is None or value is Ellipsis:
        raise NotAttempted()
    if len(shapes) == 1:
        return (to_tensor(value, shapes[0], names[0], strict),)
    if isinstance(value, dict):
        raise BadAnswer(f"Your answer returned a dict; return a tuple ({', '.join(names)}).")
    if not isinstance(value, (tuple, list)):
        raise BadAnswer(
            f"Your answer returned {describe(value)}; it should return {len(shapes)} values, "
            f"as a tuple ({', '.join(names)})."
        )
    if len(value) != len(shapes):
        raise BadAnswer(
            f"Your answer returned {len(value)} values; it should return {len(shapes)}: "
            f"({', '.join(names)})."
        )
    return tuple(to_tensor(v, s, n, strict) for v, s, n in zip(value, shapes, names))



def precision(value: Any) -> float:
    """Machine epsilon of the least precise float in an answer (float64's for plain numbers)."""
    if isinstance(value, (tuple, list)):
        return max((precision(v) for v in value), default=0.0)
    dtype = getattr(value, "dtype", None)
    if isinstance(value, torch.Tensor) and dtype.is_floating_point:
        return _eps(dtype)
    if type(value).__module__ == "numpy" and getattr(dtype, "kind", "") == "f":
        import numpy  # already imported: the answer is a numpy value

        return float(numpy.finfo(dtype).eps)
    return torch.finfo(torch.float64).eps


# The least precise floats an answer may come in: bfloat16 keeps 8 significant bits, float16 11. They are
# judged at their own rounding of the expected value; anything coarser (float8, float4) is refused.
HALF_PRECISION = (torch.float16, torch.bfloat16)


def _eps(dtype: torch.dtype) -> float:
    try:
        return float(torch.finfo(dtype).eps)
    except Exception:  # float4 and other packed dtypes have no finfo: coarser than anything usable
        return 1.0


def half_precision(value: Any) -> Optional[torch.dtype]:
    """float16 or bfloat16 if the answer (or any of its outputs) comes in that precision (bfloat16 first)."""
    found = set()

    def visit(v, depth=0):
        if isinstance(v, (tuple, list)) and depth < 3:
            for item in list(v)[:100]:
                visit(item, depth + 1)
        elif isinstance(v, torch.Tensor) and v.dtype in HALF_PRECISION:
            found.add(v.dtype)
        elif type(v).__module__ == "numpy" and str(getattr(v, "dtype", "")) == "float16":
            found.add(torch.float16)

    visit(value)
    return torch.bfloat16 if torch.bfloat16 in found else (torch.float16 if found else None)


def too_coarse(dtype: torch.dtype) -> bool:
    """A floating dtype coarser than bfloat16 (float8, float4): too few digits to judge anything."""
    return dtype.is_floating_point and _eps(dtype) > _eps(torch.bfloat16)


def _too_coarse(name: str, dtype) -> BadAnswer:
    shown = str(dtype).replace("torch.", "")
    bits = round(-math.log2(_eps(dtype))) + 1 if _eps(dtype) < 1 else 1
    return BadAnswer(
        f"{name} came back as a {shown} tensor, which keeps only {bits} significant bit{'s' if bits != 1 else ''}: "
        "far too few to tell a right answer from a wrong one. Return float32 or float64 (or a Python float); "
        "float16 and bfloat16 are the least precise the checker accepts."
    )
