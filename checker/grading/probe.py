"""The one cell the grader sends to a student's kernel, and how its answers come back.

After the student's notebook has run, the grader executes a single "probe" cell in the
same kernel. For every exercise of the lesson it looks the answer up by name in the
notebook's namespace and evaluates it at the points the *grader* chose (sampled and
filtered in the grader's own process), under a time limit and, for manual-gradient
exercises, with autograd's entry points replaced. It sends back only plain data: numbers,
nested lists, type descriptions and error texts, never a verdict.

Channel: one JSON line per exercise, appended to a file whose name holds a random nonce
(`probe-<nonce>.jsonl`, outside the kernel's working directory); every line carries the
nonce, and the grader ignores lines without it. Nothing a student prints, displays or
writes before the probe runs can pass for the probe's output, and a line written per
exercise survives a kernel that dies half-way.

An answer that is a class, a torch.autograd.Function or a method given a function is measured by
its exercise's harness (checker/harness.py, whose source the request carries: it imports nothing
from the checker), exactly as the notebook's check measures it; the kernel sends back the numbers.

The probe runs in its own namespace (`exec` with fresh globals), so a student's variable
named `len` or `json` cannot change it. It imports nothing from `checker`. Limits (see
the README): it runs inside the untrusted kernel, so student code that patches Python
itself can disturb it, but that can only lose the student points: the verdict is made by
the grader from the numbers, with its own reference. The autograd ban is checker.ban's, sent as
source and run here exactly as in the notebook: every route to autograd and an exercise's forbidden
functions are refused. A deliberate bypass (turning torch's modes off) only gets autograd's own
(correct) derivative graded as correct.
"""
from __future__ import annotations

import json
import secrets
from typing import Any

MAX_NUMEL = 100_000  # tensor / array values sent back in full up to this many elements
MAX_LINE = 8_000_000  # characters per probe line read back

# -- the code that runs in the student's kernel (stdlib and torch only) -------------------
KERNEL_CODE = r'''
def _probe(request, user_ns):
    import inspect
    import json

    request = json.loads(request)
    import linecache
    import numbers
    import os
    import signal
    import sys
    import threading
    import traceback

    try:
        import torch
    except Exception:
        torch = None

    MAX_NUMEL, MAX_ITEMS, MAX_DEPTH = request["max_numel"], 10_000, 4
    channel = open(request["channel"], "a", encoding="utf-8")

    def emit(record):
        record["nonce"] = request["nonce"]
        channel.write(json.dumps(record) + "\n")
        channel.flush()

    class Timeout(BaseException):
        pass

    def encode(v, depth=0):
        try:
            if v is None:
                return {"t": "none"}
            if v is Ellipsis:
                return {"t": "ellipsis"}
            if isinstance(v, bool):
                return {"t": "bool", "v": bool(v)}
            if torch is not None and isinstance(v, torch.Tensor):
                t = v.detach()
                info = {"t": "tensor", "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
                if t.layout == torch.strided and not t.is_complex() and t.numel() <= MAX_NUMEL:
                    info["v"] = t.cpu().tolist()
                return info
            if type(v).__module__ == "numpy" and hasattr(v, "dtype") and hasattr(v, "tolist"):
                info = {"t": "numpy", "dtype": str(v.dtype.str), "kind": v.dtype.kind,
                        "shape": list(getattr(v, "shape", ())), "array": type(v).__name__ == "ndarray"}
                if v.dtype.kind in "biuf" and getattr(v, "size", 1) <= MAX_NUMEL:
                    info["v"] = v.tolist()
                return info
            if isinstance(v, complex):
                return {"t": "complex", "re": v.real, "im": v.imag}
            if isinstance(v, int):
                return {"t": "int", "v": int(v)} if abs(v) < 2**63 else {"t": "float", "v": float(v)}
            if isinstance(v, numbers.Real):
                return {"t": "float", "v": float(v)}
            if isinstance(v, str):
                return {"t": "str", "v": str(v[:200])}
            if isinstance(v, (list, tuple)):
                kind = "tuple" if isinstance(v, tuple) else "list"
                items = [] if depth >= MAX_DEPTH else [encode(x, depth + 1) for x in list(v)[:MAX_ITEMS]]
                return {"t": kind, "n": len(v), "v": items}
            if isinstance(v, dict):
                return {"t": "dict", "n": len(v)}
        except (Exception, RecursionError):
            pass
        return {"t": "other", "type": str(type(v).__name__)[:80], "callable": bool(callable(v))}

    ours = ["<grader-probe>"]
    for module in ("torch", "checker", "contextlib"):
        path = getattr(sys.modules.get(module), "__file__", None)
        if path:
            ours.append(os.path.dirname(os.path.abspath(path)) + os.sep)

    def describe(err):
        summary = f"{type(err).__name__}: {err}".rstrip(": ")
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if not (f.filename in ("<grader-probe>", "<grader-harness>", "<grader-ban>")
                          or os.path.abspath(f.filename).startswith(tuple(ours[1:])))]
        if not frames:
            return summary
        frame = frames[-1]
        line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
        where = f"in {frame.name}, line {frame.lineno}"
        return f"{summary} ({where}: {line})" if line else f"{summary} ({where})"

    # checker.ban, sent as source by the grader: autograd and forbidden functions refused as in the notebook
    ban = {"__name__": "__grader_ban__"}
    try:
        exec(compile(request["ban_source"], "<grader-ban>", "exec"), ban)
    except Exception:  # no torch in this kernel: nothing to ban
        import contextlib

        class Never(BaseException):
            pass

        ban = {"banned": lambda *a: contextlib.nullcontext(), "AutogradUsed": Never, "ForbiddenCall": Never}

    # Exercises whose answer is a class, a Function or a method given a function: the grader's own harness
    # code (checker/harness.py, sent as text) measures the answer here, at the grader's cases.
    harnesses, answer_problem, problem_of = {}, (), None
    if request.get("harness_source"):
        space = {"__name__": "grader_harness"}
        exec(compile(request["harness_source"], "<grader-harness>", "exec"), space)
        harnesses, answer_problem, problem_of = space["HARNESSES"], space["AnswerProblem"], space["problem_of"]

    def own_codes(answer):
        """The code objects of the answer's own body, as checker.judge._own_codes finds them."""
        import functools

        while isinstance(answer, functools.partial):
            answer = answer.func
        owner = answer if isinstance(answer, type) else None
        code = getattr(answer, "__code__", None)
        if code is not None:
            return {code}
        if owner is None:
            owner = type(answer)
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

    def raised_by(err, answer):
        """True if err was raised in the answer's own body, not deeper down (the untouched stub)."""
        try:
            codes = own_codes(answer)
        except Exception:
            return False
        tb = err.__traceback__
        if not codes or tb is None:
            return not codes
        while tb.tb_next is not None:
            tb = tb.tb_next
        return tb.tb_frame.f_code in codes

    def argument(value, pass_as, dtype):
        if pass_as == "case":  # a harness's case: plain values, as they are
            return value
        if pass_as == "float" or torch is None:
            return float(value) if not isinstance(value, list) else value
        return torch.tensor(value, dtype=getattr(torch, dtype))

    def signature(answer):
        try:
            sig = inspect.signature(answer)
        except (TypeError, ValueError):
            return None, None
        params = []
        for p in sig.parameters.values():
            params.append({
                "name": p.name, "kind": int(p.kind),
                "default": None if p.default is p.empty else repr(p.default)[:80],
                "annotation": None if p.annotation is p.empty else inspect.formatannotation(p.annotation)[:80],
            })
        ret = None if sig.return_annotation is sig.empty else inspect.formatannotation(sig.return_annotation)[:80]
        return sig, {"params": params, "return": ret}

    def run(ex):
        name = ex["name"]
        if name not in user_ns:
            return {"missing": True}
        answer = user_ns[name]
        harness = harnesses.get(ex.get("harness")) if answer is not None and answer is not Ellipsis else None
        # per input, the dtype the answer receives it in; an exercise judged in several precisions gives, per point,
        # the one its floats come in there (integer inputs, class labels, stay as they are)
        blocks = ex.get("point_dtypes") or [None] * len(ex["points"])
        args_list = [tuple(argument(v, ex["pass_as"], block if block and d.startswith(("float", "bfloat")) else d)
                           for v, d in zip(point, ex["dtypes"]))
                     for point, block in zip(ex["points"], blocks)]
        if harness is not None:
            record = {"callable": True, "name": None, "signature": None, "calls": []}
            problem = problem_of(harness, answer)
            if problem:
                record["problem"] = str(problem)[:2000]
                return record
            call = lambda args: harness.run(answer, *args)  # noqa: E731
        elif ex["kind"] == "value" or not callable(answer) or (torch is not None and isinstance(answer, torch.Tensor)):
            return {"value": encode(answer)}
        else:
            sig, shown = signature(answer)
            own_name = getattr(answer, "__name__", None)
            record = {"callable": True, "name": own_name if isinstance(own_name, str) else None,
                      "signature": shown, "calls": []}
            if sig is not None and args_list:
                try:
                    sig.bind(*args_list[0])
                except TypeError:
                    return record
            call = lambda args: answer(*args)  # noqa: E731
        in_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        previous = None
        try:
            if in_main:
                def on_alarm(signum, frame):
                    raise Timeout()

                previous = signal.signal(signal.SIGALRM, on_alarm)
                signal.setitimer(signal.ITIMER_REAL, ex["time_limit"])
            with ban["banned"](bool(ex["forbid_autograd"]), ex.get("forbidden") or {}):
                for args in args_list:
                    record["calls"].append(encode(call(args)))
        except Timeout:
            record["stop"] = {"kind": "timeout"}
        except ban["AutogradUsed"] as err:
            record["stop"] = {"kind": "autograd", "what": str(err.what)[:500]}
        except ban["ForbiddenCall"] as err:
            record["stop"] = {"kind": "forbidden", "what": str(err.what)[:500], "why": str(err.why)[:500]}
        except answer_problem as err:  # the answer has not the form asked for: the harness says why
            record["stop"] = {"kind": "bad_answer", "text": str(err)[:2000]}
        except BaseException as err:  # the student's own errors, SystemExit and KeyboardInterrupt included
            stub = isinstance(err, NotImplementedError) and raised_by(err, answer)  # the untouched stub
            kind = "not_implemented" if stub else "error"
            record["stop"] = {"kind": kind, "type": type(err).__name__, "text": describe(err)[:2000], "stub": stub}
        finally:
            if in_main:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        return record

    for ex in request["exercises"]:
        emit({"id": ex["id"], "started": True})
        try:
            answer = run(ex)
        except BaseException as err:  # the probe itself was disturbed
            answer = {"probe_error": f"{type(err).__name__}: {err}"[:500]}
        emit({"id": ex["id"], "answer": answer})
    emit({"done": True})
    channel.close()


_probe(REQUEST, USER_NS)
'''


def new_nonce() -> str:
    return secrets.token_hex(16)


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
    """The dtype the answer receives `value` in, as Exercise.arguments gives it: integer tensors (labels) as they
    are, floats in the exercise's dtype (or, judged in several precisions, in each point's: `point_dtypes`)."""
    import torch

    if isinstance(value, torch.Tensor) and not value.is_floating_point():
        return str(value.dtype).replace("torch.", "")
    return ex.dtype


def exercise_request(ex) -> dict:
    """What the probe needs for one exercise: its answer's name and the points to call it at.

    The points are the judge's own (`sample_points`, restricted to where the reference is
    finite), in the order `judge.evaluate` calls them.
    """
    from ..judge import sampled_reference

    entry = {
        "id": ex.id, "name": ex.answer_name, "kind": ex.kind, "pass_as": ex.pass_as,
        "forbid_autograd": bool(ex.forbid_autograd), "forbidden": dict(ex.forbidden),
        "time_limit": float(ex.time_limit), "points": [],
        "harness": ex.harness.name if ex.harness is not None else None,
        "dtypes": [],
    }
    if ex.kind != "value":
        ref = sampled_reference(ex)
        entry["points"] = [[_point(v, ex.pass_as) for v in ref.points[i]] for i in ref.valid]
        entry["dtypes"] = [_dtype(ex, v) for v in ref.points[ref.valid[0]]]
        if ref.dtypes is not None:  # judged in several precisions: the one of each point's floats
            entry["point_dtypes"] = [str(ref.dtypes[i]).replace("torch.", "") for i in ref.valid]
    return entry


def harness_source(exercises: list[dict]) -> str:
    """checker/harness.py as text, when an exercise needs it (it imports nothing from the checker)."""
    if not any(e.get("harness") for e in exercises):
        return ""
    import pathlib

    from .. import harness

    return pathlib.Path(harness.__file__).read_text(encoding="utf-8")


def cell_source(exercises: list[dict], nonce: str, channel: str) -> str:
    """The probe cell: KERNEL_CODE run with fresh globals, given the request as JSON text."""
    import pathlib

    from .. import ban

    request = json.dumps({"nonce": nonce, "channel": channel, "max_numel": MAX_NUMEL, "exercises": exercises,
                          "ban_source": pathlib.Path(ban.__file__).read_text(encoding="utf-8"),
                          "harness_source": harness_source(exercises)})
    tag = f"_grader_builtins_{nonce[:8]}"
    return (
        f"import builtins as {tag}\n"
        f"{tag}.exec({tag}.compile({KERNEL_CODE!r}, '<grader-probe>', 'exec'),\n"
        f"    {{'__builtins__': {tag}, '__name__': '__grader_probe__', 'REQUEST': {request!r}, "
        f"'USER_NS': {tag}.globals()}})\n"
    )


def read_channel(path, nonce: str) -> tuple[dict, list[str], bool]:
    """(answers by exercise id, ids started, done) from the probe's file; other lines are ignored."""
    answers: dict[str, dict] = {}
    started: list[str] = []
    done = False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if len(line) > MAX_LINE:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict) or record.get("nonce") != nonce:
                    continue
                if record.get("done") is True:
                    done = True
                ex_id = record.get("id")
                if not isinstance(ex_id, str):
                    continue
                if record.get("started") is True:
                    started.append(ex_id)
                elif isinstance(record.get("answer"), dict):
                    answers[ex_id] = record["answer"]
    except OSError:
        pass
    return answers, started, done
