"""Running one submitted notebook, then the probe, in a fresh kernel (the worker's job).

The notebook runs in its own kernel, with errors allowed (a failing cell does not stop the
rest), a per-cell time limit (the kernel is interrupted, then the next cell runs) and a
per-notebook deadline (past it, the remaining cells are skipped and the kernel is killed).
What cells print is counted, not kept. A kernel that dies is restarted (at most twice) and
the notebook run again without the cell that killed it, so answers defined elsewhere are
still graded.

Each notebook gets a private folder (mode 0700, a random name inside the batch's folder,
which is not listable) holding the kernel's working directory, its TMPDIR and its
connection file; the connection file, which holds the key to the kernel, is deleted as soon
as the kernel has started. While the probe runs, a watchdog here (outside the kernel, where
student code cannot switch it off) kills the kernel when an exercise runs past its time
limit, and the notebook is run again for the exercises not yet read.

Nothing here judges: it returns the probe's raw answers for `checker.grading.replay`.
This is not a sandbox: see the README's "Grading many submissions".
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any, Optional

from . import probe

MAX_RESTARTS = 2
# Environment variables the kernel does not get (the grader's secret among them).
PRIVATE_ENV = ("CHECKER_GRADING_SECRET",)


def preload() -> None:
    """Import the notebook tools now, in the grader, so that every forked worker has them already
    (importing nbclient costs about a second, which each worker would otherwise pay again)."""
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401


def _client_class():
    from nbclient import NotebookClient

    class Client(NotebookClient):
        """Counts output instead of storing it, remembers which cells timed out, and keeps the
        kernel's connection file in the notebook's private folder."""

        def __init__(self, *args, connection_file: str = "", **kwargs):
            super().__init__(*args, **kwargs)
            self.output_bytes = 0
            self.timed_out: list[int] = []
            self.current_index = -1
            self.connection_file = connection_file
            self.probe_index = -1  # where the probe cell sits in nb.cells (set by _run)

        def create_kernel_manager(self):
            km = super().create_kernel_manager()
            if self.connection_file:
                km.connection_file = self.connection_file
            return km

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            text = content.get("text")
            size = len(text) if isinstance(text, str) else len(str(content.get("data", "")))
            if cell_index == self.probe_index and size < 20_000 and len(outs) < 20:  # the probe's errors, for the notes
                return super().output(outs, msg, display_id, cell_index)
            self.output_bytes += size
            return None

        async def _async_handle_timeout(self, timeout, cell=None):
            self.timed_out.append(self.current_index)
            return await super()._async_handle_timeout(timeout, cell)

    return Client


def kernel_env(private: Optional[str] = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.setdefault("OMP_NUM_THREADS", "1")  # several kernels share the cores
    env.setdefault("MPLBACKEND", "Agg")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    if private:
        tmp = os.path.join(private, "tmp")
        env.update(TMPDIR=tmp, TEMP=tmp, TMP=tmp)
    return env


def _kill_kernel(client) -> None:
    """SIGKILL the kernel's process group and the kernel (its other descendants: see processes)."""
    try:
        provisioner = client.km.provisioner
        pid = provisioner.process.pid
        if provisioner.pgid:
            os.killpg(provisioner.pgid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
    except Exception:
        pass


async def _watch_probe(client, channel: probe.Channel, limits: dict[str, float], state: dict) -> None:
    """Kill the kernel when the probe spends longer on one exercise than its limit allows."""
    while True:
        await asyncio.sleep(0.2)
        records, last = channel.snapshot()
        answers, started, done = probe.read_records(records)
        if done:
            return
        current = next((s for s in reversed(started) if s not in answers), None)
        allowed = (limits.get(current, 5.0) + probe.PROBE_GRACE_S) if current else probe.PROBE_IDLE_S
        if time.monotonic() - last > allowed:
            state["probe_killed"] = current or "?"
            _kill_kernel(client)
            return


async def _run(nb, cells: list[int], prelude, probe_cell, state: dict, cell_timeout: float, deadline: float,
               workdir: str, env: dict, channel: probe.Channel, nonce: str, limits: dict[str, float],
               connection_file: str) -> None:
    """Run the prelude, `cells` of nb, then the probe cell, in one new kernel. Raises DeadKernelError.

    The prelude and the probe get cell indices of their own, past the notebook's cells: nbclient
    stores every executed cell back at its index (a negative index would overwrite one of the
    notebook's own cells, which a kernel restart then runs as the prelude instead of the answer).
    """
    Client = _client_class()
    n_cells = len(cells_of(nb))
    nb.cells[n_cells:] = [prelude, probe_cell]
    prelude_index, probe_index = n_cells, n_cells + 1
    client = Client(
        nb, timeout=max(1, int(cell_timeout)), kernel_name="python3", allow_errors=True,
        interrupt_on_timeout=True, record_timing=False, store_widget_state=False,
        shutdown_kernel="immediate", startup_timeout=60, iopub_timeout=4,
        resources={"metadata": {"path": workdir}}, connection_file=connection_file,
    )
    client.probe_index = probe_index
    state["client"] = client

    async def on_cell_executed(cell, cell_index, execute_reply):
        content = (execute_reply or {}).get("content", {})
        deliberate = "raises-exception" in cell.get("metadata", {}).get("tags", [])  # a lesson's own demo
        if content.get("status") == "error" and 0 <= cell_index < n_cells and not deliberate:
            state["errors"].append((cell_index, str(content.get("ename", ""))[:100],
                                    str(content.get("evalue", ""))[:300]))

    client.on_cell_executed = on_cell_executed
    # The kernel's own stdout/stderr (not the cells' output, which comes by messages) go nowhere;
    # it inherits the channel's write end and no other descriptor of ours.
    async with client.async_setup_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         pass_fds=(channel.write_fd,)):
        try:  # the kernel has read it; the client keeps the connection info in memory
            os.unlink(connection_file)
        except OSError:
            pass
        state["running"] = "start"
        client.timeout = 60
        await client.async_execute_cell(prelude, prelude_index, store_history=False)
        for index in cells:
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                state["skipped_from"] = index
                break
            client.timeout = max(1, int(min(cell_timeout, remaining)))
            client.current_index = index
            state["running"] = index
            await client.async_execute_cell(nb.cells[index], index)
            if client.timed_out[-1:] == [index] and remaining < cell_timeout:  # stopped by the notebook's limit
                client.timed_out.pop()
                state["deadline_hit"] = True
        state["running"] = "probe"
        client.current_index = -1
        client.timeout = max(5, int(deadline - time.monotonic()))  # the probe's own per-exercise limits come first
        channel.expect(nonce)
        watchdog = asyncio.ensure_future(_watch_probe(client, channel, limits, state))
        try:
            await client.async_execute_cell(probe_cell, probe_index, store_history=False)
        finally:
            watchdog.cancel()
        state["running"] = None
        for out in probe_cell.get("outputs", []):
            if out.get("output_type") == "error":
                state["failures"].append(f"the grader's probe raised {out.get('ename')}: {out.get('evalue')}"[:500])
    state["output_bytes"] += client.output_bytes
    state["timed_out"].extend(client.timed_out)


def cells_of(nb) -> list:
    """The notebook's own cells: those before the grader's prelude and probe (see _run)."""
    return [c for c in nb.cells if not str(c.get("id", "")).startswith("grader-")]


def _notebook(cells: list[dict]):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c["source"], metadata={"tags": list(c.get("tags", []))},
                                          id=f"cell-{i}") for i, c in enumerate(cells)]
    return nb


def _remove(path: str) -> None:
    def unlock(function, target, _info):  # a folder the notebook made read-only
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            function(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=unlock)


def execute(cells: list[dict], exercises: list[dict], cell_timeout: float = 60.0,
            notebook_timeout: float = 300.0, workroot: Optional[str] = None) -> dict[str, Any]:
    """Run a notebook's code cells ({"source", "tags"}) and the probe for `exercises` (probe.exercise_request).

    Returns plain data: {"answers": {id: raw}, "started": [...], "probe_done": bool,
    "errors": [(cell, ename, evalue)], "timed_out": [cell], "died": [cell, "start" or "probe:<id>"],
    "skipped_from": cell or None, "deadline_hit": bool, "output_bytes": int, "failures": [str],
    "seconds": float, "n_code_cells": int}.
    """
    import nbformat
    from nbclient.exceptions import DeadKernelError

    start = time.monotonic()
    deadline = start + notebook_timeout
    nb = _notebook(cells)
    code = list(range(len(nb.cells)))
    state: dict[str, Any] = {"errors": [], "timed_out": [], "died": [], "skipped_from": None, "deadline_hit": False,
                             "output_bytes": 0, "failures": []}
    answers: dict[str, dict] = {}
    started: list[str] = []
    done = False
    skip: set[int] = set()
    pending = list(exercises)
    limits = {e["id"]: float(e["time_limit"]) for e in exercises}
    private = tempfile.mkdtemp(prefix="nb-", dir=workroot)  # mode 0700, a random name
    channel = probe.Channel()
    try:
        workdir = os.path.join(private, "work")
        os.mkdir(workdir, 0o700)
        os.mkdir(os.path.join(private, "tmp"), 0o700)
        env = kernel_env(private)
        for _attempt in range(MAX_RESTARTS + 1):
            nonce, runner = probe.new_nonce(), probe.runner_name()
            prelude = nbformat.v4.new_code_cell(probe.prelude_source(channel.write_fd, runner), id="grader-prelude")
            probe_cell = nbformat.v4.new_code_cell(probe.cell_source(pending, nonce, runner), id="grader-probe")
            state["running"], state["errors"], state["probe_killed"] = None, [], None
            channel.forget()  # what an earlier kernel's probe sent is already in `answers`
            connection_file = os.path.join(private, f"kernel-{secrets.token_hex(8)}.json")
            dead = False
            try:
                asyncio.run(asyncio.wait_for(
                    _run(nb, [i for i in code if i not in skip], prelude, probe_cell, state, cell_timeout, deadline,
                         workdir, env, channel, nonce, limits, connection_file),
                    timeout=max(1.0, deadline - time.monotonic() + 10)))
            except DeadKernelError:
                dead = True
            except (asyncio.TimeoutError, TimeoutError):
                state["deadline_hit"] = True
            except Exception as err:  # nbclient or the kernel failed to start: reported, never raised
                state["failures"].append(f"{type(err).__name__}: {err}"[:500])
            client = state.pop("client", None)
            if client is not None and dead:
                state["output_bytes"] += client.output_bytes
                state["timed_out"].extend(client.timed_out)
            channel.drain()
            records, _ = channel.snapshot()
            got, began, finished = probe.read_records(records)
            for ex_id, answer in got.items():
                answers.setdefault(ex_id, answer)
            started.extend(s for s in began if s not in started)
            done = done or finished
            if not dead:
                break
            running = state.get("running")
            skip.update(state["timed_out"])  # a rerun does not wait for them again
            if isinstance(running, int):
                state["died"].append(running)
                skip.add(running)
            elif running == "probe":
                killer = next((s for s in began if s not in got), None)
                if killer is not None:
                    if state.get("probe_killed") == killer:
                        answers[killer] = {"timed_out": True}
                    else:
                        state["died"].append(f"probe:{killer}")
                        answers[killer] = {"died": True}
                pending = [e for e in pending if e["id"] not in answers]
                if not pending or killer is None:
                    done = done or not pending
                    break
            else:
                state["died"].append("start")
                break
            if time.monotonic() > deadline - 2:
                state["deadline_hit"] = True
                break
        if channel.overflow:
            state["failures"].append(f"the probe's answers exceeded {probe.MAX_CHANNEL_BYTES / 1e6:.0f} MB; "
                                     "the rest were dropped")
    finally:
        channel.close()
        _remove(private)
    for key in ("running", "probe_killed"):
        state.pop(key, None)
    return {
        "answers": answers, "started": started, "probe_done": done, "errors": state["errors"],
        "timed_out": sorted(set(state["timed_out"])), "died": state["died"], "skipped_from": state["skipped_from"],
        "deadline_hit": state["deadline_hit"], "output_bytes": state["output_bytes"],
        "failures": state["failures"], "seconds": time.monotonic() - start, "n_code_cells": len(code),
    }
