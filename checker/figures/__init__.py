"""The lessons' figures: `from checker.figures import draw_graph`.

- `plots`: tangent lines and loss surfaces (lessons 01, 04), with sliders.
- `graph`: the autograd graph of a tensor, labelled with the student's names (lessons 02, 03).
- `netplots`: activations, dead units, decision regions and training (lesson 05).
- `compgraph`: a small program's graph with values and gradients, and the engine verdict's drawing (lesson 06).

Figures use matplotlib's object API (no pyplot state is touched) and import it on first use, so that
`import checker` stays light: the names below are looked up in their module when first asked for.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "tangent_lines": "plots", "explore_tangent": "plots", "explore_loss_surface": "plots",
    "graph_of": "graph", "draw_graph": "graph",
    "show_activations": "netplots", "show_dead_units": "netplots", "draw_decision_regions": "netplots",
    "explore_training": "netplots",
    "show_graph": "compgraph",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
