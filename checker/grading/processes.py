"""Process hygiene for bulk grading, with what Linux offers an ordinary user (no root, no container).

A notebook's code can start processes that leave its kernel's process group (`setsid`,
double forks). To end them all after the notebook, the process that runs the notebook (the
worker) makes itself a *child subreaper*: any descendant orphaned below it is re-parented to
it rather than to init, so every process the notebook started stays in the worker's tree,
where `kill_tree` finds it by walking /proc. `kill_tree` stops the whole tree first (SIGSTOP,
repeated until no new process appears), so that nothing can fork while it is being killed.

The grader's own process is a subreaper during a batch too: if a notebook kills its worker,
the worker's orphans come to the grader, which ends them (`kill_orphans`).

`set_dumpable(False)` makes a process's /proc entries (open files, memory, environment,
working directory) unreadable to other processes of the same user, so a notebook cannot
read the pipe that carries another worker's results, or another kernel's working folder.

Everything here is a no-op returning None on systems without prctl (macOS, Windows).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Iterable, Optional

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

LINUX = sys.platform.startswith("linux")
_libc = None


def _prctl(option: int, arg: int = 0, out: bool = False) -> Optional[int]:
    """prctl(option, arg); with out=True, the int prctl writes at the address in arg."""
    global _libc
    if not LINUX:
        return None
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        if out:
            value = ctypes.c_int(0)
            if _libc.prctl(option, ctypes.byref(value), 0, 0, 0) != 0:
                return None
            return value.value
        result = _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)
        return None if result < 0 else result
    except (OSError, AttributeError):
        return None


def set_subreaper(on: bool) -> Optional[bool]:
    """Make this process adopt its orphaned descendants; returns the previous setting."""
    previous = _prctl(PR_GET_CHILD_SUBREAPER, out=True)
    _prctl(PR_SET_CHILD_SUBREAPER, int(on))
    return None if previous is None else bool(previous)


def set_dumpable(on: bool) -> Optional[bool]:
    """Hide (False) or show this process's /proc entries from the same user; returns the previous one."""
    previous = _prctl(PR_GET_DUMPABLE)
    _prctl(PR_SET_DUMPABLE, int(on))
    return None if previous is None else bool(previous)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Receive `sig` when the parent process ends (the grader or worker that started us)."""
    _prctl(PR_SET_PDEATHSIG, int(sig))


def _parents() -> dict[int, int]:
    """pid -> parent pid, for every process visible in /proc."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read(4096)
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) >= 2 and fields[1].isdigit():
            table[int(name)] = int(fields[1])
    return table


def children(pid: int) -> list[int]:
    return sorted(p for p, parent in _parents().items() if parent == pid)


def descendants(pid: int) -> set[int]:
    below: dict[int, list[int]] = {}
    for p, parent in _parents().items():
        below.setdefault(parent, []).append(p)
    found, todo = set(), list(below.get(pid, []))
    while todo:
        p = todo.pop()
        if p not in found and p != pid:
            found.add(p)
            todo += below.get(p, [])
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(pid: int, include_root: bool = False) -> int:
    """SIGKILL every descendant of pid (and pid itself with include_root); returns how many.

    Stops them first, until a pass finds no new process, so that a process that forks in a
    loop cannot outrun the kill. Returns the number of processes signalled.
    """
    if not LINUX:
        if include_root:
            _signal(pid, signal.SIGKILL)
        return int(include_root)
    stopped: set[int] = set()
    if include_root:
        _signal(pid, signal.SIGSTOP)
        stopped.add(pid)
    for _ in range(50):
        new = descendants(pid) - stopped
        if not new:
            break
        for p in new:
            _signal(p, signal.SIGSTOP)
        stopped |= new
    for p in stopped:
        _signal(p, signal.SIGKILL)
    return len(stopped)


def reap(pids: Iterable[int], wait_s: float = 2.0) -> None:
    """Collect the exit status of these (killed) children, so that no zombie is left behind."""
    import time

    pending = set(pids)
    deadline = time.monotonic() + wait_s
    while pending:
        for p in list(pending):
            try:
                done, _ = os.waitpid(p, os.WNOHANG)
            except (ChildProcessError, OSError):  # not our child, or already collected
                done = p
            if done:
                pending.discard(p)
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def kill_orphans(keep: set[int]) -> int:
    """End every child of this process not in `keep` (orphans adopted as a subreaper), with its tree."""
    if not LINUX:
        return 0
    total = 0
    for _ in range(10):  # an orphan's killed children are re-parented here in turn: collect them too
        orphans = [p for p in children(os.getpid()) if p not in keep]
        if not orphans:
            break
        for p in orphans:
            kill_tree(p, include_root=True)
        reap(orphans)
        total += len(orphans)
    return total
