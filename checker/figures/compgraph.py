"""Drawing a small computational graph with its forward values and gradients.

A graph is a list of nodes `(name, formula, inputs)`: leaves have no formula and no
inputs, e.g. ("w0", "", ()); an operation names its inputs, e.g. ("a", "w0·x0", ("w0", "x0")).
Values and gradients are plain dicts name -> number, filled in by hand or from tensors.

Like `checker.figures.plots`, figures are built with matplotlib's object API (no pyplot) and
shown as PNG, and matplotlib and IPython are imported on first use only.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

from ..engine.render import figure_png

Node = tuple  # (name, formula, inputs)

VALUE_COLOR = "#1e8e3e"  # forward values: green, above each node
GRAD_COLOR = "#d93025"  # gradients: red, below each node
THEIRS_COLOR = "#7627bb"  # someone else's gradients (an engine being checked), under the expected ones


def layout(nodes: Sequence[Node]) -> dict[str, tuple[float, float]]:
    """(column, row) of each node: a leaf sits in column 0, an operation one column
    right of its rightmost input; within a column nodes keep their order, centred."""
    column: dict[str, int] = {}
    for name, _, inputs in nodes:
        missing = [i for i in inputs if i not in column]
        if missing:
            raise ValueError(f"node {name!r} uses {missing[0]!r} before it is defined: list inputs first")
        column[name] = 1 + max((column[i] for i in inputs), default=-1)
    by_column: dict[int, list[str]] = {}
    for name, _, _ in nodes:
        by_column.setdefault(column[name], []).append(name)
    tallest = max(len(names) for names in by_column.values())
    positions = {}
    for col, names in by_column.items():
        top = (tallest - len(names)) / 2
        for row, name in enumerate(names):
            positions[name] = (float(col), top + row)
    return positions


def _fmt(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text == "-0" else text.replace("-", "−")  # a real minus sign: a hyphen is too short


def graph_figure(
    nodes: Sequence[Node],
    values: Optional[Mapping[str, float]] = None,
    grads: Optional[Mapping[str, float]] = None,
    *,
    edge_grads: Optional[Mapping[tuple[str, str], float]] = None,
    positions: Optional[Mapping[str, tuple[float, float]]] = None,
    output: Optional[str] = None,
    title: str = "",
    theirs: Optional[Mapping[str, float]] = None,
):
    """The graph as a matplotlib Figure.

    values: forward value of each node (green, above it); grads: d(output)/d(node)
    (red, below it); edge_grads: optional (input, node) -> the contribution that flows
    back along that edge, written on the edge (useful at forks, where they add up).
    positions: (column, row) per node to override the automatic layout.
    output: the name in the gradient labels, ∂output/∂node (default: the last node).
    theirs: optional gradients to compare with `grads` (purple, under them; bold where they differ).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    values, grads, edge_grads, theirs = values or {}, grads or {}, edge_grads or {}, theirs or {}
    pos = layout(nodes)
    pos.update(positions or {})
    output = output or nodes[-1][0]
    n_cols = 1 + max(x for x, _ in pos.values())
    n_rows = 1 + max(y for _, y in pos.values())
    dx, dy = 2.4, 1.25  # spacing between columns and rows, in data units
    width, height = 1.3, 0.52  # a node's box

    fig_width = 1.55 * n_cols + 0.6
    if theirs:  # room for the three-item legend and a title that names the program
        fig_width = max(fig_width, 5.6)
    fig = Figure(figsize=(fig_width, 0.95 * n_rows + 0.9 + (0.25 if theirs else 0.0)), dpi=90)
    ax = fig.add_subplot()
    ax.set_xlim(-dx / 2, (n_cols - 1) * dx + dx / 2)
    ax.set_ylim((n_rows - 1) * dy + dy * 0.75, -dy * 0.75)  # row 0 at the top
    ax.set_axis_off()

    def centre(name):
        col, row = pos[name]
        return col * dx, row * dy

    for name, formula, inputs in nodes:
        x, y = centre(name)
        for k, source in enumerate(inputs):
            sx, sy = centre(source)
            # an input used twice (a + a): two arrows, curved apart
            rad = 0.0 if inputs.count(source) == 1 else (0.3 if k == inputs.index(source) else -0.3)
            ax.annotate(
                "", xy=(x - width / 2, y), xytext=(sx + width / 2, sy),
                arrowprops=dict(arrowstyle="-|>", color="#5f6368", lw=1.1, shrinkA=2, shrinkB=2,
                                connectionstyle=f"arc3,rad={rad}"),
            )
            if (source, name) in edge_grads:
                mx, my = (sx + width / 2 + x - width / 2) / 2, (sy + y) / 2
                ax.text(mx, my, _fmt(edge_grads[(source, name)]), color=GRAD_COLOR, fontsize=8,
                        ha="center", va="center", style="italic",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=GRAD_COLOR, lw=0.6))
        leaf = not inputs
        ax.add_patch(FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.12",
            fc="#e8f0fe" if leaf else "#fef7e0", ec="#1a73e8" if leaf else "#e37400", lw=1.2,
        ))
        label = name if leaf or not formula else f"{name} = {formula}"
        ax.text(x, y, label, ha="center", va="center", fontsize=9 if len(label) < 12 else 8)
        if name in values:
            ax.text(x, y - height / 2 - 0.06, _fmt(values[name]), color=VALUE_COLOR, fontsize=9,
                    ha="center", va="bottom", fontweight="bold")
        if name in grads:
            ax.text(x, y + height / 2 + 0.06, f"∂{output}/∂{name} = {_fmt(grads[name])}", color=GRAD_COLOR,
                    fontsize=8, ha="center", va="top")
        if name in theirs:
            differs = name in grads and not math.isclose(theirs[name], grads[name], rel_tol=1e-6, abs_tol=1e-9)
            ax.text(x, y + height / 2 + 0.3, f"yours: {_fmt(theirs[name])}", color=THEIRS_COLOR, fontsize=8,
                    ha="center", va="top", fontweight="bold" if differs else "normal")
    if title:
        ax.set_title(title, fontsize=10)
    legend = []
    if values:
        legend.append(("forward value", VALUE_COLOR))
    if grads:
        legend.append(("gradient" + (" (torch.autograd)" if theirs else ""), GRAD_COLOR))
    if theirs:
        legend.append(("yours (bold: differs)", THEIRS_COLOR))
    left = 0.1  # inches; each legend item as wide as its text (about 0.07 in per character at size 8)
    for text, color in legend:
        fig.text(left / fig_width, 0.01, f"■ {text}", color=color, fontsize=8, va="bottom")
        left += 0.07 * (len(text) + 4)
    fig.tight_layout()
    return fig


def show_graph(nodes: Sequence[Node], values=None, grads=None, **kwargs) -> None:
    """Display `graph_figure(...)` as a PNG image in the notebook."""
    from IPython.display import Image, display

    display(Image(data=figure_png(graph_figure(nodes, values, grads, **kwargs))))


# -- the engine exercise of lesson 06: the smallest graph where an engine goes wrong -----------------
POWERS = {"2": "²", "3": "³", "-1": "⁻¹", "0.5": "^½"}


def _formula(op: str, inputs: tuple, constant: str) -> str:
    if op == "+":
        return f"{inputs[0]} + {inputs[1]}"
    if op == "*":
        return f"{inputs[0]}·{inputs[1]}"
    if op == "**":
        return f"{inputs[0]}{POWERS.get(constant, '^' + constant)}"
    return f"{op}({inputs[0]})"


def engine_figure(Value, cases) -> Optional[bytes]:
    """PNG of the smallest failing program among `cases` ((program, a, b, c) tuples, see checker.engine.harness):
    every node with its value, torch's gradient and the gradient the engine `Value` computed, after the
    first backward() (or the second, if the first is right)."""
    import torch

    from ..engine.harness import LEAVES, execute, statements, trace

    if not cases:
        return None
    program, *numbers = min(cases, key=lambda case: (len(statements(case[0])), len(case[0])))
    leaves = dict(zip(LEAVES, numbers))
    parsed = statements(program)
    used = [n for n in LEAVES if any(n in inputs for _, _, inputs, _ in parsed)]
    names = used + [name for name, *_ in parsed]

    tensors = {n: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for n, v in leaves.items()}
    namespace = execute(program, tensors)
    for name, *_ in parsed:
        namespace[name].retain_grad()
    namespace["out"].backward()
    values = {n: float(namespace[n].detach()) for n in names}
    expected = {n: 0.0 if namespace[n].grad is None else float(namespace[n].grad) for n in names}

    _, _, runs = trace(Value, program, leaves)
    first_right = all(math.isclose(runs[0][n], expected[n], rel_tol=1e-6, abs_tol=1e-9) for n in names)
    theirs = {n: runs[1 if first_right else 0][n] for n in names}
    nodes = [(n, "", ()) for n in used] + [(name, _formula(op, inputs, k), inputs) for name, op, inputs, k in parsed]
    when = "after a second backward()" if first_right else "after backward()"
    fig = graph_figure(nodes, values, expected, theirs=theirs, output="out",
                       title=f"Smallest graph where your engine goes wrong, {when}:\n{program}")
    return figure_png(fig)
