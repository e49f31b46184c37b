"""`make colab-sim`: the student editions in an environment like Google Colab's.

1. A throwaway venv with what Colab ships where this machine allows: ipywidgets 7.7.1,
   ipykernel 6.17.1, IPython 7.34, matplotlib 3.10, and torch installed BEFORE the
   checker (the local 2.13.0 CPU build; Python is this machine's).
2. The checker installed exactly as the notebooks' Colab setup cell does it
   (`pip install -q <url>`), with the GitHub URL replaced by a local clone
   (`git+file://...`). pip's own report lists what it installed: it must be the
   checker alone, no torch reinstall, no new dependency. The wheel's size is printed.
3. Every edition, exercise and solution, executed top to bottom in that venv's kernel the
   way Colab's "Run all" does it: cell tags dropped (Colab has none, so `raises-exception`
   would not help) and errors not allowed. Output is compared laxly (versions legitimately
   print differently): no errors, the same checker verdicts as the committed edition, and
   each widget cell shows an ipywidgets 7 slider and its figure.

What it cannot reproduce here is printed first: Colab's torch (2.11; PyPI has no CPU-only
build of it for Linux, so the venv keeps this machine's torch) and Colab's Python (3.12/3.13).
`make compat` runs the unit tests on Colab's torch in a venv of its own.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import nbformat

from tools import colab, editions

# Colab's runtime as of 2026-08 (googlecolab/backend-info): what this simulation cannot match is reported.
COLAB = {"python": "3.12/3.13", "torch": "2.11.0", "ipywidgets": "7.7.1", "ipykernel": "6.17.1", "IPython": "7.34.0"}
COLAB_PACKAGES = ["torch==2.13.0", "ipywidgets==7.7.1", "ipykernel==6.17.1", "ipython==7.34.0", "matplotlib==3.10.*"]
EXPLORER = re.compile(r"^explore_\w+\(", re.MULTILINE)
VERDICT = re.compile(r'class="checker-result checker-(\w+)"')


def run(*command, **kwargs):
    print("$", " ".join(map(str, command)), flush=True)
    return subprocess.run(list(map(str, command)), check=True, **kwargs)


def make_venv(where: pathlib.Path) -> pathlib.Path:
    run(sys.executable, "-m", "venv", where)
    python = where / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "-q", *COLAB_PACKAGES)
    return python


def install_like_colab(python: pathlib.Path, clone: pathlib.Path, report: pathlib.Path) -> list[str]:
    """The setup cell's pip command, with the repository URL pointed at a local clone."""
    url = f"git+file://{clone}@{colab.COURSE['branch']}"
    setup = colab.setup_source()
    assert colab.pip_target() in setup, "the setup cell no longer installs from pip_target()"
    run(python, "-m", "pip", "install", "-q", "--report", report, url)
    installed = json.loads(report.read_text())["install"]
    return [f"{item['metadata']['name']}=={item['metadata']['version']}" for item in installed]


def wheel_size(python: pathlib.Path, clone: pathlib.Path, out: pathlib.Path) -> tuple[str, int]:
    run(python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, clone)
    wheel = next(out.glob("*.whl"))
    return wheel.name, wheel.stat().st_size


def kernel_for(python: pathlib.Path, prefix: pathlib.Path) -> str:
    run(python, "-m", "ipykernel", "install", "--prefix", prefix, "--name", "colab-sim", "--display-name", "colab-sim")
    return "colab-sim"


def execute(path: pathlib.Path, kernel: str, env_prefix: pathlib.Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # Colab has no cell tags: a tagged error would stop its Run all
        cell.metadata.pop("tags", None)
    os.environ["JUPYTER_PATH"] = str(env_prefix / "share" / "jupyter")
    client = NotebookClient(nb, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=True)
    client.execute()  # allow_errors is False: raises at the first cell that fails, as Colab's Run all stops
    return nb


def verdicts(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            found += VERDICT.findall(out.get("data", {}).get("text/html", ""))
    return found


def widget_cells_ok(nb) -> list[str]:
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not EXPLORER.search(cell.source):  # the cells that show an explorer widget
            continue
        kinds = [list(o.get("data", {})) for o in cell.outputs]
        has_widget = any(editions.WIDGET_VIEW in k for k in kinds)
        has_image = any("image/png" in k for k in kinds)
        if not (has_widget and has_image):
            problems.append(f"cell {index}: widget {has_widget}, figure {has_image}")
    return problems


def not_reproduced(python: pathlib.Path) -> list[str]:
    """Colab's versions that this venv does not have."""
    code = ("import sys, torch, IPython; "
            "print(sys.version.split()[0], torch.__version__.split('+')[0], IPython.__version__)")
    py, torch, ipython = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.split()
    missing = []
    if not any(py.startswith(v) for v in COLAB["python"].split("/")):
        missing.append(f"Python {COLAB['python']} (here {py})")
    if torch != COLAB["torch"]:
        missing.append(f"torch {COLAB['torch']} (here {torch}: `make compat` runs the unit tests on {COLAB['torch']})")
    if ipython != COLAB["IPython"]:
        missing.append(f"IPython {COLAB['IPython']} (here {ipython})")
    return missing


def main() -> int:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="colab-sim-"))
    try:
        clone = tmp / "clone"
        run("git", "clone", "-q", colab.ROOT, clone)
        python = make_venv(tmp / "venv")
        before = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
        installed = install_like_colab(python, clone, tmp / "pip-report.json")
        after = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
        torch_line = [line for line in after.splitlines() if line.startswith("torch==")]
        print(f"\npip installed: {', '.join(installed)}")
        print(f"torch before and after: {torch_line} (unchanged: {torch_line[0] in before})")
        name, size = wheel_size(python, clone, tmp / "wheel")
        print(f"wheel: {name}, {size / 1024:.1f} KiB\n")
        problems = []
        if [i.split("==")[0] for i in installed] != ["autograd-course-checker"]:
            problems.append(f"pip installed more than the checker: {installed}")
        if not torch_line or torch_line[0] not in before:
            problems.append("torch was reinstalled or changed")

        missing = not_reproduced(python)
        print("Colab's versions not reproduced here: " + ("; ".join(missing) if missing else "none") + "\n")
        kernel = kernel_for(python, tmp / "venv")
        paths = [p for folder in (colab.COURSE["student_dir"], colab.COURSE["master_dir"])
                 for p in sorted((clone / folder).glob("[0-9][0-9]_*.ipynb"))]
        for path in paths:
            committed = nbformat.read(path, as_version=4)
            try:
                nb = execute(path, kernel, tmp / "venv")
            except Exception as err:  # noqa: BLE001 - report and go on with the other lessons
                problems.append(f"{path.parent.name}/{path.name}: failed to run: {str(err)[-800:]}")
                continue
            same = verdicts(nb) == verdicts(committed)
            widgets = widget_cells_ok(nb)
            print(f"{path.parent.name}/{path.name}: ran top to bottom, tags ignored, no error; verdicts {verdicts(nb)} "
                  f"{'match' if same else 'DIFFER from'} the committed edition; widget cells "
                  f"{'ok' if not widgets else widgets}")
            if not same:
                problems.append(f"{path.parent.name}/{path.name}: verdicts differ: "
                                f"{verdicts(nb)} vs {verdicts(committed)}")
            problems += [f"{path.parent.name}/{path.name}: {p}" for p in widgets]
        print("\n" + ("colab-sim: all good" if not problems else "colab-sim problems:\n- " + "\n- ".join(problems)))
        return 1 if problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
