"""Master and student editions, Colab badges and setup cells, and the lessons' numbers."""
import json
import pathlib
import re

import nbformat
import pytest

from tools import colab, editions

MASTERS = editions.masters()
STUDENTS = sorted(editions.STUDENT_DIR.glob("[0-9][0-9]_*.ipynb"))
ALL = MASTERS + STUDENTS


def test_there_is_a_student_edition_for_each_master():
    assert MASTERS and [p.name for p in MASTERS] == [p.name for p in STUDENTS]


def test_strip_solutions_function_body_and_top_level_value():
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n    ### END SOLUTION\n\n"
        "### BEGIN SOLUTION\nanswer = 12.0\n### END SOLUTION\nprint(answer)"
    )
    stripped = editions.strip_solutions(source)
    assert stripped == (
        "def f(x):\n    raise NotImplementedError(\"Replace this line with your answer\")\n\n"
        "answer = ...  # your answer here\nprint(answer)"
    )


@pytest.mark.parametrize("master", MASTERS, ids=[p.name for p in MASTERS])
def test_student_edition_hides_solutions_and_instructor_cells(master):
    nb = editions.student_edition(master, run=False)
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "self_test" not in text
    for cell in nb.cells:
        assert not editions.INSTRUCTOR_ONLY_TAGS & set(cell.metadata.get("tags", []))
    solution_lines = [
        line.strip()
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", master.read_text().replace("\\n", "\n"),
                                re.DOTALL)
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith(("#", '"'))
    ]
    sources = "\n".join(c.source for c in nb.cells)
    leaked = [line for line in solution_lines if len(line) > 12 and line in sources]
    assert not leaked, f"solution lines in the student edition: {leaked}"


def test_committed_student_editions_are_what_make_student_produces():
    assert editions.stale_editions() == []


def _master_changed(change):
    """student_edition() as if each master had been edited by `change(nb)` after `make student` ran."""
    original = editions.student_edition

    def edited(master, run=True):
        nb = original(master, run=False)
        change(nb)
        return nb

    return edited


def test_a_stale_student_edition_is_caught(monkeypatch):
    """A source changed in a master, and `make student` was not run."""
    def add_import(nb):
        next(c for c in nb.cells if c.cell_type == "code" and "import" in c.source).source += "\nimport os"

    monkeypatch.setattr(editions, "student_edition", _master_changed(add_import))
    problems = editions.stale_editions()
    assert len(problems) == len(MASTERS) and all("is not what `make student` produces" in p for p in problems)
    assert editions.check() == 1


def test_a_tag_changed_in_the_master_makes_the_edition_stale(monkeypatch):
    def tag_last_cell(nb):
        nb.cells[-1].metadata["tags"] = ["nbval-ignore-output"]

    monkeypatch.setattr(editions, "student_edition", _master_changed(tag_last_cell))
    assert len(editions.stale_editions()) == len(MASTERS)


def test_outputs_that_differ_between_cpus_do_not_make_an_edition_stale(tmp_path):
    """PNG bytes and float32 digits differ between CPUs: the sync check compares what the instructor writes."""
    student = tmp_path / "student"
    student.mkdir()
    for path in STUDENTS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if "image/png" in out.get("data", {}):
                    out["data"]["image/png"] = "iVBORw0KGgo" + "A" * 40  # another machine's pixels
                if "text" in out:
                    out["text"] = out["text"].replace("0.", "0.0")
        nbformat.write(nb, student / path.name)
    assert editions.stale_editions(student) == []
    (student / STUDENTS[0].name).unlink()
    assert "is missing" in editions.stale_editions(student)[0]


def test_make_student_refuses_to_overwrite_a_students_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(editions, "STUDENT_DIR", tmp_path)
    monkeypatch.setattr(editions, "masters", lambda: MASTERS[:1])
    monkeypatch.setattr(editions, "student_edition",
                        lambda master, run=True: _unexecuted_student(master))
    assert editions.write_student() == 0
    target = tmp_path / MASTERS[0].name
    nb = nbformat.read(target, as_version=4)
    nb.cells[-1].source += "\n# my own notes"
    nbformat.write(nb, target)
    before = target.read_text()
    assert editions.write_student() == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert target.read_text() == before
    assert editions.write_student(force=True) == 0
    assert "my own notes" not in target.read_text()


def _unexecuted_student(master):
    nb = nbformat.read(master, as_version=4)
    nb.metadata["course"] = {"generated_sha256": editions.sources_hash(nb)}
    return nb


@pytest.mark.parametrize("path", ALL, ids=[f"{p.parent.name}/{p.name}" for p in ALL])
def test_badge_points_at_its_own_notebook_and_setup_cell_installs_the_checker(path):
    nb = nbformat.read(path, as_version=4)
    badge, setup = nb.cells[0], nb.cells[1]
    assert colab.BADGE_TAG in badge.metadata.get("tags", [])
    own = path.relative_to(colab.ROOT).as_posix()
    links = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", badge.source)
    assert links[0] == colab.colab_url(own)
    assert links[0].endswith(f"/blob/{colab.COURSE['branch']}/{own}")
    assert colab.COURSE["github"] in links[0]
    assert colab.SETUP_TAG in setup.metadata.get("tags", [])
    assert setup.source == colab.setup_source()
    assert f'"{colab.pip_target()}"' in setup.source and '"google.colab" in sys.modules' in setup.source


def test_readme_lists_every_lesson_with_both_badges():
    table = colab.readme_table(MASTERS)
    assert table in (colab.ROOT / "README.md").read_text(), "run `make badges` to update README.md"
    for master in MASTERS:
        assert colab.colab_url(master.relative_to(colab.ROOT).as_posix()) in table
        assert colab.colab_url(f"{colab.COURSE['student_dir']}/{master.name}") in table


def test_notebooks_are_numbered_and_executed_in_order():
    for path in ALL:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)
        nb = nbformat.read(path, as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), f"{path.name} was not run top to bottom"


def _outputs(path: pathlib.Path) -> str:
    nb = nbformat.read(path, as_version=4)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def test_lesson01_outputs_hold_the_seed_numbers():
    master = _outputs(editions.MASTER_DIR / "01_derivatives.ipynb")
    student = _outputs(editions.STUDENT_DIR / "01_derivatives.ipynb")
    for text in (master, student):
        assert "tensor(6.)" in text and "tensor(-5.4668)" in text
        assert "float64 autograd: -5.466781571308061" in text
    assert "\n4\n" in f"\n{master}\n"  # dy_dx(2)
    assert "-5.466781571308061" in master and "At x = 3 yours gives dz/dx = -5.466781571308061" in master
    assert "At x = 2 yours gives dy/dx = 4.0" in master
    # the student edition's three exercises are grey; the one green box is check_gradient's demo
    assert student.count("○ Not attempted yet") == 3 and student.count("✔ Correct") == 1
