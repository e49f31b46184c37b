"""The package's layout: four parts (engine, lessons, figures, grading), each importing only the ones below
it, and no import cycle between modules, counting the imports made inside functions too.

    engine   <-  figures  <-  lessons  <-  grading        (checker/__init__.py sits on top of all four)
"""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

import checker

PACKAGE = pathlib.Path(checker.__file__).parent
PARTS = ("engine", "figures", "lessons", "grading")
MAY_IMPORT = {  # the parts each part may import, besides itself
    "engine": set(),
    "figures": {"engine"},
    "lessons": {"engine", "figures"},
    "grading": {"engine", "lessons"},
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The checker modules `name` imports anywhere in its code (top level, functions, methods)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from .engine import judge` imports the module checker.engine.judge
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: imports(name) for name in MODULES}


def part(name: str) -> str:
    pieces = name.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[1] in PARTS else "top"


def test_every_module_is_in_a_part():
    loose = [n for n in MODULES if part(n) == "top" and n not in ("checker", "checker.__main__")]
    assert not loose, f"modules outside engine/lessons/figures/grading: {loose}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if part(n) != "top"))
def test_a_part_imports_only_the_parts_below_it(name):
    allowed = MAY_IMPORT[part(name)] | {part(name)}
    wrong = sorted(t for t in GRAPH[name] if part(t) not in allowed)
    assert not wrong, f"{name} ({part(name)}) imports {wrong}"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_cycles():  # so that the test above can fail
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    judge_exercise = dict(GRAPH)
    judge_exercise["checker.engine.judge"] = GRAPH["checker.engine.judge"] | {"checker.engine.exercise"}
    assert ["checker.engine.exercise", "checker.engine.judge"] in cycles(judge_exercise)


def test_the_import_reader_sees_imports_inside_functions():
    assert "checker.engine.harness" in GRAPH["checker.engine.spec"]  # ExerciseSpec.measured imports it lazily
    assert "checker.engine.render" in GRAPH["checker.figures.plots"]


def test_rendering_imports_nothing_of_the_checker():
    assert GRAPH["checker.engine.render"] == set()


def test_lessons_are_found_where_they_were():
    code = ("from checker import lesson01 as ex, lesson06\n"
            "import checker, sys\n"
            "assert ex.__name__ == 'checker.lessons.lesson01' and lesson06.engine.id == 'lesson06.engine'\n"
            "assert checker.lesson03.df_dx.id == 'lesson03.df_dx'\n"
            "from checker.figures import draw_graph, show_graph, explore_tangent\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_import_checker_stays_light():
    code = ("import sys, checker\n"
            "heavy = [m for m in ('matplotlib', 'ipywidgets', 'nbclient', 'nbformat', 'IPython',"
            " 'checker.figures.plots', 'checker.lessons.lesson01', 'checker.grading.batch') if m in sys.modules]\n"
            "from checker import lesson01\n"  # what a lesson's first cell imports: not the practice builders
            "heavy += [m for m in ('checker.lessons.practice', 'checker.engine.render', 'html', 'secrets',"
            " 'matplotlib') if m in sys.modules]\n"
            "print(heavy)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]
