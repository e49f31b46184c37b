"""`make compat`: the checker's unit tests on another torch, by default Colab's (2.11.0).

    python -m tools.compat                 torch 2.11.0 in a venv of its own (.compat/torch-2.11.0)
    python -m tools.compat --torch 2.4.1   another version
    python -m tools.compat --python python3  an interpreter that already has the torch to test
                                             (e.g. the GPU machine's image, which ships Colab's torch)

The venv gets torch from PyPI (on Linux that is the CUDA build with its NVIDIA libraries, about
3 GB, which runs on a CPU too: PyPI has no CPU-only build of older versions) and the test tools
pinned in requirements.txt. The tests run against this checkout (PYTHONPATH), not an installed copy.
Not part of `make test` or CI (the download); the closing line says which torch was tested.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What the unit tests need besides torch; the rest of requirements.txt is for the browser, lint and lab.
COLAB_TORCH = "2.11.0"  # Colab's torch (googlecolab/backend-info, 2026-08): the oldest the checker promises
TEST_TOOLS = ("numpy", "matplotlib", "ipywidgets", "ipykernel", "nbclient", "nbconvert", "nbformat", "nbval",
              "pytest", "pytest-xdist", "tqdm")


def pinned_test_tools() -> list[str]:
    pins = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>;\s]", line.strip(), maxsplit=1)[0]
        if name in TEST_TOOLS:
            pins.append(line.strip())
    return pins


def make_venv(version: str) -> pathlib.Path:
    where = ROOT / ".compat" / f"torch-{version}"
    python = where / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", where], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", f"torch=={version}", *pinned_test_tools()], check=True)
    return python


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch", default=COLAB_TORCH, help="the torch version to install and test (default: Colab's)")
    parser.add_argument("--python", help="test with this interpreter and its own torch instead of a new venv")
    parser.add_argument("--jobs", default="2")
    args = parser.parse_args(argv)
    python = args.python or str(make_venv(args.torch))
    version = subprocess.run([python, "-c", "import torch, sys; print(torch.__version__, sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.split()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # test_workflows needs the workflow linters of `make install`, which have nothing to do with torch
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", args.jobs, "--dist", "loadfile",
               "tests", "--ignore", "tests/test_workflows.py"]
    status = subprocess.run(command, cwd=ROOT, env=env).returncode
    print(f"\ncompat: unit tests on torch {version[0]}, Python {version[1]}: {'passed' if status == 0 else 'FAILED'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
