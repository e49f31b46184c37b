"""check_gradient: compare any hand-written gradient with autograd, no exercise needed.

Instructors use it to author exercises; students use it to check their own derivations.
Here `f` is student code too, so it is run like an answer (time limit, state restored) and
checked before anything is judged: an `f` that autograd cannot fully see (math.sin of a tensor,
float(), .item(), numpy, torch.tensor(a), .detach()) would make autograd's gradient wrong, and a
verdict on the student's derivative false, so that is reported as a problem with f instead.

A scalar f is checked as a gradient: one partial per input, each of its input's shape.
A vector-valued f (any non-scalar output) is checked as a Jacobian: the partial for an input x
has shape f(...).shape + x.shape, entry [i, j] = d f[i] / d x[j], as torch.autograd.functional.jacobian
returns it. Its transpose and its diagonal are named when a student returns them.
"""
from __future__ import annotations

import inspect
import numbers
import warnings
import zlib
from typing import Any, Callable, Optional, Sequence

import torch

from . import convert, guard, offgraph
from .exercise import Exercise, Mistake, Tolerance, as_float64
from .result import Result

ID = "check_gradient"
MAX_INPUT_NUMEL = 100_000  # elements over all example inputs
MAX_JACOBIAN = 250_000  # entries of one Jacobian
F_TIME_LIMIT = 10.0  # seconds for all the evaluations of f together
AUDIT_POINTS = 3  # points where autograd's gradient is compared with f's own slope


class _Refused(Exception):
    """check_gradient cannot judge: `result` says why, in words for the student."""

    def __init__(self, message: str, mistake: str = "bad-f"):
        super().__init__(message)
        self.message, self.mistake = message, mistake


def _input_names(f: Callable, count: int) -> tuple[str, ...]:
    try:
        names = [p.name for p in inspect.signature(f).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
    except (TypeError, ValueError):
        names = []
    return tuple(names) if len(names) == count else tuple(f"x{i}" for i in range(count))


def _example(value: Any, index: int) -> Any:
    """An example input as a float (a number) or a float64 CPU tensor, or _Refused."""
    which = f"Example input {index + 1}"
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        raise _Refused(f"{which} is True/False; give a number or a tensor of numbers.", "bad-input")
    if isinstance(value, numbers.Real):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise _Refused(f"{which} is {number}; give a finite number.", "bad-input")
        return number
    if isinstance(value, complex) or (isinstance(value, torch.Tensor) and value.is_complex()):
        raise _Refused(f"{which} is complex; check_gradient works with real numbers.", "bad-input")
    if type(value).__module__ == "numpy" and hasattr(value, "dtype"):
        if getattr(value.dtype, "kind", "") not in "fiu":
            raise _Refused(f"{which} is {convert.describe(value)}; give real numbers.", "bad-input")
        value = torch.as_tensor(value.astype("float64"))
    elif isinstance(value, (list, tuple)) and convert._numbers(value):
        value = torch.tensor(value, dtype=torch.float64)
    if not isinstance(value, torch.Tensor):
        raise _Refused(f"{which} is {convert.describe(value)}; give a number or a tensor.", "bad-input")
    if value.device.type == "meta":
        raise _Refused(f"{which} is on the 'meta' device, which holds no numbers.", "bad-input")
    if value.layout != torch.strided:
        raise _Refused(f"{which} is a sparse tensor; give a dense one.", "bad-input")
    tensor = value.detach().to(device="cpu", dtype=torch.float64, copy=True)
    if not bool(torch.isfinite(tensor).all()):
        raise _Refused(f"{which} holds NaN or infinity; give finite numbers.", "bad-input")
    return tensor


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


def _fn_name(fn: Any, default: str) -> str:
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name != "<lambda>" else default


# -- f: run it, differentiate it, audit it ------------------------------------------------------
def _where(names, point) -> str:
    from .diagnose import fmt

    return ", ".join(f"{name} = {fmt(v)}" for name, v in zip(names, point))


def _f_output(out: Any, exits: list) -> torch.Tensor:
    """f's return value as a real floating tensor, or _Refused saying what is wrong with it."""
    if isinstance(out, torch.Tensor):
        if out.is_complex():
            raise _Refused("Your f returned a complex tensor; check_gradient differentiates real functions.")
        if not out.dtype.is_floating_point:
            raise _Refused(f"Your f returned {convert.describe(out)}: integers and True/False values have no "
                           "derivative. Compute f in floating point.")
        if out.device.type == "meta":
            raise _Refused("Your f returned a tensor on the 'meta' device, which holds no numbers.")
        return out
    if out is None:
        raise _Refused("Your f returned None. Did you forget `return`?")
    if isinstance(out, numbers.Number) or type(out).__module__ == "numpy":
        why = offgraph.explain(exits)
        if why:
            raise _Refused(f"autograd cannot differentiate your f: {why}. Its result is a plain number, not a "
                           "tensor that remembers how it was computed.", "f-leaves-graph")
        raise _Refused(f"Your f returned {convert.describe(out)}, not a tensor: autograd can only differentiate "
                       "what torch computes from the inputs (torch.sin, torch.exp, ...). "
                       "(check_gradient takes your derivative first, then f: check_gradient(manual, f, *inputs).)",
                       "f-leaves-graph")
    raise _Refused(f"Your f returned {convert.describe(out)}; it must return a tensor computed from its inputs.")


def _jacobians(out: torch.Tensor, targets: list[torch.Tensor]) -> list[torch.Tensor]:
    """d out / d target for each target: shape out.shape + target.shape (zeros where unused)."""
    if not out.requires_grad:
        return [torch.zeros(tuple(out.shape) + tuple(t.shape), dtype=torch.float64) for t in targets]
    flat = out.reshape(-1)
    rows: list[list[torch.Tensor]] = [[] for _ in targets]
    for i in range(flat.numel()):
        grads = torch.autograd.grad(flat[i], targets, retain_graph=True, allow_unused=True)
        for k, (g, t) in enumerate(zip(grads, targets)):
            rows[k].append(torch.zeros_like(t) if g is None else g.detach().to(torch.float64))
    return [torch.stack(r).reshape(tuple(out.shape) + tuple(t.shape)) for r, t in zip(rows, targets)]


class _F:
    """The student's f, run under the checker's guard."""

    def __init__(self, f: Callable, names: tuple, wrt: tuple):
        self.f, self.names, self.wrt = f, names, wrt
        self.exits: list[offgraph.Exit] = []
        self.shape: Optional[tuple] = None

    def differentiate(self, point: tuple):
        """(Jacobians for wrt, value) at `point` with autograd; records what left the graph."""
        with torch.enable_grad():  # the student may have switched grad off; reshapes below need it too
            return self._differentiate(point)

    def _differentiate(self, point: tuple):
        inputs = [as_float64(v).clone().requires_grad_(name in self.wrt) for name, v in zip(self.names, point)]
        tracer = offgraph.GraphExits()
        try:
            # torch's own warning about float() of a tensor that requires grad: the checker explains it instead
            with tracer, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = self.f(*inputs)
        finally:
            self.exits += tracer.exits
        torch.set_grad_enabled(True)  # f may have switched it off (differentiate's `with` restores it)
        out = _f_output(out, self.exits)
        if out.numel() == 1:  # a one-element tensor is a scalar: its derivative is a gradient
            out = out.reshape(())
        shape = tuple(out.shape)
        if self.shape is None:
            self.shape = shape
            for name, t in zip(self.names, inputs):
                if name in self.wrt and out.numel() * t.numel() > MAX_JACOBIAN and shape != ():
                    raise _Refused(
                        f"Your f returns {out.numel()} values and {name} has {t.numel()} entries: its Jacobian "
                        f"would have {out.numel() * t.numel()} entries, too many to check here. Check a scalar "
                        "function of f instead, such as (v * f(...)).sum() for a vector v.", "f-too-large")
        elif shape != self.shape:
            raise _Refused(f"Your f returns shape {self.shape} at the example input but shape {shape} at "
                           f"{_where(self.names, point)}; its output's shape must not depend on the values.")
        targets = [t for name, t in zip(self.names, inputs) if name in self.wrt]
        jacobians = _jacobians(out, targets)
        return jacobians, out.detach().to(torch.float64)

    def value(self, inputs: list[torch.Tensor]) -> Optional[torch.Tensor]:
        """f at `inputs` as float64, or None if it fails (for the numerical audit)."""
        try:
            with torch.no_grad(), offgraph.GraphExits(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = self.f(*[t.clone() for t in inputs])
            if isinstance(out, torch.Tensor) and out.dtype.is_floating_point and not out.is_complex():
                out = out.detach().to(device="cpu", dtype=torch.float64)
                return out.reshape(()) if out.numel() == 1 else out
            if isinstance(out, numbers.Real) and not isinstance(out, bool):
                return torch.tensor(float(out), dtype=torch.float64)
        except Exception:
            return None
        return None


def _f_failed(err: BaseException, f: _F, where: str) -> _Refused:
    why = offgraph.explain(f.exits)
    if isinstance(err, guard.TimeLimitExceeded):
        return _Refused(f"Your f took longer than {F_TIME_LIMIT:g} s to run at all the points and was stopped. "
                        "Is there an infinite loop or a long sleep?", "f-error")
    if why:  # e.g. numpy refusing a tensor that requires grad: the real problem is the way out of the graph
        return _Refused(f"autograd cannot differentiate your f: {why}.", "f-leaves-graph")
    return _Refused(f"Your f raised an error at {where}: {guard.describe_exception(err)}", "f-error")


def check_gradient(
    manual_fn: Callable,
    f: Callable,
    *example_inputs: Any,
    wrt: Optional[Sequence[str]] = None,
    n_samples: int = 32,
    tolerance: Optional[Tolerance] = None,
) -> Result:
    """Compare `manual_fn(*inputs)` with autograd's derivative of `f(*inputs)`.

    `f` takes the inputs (as float64 tensors) and returns a tensor, computed with torch
    functions. Example inputs are numbers, numpy values or tensors (any real dtype, any device).
    `manual_fn` receives Python floats when every example input is a number (0-d float64 tensors
    if it needs tensors), float64 tensors otherwise. It returns one partial per input in `wrt`
    (default: all; names are f's parameter names), a tuple in that order when there are several:

    - f returns a scalar: each partial has the shape of its input (a gradient);
    - f returns a tensor of shape S: each partial is the Jacobian, of shape S + the input's shape,
      entry [i, j] = d f[i] / d x[j] (what torch.autograd.functional.jacobian returns). To check a
      vector-Jacobian product vᵀJ instead, make f scalar: `lambda x: (v * g(x)).sum()`.

    Checked at the example inputs and `n_samples` points around them. Anything wrong with f
    (an error, a part autograd cannot see such as math.sin or .item(), a non-tensor result) is
    reported as an error about f, never as a verdict on `manual_fn`. Never raises.
    """
    with guard.on_cpu():
        title = f"gradient of {_fn_name(f, 'f')}"
        try:
            ex = _exercise(manual_fn, f, example_inputs, wrt, n_samples, tolerance, title)
        except _Refused as refused:
            return Result(ID, "error", refused.message, title=title, mistake=refused.mistake)
        from .judge import grade

        return grade(ex, manual_fn)


def _exercise(manual_fn, f, example_inputs, wrt, n_samples, tolerance, title) -> Exercise:
    """The one-off Exercise around f, with its reference already computed (or _Refused)."""
    if not callable(f):
        raise _Refused(f"check_gradient(manual, f, *inputs) needs the function f to differentiate second, but "
                       f"it got {convert.describe(f)}.", "bad-call")
    if not callable(manual_fn):
        raise _Refused(f"check_gradient(manual, f, *inputs) needs your derivative function first, but it got "
                       f"{convert.describe(manual_fn)}. Pass the function itself, without parentheses.", "bad-call")
    if not example_inputs:
        raise _Refused("check_gradient needs example inputs after f, one per input of f, e.g. "
                       "check_gradient(df, f, 3.0).", "bad-call")
    examples = tuple(_example(v, i) for i, v in enumerate(example_inputs))
    if sum(v.numel() for v in examples if isinstance(v, torch.Tensor)) > MAX_INPUT_NUMEL:
        raise _Refused(f"The example inputs hold more than {MAX_INPUT_NUMEL} numbers; check on smaller ones.",
                       "bad-input")
    names = _input_names(f, len(examples))
    try:
        inspect.signature(f).bind(*examples)
    except TypeError:
        raise _Refused(f"Your f cannot be called with {len(examples)} input{'s' if len(examples) != 1 else ''}: "
                       f"its signature is {_fn_name(f, 'f')}{inspect.signature(f)}. Give one example input "
                       "per input of f.", "bad-call") from None
    except ValueError:  # builtins without a signature: just try them
        pass
    if isinstance(wrt, str):
        wrt = (wrt,)
    try:
        wrt = tuple(wrt) if wrt is not None else names
    except TypeError:
        raise _Refused(f"wrt must name inputs of f {names}, e.g. wrt=({names[0]!r},).", "bad-call") from None
    unknown = [w for w in wrt if w not in names]
    if unknown or not wrt:
        raise _Refused(f"wrt names {unknown or '()'} that are not inputs of f; its inputs are {names}.", "bad-call")
    scalars = all(not isinstance(v, torch.Tensor) for v in examples)
    ex = Exercise(
        id=ID,
        title=title,
        signature=f"{_fn_name(manual_fn, 'manual')}({', '.join(names)})",
        hints=(),
        solution_fn=manual_fn,
        function=f,
        inputs=names,
        points=(examples,),
        sampler=_perturbed(examples),
        n_samples=min(max(0, int(n_samples)), 1000) if isinstance(n_samples, numbers.Real) else 32,
        wrt=wrt,
        outputs=tuple(f"d/d{name}" for name in wrt),
        tolerance=tolerance if isinstance(tolerance, Tolerance) else Tolerance(),
        pass_as="float" if scalars else "tensor",
        batched=False,
        forbid_autograd=True,
    )
    try:
        _attach_reference(ex, _F(f, names, wrt))
    except _Refused as refused:
        if refused.mistake == "f-leaves-graph" and _differentiable(manual_fn, names, wrt, examples):
            refused.message += (" (Did you swap the two functions? The order is check_gradient(manual, f, *inputs): "
                                "your derivative first, then f.)")
        raise
    if scalars and _needs_tensors(ex, manual_fn):
        ex.pass_as = "tensor"
    return ex


def _attach_reference(ex: Exercise, f: _F) -> None:
    from .judge import Reference, sample_points

    points = sample_points(ex)
    jacobians, values = [], []
    done = 0
    try:
        with guard.student_code(F_TIME_LIMIT, False):
            for point in points:
                jac, value = f.differentiate(point)
                jacobians.append(jac)
                values.append(value)
                done += 1
    except (_Refused, KeyboardInterrupt):
        raise
    except BaseException as err:
        raise _f_failed(err, f, _where(f.names, points[min(done, len(points) - 1)])) from None
    finite = [all(bool(torch.isfinite(j).all()) for j in jac) for jac in jacobians]
    valid = [i for i, ok in enumerate(finite) if ok]
    if not valid or not finite[0]:
        raise _Refused(f"autograd's derivative of your f is not a finite number at the example input "
                       f"({_where(f.names, points[0])}): f is not differentiable there (a division by zero, "
                       "a log of 0, a square root at 0?). Choose example inputs where it is.", "f-not-finite")
    _audit(ex, f, points, jacobians, valid)
    expected = [torch.stack([jacobians[i][k] for i in valid]) for k in range(len(ex.wrt))]
    shapes = [tuple(e.shape[1:]) for e in expected]
    scalar = f.shape == ()
    ref_values = torch.stack([values[i] for i in valid]) if scalar else None
    ex._reference_cache = Reference(points, expected, ref_values, valid, shapes)
    if not scalar:
        ex.quantity = "the Jacobian"
        ex.shape_advice = _jacobian_advice(f.shape, dict(zip(ex.wrt, shapes)), {
            name: tuple(as_float64(v).shape) for name, v in zip(f.names, points[0])})
        ex.mistakes = _jacobian_mistakes(f.shape, ex, points[0])


def _audit(ex: Exercise, f: _F, points, jacobians, valid) -> None:
    """_Refused if autograd's derivative of f is not f's own slope (some of f is hidden from autograd)."""
    generator = torch.Generator().manual_seed(zlib.crc32(b"check_gradient audit"))
    wrt_index = [f.names.index(name) for name in ex.wrt]
    found = None
    try:
        with guard.student_code(F_TIME_LIMIT, False):
            for i in valid[:AUDIT_POINTS]:
                point = [as_float64(v) for v in points[i]]
                found = offgraph.audit(f.value, point, jacobians[i], wrt_index, list(ex.wrt), generator)
                if found is not None:
                    found = (found, points[i])
                    break
    except (guard.CheckerInterrupt, SystemExit):
        return  # f is slow or exits here: the audit stays silent rather than guess
    if found is None:
        return
    disagreement, point = found
    why = offgraph.explain(f.exits)
    name = disagreement.input_name
    if disagreement.along:
        numbers_ = (f"At {_where(f.names, point)}, when {name} moves in one direction, autograd says your f changes "
                    f"at a rate of {offgraph.fmt(disagreement.autograd)}, but f itself changes at a rate of "
                    f"{offgraph.fmt(disagreement.measured)} (measured numerically): the part autograd cannot see "
                    "is missing from its derivative.")
    else:
        numbers_ = (f"At {_where(f.names, point)}, autograd's d/d{name} of your f is "
                    f"{offgraph.fmt(disagreement.autograd)}, but f itself changes at a rate of "
                    f"{offgraph.fmt(disagreement.measured)} when {name} moves (measured numerically): the part "
                    "autograd cannot see is missing from its derivative.")
    if why:
        message = f"autograd cannot differentiate all of your f: {why}. {numbers_}"
    else:
        message = ("autograd cannot see all of your f: part of it is computed outside autograd's graph (in a "
                   "torch.no_grad() block or with grad mode off, through .data, or from plain Python numbers). "
                   + numbers_)
    raise _Refused(message + " This is about f, not your derivative: fix f, then check again.", "f-leaves-graph")


def _jacobian_advice(out_shape: tuple, want: dict, input_shapes: dict) -> Callable:
    def advice(name: str, got: tuple, expected: tuple) -> Optional[str]:
        x = name[3:] if name.startswith("d/d") else name
        in_shape = input_shapes.get(x, ())
        rule = (f"f returns shape {out_shape}, so {name} is the Jacobian, of shape f's shape followed by {x}'s: "
                f"{expected}, entry [i, j] = d f[i] / d {x}[j].")
        if got == tuple(in_shape) + tuple(out_shape) and got != expected:
            return f"{name} has shape {got}: that is the Jacobian transposed. {rule}"
        if got == tuple(in_shape):
            return (f"{name} has the shape of {x}, {got}: that is a gradient, which only a scalar f has. {rule} "
                    "(For an elementwise f the Jacobian is diagonal: torch.diag(yours). To check a "
                    "vector-Jacobian product instead, check the scalar (v * f(...)).sum().)")
        return f"{name} has shape {got}, but it should have shape {expected}. {rule}"

    return advice


def _jacobian_mistakes(out_shape: tuple, ex: Exercise, point) -> tuple:
    """The transposed Jacobian, for square ones (a non-square one is caught by its shape)."""
    mistakes = []
    n_out = len(out_shape)
    for k, name in enumerate(ex.wrt):
        in_shape = tuple(as_float64(point[ex.inputs.index(name)]).shape)
        if tuple(out_shape) != in_shape or not in_shape:
            continue
        n_in = len(in_shape)

        def transposed(expected, k=k, n_in=n_in):
            moved = list(expected)
            dims = list(range(1, 1 + n_out + n_in))
            order = [0] + dims[n_out:] + dims[:n_out]
            moved[k] = expected[k].permute(order)
            return moved

        mistakes.append(Mistake(
            f"transposed-jacobian-{name}", None,
            f"d/d{name} is the Jacobian transposed: entry [i, j] must be d f[i] / d {name}[j] (row i for "
            f"output i, as torch.autograd.functional.jacobian has it), yours is d f[j] / d {name}[i].",
            transform=transposed))
    return tuple(mistakes)


def _differentiable(fn: Callable, names: tuple, wrt: tuple, examples: tuple) -> bool:
    """True if fn, run like f, is a clean torch function of its inputs (then it may be f itself)."""
    probe = _F(fn, names, wrt)
    try:
        with guard.student_code(1.0, False):
            jacobians, _ = probe.differentiate(examples)
    except BaseException as err:  # noqa: BLE001 - only a guess for a hint
        if isinstance(err, KeyboardInterrupt):
            raise
        return False
    return not probe.exits and any(bool(j.abs().sum() > 0) for j in jacobians)


def _needs_tensors(ex: Exercise, manual_fn: Callable) -> bool:
    """True if manual_fn, given Python floats, fails because it uses torch functions (then it gets 0-d tensors)."""
    try:
        with guard.student_code(ex.time_limit, True):
            manual_fn(*ex.arguments(ex.points[0]))
    except TypeError as err:
        return "must be Tensor" in str(err)
    except BaseException as err:  # noqa: BLE001 - grading will report it properly
        if isinstance(err, KeyboardInterrupt):
            raise
    return False
