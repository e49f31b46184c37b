"""Master and student editions of the lessons.

The master notebook (notebooks/master/NN_topic.ipynb) holds the solutions between
`### BEGIN SOLUTION` / `### END SOLUTION` and instructor-only cells tagged `self-test`
or `solution-only`. From it:

    python -m tools.editions execute          run the masters top to bottom, store outputs
    python -m tools.editions student [--force] generate and execute the student editions
    python -m tools.editions check            fail if a committed student edition's sources, tags or
                                              metadata differ from what `student` would write now

A student edition records a hash of its cells' sources when generated; `student`
refuses to overwrite one whose sources changed since (someone's work), unless --force.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import pathlib
import re
import sys

import nbformat

from tools.colab import COURSE, ROOT, masters, set_generated_cells

MASTER_DIR = ROOT / COURSE["master_dir"]
STUDENT_DIR = ROOT / COURSE["student_dir"]
INSTRUCTOR_ONLY_TAGS = {"self-test", "solution-only"}
STUB = 'raise NotImplementedError("Replace this line with your answer")'
SOLUTION_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[^\n]*\n(?P<body>.*?)^[ \t]*### END SOLUTION[^\n]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)
MARKDOWN_SOLUTION = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.DOTALL)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def _stub(match: re.Match) -> str:
    """A function body becomes `raise NotImplementedError(...)`; a top-level
    `name = value` becomes `name = ...` so the notebook still runs to the end."""
    indent, body = match.group("indent"), match.group("body")
    assignment = re.match(r"\s*([A-Za-z_]\w*)\s*=", body)
    if not indent and assignment:
        return f"{assignment.group(1)} = ...  # your answer here\n"
    return f"{indent}{STUB}\n"


def strip_solutions(source: str) -> str:
    return SOLUTION_BLOCK.sub(_stub, source)


def sources_hash(nb) -> str:
    text = json.dumps([(c.cell_type, c.source) for c in nb.cells])
    return hashlib.sha256(text.encode()).hexdigest()


def normalize(nb) -> None:
    """Keep only metadata that does not vary from machine to machine or run to run."""
    course = nb.metadata.get("course")
    nb.metadata = copy.deepcopy(NOTEBOOK_METADATA)
    if course:
        nb.metadata["course"] = course
    for cell in nb.cells:
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            # A widget's view names a model id that is new on every run and means nothing
            # without a live kernel; the figure it drives is a separate, stored output.
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
            cell.outputs = coalesce_streams(cell.outputs)


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stdout (or stderr) outputs into one: how a cell's prints are split
    into messages depends on timing, so the same run could be stored differently."""
    merged = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == out.get("name")):
            previous["text"] = "".join(previous["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    return merged


def execute(nb, workdir: pathlib.Path) -> None:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        record_timing=False,
        store_widget_state=True,  # needed for Output widgets; normalize() drops the state
    )
    client.execute()
    normalize(nb)


def student_edition(master_path: pathlib.Path, run: bool = True):
    """The student edition of one master notebook, executed unless run=False."""
    nb = nbformat.read(master_path, as_version=4)
    nb.cells = [c for c in nb.cells if not INSTRUCTOR_ONLY_TAGS & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = MARKDOWN_SOLUTION.sub("*Your answer here.*", cell.source)
    student_path = STUDENT_DIR / master_path.name
    set_generated_cells(nb, student_path.relative_to(ROOT).as_posix(), "student")
    nb.metadata["course"] = {"generated_from": master_path.relative_to(ROOT).as_posix(),
                             "generated_sha256": sources_hash(nb)}
    if run:
        execute(nb, STUDENT_DIR)
    normalize(nb)
    return nb


def edited_since_generated(path: pathlib.Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    recorded = nb.metadata.get("course", {}).get("generated_sha256")
    return recorded != sources_hash(nb)


def shown(path: pathlib.Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def write_student(force: bool = False, only: str | None = None) -> int:
    STUDENT_DIR.mkdir(parents=True, exist_ok=True)
    status = 0
    for master in masters():
        if only and only not in master.name:
            continue
        target = STUDENT_DIR / master.name
        if target.exists() and edited_since_generated(target) and not force:
            print(f"refusing to overwrite {shown(target)}: it was edited since it was generated "
                  "(someone's work?). Move it away, or pass --force.", file=sys.stderr)
            status = 1
            continue
        nbformat.write(student_edition(master), target)
        print(f"wrote {shown(target)}")
    return status


def execute_masters(only: str | None = None) -> int:
    for master in masters():
        if only and only not in master.name:
            continue
        nb = nbformat.read(master, as_version=4)
        execute(nb, MASTER_DIR)
        nbformat.write(nb, master)
        print(f"executed {master.relative_to(ROOT)}")
    return 0


def instructor_controlled(nb) -> list:
    """What the instructor decides in an edition: the notebook's metadata and each cell's type, source
    and metadata (tags included). Outputs are not in it: they come from running the notebook, and their
    bytes depend on the CPU (the float32 training of lesson 04 ends a few PNG pixels apart on another
    machine). nbval compares each edition's stored text outputs with a fresh run, after sanitising."""
    cells = [(c.cell_type, c.source, {k: v for k, v in c.metadata.items() if k not in VOLATILE_CELL_METADATA})
             for c in nb.cells]
    return [dict(nb.metadata), cells]


VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def stale_editions(committed_dir: pathlib.Path | None = None) -> list[str]:
    """The student editions (in `committed_dir`, default the course's) that are missing or not what
    `make student` would write from their master."""
    problems = []
    for master in masters():
        committed = (committed_dir or STUDENT_DIR) / master.name
        if not committed.exists():
            problems.append(f"{shown(committed)} is missing: run `make student`")
            continue
        fresh = nbformat.reads(nbformat.writes(student_edition(master, run=False)), as_version=4)
        if instructor_controlled(nbformat.read(committed, as_version=4)) != instructor_controlled(fresh):
            problems.append(f"{shown(committed)} is not what `make student` produces from {shown(master)} now: "
                            "run `make student` and commit the result")
    return problems


def check() -> int:
    """Fail if a committed student edition's sources, tags or metadata differ from a fresh generation."""
    problems = stale_editions()
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"student editions in sync with their masters ({len(masters())} lessons)")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["execute", "student", "check"])
    parser.add_argument("--force", action="store_true", help="overwrite edited student notebooks")
    parser.add_argument("--only", help="only lessons whose file name contains this, e.g. 01")
    args = parser.parse_args(argv)
    if args.command == "execute":
        return execute_masters(args.only)
    if args.command == "student":
        return write_student(args.force, args.only)
    return check()


if __name__ == "__main__":
    sys.exit(main())
