"""`make colab-sim`: the student editions in an environment like Google Colab's.

1. A throwaway venv with what Colab ships where this machine allows: ipywidgets 7.7.1,
   ipykernel 6.17.1, IPython 7.34, matplotlib 3.10, and torch installed BEFORE the
   checker (the local 2.13.0 CPU build; Python is this machine's).
2. The checker installed exactly as the notebooks' Colab setup cell does it
   (`pip install -q <url>`), with the GitHub URL replaced by a local clone
   (`git+file://...`). pip's own report lists what it installed: it must be the
   checker alone, no torch reinstall, no new dependency. The wheel's size is printed.
3. Every student edition executed top to bottom in that venv's kernel. Output is
   compared laxly (versions legitimately print differently): no unexpected errors,
   the same checker verdicts as the committed edition, and each widget cell shows an
   ipywidgets 7 slider and its figure.
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

COLAB_PACKAGES = ["torch==2.13.0", "ipywidgets==7.7.1", "ipykernel==6.17.1", "ipython==7.34.0", "matplotlib==3.10.*"]
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
    os.environ["JUPYTER_PATH"] = str(env_prefix / "share" / "jupyter")
    client = NotebookClient(nb, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=True)
    client.execute()  # raises on any error outside cells tagged raises-exception
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
        if "nbval-ignore-output" not in cell.metadata.get("tags", []) or "explore" not in cell.source:
            continue
        kinds = [list(o.get("data", {})) for o in cell.outputs]
        has_widget = any(editions.WIDGET_VIEW in k for k in kinds)
        has_image = any("image/png" in k for k in kinds)
        if not (has_widget and has_image):
            problems.append(f"cell {index}: widget {has_widget}, figure {has_image}")
    return problems


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

        kernel = kernel_for(python, tmp / "venv")
        for path in sorted((clone / colab.COURSE["student_dir"]).glob("[0-9][0-9]_*.ipynb")):
            committed = nbformat.read(path, as_version=4)
            try:
                nb = execute(path, kernel, tmp / "venv")
            except Exception as err:  # noqa: BLE001 - report and go on with the other lessons
                problems.append(f"{path.name}: failed to run: {str(err)[-800:]}")
                continue
            same = verdicts(nb) == verdicts(committed)
            widgets = widget_cells_ok(nb)
            print(f"{path.name}: ran top to bottom; verdicts {verdicts(nb)} "
                  f"{'match' if same else 'DIFFER from'} the committed edition; widget cells "
                  f"{'ok' if not widgets else widgets}")
            if not same:
                problems.append(f"{path.name}: verdicts differ: {verdicts(nb)} vs {verdicts(committed)}")
            problems += [f"{path.name}: {p}" for p in widgets]
        print("\n" + ("colab-sim: all good" if not problems else "colab-sim problems:\n- " + "\n- ".join(problems)))
        return 1 if problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
