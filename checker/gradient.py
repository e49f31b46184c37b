"""check_gradient: compare any hand-written gradient with autograd, no exercise needed.

Instructors use it to author exercises; students use it to check their own
derivations. It builds a one-off Exercise around `f` and grades `manual_fn` with it.
"""
from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable, Optional, Sequence

import torch

from .exercise import Exercise, Tolerance
from .guard import on_cpu
from .result import Result


def _input_names(f: Callable, count: int) -> tuple[str, ...]:
    try:
        names = [p.name for p in inspect.signature(f).parameters.values()][:count]
    except (TypeError, ValueError):
        names = []
    return tuple(names) if len(names) == count else tuple(f"x{i}" for i in range(count))


def _perturbed(examples: tuple) -> Callable:
    """Sampler: each example input plus seeded noise of its own scale and shape."""

    def sample(generator: torch.Generator) -> tuple:
        point = []
        for value in examples:
            if isinstance(value, torch.Tensor):
                base = value.detach().to("cpu", torch.float64)
                scale = 0.5 * max(1.0, float(base.abs().max()) if base.numel() else 1.0)
                noise = torch.randn(base.shape, generator=generator, dtype=torch.float64)
                point.append(base + scale * noise)
            else:
                scale = 0.5 * max(1.0, abs(float(value)))
                point.append(float(value) + scale * float(torch.randn((), generator=generator, dtype=torch.float64)))
        return tuple(point)

    return sample


@on_cpu()
def check_gradient(
    manual_fn: Callable,
    f: Callable,
    *example_inputs: Any,
    wrt: Optional[Sequence[str]] = None,
    n_samples: int = 32,
    tolerance: Optional[Tolerance] = None,
) -> Result:
    """Compare `manual_fn(*inputs)` with autograd's gradient of `f(*inputs)`.

    `f` takes the inputs (as float64 tensors) and returns a scalar tensor. With one
    input, `manual_fn` returns that one partial derivative; with several, a tuple of
    partials in the same order. `wrt` names the inputs to differentiate with respect
    to (default: all; names are f's parameter names). Checked at the example inputs
    and `n_samples` points around them.
    """
    if not example_inputs:
        raise TypeError("check_gradient needs at least one example input, e.g. check_gradient(df, f, 3.0)")
    from .judge import grade

    names = _input_names(f, len(example_inputs))
    wrt = tuple(wrt) if wrt is not None else names
    unknown = set(wrt) - set(names)
    if unknown:
        raise ValueError(f"wrt names {sorted(unknown)} are not inputs of f {names}")
    floats = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in example_inputs)
    exercise = Exercise(
        id="check_gradient",
        title=f"gradient of {getattr(f, '__name__', 'f')}",
        signature=f"{getattr(manual_fn, '__name__', 'manual')}({', '.join(names)})",
        hints=(),
        solution_fn=manual_fn,
        function=f,
        inputs=names,
        points=(tuple(example_inputs),),
        sampler=_perturbed(tuple(example_inputs)),
        n_samples=n_samples,
        wrt=wrt,
        outputs=tuple(f"d/d{name}" for name in wrt),
        tolerance=tolerance or Tolerance(),
        pass_as="float" if floats else "tensor",
        batched=False,
    )
    return grade(exercise, manual_fn)
