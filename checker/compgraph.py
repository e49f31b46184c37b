"""Drawing a small computational graph with its forward values and gradients.

A graph is a list of nodes `(name, formula, inputs)`: leaves have no formula and no
inputs, e.g. ("w0", "", ()); an operation names its inputs, e.g. ("a", "w0·x0", ("w0", "x0")).
Values and gradients are plain dicts name -> number, filled in by hand or from tensors.

Like `checker.plots`, figures are built with matplotlib's object API (no pyplot) and
shown as PNG, and matplotlib and IPython are imported on first use only.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from .render import figure_png

Node = tuple  # (name, formula, inputs)

VALUE_COLOR = "#1e8e3e"  # forward values: green, above each node
GRAD_COLOR = "#d93025"  # gradients: red, below each node


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
    return "0" if text == "-0" else text


def graph_figure(
    nodes: Sequence[Node],
    values: Optional[Mapping[str, float]] = None,
    grads: Optional[Mapping[str, float]] = None,
    *,
    edge_grads: Optional[Mapping[tuple[str, str], float]] = None,
    positions: Optional[Mapping[str, tuple[float, float]]] = None,
    output: Optional[str] = None,
    title: str = "",
):
    """The graph as a matplotlib Figure.

    values: forward value of each node (green, above it); grads: d(output)/d(node)
    (red, below it); edge_grads: optional (input, node) -> the contribution that flows
    back along that edge, written on the edge (useful at forks, where they add up).
    positions: (column, row) per node to override the automatic layout.
    output: the name in the gradient labels, ∂output/∂node (default: the last node).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    values, grads, edge_grads = values or {}, grads or {}, edge_grads or {}
    pos = layout(nodes)
    pos.update(positions or {})
    output = output or nodes[-1][0]
    n_cols = 1 + max(x for x, _ in pos.values())
    n_rows = 1 + max(y for _, y in pos.values())
    dx, dy = 2.4, 1.25  # spacing between columns and rows, in data units
    width, height = 1.3, 0.52  # a node's box

    fig = Figure(figsize=(1.55 * n_cols + 0.6, 0.95 * n_rows + 0.9), dpi=90)
    ax = fig.add_subplot()
    ax.set_xlim(-dx / 2, (n_cols - 1) * dx + dx / 2)
    ax.set_ylim((n_rows - 1) * dy + dy * 0.75, -dy * 0.75)  # row 0 at the top
    ax.set_axis_off()

    def centre(name):
        col, row = pos[name]
        return col * dx, row * dy

    for name, formula, inputs in nodes:
        x, y = centre(name)
        for source in inputs:
            sx, sy = centre(source)
            ax.annotate(
                "", xy=(x - width / 2, y), xytext=(sx + width / 2, sy),
                arrowprops=dict(arrowstyle="-|>", color="#5f6368", lw=1.1, shrinkA=2, shrinkB=2),
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
    if title:
        ax.set_title(title, fontsize=10)
    legend = []
    if values:
        legend.append(("forward value", VALUE_COLOR))
    if grads:
        legend.append(("gradient", GRAD_COLOR))
    for i, (text, color) in enumerate(legend):
        fig.text(0.01 + 0.2 * i, 0.01, f"■ {text}", color=color, fontsize=8, va="bottom")
    fig.tight_layout()
    return fig


def show_graph(nodes: Sequence[Node], values=None, grads=None, **kwargs) -> None:
    """Display `graph_figure(...)` as a PNG image in the notebook."""
    from IPython.display import Image, display

    display(Image(data=figure_png(graph_figure(nodes, values, grads, **kwargs))))
