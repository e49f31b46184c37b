"""Every edition runs top to bottom the way Colab's "Run all" runs it.

Colab has no cell tags (googlecolab/colabtools issue 3377): `raises-exception` is ignored
and "Run all" stops at the first exception. nbclient and nbval do honour that tag, so running
a notebook through them proves nothing about Colab unless the tags are dropped first: these
tests drop every tag, then execute with errors not allowed. Deliberate errors are shown with
`checker.expect_error` instead, which works the same everywhere.
"""
import configparser
import copy
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

from tools import editions

EDITIONS = editions.masters() + sorted(editions.STUDENT_DIR.glob("[0-9][0-9]_*.ipynb"))
IDS = [f"{p.parent.name}/{p.name}" for p in EDITIONS]
# Tags with which nbval or nbclient would skip a cell or accept its error: Colab knows none of them.
TAGS_THAT_HIDE_ERRORS = {"raises-exception", "nbval-raises-exception", "nbval-skip", "skip-execution"}


def without_tags(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    return nb


@pytest.mark.parametrize("path", EDITIONS, ids=IDS)
def test_no_cell_relies_on_a_tag_to_run(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if TAGS_THAT_HIDE_ERRORS & set(c.metadata.get("tags", []))]
    assert not tagged, f"cells {tagged} carry a tag that Colab ignores: show the error with checker.expect_error"
    assert not any(out.get("output_type") == "error" for c in nb.cells for out in c.get("outputs", []))


# Other CPUs and thread counts, in the same run: the kernel inherits these. ATEN_CPU_CAPABILITY makes torch
# take the kernels of an older CPU (no AVX-512, or no vector units at all), as on another machine.
MACHINES = [
    {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default"},
    {"MKL_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"},  # torch's default thread count
]
SANITIZE = configparser.ConfigParser()
SANITIZE.read(pathlib.Path(__file__).parent.parent / "nbval_sanitize.cfg")


def compared(cell, tags) -> list:
    """A cell's outputs as nbval compares them: text only, sanitised, stderr and ignored cells left out."""
    if "nbval-ignore-output" in tags:
        return []
    texts = []
    for out in editions.coalesce_streams(copy.deepcopy(cell.get("outputs", []))):
        if out.get("name") == "stderr":
            continue
        data = out.get("data", {})
        for text in [out.get("text")] + [data.get(kind) for kind in ("text/plain", "text/html", "text/latex")]:
            if text:
                for section in SANITIZE.sections():
                    text = re.sub(SANITIZE[section]["regex"], SANITIZE[section]["replace"], text)
                texts.append(text)
    return texts


@pytest.mark.parametrize("path", EDITIONS, ids=IDS)
def test_run_all_with_tags_ignored_and_errors_not_allowed(path, monkeypatch):
    """...on another "machine": other thread counts and CPU kernels than the stored outputs were made with,
    which must not change any text a test compares."""
    for name, value in MACHINES[EDITIONS.index(path) % len(MACHINES)].items():
        monkeypatch.setenv(name, value)
    stored = nbformat.read(path, as_version=4)
    nb = without_tags(stored)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError at the first cell that fails
    ran = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count is not None for c in ran), "a cell did not run"
    shown = sum("(an error this cell shows on purpose)" in out.get("data", {}).get("text/plain", "")
                for c in ran for out in c.outputs)
    assert shown == sum(c.source.count("with expect_error(") for c in ran), "an expected error was not shown"
    for index, (old, new) in enumerate(zip(stored.cells, nb.cells)):
        if old.cell_type == "code":
            tags = old.metadata.get("tags", [])
            assert compared(new, tags) == compared(old, tags), f"cell {index} prints otherwise on another CPU"
