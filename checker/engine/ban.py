"""What an answer may not call while it is checked: autograd (in "by hand" exercises) and the
library functions an exercise forbids (e.g. the loss it asks students to write themselves).

Blocked where every route passes, not at module attributes a student's earlier
`from torch.autograd import grad as G` already captured:

- a TorchFunctionMode sees every call of a torch function, under any name it was imported as:
  `torch.autograd.grad`, `torch.autograd.backward` and `Tensor.backward` (which every torch.func
  and torch.autograd.functional transform built on reverse mode calls), forward-mode AD's dual
  numbers (`torch._make_dual`, `_unpack_dual`: torch.func.jvp, jacfwd, hessian, linearize,
  torch.autograd.forward_ad, autograd.functional's forward-mode strategy), reading `.grad_fn`
  (the only way to reach the graph's nodes and call them by hand), and forbidden functions;
- saved-tensor hooks refuse the backward pass itself when it reads what the forward pass saved,
  whoever started it (a private engine object, a node called by hand). Unlike a dispatch mode,
  they cost nothing to answers that build no graph, and they leave torch.func.vmap working.
  (torch.func's reverse-mode transforms refuse to start under saved-tensor hooks: that refusal is
  turned into the AutogradUsed it means, naming the transform.)

The refusal names the public function the student called, found on the call stack.

What stays possible inside one Python interpreter (documented in the README): code that turns
the mode or the hooks off on purpose (torch._C.DisableTorchFunction, popping the mode stack), trivial
graphs whose backward needs no saved tensor (the gradient of x + 1) run through a private engine,
and gradients computed before the check (e.g.
a table of values at points the student guessed). Bulk grading judges in the grader's process,
where none of this can change a verdict, but it cannot stop a student's kernel from faking an
answer it computed with autograd this way.

This module imports only torch and the standard library: bulk grading sends its source to the
student's kernel (checker.grading.probe), so that answers there are refused exactly as here.
"""
import contextlib
import sys

import torch
from torch.overrides import TorchFunctionMode


class CheckerInterrupt(BaseException):
    """Base of the signals the checker raises inside student code.

    A BaseException, so a student's `except Exception:` cannot swallow it.
    """


class AutogradUsed(CheckerInterrupt):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class ForbiddenCall(CheckerInterrupt):
    def __init__(self, what: str, why: str = ""):
        super().__init__(what, why)
        self.what, self.why = what, why


# (module, qualified name) of the reverse-mode entry points every other route calls
_REVERSE = {("torch.autograd", "grad"), ("torch.autograd", "backward"), ("torch._tensor", "Tensor.backward")}
_DUAL = {"_make_dual", "_unpack_dual"}  # forward-mode AD
_GRAPH = {"grad_fn", "_grad_fn"}  # the graph's nodes
_FUNC = {"grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize"}
_FUNCTIONAL = {"jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"}
# torch.func's internal helpers whose closures are what a student's call runs later
_FUNC_HELPERS = {"_vjp_with_argnums": "vjp", "_jvp_with_argnums": "jvp", "grad_impl": "grad",
                 "grad_and_value_impl": "grad_and_value", "_linearize": "linearize"}


def _public(module: str, qualname: str):
    """The public name of a torch frame's function, if it is an autograd entry point."""
    head = qualname.split(".<locals>")[0]
    last = head.rsplit(".", 1)[-1]
    if module == "torch._tensor" and head == "Tensor.backward":
        return ".backward()"
    if module == "torch.autograd" and last in ("grad", "backward"):
        return f"torch.autograd.{last}"
    if module.startswith("torch._functorch") and (last in _FUNC or last in _FUNC_HELPERS):
        return f"torch.func.{_FUNC_HELPERS.get(last, last)}"
    if module == "torch.autograd.functional" and last in _FUNCTIONAL:
        return f"torch.autograd.functional.{last}"
    if module == "torch.autograd.forward_ad" and last in ("make_dual", "unpack_dual"):
        return f"forward-mode AD (torch.autograd.forward_ad.{last})"
    if module.startswith("torch.nn.modules") and head.endswith(".forward"):
        return f"nn.{head.split('.')[0]}"
    return None


_nested_names: dict = {}


def _qualname(code, module: str) -> str:
    """The code's qualified name, "jacrev.<locals>.wrapper_fn". Python 3.10 has no co_qualname: there the
    closures of a torch module's functions are found among their constants once, and named after them."""
    qualname = getattr(code, "co_qualname", None)
    if qualname:
        return qualname
    if module not in _nested_names:
        names = _nested_names[module] = {}
        for name, value in list(vars(sys.modules.get(module) or object()).items()):
            top = getattr(value, "__code__", None)
            stack = [(top, name)] if top is not None else []
            while stack:
                outer, prefix = stack.pop()
                for const in outer.co_consts:
                    if hasattr(const, "co_consts"):
                        names.setdefault(const, f"{prefix}.<locals>.{const.co_name}")
                        stack.append((const, f"{prefix}.<locals>.{const.co_name}"))
    return _nested_names[module].get(code, code.co_name)


def _entry_point(default: str) -> str:
    """The outermost known torch function between the student's code and this refusal."""
    frames = []
    frame = sys._getframe(2)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return _route(frames, default)


def _route(frames: list, default: str) -> str:
    """From frames innermost first: the outermost known torch function called by the student's code."""
    found = None
    for frame in frames:
        module = frame.f_globals.get("__name__") or ""
        if module in (__name__, "contextlib", "functools"):  # ours, and the helpers torch's wrappers use
            continue
        if module != "torch" and not module.startswith("torch."):
            break  # the student's frame: the torch calls below it are the route taken
        name = _public(module, _qualname(frame.f_code, module))
        if name is not None:
            found = name
    return found or default


def _refused_transform(err: BaseException):
    """torch.func's reverse-mode transforms refuse to start while saved-tensor hooks are active (ours are):
    that refusal, turned into the AutogradUsed it means, naming the transform. None for any other error."""
    if not isinstance(err, RuntimeError) or "saved tensor hooks" not in str(err) or "torch.func" not in str(err):
        return None
    frames, tb = [], err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    frames.reverse()  # innermost first
    inner = [f for f in frames if (f.f_globals.get("__name__") or "").startswith("torch")]
    start = frames.index(inner[0]) if inner else 0
    return AutogradUsed(_route(frames[start:], "a torch.func transform"))


def _describe(func) -> tuple:
    """(kind, name) of a torch function call: kind in "reverse", "dual", "graph", "other"."""
    name = getattr(func, "__name__", "")
    if name == "__get__":  # a property: its descriptor has the name
        return ("graph" if getattr(getattr(func, "__self__", None), "__name__", "") in _GRAPH else "other"), name
    if (getattr(func, "__module__", None), getattr(func, "__qualname__", None)) in _REVERSE:
        return "reverse", name
    if name in _DUAL:
        return "dual", name
    return "other", name


class _FunctionBan(TorchFunctionMode):
    def __init__(self, autograd: bool, forbidden: dict):
        super().__init__()
        self.autograd, self.forbidden = autograd, forbidden

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kind, name = _describe(func)
        if self.autograd and kind == "reverse":
            raise AutogradUsed(_entry_point("autograd"))
        if self.autograd and kind == "dual":
            raise AutogradUsed(_entry_point("forward-mode AD (torch.autograd.forward_ad)"))
        if self.autograd and kind == "graph":
            raise AutogradUsed("`.grad_fn`, autograd's graph (calling its nodes runs the backward pass by hand)")
        if name in self.forbidden:
            raise ForbiddenCall(_entry_point(_shown(func, name)), self.forbidden[name])
        return func(*args, **(kwargs or {}))


def _pack(tensor):
    return tensor


def _unpack(tensor):
    """The backward pass reads a tensor the forward pass saved: some engine is running the graph
    (autograd's own, a private engine object, or a node called by hand), whoever started it."""
    raise AutogradUsed(_entry_point("autograd's backward pass (its engine or the graph's nodes, called directly)"))


def _shown(func, name: str) -> str:
    """The name a student would have written: F.logsigmoid (torch._C._nn.log_sigmoid), torch.special.logsumexp."""
    module = getattr(func, "__module__", None) or ""
    if module == "torch.nn.functional":
        return f"F.{name}"
    if module == "torch._C._nn":  # the C functions torch.nn.functional exports, some under another name
        return "F." + {"log_sigmoid": "logsigmoid"}.get(name, name)
    if module == "torch._C._special":
        return f"torch.special.{name.removeprefix('special_')}"
    return f"torch.{name}"


@contextlib.contextmanager
def banned(autograd: bool = True, forbidden=None):
    """Inside, autograd (if `autograd`) and the functions named in `forbidden` ({name: why}) raise
    AutogradUsed / ForbiddenCall. Names are torch function names, e.g. "binary_cross_entropy_with_logits"
    (F.binary_cross_entropy_with_logits, torch.binary_cross_entropy_with_logits, nn.BCEWithLogitsLoss
    and torch.ops.aten all reach it)."""
    forbidden = dict(forbidden or {})
    if not autograd and not forbidden:
        yield
        return
    function_mode = _FunctionBan(autograd, forbidden)
    # Every backward pass that needs what the forward pass saved unpacks it, however the engine was reached.
    # Nothing is packed in an answer that builds no graph, so this costs such answers nothing.
    hooks = torch.autograd.graph.saved_tensors_hooks(_pack, _unpack) if autograd else contextlib.nullcontext()
    try:
        with function_mode, hooks:
            try:
                yield
            except RuntimeError as err:
                refused = _refused_transform(err)
                if refused is None:
                    raise
                raise refused from None
    finally:
        # A time limit's exception can land inside a mode's __exit__ and leave it on torch's stack,
        # which would keep autograd refused in the student's session: take it off if it is still there.
        _drop(function_mode, "_len_torch_function_stack", "_get_function_stack_at",
              "_pop_torch_function_stack", "_push_on_torch_function_stack")


def _drop(mode, length: str, get_at: str, pop: str, push: str) -> None:
    """Take `mode` off its torch mode stack if it is still there; the modes above it stay, in order."""
    _C = torch._C
    try:
        length, get_at, pop, push = (getattr(_C, name) for name in (length, get_at, pop, push))
        if not any(get_at(i) is mode for i in range(length())):
            return
        above = []
        while length():
            top = pop()
            if top is mode:
                break
            above.append(top)
        for other in reversed(above):
            push(other)
    except Exception:  # an older torch without these functions: nothing more to do
        pass
