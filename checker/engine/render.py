"""How results look: an HTML box in Jupyter/Colab, plain text in a terminal.

Nothing here judges, and nothing here imports the rest of the checker: it formats
results (checker.engine.result) by their fields, so that a result can render itself.
The plot of a wrong answer is drawn with matplotlib only when
it is installed, imported on first use, and embedded as a PNG so the whole verdict
is one output.
"""
from __future__ import annotations

import base64
import html
import io
import re

# An error on a "predict the value" question: no code was written, so it is the answer that could not be checked
VALUE_ERROR_HEADLINE = "⚠ Your answer could not be checked"

# status -> (headline, border colour, background colour)
STYLES = {
    "correct": ("✔ Correct", "#1e8e3e", "#e6f4ea"),
    "incorrect": ("✘ Not quite", "#d93025", "#fce8e6"),
    "not_attempted": ("○ Not attempted yet", "#80868b", "#f1f3f4"),
    "error": ("⚠ Your code could not be checked", "#e37400", "#fef7e0"),
}


def _table_html(result) -> str:
    if not result.details:
        return ""
    names = list(result.details[0].inputs)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names) + "<th>expected</th><th>yours</th>"
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(v)}</td>" for v in d.inputs.values())
        + f"<td>{html.escape(d.expected)}</td><td>{html.escape(d.got)}</td></tr>"
        for d in result.details
    )
    return (
        '<table style="margin-top:6px;border-collapse:collapse;font-family:monospace">'
        f"<tr>{head}</tr>{rows}</table>"
    )


def figure_png(fig) -> bytes:
    """A matplotlib Figure as PNG bytes, without the version stamp (same bytes every run)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def plot_png(curve) -> str | None:
    """The expected derivative and the answer over the domain, as base64 PNG."""
    try:
        from matplotlib.figure import Figure  # no pyplot: leaves the student's figures alone
    except ImportError:
        return None
    fig = Figure(figsize=(4.2, 2.6), dpi=80)
    ax = fig.add_subplot()
    ax.plot(curve.xs, curve.expected, color="#1e8e3e", lw=2, label="expected (autograd)")
    got = [float("nan") if v is None else v for v in curve.got]
    ax.plot(curve.xs, got, color="#d93025", lw=1.5, ls="--", label="yours")
    ax.axhline(0, color="#999", lw=0.5)
    ax.set_xlabel(curve.name)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return base64.b64encode(figure_png(fig)).decode("ascii")


def _headline(result) -> str:
    if result.status == "error" and result.exercise_kind == "value":
        return VALUE_ERROR_HEADLINE
    return STYLES[result.status][0]


def _printed_intro(result) -> str:
    return "Your answer printed this while it was checked (it runs once per point):"


def result_html(result) -> str:
    _, border, background = STYLES[result.status]
    headline = _headline(result)
    title = f" — {html.escape(result.title)}" if result.title else ""
    image = ""
    if result.curve is not None:
        png = plot_png(result.curve)
        if png:
            image = f'<div><img class="checker-plot" alt="expected vs yours" src="data:image/png;base64,{png}"/></div>'
    if result.figure:
        png = base64.b64encode(result.figure).decode("ascii")
        image += (f'<div><img class="checker-figure" alt="where your answer goes wrong" '
                  f'src="data:image/png;base64,{png}"/></div>')
    return (
        f'<div class="checker-result checker-{result.status}" style="border-left:6px solid {border};'
        f'background:{background};padding:8px 12px;margin:4px 0;border-radius:4px;color:#202124">'
        f"<b>{headline}</b>{title}"
        f'<div style="margin-top:4px">{html.escape(result.message)}</div>'
        f"{_table_html(result)}{_printed_html(result)}{image}</div>"
    )


def _printed_html(result) -> str:
    if not result.printed:
        return ""
    return (f'<div style="margin-top:6px;font-size:90%">{html.escape(_printed_intro(result))}</div>'
            f'<pre style="margin:2px 0 0 0;font-size:85%;max-height:12em;overflow:auto">'
            f"{html.escape(result.printed)}</pre>")


def result_text(result) -> str:
    headline = _headline(result)
    lines = [f"{headline}: {result.title}" if result.title else headline, result.message]
    for d in result.details:
        inputs = ", ".join(f"{k} = {v}" for k, v in d.inputs.items())
        lines.append(f"  at {inputs}: expected {d.expected}, yours {d.got}" if inputs
                     else f"  expected {d.expected}, yours {d.got}")
    if result.printed:
        lines.append(_printed_intro(result))
        lines += ["  | " + line for line in result.printed.split("\n")]
    return "\n".join(lines)


_CODE_SPAN = re.compile(r"(`[^`]*`)")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")


def markdown_escape(text: str) -> str:
    """Text shown as itself in Markdown: `(p - y) * x` keeps its `*`, `x**2` does not turn bold.
    Code spans (between backticks) are left as they are: Markdown shows them literally already."""
    parts = _CODE_SPAN.split(text)
    return "".join(part if i % 2 else _MARKDOWN.sub(r"\\\1", part) for i, part in enumerate(parts))


def _hint_lines(hint, escape) -> tuple[str, str]:
    shown = "\n".join(f"{i}. {escape(text)}" for i, text in enumerate(hint.shown, 1))
    more = (f"Hint {len(hint.shown)} of {hint.total}: call `hint()` again for the next one."
            if len(hint.shown) < hint.total else f"That was the last hint ({hint.total} of {hint.total}).")
    return shown, more


def hint_markdown(hint) -> str:
    shown, more = _hint_lines(hint, markdown_escape)
    return f"**Hints: {markdown_escape(hint.title)}**\n\n{shown}\n\n*{more}*"


def hint_text(hint) -> str:
    shown, more = _hint_lines(hint, lambda text: text)
    return f"Hints: {hint.title}\n\n{shown}\n\n{more}"


def solution_markdown(solution) -> str:
    fence = "````" if "```" in solution.source else "```"
    return f"**Solution: {markdown_escape(solution.title)}**\n\n{fence}python\n{solution.source}{fence}\n"


# -- a deliberate error shown by `expect_error` ---------------------------------------------
def _error_where(shown) -> str:
    if shown.line is None:
        return ""
    return f"line {shown.line}: {shown.code}" if shown.code else f"line {shown.line}"


def shown_error_html(shown) -> str:
    where = _error_where(shown)
    where_html = f'<div style="color:#5f6368;margin-top:2px">at {html.escape(where)}</div>' if where else ""
    return (
        '<div class="checker-expected-error" style="border-left:6px solid #9334e6;background:#f3e8fd;'
        'padding:8px 12px;margin:4px 0;border-radius:4px;color:#202124">'
        f"<b>{html.escape(shown.type_name)}</b> (an error this cell shows on purpose)"
        f'<pre style="white-space:pre-wrap;margin:4px 0 0 0;font-size:90%">{html.escape(shown.message)}</pre>'
        f"{where_html}</div>"
    )


def shown_error_text(shown) -> str:
    where = _error_where(shown)
    lines = [f"{shown.type_name} (an error this cell shows on purpose):", shown.message]
    if where:
        lines.append(f"  at {where}")
    return "\n".join(lines)
