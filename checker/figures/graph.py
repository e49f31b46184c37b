"""Draw the graph autograd records, from a tensor's `grad_fn` and its `next_functions`.

    from checker.figures.graph import draw_graph
    x = torch.tensor(3.0, requires_grad=True)
    z = torch.sin(x**2)
    draw_graph(z, names={"x": x, "z": z})

`graph_of(tensor)` finds the nodes and edges (no drawing, no matplotlib);
`graph_figure(tensor)` lays them out and returns a matplotlib Figure;
`draw_graph(tensor)` shows that figure in a notebook. matplotlib and IPython are
imported inside the functions that need them, never by `import checker`. No graphviz
binary is needed, and the layout is deterministic: the same graph always gives the
same picture.

The graph drawn is the one `backward()` walks: from the output (top) down through
one node per operation (`SinBackward0`, `PowBackward0`, ...) to an `AccumulateGrad`
node per leaf tensor, which adds the gradient into that leaf's `.grad`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import torch

NO_GRAPH = (
    "This tensor has no graph to draw: it has no grad_fn and does not require grad, so autograd "
    "recorded nothing for it. Was it created without requires_grad=True, computed under "
    "torch.no_grad(), or detach()ed?"
)

# kind -> (face colour, edge colour)
COLOURS = {
    "output": ("#fff4cc", "#b38f00"),
    "function": ("#e3edfb", "#3367d6"),
    "leaf": ("#e6f4ea", "#1e8e3e"),
}


@dataclass
class Node:
    """One box of the drawing.

    kind: "output" (the tensor you drew), "function" (a backward function such as
    SinBackward0) or "leaf" (an AccumulateGrad node, which fills a leaf's .grad).
    depth: the longest path from the output, so every edge points one layer down or more.
    """

    index: int
    kind: str
    label: str  # "SinBackward0", "AccumulateGrad", "output"
    note: str = ""  # second line: "z = sin(...)", "x.grad", "shape (3,)"
    depth: int = 0

    def __str__(self) -> str:
        return f"{self.label} ({self.note})" if self.note else self.label


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)  # (from, to), in the direction backward() walks

    @property
    def labels(self) -> list[str]:
        return [node.label for node in self.nodes]

    def edge_labels(self) -> list[tuple[str, str]]:
        return [(self.nodes[a].label, self.nodes[b].label) for a, b in self.edges]

    def layers(self) -> list[list[Node]]:
        depth = max((node.depth for node in self.nodes), default=-1)
        return [[node for node in self.nodes if node.depth == d] for d in range(depth + 1)]

    def __repr__(self) -> str:
        lines = [f"Graph with {len(self.nodes)} nodes and {len(self.edges)} edges:"]
        lines += [f"  {self.nodes[a]} -> {self.nodes[b]}" for a, b in self.edges]
        return "\n".join(lines)


def _describe(tensor: torch.Tensor) -> str:
    if tensor.numel() == 1:
        return f"{float(tensor.detach()):.4g}"
    return f"shape {tuple(tensor.shape)}"


def _name_of(tensor: torch.Tensor, names: Mapping[str, torch.Tensor]) -> Optional[str]:
    for name, candidate in names.items():
        if candidate is tensor:
            return name
    return None


# A key of our own in each autograd node's `metadata` dict, while graph_of walks the graph.
_KEY = "checker.graph_of:index"


class _Stamps:
    """Which box each autograd node got, keyed by the node itself rather than by its Python object.

    `id(t.grad_fn)` does not identify a node on every torch: on torch 2.11 (Colab's) each access to
    `grad_fn` or `next_functions` may give a new Python object for the same node, so a graph would be
    drawn with duplicated boxes and without its "made y" labels. Every node, built in or a custom
    Function, carries one `metadata` dict that lives with the node itself: the walk writes each node's
    box number there and `remove()` takes it out again, so the student's graph is left as it was. A node
    without a usable `metadata` falls back to id(), kept alive so that the id is not reused meanwhile.
    """

    def __init__(self):
        self.stamped, self.by_id, self.keep_alive = [], {}, []

    def get(self, fn) -> Optional[int]:
        try:
            return fn.metadata.get(_KEY)
        except Exception:  # no metadata on this node (or this torch): identity of the Python object
            return self.by_id.get(id(fn))

    def put(self, fn, index: int) -> None:
        try:
            fn.metadata[_KEY] = index
            self.stamped.append(fn)
        except Exception:
            self.by_id[id(fn)] = index
            self.keep_alive.append(fn)

    def remove(self) -> None:
        for fn in self.stamped:
            fn.metadata.pop(_KEY, None)


def graph_of(tensor: torch.Tensor, names: Optional[Mapping[str, torch.Tensor]] = None) -> Graph:
    """The nodes and edges that `tensor.backward()` would walk.

    names: optional {"x": x, "y": y, ...} to label the boxes: a leaf's AccumulateGrad
    box says which `.grad` it fills, an operation's box says which tensor it made.
    Raises ValueError (with an explanation) for a tensor that autograd does not track.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"draw_graph expects a tensor, got a value of type {type(tensor).__name__}")
    names = dict(names or {})
    graph = Graph()
    out_name = _name_of(tensor, names)
    if tensor.grad_fn is None:
        if not tensor.requires_grad:
            raise ValueError(NO_GRAPH)
        # a leaf: backward() on it only fills its own .grad
        label = f"{out_name} (leaf)" if out_name else "leaf tensor"
        graph.nodes.append(Node(0, "leaf", label, f"{_describe(tensor)}, requires grad"))
        return graph

    graph.nodes.append(Node(0, "output", out_name or "output", _describe(tensor)))
    stamps = _Stamps()
    try:
        _walk(tensor.grad_fn, graph, stamps, names)
        # "made y": the box of the operation that produced each named tensor (the output's own box names it)
        for name, t in names.items():
            if isinstance(t, torch.Tensor) and t.grad_fn is not None and name != out_name:
                index = stamps.get(t.grad_fn)
                if index is not None and graph.nodes[index].kind == "function" and not graph.nodes[index].note:
                    graph.nodes[index].note = f"made {name}"
    finally:
        stamps.remove()
    _set_depths(graph)
    return graph


def _walk(root, graph: Graph, stamps: _Stamps, names: Mapping[str, torch.Tensor]) -> None:
    """Breadth first from the output's node: one box per node, one edge per input of each node."""

    def visit(fn) -> int:
        index = stamps.get(fn)
        if index is None:
            index = len(graph.nodes)
            stamps.put(fn, index)
            variable = getattr(fn, "variable", None)
            if isinstance(variable, torch.Tensor):  # AccumulateGrad: fills a leaf's .grad
                leaf = _name_of(variable, names)
                note = f"{leaf}.grad" if leaf else f"leaf .grad ({_describe(variable)})"
                graph.nodes.append(Node(index, "leaf", type(fn).__name__, note))
            else:
                graph.nodes.append(Node(index, "function", type(fn).__name__))
            order.append(fn)
        return index

    order = []
    graph.edges.append((0, visit(root)))
    position = 0
    while position < len(order):
        fn = order[position]
        position += 1
        here = stamps.get(fn)
        for child, _ in fn.next_functions:
            if child is not None:
                graph.edges.append((here, visit(child)))


def _set_depths(graph: Graph) -> None:
    """depth = the longest path from the output (the graph has no cycles)."""
    for _ in range(len(graph.nodes)):
        changed = False
        for a, b in graph.edges:
            if graph.nodes[b].depth < graph.nodes[a].depth + 1:
                graph.nodes[b].depth = graph.nodes[a].depth + 1
                changed = True
        if not changed:
            break


def layout(graph: Graph) -> dict[int, tuple[float, float]]:
    """(x, y) of every node: one row per depth, output on top, rows centred.

    Within a row, nodes are ordered by the mean x of the nodes that point to them
    (then by discovery order), which keeps arrows short and never depends on chance.
    """
    positions: dict[int, tuple[float, float]] = {}
    parents: dict[int, list[int]] = {}
    for a, b in graph.edges:
        parents.setdefault(b, []).append(a)
    for depth, row in enumerate(graph.layers()):

        def key(node):
            xs = [positions[p][0] for p in parents.get(node.index, []) if p in positions]
            return (sum(xs) / len(xs) if xs else 0.0, node.index)

        row = sorted(row, key=key)
        for i, node in enumerate(row):
            positions[node.index] = (i - (len(row) - 1) / 2, -float(depth))
    return positions


def graph_figure(tensor: torch.Tensor, names: Optional[Mapping[str, torch.Tensor]] = None, title: str = ""):
    """The graph of `tensor` as a matplotlib Figure (save it with fig.savefig("graph.png"))."""
    from matplotlib.figure import Figure

    graph = graph_of(tensor, names)
    positions = layout(graph)
    widest = max(len(row) for row in graph.layers())
    n_rows = len(graph.layers())
    fig = Figure(figsize=(max(3.6, 2.4 * widest), 0.35 + 1.05 * n_rows), dpi=80)
    ax = fig.add_axes((0, 0, 1, 1 if not title else 1 - 0.3 / (0.35 + 1.05 * n_rows)))
    ax.set_axis_off()
    boxes = {}
    for node in graph.nodes:
        face, edge = COLOURS[node.kind]
        text = node.label + (f"\n{node.note}" if node.note else "")
        boxes[node.index] = ax.text(
            *positions[node.index], text, ha="center", va="center", fontsize=10, family="monospace",
            bbox=dict(boxstyle="round,pad=0.4", facecolor=face, edgecolor=edge, linewidth=1.5),
        )
    total = {edge: graph.edges.count(edge) for edge in graph.edges}
    seen: dict[tuple[int, int], int] = {}
    for a, b in graph.edges:
        k = seen.get((a, b), 0)  # x * x uses x twice: two arrows, curved apart
        seen[(a, b)] = k + 1
        rad = 0.4 * (k - (total[(a, b)] - 1) / 2)
        ax.annotate(
            "", xy=positions[b], xytext=positions[a],
            arrowprops=dict(arrowstyle="-|>", color="#5f6368", lw=1.3, shrinkA=0, shrinkB=0,
                            patchA=boxes[a].get_bbox_patch(), patchB=boxes[b].get_bbox_patch(),
                            connectionstyle=f"arc3,rad={rad}"),
        )
    xs = [p[0] for p in positions.values()]
    ax.set_xlim(min(xs) - 0.75, max(xs) + 0.75)
    ax.set_ylim(-(n_rows - 1) - 0.5, 0.5)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def draw_graph(tensor: torch.Tensor, names: Optional[Mapping[str, torch.Tensor]] = None, title: str = "") -> None:
    """Show the graph that `tensor.backward()` would walk, in a notebook.

    names: optional {"x": x, "z": z} to label the output, the leaves and the operations.
    """
    from IPython.display import Image, display

    from ..engine.render import figure_png

    display(Image(data=figure_png(graph_figure(tensor, names, title))))
