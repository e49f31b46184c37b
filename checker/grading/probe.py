"""The code the grader runs in a student's kernel, and the pipe its answers come back through.

Two cells are added to every notebook the grader runs:

1. The *prelude*, run in the fresh kernel before the notebook's first cell. Before any
   student code can patch anything, it captures what the probe will need: a copy of
   `builtins`, `os.write`, the signal and inspect functions, torch's tensor methods taken
   from the C base class (`torch._C.TensorBase`, which Python code cannot modify) and
   autograd's entry points. It also makes the kernel die with its worker (PR_SET_PDEATHSIG)
   and hides its /proc entries from other processes of the same user (PR_SET_DUMPABLE 0).
2. The *probe*, run after the notebook's last cell. For every exercise it looks the answer
   up by name in the notebook's namespace and evaluates it at the points the grader chose
   (the judge's own points, then points drawn from a per-run secret), under a time limit
   that covers everything student code can run while being read back (calls, properties,
   `__len__`, `__float__`, `__repr__`, signatures, `__torch_function__`); for manual-
   gradient exercises, with autograd's entry points replaced; for exercises that must use
   autograd, with them counted. It returns only plain data: numbers, nested lists, type
   descriptions and error texts, never a verdict.

Channel: a pipe created by the worker (`Channel`), whose write end the kernel inherits at
start. The probe writes one JSON line per exercise to that descriptor with the captured
`os.write`, and its own JSON writer (not the `json` module, which the notebook could wrap);
every line carries a nonce that exists only in the probe cell. The worker reads the other
end from its own descriptor, with caps on bytes, and ignores everything that arrived before
it sent the probe cell. No path is involved: nothing the student can name or replace on
disk is read.

What remains possible, plainly: the probe runs *inside* the student's interpreter. Code
that deliberately goes after the probe itself (finding its captured functions or its frame,
rewriting the probe cell through IPython's input transformers, writing lines to the
inherited descriptor while the probe runs) can forge what the probe reports, and the ban on
autograd in manual-gradient exercises stops the usual entry points, not saved references or
torch internals. What such a forgery must still produce is the right answer at points the
notebook learns only when the probe runs (the secret points of bulk grading), which takes
computing the derivative, by hand or with autograd, at grading time. The reference solutions
ship with the checker. For isolation, grade in GitHub Classroom's runner or a container.
"""
from __future__ import annotations

import json
import os
import secrets
import select
import threading
import time
from typing import Any, Optional

MAX_NUMEL = 10_000  # tensor / array values sent back in full up to this many elements
MAX_ITEMS = 1_000  # list / tuple items sent back
MAX_CHANNEL_BYTES = 8_000_000  # everything the probe may send for one notebook
PROBE_GRACE_S = 3.0  # past an exercise's own time limit, the worker kills the kernel
PROBE_IDLE_S = 10.0  # the probe's own work between two exercises never takes this long

# -- the code that runs in the student's kernel (stdlib and torch only) -------------------
# Executed once by the prelude with a *copy* of builtins as __builtins__; defines run_probe.
KERNEL_CODE = r'''
import functools
import inspect
import linecache
import numbers
import os
import signal
import sys
import threading
import traceback

try:
    import torch
    import torch.autograd
    import torch.autograd.functional
    import torch.func
except Exception:
    torch = None


def _prctl(option, value):
    try:
        import ctypes

        ctypes.CDLL(None).prctl(option, value, 0, 0, 0)
    except Exception:
        pass


if sys.platform.startswith("linux"):
    _prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG: end with the worker that started this kernel
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: /proc/<this kernel>/{fd,cwd,environ,mem} closed to other processes

# Everything the probe calls, captured now, before the notebook's code runs.
_write, _getpid = os.write, os.getpid
_setitimer, _signal, _ITIMER_REAL, _SIGALRM = signal.setitimer, signal.signal, signal.ITIMER_REAL, signal.SIGALRM
_current_thread, _main_thread = threading.current_thread, threading.main_thread
_signature, _formatannotation, _EMPTY = inspect.signature, inspect.formatannotation, inspect.Parameter.empty
_extract_tb, _getline = traceback.extract_tb, linecache.getline
_abspath, _dirname, _SEP = os.path.abspath, os.path.dirname, os.sep
_Real = numbers.Real
_partial = functools.partial
_float_repr, _int_repr, _str_str, _float_float = float.__repr__, int.__repr__, str.__str__, float.__float__
_int_int = int.__int__
_USER_NS = USER_NS
_FD = FD
_sys = sys


class _Discarding:  # stands for checker.engine.printed.Printed until it is loaded
    def write(self, text):
        return len(text) if isinstance(text, str) else 0

    def flush(self):
        pass

    def text(self):
        return ""


_PRINTED = _Discarding


def _load_printed(source):
    global _PRINTED
    space = {"__name__": "__grader_printed__"}
    try:
        exec(compile(source, "<grader-printed>", "exec"), space)
    except Exception:
        return
    _PRINTED = space["Printed"]

if torch is not None:
    _TB = getattr(torch._C, "TensorBase", None) or torch._C._TensorBase
    _Tensor, _strided, _tensor, _float64 = torch.Tensor, torch.strided, torch.tensor, torch.float64
    _t_detach, _t_cpu, _t_tolist, _t_numel, _t_is_complex = _TB.detach, _TB.cpu, _TB.tolist, _TB.numel, _TB.is_complex
    _t_dtype, _t_shape, _t_layout = _TB.dtype.__get__, _TB.shape.__get__, _TB.layout.__get__
    _t_device = _TB.device.__get__
    _set_default_device = torch.set_default_device
    _get_default_device = getattr(torch, "get_default_device", None)
    _PLAIN_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
    _DTYPES = {_d: getattr(torch, _d) for _d in _PLAIN_DTYPES}  # the answer's argument dtypes, captured now

# autograd's entry points (checker.engine.guard's table): where they live, and the originals
_ENTRY = []
for _module_name, _attribute, _what in ENTRY_POINTS:
    _owner = sys.modules.get(_module_name)
    *_path, _name = _attribute.split(".")
    for _part in _path:
        _owner = getattr(_owner, _part, None)
    if _owner is not None and hasattr(_owner, _name):
        _ENTRY.append((_owner, _name, _what, getattr(_owner, _name)))

_OURS = ["<grader-probe>"]
for _module in ("torch", "checker", "contextlib"):
    _file = getattr(sys.modules.get(_module), "__file__", None)
    if _file:
        _OURS.append(_dirname(_abspath(_file)) + _SEP)
_OURS = tuple(_OURS)


class Timeout(BaseException):
    pass


class AutogradUsed(BaseException):
    pass


# Exercises whose answer is a class, a Function or a method given a function: the grader's own harness code
# (checker/harness.py, sent as text with the probe) measures the answer here, at the grader's cases.
_HARNESSES = {}


class _NoProblem(Exception):  # stands for the harness's AnswerProblem while no harness is loaded
    pass


_AnswerProblem, _problem_of = _NoProblem, None


# checker.engine.ban, sent as source with the probe: autograd and an exercise's forbidden functions are refused
# exactly as in the notebook's check. Until it is loaded (no torch in this kernel): nothing to ban.
class _Never(BaseException):
    pass


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_BAN = {"banned": lambda *a: _Nothing(), "AutogradUsed": _Never, "ForbiddenCall": _Never}


def _load_ban(source):
    global _BAN
    space = {"__name__": "__grader_ban__"}
    try:
        exec(compile(source, "<grader-ban>", "exec"), space)
        with space["banned"](True, {}):  # entering it once imports what torch loads lazily, outside any time limit
            pass
    except Exception:
        return
    _BAN = space


def _own_codes(answer):
    """The code objects of the answer's own body (a function's, or a class's methods), as the judge finds them."""
    while isinstance(answer, _partial):
        answer = answer.func
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
            value = getattr(value, "__func__", value)
            if getattr(value, "__code__", None) is not None:
                codes.add(value.__code__)
    return codes


def _raised_by(err, answer):
    """True if err was raised in the answer's own body, not deeper down: the untouched stub."""
    try:
        codes = _own_codes(answer)
    except Exception:
        return False
    tb = err.__traceback__
    if not codes or tb is None:
        return not codes
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code in codes


def _load_harnesses(source):
    global _HARNESSES, _AnswerProblem, _problem_of
    space = {"__name__": "grader_harness"}
    exec(compile(source, "<grader-harness>", "exec"), space)
    _HARNESSES, _AnswerProblem, _problem_of = space["HARNESSES"], space["AnswerProblem"], space["problem_of"]


# -- writing: our own JSON, from plain values only -------------------------------------------
_ESCAPES = {i: "\\u%04x" % i for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def _dump(v, out):
    t = type(v)
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif t is int:
        out.append(_int_repr(v))
    elif t is float:
        out.append(_float_repr(v) if v == v and v not in (float("inf"), float("-inf")) else
                   ("NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")))
    elif t is str:
        out.append('"' + v.translate(_ESCAPES) + '"')
    elif t is list:
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _dump(x, out)
        out.append("]")
    elif t is dict:
        out.append("{")
        for i, (k, x) in enumerate(v.items()):
            if i:
                out.append(",")
            out.append('"' + k.translate(_ESCAPES) + '":')
            _dump(x, out)
        out.append("}")
    else:
        out.append("null")


def _emit(record, nonce):
    record["nonce"] = nonce
    out = []
    _dump(record, out)
    data = memoryview(("".join(out) + "\n").encode("utf-8"))
    while len(data):
        data = data[_write(_FD, data):]


# -- reading values back: everything here may run student code, so it runs under the alarm ----
def _plain_str(s, limit):
    return _str_str(s)[:limit] if isinstance(s, str) else "?"


def _numbers(value, left=None, depth=0):
    """A nested list of exact floats / ints / bools from what tolist() gave, MAX_NUMEL items in all."""
    left = [MAX_NUMEL] if left is None else left
    t = type(value)
    if t is float or t is int or t is bool:
        return value
    if t is list and depth < 8:
        items = []
        for x in value:
            left[0] -= 1
            if left[0] < 0:
                break
            items.append(_numbers(x, left, depth + 1))
        return items
    return None


def encode(v, depth=0):
    try:
        if v is None:
            return {"t": "none"}
        if v is Ellipsis:
            return {"t": "ellipsis"}
        if v is True or v is False:
            return {"t": "bool", "v": v is True}
        if torch is not None and isinstance(v, _Tensor):
            t = _t_detach(v)
            dtype = str(_t_dtype(t)).replace("torch.", "")
            info = {"t": "tensor", "dtype": dtype, "shape": [_int_int(int(s)) for s in _t_shape(t)]}
            layout, meta = _t_layout(t), _t_device(t).type == "meta"
            if layout is not _strided:  # rebuilt with its layout, which the judge refuses as in the notebook
                info["layout"] = _plain_str(str(layout).replace("torch.", ""), 40)
            if meta:  # no numbers to send: rebuilt on "meta", refused as in the notebook
                info["device"] = "meta"
            if (layout is _strided and not meta and not _t_is_complex(t) and dtype in _PLAIN_DTYPES
                    and _t_numel(t) <= MAX_NUMEL):
                info["v"] = _numbers(_t_tolist(_t_cpu(t)))
            return info
        if type(v).__module__ == "numpy" and hasattr(v, "dtype") and hasattr(v, "tolist"):
            dt = v.dtype
            shape = [_int_int(int(s)) for s in getattr(v, "shape", ())]
            info = {"t": "numpy", "dtype": _plain_str(str(dt.str), 20), "kind": _plain_str(str(dt.kind), 2),
                    "shape": shape, "array": type(v).__name__ == "ndarray"}
            size = 1
            for s in shape:
                size *= s
            if dt.kind in "biuf" and size <= MAX_NUMEL:
                info["v"] = _numbers(v.tolist())
            return info
        if isinstance(v, complex):
            c = complex(v)
            return {"t": "complex", "re": _float_float(c.real), "im": _float_float(c.imag)}
        if isinstance(v, int):
            n = _int_int(int(v))
            return {"t": "int", "v": n} if -2**63 < n < 2**63 else {"t": "float", "v": _float_float(float(n))}
        if isinstance(v, _Real):
            return {"t": "float", "v": _float_float(float(v))}
        if isinstance(v, str):
            return {"t": "str", "v": _plain_str(v, 200)}
        if isinstance(v, (list, tuple)):
            kind = "tuple" if isinstance(v, tuple) else "list"
            n = _int_int(int(len(v)))
            items = []
            if depth < 4:
                for x in v:
                    if len(items) >= MAX_ITEMS:
                        break
                    items.append(encode(x, depth + 1))
            return {"t": kind, "n": n, "v": items}
        if isinstance(v, dict):
            return {"t": "dict", "n": _int_int(int(len(v)))}
    except (Exception, RecursionError):
        pass
    return {"t": "other", "type": _plain_str(type(v).__name__, 80), "callable": callable(v)}


def _message(err):
    """str(err), or checker.engine.guard.error_message's placeholder when the error's own __str__ raises."""
    try:
        return _plain_str(str(err), 1500)
    except Timeout:
        raise
    except BaseException as inner:
        return "(its message could not be shown: its __str__ raised " + _plain_str(type(inner).__name__, 100) + ")"


def _describe(err):
    summary = (_plain_str(type(err).__name__, 100) + ": " + _message(err)).rstrip(": ")
    frames = [f for f in _extract_tb(err.__traceback__)
              if not (f.filename in ("<grader-probe>", "<grader-harness>", "<grader-ban>")
                      or _abspath(f.filename).startswith(_OURS[1:]))]
    if not frames:
        return summary
    frame = frames[-1]
    line = _plain_str(frame.line or _getline(frame.filename, frame.lineno), 300).strip()
    where = "in " + _plain_str(frame.name, 100) + ", line " + _int_repr(_int_int(frame.lineno or 0))
    return summary + " (" + where + (": " + line if line else "") + ")"


def _argument(value, pass_as, dtype="float64"):
    if pass_as == "case":  # a harness's case: plain values, as they are
        return value
    if pass_as == "float" or torch is None:
        return float(value) if not isinstance(value, list) else value
    # the exercise's dtype (float32 where stability is the point; int64 labels), whatever default device is set
    return _tensor(value, dtype=_DTYPES.get(dtype, _float64), device="cpu")


def _shown_signature(sig):
    params = []
    for p in sig.parameters.values():
        params.append({
            "name": _plain_str(p.name, 80), "kind": _int_int(int(p.kind)),
            "default": None if p.default is _EMPTY else _plain_str(repr(p.default), 80),
            "annotation": None if p.annotation is _EMPTY else _plain_str(_formatannotation(p.annotation), 80),
        })
    ret = None if sig.return_annotation is _EMPTY else _plain_str(_formatannotation(sig.return_annotation), 80)
    return {"params": params, "return": ret}


def _patch(entries, make):
    saved = []
    for owner, name, what, original in entries:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, make(what, original))
    return saved


def _refuse(what, original):
    def refuse(*args, **kwargs):
        raise AutogradUsed(what)
    return refuse


def _body(ex, record, printed, fired):
    """Fill `record` for one exercise. Runs under the alarm: student code may run anywhere here."""
    name = ex["name"]
    if name not in _USER_NS:
        record["missing"] = True
        return
    answer = _USER_NS[name]
    dtypes = ex.get("dtypes") or ["float64"] * (len(ex["points"][0]) if ex["points"] else 0)
    # an exercise judged in several precisions gives, per point, the one its floats come in there
    blocks = list(ex.get("point_dtypes") or [])
    blocks += [None] * (len(ex["points"]) - len(blocks))  # every point is called, whatever came with it
    args_list = [tuple(_argument(v, ex["pass_as"], block if block and d.startswith(("float", "bfloat")) else d)
                       for v, d in zip(point, dtypes))
                 for point, block in zip(ex["points"], blocks)]
    harness = _HARNESSES.get(ex.get("harness")) if answer is not None and answer is not Ellipsis else None
    if harness is not None:  # measured by the exercise's harness, as the notebook's check measures it
        record.update({"callable": True, "name": None, "signature": None, "calls": []})
        problem = _problem_of(harness, answer)
        if problem:
            record["problem"] = _plain_str(str(problem), 2000)
            return

        def call(args):
            return harness.run(answer, *args)
    else:
        if ex["kind"] == "value" or not callable(answer) or (torch is not None and isinstance(answer, _Tensor)):
            record["value"] = encode(answer)
            return
        own_name = getattr(answer, "__name__", None)
        record.update({"callable": True, "name": _plain_str(own_name, 80) if isinstance(own_name, str) else None,
                       "signature": None, "calls": []})
        try:
            sig = _signature(answer)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            record["signature"] = _shown_signature(sig)
        if sig is not None and args_list:
            try:
                sig.bind(*args_list[0])
            except TypeError:
                return

        def call(args):
            return answer(*args)
    counter = [0]

    def _counting(what, original):
        def counted(*args, **kwargs):
            counter[0] += 1
            return original(*args, **kwargs)
        return counted

    saved = []
    used = []
    try:
        if ex.get("require_autograd"):
            saved = _patch(_ENTRY, _counting)
            record["autograd"] = used
        with _BAN["banned"](bool(ex["forbid_autograd"]), ex.get("forbidden") or {}):
            for args in args_list:
                before = counter[0]
                try:
                    value = call(args)
                except NotImplementedError as err:
                    err.checker_stub = _raised_by(err, answer)
                    raise
                if fired[0]:  # the answer swallowed the time limit: stopped all the same, as in the notebook
                    raise Timeout()
                record["calls"].append(encode(value))
                used.append(counter[0] > before)
                if len(record["calls"]) == ex.get("n_public"):  # what the notebook's check saw printed
                    record["printed"] = printed.text()
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


def _check(ex):
    record = {}
    in_main = _current_thread() is _main_thread()
    previous = None

    fired = [False]

    def on_alarm(signum, frame):
        fired[0] = True
        raise Timeout()

    printed = _PRINTED()
    shown = (_sys.stdout, _sys.stderr)
    # the answer runs with the CPU as default device, as checker.engine.guard.on_cpu runs it in the notebook
    device = _get_default_device() if torch is not None and _get_default_device is not None else None
    moved = device is not None and device.type != "cpu"
    try:
        if moved:
            _set_default_device(None)
        _sys.stdout = _sys.stderr = printed  # as the notebook's check does: prints are kept here, not sent
        if in_main:  # repeating: code that swallows one Timeout gets the next one
            previous = _signal(_SIGALRM, on_alarm)
            _setitimer(_ITIMER_REAL, ex["time_limit"], 0.25)
        try:
            _body(ex, record, printed, fired)
        except Timeout:
            record["stop"] = {"kind": "timeout"}
        except AutogradUsed as err:
            record["stop"] = {"kind": "autograd", "what": _plain_str(err.args[0] if err.args else "", 100)}
        except _BAN["AutogradUsed"] as err:
            record["stop"] = {"kind": "autograd", "what": _plain_str(str(getattr(err, "what", "")), 100)}
        except _BAN["ForbiddenCall"] as err:
            record["stop"] = {"kind": "forbidden", "what": _plain_str(str(getattr(err, "what", "")), 100),
                              "why": _plain_str(str(getattr(err, "why", "")), 500)}
        except _AnswerProblem as err:  # the answer has not the form asked for: the harness says why
            record["stop"] = {"kind": "bad_answer", "text": _plain_str(str(err), 2000)}
        except BaseException as err:  # the student's own errors, SystemExit and KeyboardInterrupt included
            stub = isinstance(err, NotImplementedError) and getattr(err, "checker_stub", False) is True
            kind = "not_implemented" if stub else "error"
            record["stop"] = {"kind": kind, "type": _plain_str(type(err).__name__, 100), "text": _describe(err)}
    except Timeout:  # in the student's __str__ of an error, say
        record["stop"] = {"kind": "timeout"}
    finally:
        if in_main:
            _setitimer(_ITIMER_REAL, 0)
            _signal(_SIGALRM, previous if previous is not None else signal.SIG_DFL)
        _sys.stdout, _sys.stderr = shown
        if moved:
            _set_default_device(device)
    if "printed" not in record:  # stopped before the last of the notebook's points
        text = printed.text()
        if text:
            record["printed"] = text
    if "value" in record or "missing" in record or "callable" in record:
        return record
    if record.get("stop", {}).get("kind") == "timeout":  # reading a value back ran past the limit
        return {"timed_out": True}
    return {"probe_error": "nothing was read"}


def run_probe(request):
    nonce = request["nonce"]
    if request.get("harness_source"):
        _load_harnesses(request["harness_source"])
    if request.get("ban_source"):
        _load_ban(request["ban_source"])
    if request.get("printed_source"):
        _load_printed(request["printed_source"])
    for ex in request["exercises"]:
        _emit({"id": ex["id"], "started": True}, nonce)
        try:
            answer = _check(ex)
        except BaseException as err:  # the probe itself was disturbed
            answer = {"probe_error": _plain_str(type(err).__name__, 100)}
        _emit({"id": ex["id"], "answer": answer}, nonce)
    _emit({"done": True}, nonce)
'''


def new_nonce() -> str:
    return secrets.token_hex(16)


def runner_name() -> str:
    """The name under which the prelude leaves the probe in the notebook's namespace."""
    return f"_grader_probe_{secrets.token_hex(6)}"


def prelude_source(fd: int, runner: str) -> str:
    """The first cell: run KERNEL_CODE with a copy of builtins and keep its run_probe as `runner`."""
    from ..engine.guard import _AUTOGRAD_ENTRY_POINTS

    return (
        "import builtins as _grader_builtins\n"
        f"_grader_ns = {{'__builtins__': dict(vars(_grader_builtins)), '__name__': '__grader_probe__', "
        f"'FD': {int(fd)}, 'USER_NS': _grader_builtins.globals(), 'MAX_NUMEL': {MAX_NUMEL}, "
        f"'MAX_ITEMS': {MAX_ITEMS}, 'ENTRY_POINTS': {tuple(_AUTOGRAD_ENTRY_POINTS)!r}}}\n"
        f"_grader_builtins.exec(_grader_builtins.compile({KERNEL_CODE!r}, '<grader-probe>', 'exec'), _grader_ns)\n"
        f"{runner} = _grader_ns['run_probe']\n"
        "del _grader_builtins, _grader_ns\n"
    )


def cell_source(exercises: list[dict], nonce: str, runner: str) -> str:
    """The probe cell: one call, with the request as a Python literal (no parser the notebook could patch)."""
    import pathlib

    from ..engine import ban, printed

    request = {"nonce": nonce, "exercises": exercises, "harness_source": harness_source(exercises),
               "ban_source": pathlib.Path(ban.__file__).read_text(encoding="utf-8"),
               "printed_source": pathlib.Path(printed.__file__).read_text(encoding="utf-8")}
    return f"{runner}({request!r})\n"


def harness_source(exercises: list[dict]) -> str:
    """checker/harness.py as text, when an exercise needs it (it imports nothing from the checker)."""
    if not any(e.get("harness") for e in exercises):
        return ""
    import pathlib

    from ..engine import harness

    return pathlib.Path(harness.__file__).read_text(encoding="utf-8")


def _point(value: Any, pass_as: str) -> Any:
    import torch

    if pass_as == "case":  # a harness's case is made of plain values (str, int, float) already
        return value
    if pass_as == "float":
        return float(value)
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():  # class labels: integers, sent as they are
            return value.detach().tolist()
        return value.detach().to(dtype=torch.float64).tolist()
    return float(value)


def _dtype(ex, value: Any) -> str:
    """The dtype the answer receives `value` in, as judge._tensor_argument gives it."""
    import torch

    if isinstance(value, torch.Tensor) and not value.is_floating_point():
        return str(value.dtype).replace("torch.", "")
    return ex.dtype


def exercise_request(ex, hidden=None) -> dict:
    """What the probe needs for one exercise: its answer's name and the points to call it at.

    The points are the judge's own (`sample_points`, restricted to where the reference is
    finite), in the order `judge.evaluate` calls them, then those of `hidden` (an exercise
    whose points were drawn from the run's secret, see `replay.hidden_exercise`).
    """
    from ..engine.judge import sampled_reference

    entry = {
        "id": ex.id, "name": ex.answer_name, "kind": ex.kind, "pass_as": ex.pass_as,
        "forbid_autograd": bool(ex.forbid_autograd), "forbidden": dict(ex.forbidden),
        "require_autograd": bool(getattr(ex, "require_autograd", False)),
        "time_limit": float(ex.time_limit), "points": [],
        "harness": ex.harness.name if ex.harness is not None else None, "dtypes": [],
    }
    if ex.kind != "value":
        point_dtypes = []
        for exercise in (ex, hidden) if hidden is not None else (ex,):
            ref = sampled_reference(exercise)
            entry["points"] += [[_point(v, ex.pass_as) for v in ref.points[i]] for i in ref.valid]
            entry.setdefault("n_public", len(entry["points"]))  # the notebook's own points come first
            if ref.dtypes is not None:  # judged in several precisions: the one of each point's floats
                point_dtypes += [str(ref.dtypes[i]).replace("torch.", "") for i in ref.valid]
        ref = sampled_reference(ex)
        entry["dtypes"] = [_dtype(ex, v) for v in ref.points[ref.valid[0]]]
        if point_dtypes:  # one per point, the secret ones included
            if len(point_dtypes) != len(entry["points"]):
                raise ValueError(f"{ex.id}: {len(point_dtypes)} precisions for {len(entry['points'])} points")
            entry["point_dtypes"] = point_dtypes
    return entry


# -- the worker's end of the channel --------------------------------------------------------------
class Channel:
    """A pipe the worker creates; the kernel inherits its write end (`write_fd`).

    A thread reads the other end as it fills (so the probe never blocks on a full pipe),
    keeps at most `limit` bytes, and parses complete lines that carry the expected nonce.
    Everything received before `expect()` (before the probe cell was sent) is dropped.
    """

    def __init__(self, limit: int = MAX_CHANNEL_BYTES):
        self.read_fd, self.write_fd = os.pipe()
        os.set_inheritable(self.write_fd, False)  # passed to the kernel explicitly (pass_fds), to nothing else
        self.limit = limit
        self.received = 0
        self.overflow = False
        self.records: list[dict] = []
        self.last_record_at = time.monotonic()
        self._partial = bytearray()
        self._nonce: Optional[str] = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def expect(self, nonce: str) -> None:
        """From now on, keep lines carrying `nonce`; drop everything received so far."""
        with self._lock:
            self._nonce = nonce
            self._partial.clear()
            self.records = []
            self.last_record_at = time.monotonic()

    def forget(self) -> None:
        """Drop everything, and keep nothing until the next expect()."""
        with self._lock:
            self._nonce = None
            self._partial.clear()
            self.records = []

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.read_fd], [], [], 0.1)
            except OSError:
                return
            if not ready:
                continue
            with self._lock:  # read and parse under the lock: see drain()
                try:
                    chunk = os.read(self.read_fd, 1 << 16)
                except OSError:
                    return
                if not chunk:
                    return
                self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        if self._nonce is None:
            return  # before the probe: nobody's business
        if self.received + len(chunk) > self.limit:
            self.overflow = True
            chunk = chunk[: max(0, self.limit - self.received)]
        self.received += len(chunk)
        self._partial += chunk
        while True:
            end = self._partial.find(b"\n")
            if end < 0:
                return
            line = bytes(self._partial[:end])
            del self._partial[: end + 1]
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict) and record.get("nonce") == self._nonce:
                self.records.append(record)
                self.last_record_at = time.monotonic()

    def snapshot(self) -> tuple[list[dict], float]:
        with self._lock:
            return list(self.records), self.last_record_at

    def drain(self, wait_s: float = 2.0) -> None:
        """Return once everything in the pipe has been read and parsed (or after wait_s).

        The probe's writes are in the pipe before its cell ends; reading happens under the
        lock, so an empty pipe seen while holding the lock means every byte was parsed.
        """
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and self._thread.is_alive():
            with self._lock:
                try:
                    ready, _, _ = select.select([self.read_fd], [], [], 0)
                except OSError:
                    return
                if not ready:
                    return
            time.sleep(0.005)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def read_records(records: list[dict]) -> tuple[dict, list[str], bool]:
    """(answers by exercise id, ids started, done) from the probe's records (already nonce-checked)."""
    answers: dict[str, dict] = {}
    started: list[str] = []
    done = False
    for record in records:
        if record.get("done") is True:
            done = True
        ex_id = record.get("id")
        if not isinstance(ex_id, str):
            continue
        if record.get("started") is True:
            if ex_id not in started:
                started.append(ex_id)
        elif isinstance(record.get("answer"), dict) and ex_id not in answers:  # the first answer counts
            answers[ex_id] = record["answer"]
    return answers, started, done
