"""Harnesses: measuring an answer that is not a plain function of numbers.

Most exercises ask for a function of numbers, and the judge calls it at its sampled points.
Some answers cannot be called that way: a numerical method that takes a *function* `f`, a
`torch.autograd.Function` subclass, a `Value` class. For those, the exercise names a
harness, and the harness turns the answer into numbers at a *case* the checker chose:

    harness.run(answer, *case) -> a tuple of numbers and tensors, one per output

A case is a tuple of plain values (strings, ints, floats), so it prints in a verdict and
travels as JSON. The harness builds everything else from it (the function, the tensor x,
a random graph) the same way every time, on every machine, and runs the answer on it.
The judge compares the numbers with the reference, which the exercise computes with
torch.autograd in the checker's own process; a harness never sees the reference.

Every tensor made here names the CPU: in a student's kernel the default device may be another.

This module is self-contained on purpose (the standard library and torch, nothing else from
the checker): bulk grading sends its source to the student's kernel, where the same harness
measures the answer, so the numbers the grader judges are the ones the notebook judged.

    AnswerProblem  the answer does not have the form asked for (a message for the student)
    Measured       an answer already turned into a function of a case
    HARNESSES      every harness by name
"""
from __future__ import annotations

import json
import re

import torch

try:
    from .convert import BadAnswer as _Problem
except ImportError:  # run alone, from its source, in a student's kernel (checker.grading.probe)
    _Problem = Exception


class AnswerProblem(_Problem):
    """The answer does not have the form the exercise asks for; the message says what to change.

    Inside the checker it is a `convert.BadAnswer`, so the verdict is "could not be checked"
    with this message, in the notebook and in bulk grading alike."""


def describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, type):
        return f"the class {value.__name__}"
    return f"a value of type {type(value).__name__}"


class Harness:
    """How one kind of answer is measured. Subclasses set `name` and define `run`."""

    name = ""

    def problem(self, answer):
        """Why `answer` cannot be measured at all (None if it can): checked once, before any case."""
        return None

    def run(self, answer, *case):
        raise TypeError(f"harness {self.name!r} does not define run()")


class Measured:
    """An answer as the judge calls it: a function of a case's values, returning numbers.

    `problem` says why the answer could not be measured at all. Bulk grading's replay of what
    a kernel measured is a Measured too (`checker.grading.replay.Replay`): measured already."""

    problem = None

    def __init__(self, harness: Harness, answer):
        self.harness, self.answer = harness, answer
        self.problem = problem_of(harness, answer)

    def __call__(self, *case):
        return self.harness.run(self.answer, *case)


def problem_of(harness: Harness, answer):
    """harness.problem(answer), safely: an answer whose attributes raise when looked up is a problem too."""
    try:
        return harness.problem(answer)
    except Exception as err:
        return f"The checker could not look inside your answer: {type(err).__name__}: {err}"[:500]


def measure(harness: Harness, answer) -> Measured:
    """`answer` measured by `harness` (itself if it is measured already)."""
    return answer if isinstance(answer, Measured) else Measured(harness, answer)


# -- the checker's functions, by the formula that names them -----------------------------------
# A case names its function by this formula (what a verdict shows); the table gives the code.
SCALAR_FUNCTIONS = {  # a tensor of any shape -> a 0-dim tensor; smooth on the sampled inputs
    "mean(sin(x)·x)": lambda x: (torch.sin(x) * x).mean(),
    "logsumexp(x)": lambda x: torch.logsumexp(x.reshape(-1), 0),
    "sqrt(1 + sum(x²))": lambda x: torch.sqrt(1 + (x * x).sum()),
    "mean(x·roll(x))": lambda x: (x.reshape(-1) * x.reshape(-1).roll(1)).mean(),
    "mean(tanh(2x))": lambda x: torch.tanh(2 * x).mean(),
    "mean(exp(x/2)·cos(x))": lambda x: (torch.exp(x / 2) * torch.cos(x)).mean(),
}
VECTOR_FUNCTIONS = {  # a tensor of shape (3,) -> a tensor of shape (3,); Jacobians not symmetric
    "sin(x)·roll(x)": lambda x: torch.sin(x) * x.roll(1),
    "softmax(x)·x": lambda x: torch.softmax(x, 0) * x,
    "cumsum(exp(x/2))": lambda x: torch.cumsum(torch.exp(x / 2), 0),
    "tanh(x·cumsum(x))": lambda x: torch.tanh(x * torch.cumsum(x, 0)),
}
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def tensor_from(values: str, dtype: str = "float64") -> torch.Tensor:
    """A case's tensor, written as JSON ("[[0.5, -1.25], [2.0, 0.75]]"), in the named dtype."""
    return torch.tensor(json.loads(values), dtype=DTYPES[dtype], device="cpu")


def _flag(ok: bool) -> float:
    return 1.0 if ok else 0.0


def _as_tensor_like(value, like: torch.Tensor, what: str, name: str):
    """The answer's tensor, as float64 with the shape of `like`; None passes (the judge says "returned None")."""
    if value is None or value is Ellipsis:
        return value
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Tensor):
        try:
            value = torch.tensor(value, dtype=torch.float64, device="cpu")
        except (TypeError, ValueError, RuntimeError):
            raise AnswerProblem(f"{name} returned {describe(value)}; return {what}.") from None
    if not isinstance(value, torch.Tensor) or value.is_complex() or value.dtype == torch.bool:
        raise AnswerProblem(f"{name} returned {describe(value)}; return {what}.")
    if value.device.type == "meta":
        raise AnswerProblem(f"{name} returned a tensor on the 'meta' device, which holds no numbers.")
    if tuple(value.shape) != tuple(like.shape):
        raise AnswerProblem(f"{name} returned a tensor of shape {tuple(value.shape)}, but {what} has shape "
                            f"{tuple(like.shape)}.")
    return value.detach().to(device="cpu", dtype=torch.float64)


# -- 1. a numerical gradient, watched: where does the method evaluate f, and which values does it use? --
# f = K·sum((x − x₀)²), evaluated at x = x₀ itself: its gradient there is 0. f is even about x₀ along every
# entry, so a central difference gives 0 up to rounding (about K·eps·|x₀ᵢ|), and a one-sided difference about
# ±K·h: with K = 1e10 in float64 and 100 in float32, that is more than the tolerance (1e-3) for every step that
# fits the dtype (h ≥ 1000·eps), however a one-sided method chooses it.
CENTERED_FUNCTIONS = {
    "1e10·sum((x − x₀)²) at x = x₀": 1e10,
    "100·sum((x − x₀)²) at x = x₀": 100.0,
}


def scalar_function(formula: str, x0: torch.Tensor):
    """The case's function f: a formula of SCALAR_FUNCTIONS, or a bowl of CENTERED_FUNCTIONS centred at x0."""
    if formula in CENTERED_FUNCTIONS:
        k, center = CENTERED_FUNCTIONS[formula], x0.detach().clone()
        return lambda x: k * ((x - center) ** 2).sum()
    return SCALAR_FUNCTIONS[formula]


MIN_STEPS = 1000  # a finite-difference step must be at least this many rounding steps of x_i


def _drift(dtype, x0: torch.Tensor) -> torch.Tensor:
    """How far from x0 an entry may be and still count as x0: two rounding steps of `dtype`.
    (x[i] += h; ...; x[i] -= 2*h; ...; x[i] += h lands within 1.5 of them, not always on x[i].)"""
    return 2 * torch.finfo(dtype).eps * x0.abs().clamp(min=1.0)


class Move:
    """Where one call of f is, relative to x0 and to the calls before it.

    An entry is *moved* where it is further from x0 than rounding drift (`_drift`). A moved entry is
    *carried* where an earlier call, at another point, had that entry at the same place: it was moved
    before and never put back (x[i] += h with no x[i] = old after it). The other moved entries are
    *fresh*: the ones this call moves. `side` is +1 if every fresh entry moves up (x + h), −1 if every one
    moves down (x − h), 0 if no entry moves or they move both ways; `main` is the entry this call
    perturbs most, fresh ones first (None if none moves).
    """

    def __init__(self, point: torch.Tensor, dtype, x0: torch.Tensor, earlier: list):
        self.point, self.dtype = point, dtype
        drift = _drift(dtype, x0)
        self.d = d = point - x0
        moved = d.abs() > drift
        carried = torch.zeros_like(moved)
        for other in earlier:
            if other.moved and bool(((other.point - point).abs() > drift).any()):  # another point
                carried |= moved & ((other.point - point).abs() <= drift)
        fresh = moved & ~carried
        self.moved, self.n_fresh, self.carried = bool(moved.any()), int(fresh.sum()), bool(carried.any())
        signs = torch.sign(d[fresh])
        self.side = int(signs[0]) if signs.numel() and bool((signs == signs[0]).all()) else 0
        pool = fresh if fresh.any() else moved
        self.main = int(torch.where(pool, d.abs(), torch.zeros_like(d)).argmax()) if self.moved else None


class _WatchedFunction:
    """f, recording every point it is called at (as float64, flattened) and that point's dtype, and where
    each is (`Move`). With `nudge` = +1 or −1, f's value at every point moved up (down) is raised by 1:
    if the method's result changes, it uses f on that side of x."""

    def __init__(self, f, shape, x0: torch.Tensor, nudge: int = 0):
        self.f, self.shape, self.nudge, self.calls, self.moves = f, tuple(shape), nudge, [], []
        self.x0 = x0.detach().to(device="cpu", dtype=torch.float64).reshape(-1)

    def __call__(self, x):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise AnswerProblem(f"Your method called f with {describe(x)}; f takes a float tensor shaped like x.")
        if tuple(x.shape) != self.shape:
            raise AnswerProblem(f"Your method called f with a tensor of shape {tuple(x.shape)}; f takes a "
                                f"tensor shaped like x, {self.shape}.")
        point = x.detach().to(device="cpu", dtype=torch.float64).reshape(-1).clone()
        self.calls.append((point, x.dtype))
        move = Move(point, x.dtype, self.x0, self.moves)
        self.moves.append(move)
        value = self.f(x)
        return value + 1.0 if self.nudge and move.side == self.nudge else value


def method_flags(calls, x0: torch.Tensor) -> tuple[float, float, float]:
    """What the points a method evaluated f at say about it, as 1.0 (yes) / 0.0 (no), from each call's
    `Move` (its moved, fresh and carried entries):

    - one entry at a time: no call moves more than one fresh entry (x + h, all entries at once, does);
    - x[i] put back: no call carries an entry moved by an earlier one (x[i] is put back before the next
      entry is moved; a method that restores x only at the end, or never, carries them);
    - step fits the dtype: every moved point moves its main entry by at least a thousand rounding steps,
      1000·eps·max(1, |x0_i|) in the dtype f was evaluated in (with fewer, f(x + h) − f(x − h) keeps less
      than three good digits: about 1.2e-4 in float32, 2.2e-13 in float64), and a method that called f
      several times moved x0 at all (else x0 + h rounded to x0).
    """
    x0 = x0.detach().to(torch.float64).reshape(-1)
    moves: list = []
    for point, dtype in calls:
        moves.append(Move(point, dtype, x0, moves))
    moved = [m for m in moves if m.moved]
    one_entry = all(m.n_fresh <= 1 for m in moved)
    put_back = not any(m.carried for m in moved)
    fits = bool(moved) or len(calls) < 2
    for m in moved:
        i = m.main
        if float(m.d[i].abs()) < MIN_STEPS * torch.finfo(m.dtype).eps * max(1.0, float(x0[i].abs())):
            fits = False
    return _flag(one_entry), _flag(put_back), _flag(fits)


def _changed(a, b) -> bool:
    """Two runs of a method gave different gradients (None, NaN and inf compared as values)."""
    if a is None or b is None or a is Ellipsis or b is Ellipsis:
        return a is not b
    return bool((~torch.isclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True)).any())


class NumericalGradient(Harness):
    """`answer(f, x)`, a finite-difference gradient of a scalar function f at a tensor x.

    case: (formula of f, x as JSON, dtype name). Outputs: the gradient (flattened), then six flags:
    x left as it was; f(x + h) used and f(x − h) used (run again with f raised by 1 at the points above x,
    then below it: does the gradient change?); one entry at a time, x[i] put back, step fits the dtype
    (from where f was evaluated, `method_flags`).
    """

    name = "numerical_gradient"

    def problem(self, answer):
        if isinstance(answer, type) or not callable(answer):
            return (f"The answer must be a function `numerical_gradient(f, x)`; yours is {describe(answer)}.")
        return None

    def _gradient(self, answer, formula, values, dtype, nudge=0):
        x = tensor_from(values, dtype)
        given = x.clone()
        f = _WatchedFunction(scalar_function(formula, given), x.shape, given, nudge)
        grad = _as_tensor_like(answer(f, x), given, "a tensor shaped like x", "Your function")
        return grad, x, given, f

    def run(self, answer, formula, values, dtype):
        grad, x, given, f = self._gradient(answer, formula, values, dtype)
        unchanged = bool(((x.to(torch.float64) - given.to(torch.float64)).abs() <= _drift(x.dtype, given)).all())
        one_entry, put_back, fits = method_flags(f.calls, given)
        if grad is None or grad is Ellipsis:  # the judge says "returned None"
            return grad, _flag(unchanged), 0.0, 0.0, one_entry, put_back, fits
        above, below = (_changed(self._gradient(answer, formula, values, dtype, nudge)[0], grad) for nudge in (1, -1))
        return grad.reshape(-1), _flag(unchanged), _flag(above), _flag(below), one_entry, put_back, fits


class NumericalJacobian(Harness):
    """`answer(fn, x, eps)`, the numerical Jacobian of fn: R³ -> R³ at x, as gradcheck builds it.

    case: (formula of fn, x as JSON, eps). Output (one, so not in a tuple): the Jacobian, shape (3, 3),
    row i = output i.
    """

    name = "numerical_jacobian"

    def problem(self, answer):
        if isinstance(answer, type) or not callable(answer):
            return f"The answer must be a function `numerical_jacobian(fn, x, eps)`; yours is {describe(answer)}."
        return None

    def run(self, answer, formula, values, eps):
        x = tensor_from(values)
        fn = VECTOR_FUNCTIONS[formula]
        like = torch.zeros(fn(x).numel(), x.numel(), dtype=torch.float64, device="cpu")
        jacobian = answer(fn, x, float(eps))
        return _as_tensor_like(jacobian, like, "a Jacobian (one row per output, one column per input)",
                               "Your function")


class HessianVectorProduct(Harness):
    """`answer(f, x, v)`, the Hessian of a scalar f at x times the vector v.

    case: (formula of f, x as JSON, v as JSON). Output: H·v, flattened.
    """

    name = "hvp"

    def problem(self, answer):
        if isinstance(answer, type) or not callable(answer):
            return f"The answer must be a function `hvp(f, x, v)`; yours is {describe(answer)}."
        return None

    def run(self, answer, formula, x_values, v_values):
        x, v = tensor_from(x_values), tensor_from(v_values)
        result = answer(SCALAR_FUNCTIONS[formula], x.clone(), v.clone())
        hv = _as_tensor_like(result, x, "a tensor shaped like x", "Your function")
        return hv if hv is None or hv is Ellipsis else hv.reshape(-1)


# -- 2. a torch.autograd.Function: softplus(x + b) with a sharpness beta ------------------------
SOFTPLUS_SHAPE, SOFTPLUS_SMALL = (4, 3), (2, 3)


def softplus_inputs(scale: float, seed: int):
    """The case's float64 tensors: x (4, 3), b (3,), the network's W (3, 2), and for gradcheck a
    smaller x (2, 3) and b (3,) of scale 1. Drawn from the case's seed, the same on every machine."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))

    def draw(*shape, s=1.0):
        return s * torch.randn(*shape, generator=g, dtype=torch.float64, device="cpu")

    return draw(*SOFTPLUS_SHAPE, s=scale), draw(3, s=scale), draw(3, 2), draw(*SOFTPLUS_SMALL), draw(3)


def softplus_network(y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The small network after the layer: a linear map, then half the sum of squares."""
    return ((y @ w) ** 2).sum() / 2


class AutogradFunction(Harness):
    """`answer`, a torch.autograd.Function subclass with forward(ctx, x, b, beta) -> softplus_beta(x + b).

    case: (beta, scale, seed). Outputs: y (flattened), dL/dx (flattened) and dL/db through a
    small network, then flags: gradcheck passes, no gradient for beta, b's gradient fits b.
    The flags come from calling the Function's backward once directly (grad_fn.apply), before
    autograd sees its results: returning a tensor for beta, or a gradient autograd cannot sum
    to b's shape, makes autograd raise; the harness reports them as numbers instead, where b's
    gradient has one number per row, shape (N,) (a known mistake), and as an AnswerProblem that
    names the shape for any other shape autograd refuses. A forward whose output is not in x's
    dtype is an AnswerProblem too.
    """

    name = "autograd_function"

    def problem(self, answer):
        if not (isinstance(answer, type) and issubclass(answer, torch.autograd.Function)):
            return ("The answer must be a class derived from torch.autograd.Function, with static methods "
                    f"forward(ctx, x, b, beta) and backward(ctx, grad_output); yours is {describe(answer)}.")
        return None

    def run(self, Fn, beta, scale, seed):
        beta = float(beta)
        x, b, w, x_small, b_small = softplus_inputs(scale, seed)
        nan = float("nan")
        with torch.enable_grad():
            xs, bs = x.clone().requires_grad_(True), b.clone().requires_grad_(True)
            y = Fn.apply(xs, bs, beta)
            if not isinstance(y, torch.Tensor) or tuple(y.shape) != SOFTPLUS_SHAPE:
                raise AnswerProblem(f"forward returned {describe(y)}; it should return softplus(x + b), a tensor "
                                    f"shaped like x, {SOFTPLUS_SHAPE}.")
            if y.dtype != x.dtype:  # the network after it (y @ W) would fail in the checker's own code
                raise AnswerProblem(f"forward returned a tensor of dtype {str(y.dtype).replace('torch.', '')}, but x "
                                    f"is {str(x.dtype).replace('torch.', '')}: return y in x's dtype, as the layers "
                                    "after yours expect (.float() or .to(...) changes it).")
            if y.grad_fn is None:
                raise AnswerProblem("The output of apply() has no grad_fn: call your Function as "
                                    "BiasSoftplus.apply(x, b, beta).")
            raw = y.grad_fn.apply(torch.ones_like(y))  # the backward's own return value, unchecked by autograd
            raw = tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)
            beta_none = len(raw) < 3 or raw[2] is None
            b_fits = len(raw) < 2 or raw[1] is None or _sums_to(raw[1], b.shape)
            if not b_fits and not (isinstance(raw[1], torch.Tensor) and tuple(raw[1].shape) == SOFTPLUS_SHAPE[:1]):
                # one number per row, shape (N,), is a known mistake (the flags say it); any other shape is not
                raise AnswerProblem(f"backward returned b's gradient as {describe(raw[1])}, but b has shape "
                                    f"{tuple(b.shape)}, and autograd refuses a gradient it cannot sum down to its "
                                    f"input's shape: return one of b's shape (or of x + b's shape, {SOFTPLUS_SHAPE}, "
                                    "which autograd sums over the rows for you).")
            values = y.detach().reshape(-1)
            if not (beta_none and b_fits):  # autograd would raise: no gradients through the network
                filler = torch.full((x.numel(),), nan, dtype=torch.float64, device="cpu")
                return values, filler, torch.full((3,), nan, dtype=torch.float64, device="cpu"), 0.0, \
                    _flag(beta_none), _flag(b_fits)
            loss = softplus_network(Fn.apply(xs, bs, beta), w)
            dx, db = torch.autograd.grad(loss, (xs, bs), allow_unused=True)
            dx = torch.zeros_like(x) if dx is None else dx
            db = torch.zeros_like(b) if db is None else db
            small = (x_small.clone().requires_grad_(True), b_small.clone().requires_grad_(True))
            passes = torch.autograd.gradcheck(lambda u, c: Fn.apply(u, c, beta), small, eps=1e-6, atol=1e-5,
                                              rtol=1e-3, raise_exception=False)
        return values, dx.detach().reshape(-1), db.detach(), _flag(passes), 1.0, 1.0


def _sums_to(grad, shape) -> bool:
    """Autograd accepts a gradient of `shape`, or one it can sum down to it (broadcasting undone)."""
    if not isinstance(grad, torch.Tensor):
        return False
    try:
        return tuple(torch.broadcast_shapes(tuple(shape), tuple(grad.shape))) == tuple(grad.shape)
    except RuntimeError:
        return False


# -- 3. a tiny reverse-mode engine: the student's Value class on random programs -----------------
LEAVES = ("a", "b", "c")
STATEMENT = re.compile(r"^\s*(\w+)\s*=\s*(.+?)\s*$")
OPERATION = re.compile(r"^(\w+) ([+*]) (\w+)$|^(\w+) \*\* (-?[\d.]+)$|^(\w+)\.(exp|log|tanh|relu)\(\)$")


def statements(program: str) -> list[tuple[str, str, tuple[str, ...], str]]:
    """The program's statements as (name, operator, inputs, constant): "u = a * b" gives
    ("u", "*", ("a", "b"), ""), "v = u ** 3" gives ("v", "**", ("u",), "3"), "w = v.tanh()" gives
    ("w", "tanh", ("v",), "")."""
    parsed = []
    for text in program.split(";"):
        name, expression = STATEMENT.match(text).groups()
        m = OPERATION.match(expression)
        if m.group(1):
            parsed.append((name, m.group(2), (m.group(1), m.group(3)), ""))
        elif m.group(4):
            parsed.append((name, "**", (m.group(4),), m.group(5)))
        else:
            parsed.append((name, m.group(7), (m.group(6),), ""))
    return parsed


def execute(program: str, leaves: dict) -> dict:
    """Run a program (statements separated by ';', the last one named `out`) on the given leaves,
    which may be Values or tensors: both spell the operations the same way."""
    namespace = dict(leaves)
    source = "\n".join(statement.strip() for statement in program.split(";"))
    exec(compile(source, "<graph>", "exec"), {"__builtins__": {}}, namespace)
    return namespace


def _number(value, what: str) -> float:
    if isinstance(value, bool) or value is None:
        raise AnswerProblem(f"{what} is {value!r}; it should be a number.")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise AnswerProblem(f"{what} is {describe(value)}; it should be a number (a float).") from None


def _check_value(v, what: str) -> None:
    if not (hasattr(v, "data") and hasattr(v, "grad") and callable(getattr(v, "backward", None))):
        raise AnswerProblem(f"{what} gave {describe(v)}; it should give a Value, with .data, .grad and .backward().")


def trace(Value, program: str, leaves: dict, runs: int = 2):
    """Build the program with the answer's Value class and call out.backward() `runs` times.
    Returns (namespace of Values, [leaf grads after each run], [every node's grad after each run])."""
    values = {name: Value(float(leaves[name])) for name in LEAVES}
    _check_value(values["a"], f"Value({leaves['a']})")
    namespace = execute(program, values)
    names = list(LEAVES) + [name for name, *_ in statements(program)]
    for name in names[len(LEAVES):]:
        _check_value(namespace[name], f"In the graph, `{name}`")
    leaf_grads, node_grads = [], []
    for _ in range(runs):
        namespace["out"].backward()
        leaf_grads.append([_number(namespace[n].grad, f"After backward(), {n}.grad") for n in LEAVES])
        node_grads.append({n: _number(namespace[n].grad, f"After backward(), {n}.grad") for n in names})
    return namespace, leaf_grads, node_grads


class Engine(Harness):
    """`answer`, a Value class: Value(number) has .data and .grad, supports +, *, ** (a constant),
    .exp(), .log(), .tanh(), .relu(), and .backward() fills .grad of every node of the graph.

    case: (program, a, b, c). Outputs: out.data, the leaves' grads after out.backward(), and after
    a second out.backward() (which must start again from zero, so it gives the same numbers).
    """

    name = "engine"

    METHODS = ("__add__", "__mul__", "__pow__", "exp", "log", "tanh", "relu", "backward")

    def problem(self, answer):
        if not isinstance(answer, type):
            return (f"The answer must be the class Value itself (`Value`, not `Value(...)`); yours is "
                    f"{describe(answer)}.")
        missing = [m for m in self.METHODS if not callable(getattr(answer, m, None))]
        if missing:
            return f"Your class {answer.__name__} has no method {', '.join(missing)}: the graphs use them all."
        return None

    def run(self, Value, program, a, b, c):
        namespace, leaf_grads, _ = trace(Value, program, {"a": a, "b": b, "c": c})
        out = _number(namespace["out"].data, "out.data")
        first, second = (torch.tensor(g, dtype=torch.float64, device="cpu") for g in leaf_grads)
        return out, first, second


HARNESSES = {h.name: h for h in (NumericalGradient(), NumericalJacobian(), HessianVectorProduct(),
                                 AutogradFunction(), Engine())}
