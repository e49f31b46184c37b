"""Running one submitted notebook, then the probe, in a fresh kernel (the worker's job).

The notebook runs in its own kernel, in a new temporary working directory, with errors
allowed (a failing cell does not stop the rest), a per-cell time limit (the kernel is
interrupted, then the next cell runs) and a per-notebook deadline (past it, the remaining
cells are skipped and the kernel is killed if it does not answer). What cells print is
counted, not kept. A kernel that dies is restarted (at most twice) and the notebook run
again without the cell that killed it, so answers defined elsewhere are still graded.

Nothing here judges: it returns the probe's raw answers for `checker.grading.replay`.
This is not a sandbox: see the README's "Grading many submissions".
"""
from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import tempfile
import time
from typing import Any

from . import probe

MAX_RESTARTS = 2


def _client_class():
    from nbclient import NotebookClient

    class Client(NotebookClient):
        """Counts output instead of storing it, and remembers which cells timed out or failed."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.output_bytes = 0
            self.timed_out: list[int] = []
            self.current_index = -1

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            text = content.get("text")
            size = len(text) if isinstance(text, str) else len(str(content.get("data", "")))
            if cell_index == -1 and size < 20_000 and len(outs) < 20:  # the probe's own errors, for the notes
                return super().output(outs, msg, display_id, cell_index)
            self.output_bytes += size
            return None

        async def _async_handle_timeout(self, timeout, cell=None):
            self.timed_out.append(self.current_index)
            return await super()._async_handle_timeout(timeout, cell)

    return Client


def kernel_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # several kernels share the cores
    env.setdefault("MPLBACKEND", "Agg")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


async def _run(nb, cells: list[int], probe_cell, state: dict, cell_timeout: float, deadline: float,
               workdir: str, env: dict) -> None:
    """Run `cells` of nb, then the probe cell, in one new kernel. Raises DeadKernelError."""
    Client = _client_class()
    client = Client(
        nb, timeout=max(1, int(cell_timeout)), kernel_name="python3", allow_errors=True,
        interrupt_on_timeout=True, record_timing=False, store_widget_state=False,
        shutdown_kernel="immediate", startup_timeout=60, iopub_timeout=4,
        resources={"metadata": {"path": workdir}},
    )
    state["client"] = client

    async def on_cell_executed(cell, cell_index, execute_reply):
        content = (execute_reply or {}).get("content", {})
        deliberate = "raises-exception" in cell.get("metadata", {}).get("tags", [])  # a lesson's own demo
        if content.get("status") == "error" and cell_index >= 0 and not deliberate:
            state["errors"].append((cell_index, str(content.get("ename", ""))[:100],
                                    str(content.get("evalue", ""))[:300]))

    client.on_cell_executed = on_cell_executed
    # The kernel's own stdout/stderr (not the cells' output, which comes by messages) go nowhere.
    async with client.async_setup_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        for index in cells:
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                state["skipped_from"] = index
                break
            client.timeout = max(1, int(min(cell_timeout, remaining)))
            client.current_index = index
            state["running"] = index
            await client.async_execute_cell(nb.cells[index], index)
            state["ran"].add(index)
        state["running"] = "probe"
        client.current_index = -1
        remaining = deadline - time.monotonic()
        client.timeout = max(5, int(remaining))  # the probe's own per-exercise limits come first
        await client.async_execute_cell(probe_cell, -1, store_history=False)
        state["running"] = None
        for out in probe_cell.get("outputs", []):
            if out.get("output_type") == "error":
                state["failures"].append(f"the grader's probe raised {out.get('ename')}: {out.get('evalue')}"[:500])
    state["output_bytes"] += client.output_bytes
    state["timed_out"].extend(client.timed_out)


def execute(notebook_json: str, exercises: list[dict], cell_timeout: float = 60.0,
            notebook_timeout: float = 300.0) -> dict[str, Any]:
    """Run a notebook (JSON text) and the probe for `exercises` (from probe.exercise_request).

    Returns plain data: {"answers": {id: raw}, "started": [...], "probe_done": bool,
    "errors": [(cell, ename, evalue)], "timed_out": [cell], "died": [cell or "probe:<id>"],
    "skipped_from": cell or None, "deadline_hit": bool, "output_bytes": int, "seconds": float}.
    """
    import nbformat
    from nbclient.exceptions import DeadKernelError

    start = time.monotonic()
    deadline = start + notebook_timeout
    nb = nbformat.reads(notebook_json, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code" and str(c.get("source", "")).strip()]
    state: dict[str, Any] = {"errors": [], "timed_out": [], "died": [], "skipped_from": None, "deadline_hit": False,
                             "output_bytes": 0, "ran": set(), "failures": []}
    answers: dict[str, dict] = {}
    started: list[str] = []
    done = False
    env = kernel_env()
    skip: set[int] = set()
    pending = list(exercises)
    with tempfile.TemporaryDirectory(prefix="checker-grade-") as root:
        workdir = pathlib.Path(root) / "work"
        workdir.mkdir()
        for _attempt in range(MAX_RESTARTS + 1):
            nonce = probe.new_nonce()
            channel = pathlib.Path(root) / f"probe-{nonce}.jsonl"
            probe_cell = nbformat.v4.new_code_cell(probe.cell_source(pending, nonce, str(channel)))
            state["running"], state["ran"], state["errors"] = None, set(), []
            dead = False
            remaining = deadline - time.monotonic()
            try:
                asyncio.run(asyncio.wait_for(
                    _run(nb, [i for i in code if i not in skip], probe_cell, state, cell_timeout, deadline,
                         str(workdir), env),
                    timeout=max(1.0, remaining + 10)))
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
            got, began, finished = probe.read_channel(channel, nonce)
            answers.update(got)
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
                    state["died"].append(f"probe:{killer}")
                    answers[killer] = {"died": True}
                pending = [e for e in pending if e["id"] not in answers]
                if not pending:
                    done = True
                    break
            else:
                state["died"].append("start")
                break
            if time.monotonic() > deadline - 2:
                state["deadline_hit"] = True
                break
    state.pop("ran", None)
    state.pop("running", None)
    return {
        "answers": answers, "started": started, "probe_done": done, "errors": state["errors"],
        "timed_out": sorted(set(state["timed_out"])), "died": state["died"], "skipped_from": state["skipped_from"],
        "deadline_hit": state["deadline_hit"], "output_bytes": state["output_bytes"],
        "failures": state["failures"], "seconds": time.monotonic() - start, "n_code_cells": len(code),
    }
