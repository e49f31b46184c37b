"""What a student sees: the student editions in JupyterLab, in a real browser."""
from __future__ import annotations

import re
import time

STUB = 'raise NotImplementedError("Replace this line with your answer")'


def open_notebook(page, lab, name):
    """Open a notebook in a workspace of its own (no tabs restored from an earlier test)."""
    workspace = re.sub(r"\W", "-", name)
    page.goto(f"{lab['base']}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab['token']}")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    select_kernel = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    page.wait_for_function(  # the kernel is up once the status bar says so (or it asks which kernel)
        "() => /Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')"
        " || !!document.querySelector('.jp-Dialog')",
        timeout=90_000,
    )
    if select_kernel.count():
        select_kernel.get_by_role("button", name="Select").click()
        page.wait_for_function(
            "() => /Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')", timeout=90_000
        )


def menu(page, top, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


def run_all(page):
    """Clear every output, run all cells, and wait until every code cell has run.

    No cell raises: deliberate errors are shown by checker.expect_error, so Run All reaches every cell
    (as Colab's Run all, which ignores cell tags, must).
    """
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function("() => !document.querySelector('.jp-Notebook .jp-OutputArea-output')")
    menu(page, "Run", "Run All Cells")
    wait_until_idle(page, every_cell_ran=True)


def wait_until_idle(page, every_cell_ran=False, timeout=240_000):
    page.wait_for_function(
        r"""(everyCellRan) => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
            const bar = document.querySelector('#jp-main-statusbar')?.textContent || '';
            const ran = everyCellRan ? prompts.every(p => /\[\d+\]/.test(p)) : prompts.every(p => !p.includes('*'));
            return prompts.length > 0 && ran && /Idle/.test(bar);
        }""",
        arg=every_cell_ran,
        timeout=timeout,
    )


def snapshot(page, locator, name):
    """Keep a picture of what the student sees at this step (e2e-artifacts/, also on success)."""
    from conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def code_cell(page, text):
    cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has_text=text)
    assert cell.count() == 1, f"expected one cell containing {text!r}, found {cell.count()}"
    return cell


def replace_and_run(page, cell, source, cells_to_run=2):
    """Type a new source into a cell, then run it (and by default the cell after it: the check)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)
    for _ in range(cells_to_run):
        page.keyboard.press("Shift+Enter")
    wait_until_idle(page)


def move_slider_and_see_new_figure(page, cell):
    image = cell.locator(".jp-OutputArea-output img").first
    image.wait_for()
    before = image.get_attribute("src")
    handle = cell.locator(".widget-slider .noUi-handle, .widget-slider .ui-slider-handle").first
    handle.click()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    wait_for_new_image(image, before)


def wait_for_new_image(image, before, timeout=30.0):
    """The display handle replaces the <img>: re-query it until its picture changes."""
    deadline = time.monotonic() + timeout
    while image.get_attribute("src") == before:
        assert time.monotonic() < deadline, "the figure did not change"
        time.sleep(0.2)


def test_lesson01_not_attempted_then_correct_then_named_mistake(page, lab):
    open_notebook(page, lab, "01_derivatives.ipynb")
    run_all(page)
    grey = page.locator(".jp-Notebook .checker-not_attempted")
    assert grey.count() == 3
    assert "Not attempted yet" in grey.first.inner_text()
    snapshot(page, grey.first, "lesson01-not-attempted")
    assert page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                        ).filter(has_text="Traceback").count() == 0

    exercise = code_cell(page, "def dz_dx(x):")
    check = code_cell(page, "ex.dz_dx.check(dz_dx)")
    replace_and_run(page, exercise, "def dz_dx(x):\n    return 2 * x * math.cos(x**2)\n")
    green = check.locator(".checker-correct")
    green.wait_for()
    assert "-5.466781571308061" in green.inner_text()
    snapshot(page, green, "lesson01-correct")

    replace_and_run(page, exercise, "def dz_dx(x):\n    return math.cos(x**2)\n")
    red = check.locator(".checker-incorrect")
    red.wait_for()
    assert "You forgot the inner factor of the chain rule" in red.inner_text()
    plot = red.locator("img.checker-plot")
    assert plot.count() == 1 and plot.evaluate("img => img.naturalWidth > 100")
    snapshot(page, red, "lesson01-missing-inner-factor")


def test_lesson01_tangent_slider_redraws_the_figure(page, lab):
    open_notebook(page, lab, "01_derivatives.ipynb")
    run_all(page)
    explorer = code_cell(page, "explore_tangent(")
    move_slider_and_see_new_figure(page, explorer)
    snapshot(page, explorer.locator(".jp-Cell-outputWrapper"), "lesson01-tangent-slider-moved")
    readout = explorer.locator(".widget-readout").first.inner_text()
    assert readout.strip() not in ("1.00", "1.0", "1")


def test_lesson04_exercise_and_loss_surface_explorer(page, lab):
    open_notebook(page, lab, "04_logistic_regression.ipynb")
    run_all(page)
    assert page.locator(".jp-Notebook .checker-not_attempted").count() >= 4
    exercise = code_cell(page, "def dL_dz(z, y):")
    assert exercise.locator(".checker-not_attempted").count() == 1
    replace_and_run(page, exercise, "def dL_dz(z, y):\n    p = 1 / (1 + math.exp(-z))\n    return p - y\n\n\n"
                    "ex.dL_dz.check(dL_dz)\n", cells_to_run=1)
    exercise.locator(".checker-correct").wait_for()
    replace_and_run(page, exercise, "def dL_dz(z, y):\n    p = 1 / (1 + math.exp(-z))\n    return y - p\n\n\n"
                    "ex.dL_dz.check(dL_dz)\n", cells_to_run=1)
    red = exercise.locator(".checker-incorrect")
    red.wait_for()
    assert "Wrong sign: dL/dz = p − y, not y − p" in red.inner_text()
    snapshot(page, red, "lesson04-sign-mistake")
    explorer = code_cell(page, "explore_loss_surface(")
    move_slider_and_see_new_figure(page, explorer)
    snapshot(page, explorer.locator(".jp-Cell-outputWrapper"), "lesson04-loss-surface-slider-moved")


def _engine_source(bug: bool) -> str:
    """Lesson 06's engine cell as a student would write it: the master's, markers dropped, maybe with `=`."""
    import json
    import pathlib

    master = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "master" / "06_inside_autograd.ipynb"
    cells = json.loads(master.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("class Value:"))
    source = "\n".join(line for line in source.splitlines() if "### " not in line) + "\n"
    return source.replace("grad += ", "grad = ") if bug else source


def test_lesson06_engine_bug_turns_red_with_the_smallest_failing_graph_then_green(page, lab):
    open_notebook(page, lab, "06_inside_autograd.ipynb")
    run_all(page)
    assert page.locator(".jp-Notebook .checker-not_attempted").count() == 6
    exercise = code_cell(page, "class Value:")
    assert exercise.locator(".checker-not_attempted").count() == 1

    replace_and_run(page, exercise, _engine_source(bug=True), cells_to_run=1)
    red = exercise.locator(".checker-incorrect")
    red.wait_for()
    assert "assign (=) where they must add (+=)" in red.inner_text()
    assert "out = a + a" in red.inner_text()  # the smallest failing graph heads the table ...
    drawing = red.locator("img.checker-figure")  # ... and is drawn
    assert drawing.count() == 1 and drawing.evaluate("img => img.naturalWidth > 300")
    snapshot(page, red, "lesson06-engine-assigns-at-forks")

    replace_and_run(page, exercise, _engine_source(bug=False), cells_to_run=1)
    green = exercise.locator(".checker-correct")
    green.wait_for()
    assert "all 40 points checked" in green.inner_text()
    snapshot(page, green, "lesson06-engine-correct")


def test_lesson05_exercise_named_mistake_then_correct_and_training_explorer(page, lab):
    open_notebook(page, lab, "05_backprop_network.ipynb")
    run_all(page)
    assert page.locator(".jp-Notebook .checker-not_attempted").count() >= 5
    exercise = code_cell(page, "def activation_backward(A, dH):")
    assert exercise.locator(".checker-not_attempted").count() == 1
    check = "\n\n\nex.activation_backward.check(activation_backward)\n"
    replace_and_run(page, exercise, "def activation_backward(A, dH):\n"
                    "    return dH * (A > 0), dH * (1 - torch.tanh(A))" + check, cells_to_run=1)
    red = exercise.locator(".checker-incorrect")
    red.wait_for()
    assert "your tanh derivative is 1 − tanh(a), not 1 − tanh(a)²" in red.inner_text()
    snapshot(page, red, "lesson05-tanh-not-squared")
    replace_and_run(page, exercise, "def activation_backward(A, dH):\n"
                    "    return dH * (A > 0), dH * (1 - torch.tanh(A) ** 2)" + check, cells_to_run=1)
    green = exercise.locator(".checker-correct")
    green.wait_for()
    assert "at all 32 points checked" in green.inner_text()
    snapshot(page, green, "lesson05-correct")
    explorer = code_cell(page, "explore_training(")
    move_slider_and_see_new_figure(page, explorer)
    wait_until_idle(page)  # each step of the slider retrains: the last figure is the slider's value
    snapshot(page, explorer.locator(".jp-Cell-outputWrapper"), "lesson05-training-explorer-moved")
    readout = explorer.locator(".widget-readout").first.inner_text()
    assert readout.strip() != "8"
