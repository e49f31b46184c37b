"""Colab badges and setup cells, generated from the one file that names the repository.

course.json holds the GitHub slug and branch. `python -m tools.colab` rewrites the
badge cell and the setup cell of every master notebook from it, and the lesson table
of README.md; the student edition gets its own badge when it is generated
(tools/editions.py).
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
COURSE = json.loads((ROOT / "course.json").read_text())
BADGE_TAG, SETUP_TAG = "colab-badge", "colab-setup"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_url(path: str) -> str:
    """Where Colab opens the notebook at `path` (relative to the repository root)."""
    return f"https://colab.research.google.com/github/{COURSE['github']}/blob/{COURSE['branch']}/{path}"


def pip_target() -> str:
    return f"git+https://github.com/{COURSE['github']}@{COURSE['branch']}"


def badge_source(path: str, edition: str) -> str:
    other = {"student": "master", "master": "student"}[edition]
    other_path = path.replace(COURSE[f"{edition}_dir"], COURSE[f"{other}_dir"], 1)
    label = {
        "student": "Exercise edition: write your answers in the cells marked `raise NotImplementedError`.",
        "master": "Solution edition, with answers and instructor self-tests.",
    }[edition]
    other_label = {"student": "exercise edition", "master": "solution edition"}[other]
    return (
        f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(path)})\n\n"
        f"*{label} The [{other_label}]({colab_url(other_path)}) is also on Colab.*"
    )


def setup_source() -> str:
    return (
        "# Setup: on Google Colab, install the course's checker (a few seconds; torch is already there).\n"
        "# Anywhere else this cell does nothing: `make install` has installed it.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    checker_url = "{pip_target()}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", checker_url], check=True)'
    )


def set_generated_cells(nb, path: str, edition: str) -> None:
    """Rewrite the tagged badge and setup cells of `nb` in place."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if BADGE_TAG in tags:
            cell.source = badge_source(path, edition)
        elif SETUP_TAG in tags:
            cell.source = setup_source()


def lesson_title(nb) -> str:
    """The lesson's title: its first `# ` heading, without the "Lesson NN ·" prefix."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"^#\s*Lesson \d+\s*·\s*", "", line).strip()
    return ""


def readme_table(masters: list[pathlib.Path]) -> str:
    import nbformat

    badge = f"![Open In Colab]({BADGE_IMAGE})"
    rows = ["| # | Lesson | Exercise edition | Solution edition |", "|---|---|---|---|"]
    for path in masters:
        master = path.relative_to(ROOT).as_posix()
        student = master.replace(COURSE["master_dir"], COURSE["student_dir"], 1)
        title = lesson_title(nbformat.read(path, as_version=4))
        rows.append(f"| {path.name[:2]} | {title} | [{badge}]({colab_url(student)}) | [{badge}]({colab_url(master)}) |")
    return "\n".join(rows)


README_TABLE = re.compile(r"(<!-- lessons:begin -->\n).*?(<!-- lessons:end -->)", re.DOTALL)


def masters() -> list[pathlib.Path]:
    return sorted((ROOT / COURSE["master_dir"]).glob("[0-9][0-9]_*.ipynb"))


def main() -> int:
    import nbformat

    for nb_path in masters():
        nb = nbformat.read(nb_path, as_version=4)
        set_generated_cells(nb, nb_path.relative_to(ROOT).as_posix(), "master")
        nbformat.write(nb, nb_path)
        print(f"badges and setup cell written: {nb_path.relative_to(ROOT)}")
    readme = ROOT / "README.md"
    text = README_TABLE.sub(lambda m: m.group(1) + readme_table(masters()) + "\n" + m.group(2), readme.read_text())
    readme.write_text(text)
    print("lesson table written: README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
