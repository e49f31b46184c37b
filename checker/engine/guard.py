"""Running a student's code without letting it hurt the student or the checker.

- `preserved_state()`: whatever happens inside, the torch / random / numpy RNG states,
  grad mode, default dtype and default device are put back afterwards.
- `on_cpu()`: the checker's own tensors land on the CPU whatever the student's default
  device (`torch.set_default_device("cuda")` is common on GPU runtimes).
- `one_thread()`: judging's tiny tensors on one thread (faster), the student's thread count restored.
- `time_limit(seconds)`: an answer that loops or sleeps is stopped.
- `autograd_forbidden()`: in manual-gradient exercises, every route to autograd (`.backward()`,
  `torch.autograd.grad` under any alias, torch.func, torch.autograd.functional, forward-mode AD,
  the graph's nodes) raises `AutogradUsed` instead of quietly doing the work; an exercise's
  forbidden functions raise `ForbiddenCall` (see checker.engine.ban for how, and what stays possible).
- `student_code(...)`: all of the above around a call into student code, with what it prints
  captured in a `Printed` (the first lines kept, the rest counted).
- `describe_exception(err)`: the student's own line and the error, never our internals.
"""
from __future__ import annotations

import contextlib
import linecache
import os
import random
import signal
import sys
import threading
import traceback
from typing import Optional

import torch

from . import ban
from .ban import AutogradUsed, CheckerInterrupt, ForbiddenCall
from .printed import Printed

__all__ = ["AutogradUsed", "CheckerInterrupt", "ForbiddenCall", "Printed", "TimeLimitExceeded", "autograd_forbidden",
           "default_device", "describe_exception", "on_cpu", "preserved_state", "student_code", "time_limit"]


class TimeLimitExceeded(CheckerInterrupt):
    pass


def default_device() -> torch.device:
    """Where a tensor created without `device=` lands (torch.get_default_device is torch >= 2.3)."""
    get = getattr(torch, "get_default_device", None)
    return get() if get is not None else torch.empty(0).device


def set_default_device(device: torch.device) -> None:
    # None removes torch's default-device mode altogether, which is what "cpu" means by default
    torch.set_default_device(None if device.type == "cpu" else device)


@contextlib.contextmanager
def on_cpu():
    """Inside, tensors created without `device=` are CPU tensors; the student's default device is
    put back afterwards. The checker's points, generators, references and comparisons all live
    on the CPU, and so does the student's answer while it is checked: a verdict never depends on
    the device a student works on, and a default device of "meta" or "cuda" cannot break it."""
    saved = default_device()
    if saved.type == "cpu":
        yield
        return
    torch.set_default_device(None)
    try:
        yield
    finally:
        set_default_device(saved)


@contextlib.contextmanager
def one_thread():
    """Inside, torch computes on one thread; the student's thread count is put back afterwards. The checker's
    tensors are tiny, and threads cost more to wake and wait for than such work takes: on a busy 2-core CPU a
    softmax of 10x6 numbers takes a millisecond on two threads and 20 microseconds on one."""
    saved = torch.get_num_threads()
    if saved == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextlib.contextmanager
def preserved_state():
    """Restore RNG states, grad mode, default dtype and default device on exit, whatever happened."""
    grad_enabled = torch.is_grad_enabled()
    default_dtype = torch.get_default_dtype()
    device = default_device()
    torch_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    python_rng = random.getstate()
    numpy = sys.modules.get("numpy")
    numpy_rng = numpy.random.get_state() if numpy is not None else None
    try:
        yield
    finally:
        torch.set_grad_enabled(grad_enabled)
        torch.set_default_dtype(default_dtype)
        if default_device() != device:
            set_default_device(device)
        torch.set_rng_state(torch_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        random.setstate(python_rng)
        if numpy_rng is not None:
            numpy.random.set_state(numpy_rng)


class Deadline:
    """What `time_limit` yields: `fired` once the limit has passed. Code that swallows the TimeLimitExceeded
    (`except BaseException: pass`) and returns still ran past it: `check()` raises it again."""

    def __init__(self):
        self.fired = False

    def check(self) -> None:
        if self.fired:
            raise TimeLimitExceeded()


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise TimeLimitExceeded in the calling code after `seconds`; yields a Deadline.

    In the main thread (a Jupyter cell, a script) a SIGALRM timer interrupts even
    `time.sleep`. Elsewhere (threads, Windows) a watchdog thread raises the exception
    asynchronously, which stops pure-Python loops. Once the limit has passed, the block
    ends with TimeLimitExceeded even if the code inside caught it (as bulk grading's probe does).
    """
    deadline = Deadline()
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        def on_alarm(signum, frame):
            deadline.fired = True
            raise TimeLimitExceeded()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        # repeating: code that swallows one TimeLimitExceeded gets the next one instead of running on unchecked
        signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
        try:
            yield deadline
            deadline.check()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return

    import ctypes

    target = threading.get_ident()
    done = threading.Event()

    def watchdog():
        if not done.wait(seconds):
            deadline.fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(target), ctypes.py_object(TimeLimitExceeded)
            )

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    try:
        yield deadline
        deadline.check()
    finally:
        done.set()
        thread.join()


# The usual entry points, by name: what bulk grading's probe patched before it ran checker.engine.ban in the
# student's kernel (kept for a probe that still asks for it; the ban itself no longer uses it).
_AUTOGRAD_ENTRY_POINTS = (
    ("torch", "Tensor.backward", ".backward()"),
    ("torch.autograd", "backward", "torch.autograd.backward"),
    ("torch.autograd", "grad", "torch.autograd.grad"),
    ("torch.func", "grad", "torch.func.grad"),
    ("torch.func", "grad_and_value", "torch.func.grad_and_value"),
    ("torch.func", "vjp", "torch.func.vjp"),
    ("torch.autograd.functional", "jacobian", "torch.autograd.functional.jacobian"),
)


def autograd_forbidden(active: bool = True, forbidden=None):
    """Inside, autograd (if `active`) and the functions named in `forbidden` ({name: why}) are refused."""
    return ban.banned(active, forbidden)


class AutogradCount:
    """How many times autograd's entry points were called inside `autograd_counted()`."""

    def __init__(self):
        self.calls = 0


_counts: list[AutogradCount] = []


def _counting(original):
    def counted(*args, **kwargs):
        for count in _counts:
            count.calls += 1
        return original(*args, **kwargs)

    return counted


def note_autograd_call() -> None:
    """Count a call made elsewhere (bulk grading replays an answer that used autograd in its kernel)."""
    for count in _counts:
        count.calls += 1


@contextlib.contextmanager
def autograd_counted():
    """Count the calls to autograd's entry points made inside; yields an AutogradCount."""
    count = AutogradCount()
    saved = []
    if not _counts:  # install once, even when nested
        for module_name, attribute, _what in _AUTOGRAD_ENTRY_POINTS:
            owner = sys.modules.get(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            if owner is None or not hasattr(owner, name):
                continue
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, _counting(getattr(owner, name)))
    _counts.append(count)
    try:
        yield count
    finally:
        _counts.remove(count)
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


@contextlib.contextmanager
def student_code(time_limit_s: float, forbid_autograd: bool, forbidden=None, printed: "Printed | None" = None):
    """Everything needed around a call into the student's code; what it prints goes to `printed`."""
    sink = printed if printed is not None else Printed()
    # the ban before the time limit: entering it may import what torch loads lazily, which must not be cut short
    with preserved_state(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            autograd_forbidden(forbid_autograd, forbidden), time_limit(time_limit_s) as deadline:
        yield deadline


_OUR_FILES = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,  # the whole checker package
    os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
    os.path.dirname(os.path.abspath(contextlib.__file__)) + os.sep,
)


def student_frame(err: BaseException) -> Optional[traceback.FrameSummary]:
    """The innermost frame of `err`'s traceback in the student's own code (a notebook cell, their
    module): not the checker's, torch's or the standard library's. None if there is none."""
    frames = [
        frame
        for frame in traceback.extract_tb(err.__traceback__)
        if not os.path.abspath(frame.filename).startswith(_OUR_FILES)
    ]
    if not frames:
        return None
    frame = frames[-1]
    if not frame.line:  # a source that linecache did not have when the traceback was summarised
        line = linecache.getline(frame.filename, frame.lineno)
        frame = traceback.FrameSummary(frame.filename, frame.lineno, frame.name, line=line)
    return frame


def error_message(err: BaseException) -> str:
    """str(err), which runs the student's own __str__ for an exception class of theirs: one that raises, or
    runs past a second, gets a placeholder instead (bulk grading's probe writes the same one)."""
    try:
        with time_limit(1.0):
            text = str(err)
        return text if isinstance(text, str) else "?"
    except BaseException as inner:  # noqa: B036  TimeLimitExceeded or whatever the __str__ raised
        return f"(its message could not be shown: its __str__ raised {type(inner).__name__})"


def describe_exception(err: BaseException) -> str:
    """`ZeroDivisionError: float division by zero (in dz_dx, line 2: return 1 / x)`.

    Points at the innermost frame of the student's own code (`student_frame`). File names are
    left out on purpose: in Jupyter they are temporary paths that mean nothing to a student.
    """
    summary = f"{type(err).__name__}: {error_message(err)}".rstrip(": ")
    frame = student_frame(err)
    if frame is None:
        return summary
    line = (frame.line or "").strip()
    where = f"in {frame.name}, line {frame.lineno}"
    return f"{summary} ({where}: {line})" if line else f"{summary} ({where})"
