"""The class report rendered: one self-contained HTML page and misconceptions.csv.

The page has no external resources (inline CSS, an inline SVG drawn here), reads in a dark theme
(prefers-color-scheme) and without colour: every bar carries its number as text.
"""
from __future__ import annotations

import csv
import html
import io

from .report import DIAGNOSES, ClassReport, Count, ExerciseSummary

CSV_COLUMNS = ["exercise_id", "exercise_title", "kind", "id", "count", "graded", "percent", "message", "section",
               "students"]


def cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula: a leading = + - @ (or tab, CR) gets a ' prefix."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def misconceptions_csv(report: ClassReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for ex in report.exercises:
        for c in ex.mistakes + ex.diagnoses:
            writer.writerow([cell(v) for v in (c.exercise_id, ex.title, c.kind, c.id, c.count, ex.graded,
                                               f"{100 * c.share:.1f}", c.message, c.section, ";".join(c.students))])
    return out.getvalue()


CSS = """
:root { --fg: #1b1b1b; --bg: #ffffff; --muted: #555; --bar: #3a6ea5; --line: #ccc; --box: #f3f3f3; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8e8e8; --bg: #161616; --muted: #aaa; --bar: #7fb0e0; --line: #444; --box: #222; }
}
body { font-family: system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 2em auto;
       max-width: 60em; padding: 0 1em; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid var(--line); padding: .25em .6em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.top { background: var(--box); border: 2px solid var(--fg); padding: .6em 1em; }
.bar { display: inline-block; height: .8em; background: var(--bar); vertical-align: middle; }
svg text { fill: var(--fg); font: 12px system-ui, sans-serif; }
svg rect.b { fill: var(--bar); }
svg line { stroke: var(--fg); }
section.ex { border-top: 1px solid var(--line); margin-top: 1.5em; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _bar(share: float) -> str:
    return f'<span class="bar" style="width:{max(1, round(120 * share))}px" aria-hidden="true"></span>'


def _label(c: Count) -> str:
    return c.message if c.kind == "mistake" else DIAGNOSES.get(c.id, c.id)


def histogram_svg(report: ClassReport) -> str:
    bins = report.histogram
    w, h, pad = 40, 160, 30
    top = max((b.count for b in bins), default=0) or 1
    width = max(pad + w * len(bins) + 10, 320)
    parts = [f'<svg role="img" width="{width}" height="{h + 2 * pad}" '
             f'viewBox="0 0 {width} {h + 2 * pad}" aria-label="Histogram of total scores">']
    for i, b in enumerate(bins):
        x = pad + i * w
        bh = round(h * b.count / top)
        parts.append(f'<rect class="b" x="{x + 3}" y="{pad + h - bh}" width="{w - 6}" height="{bh}"/>')
        parts.append(f'<text x="{x + w / 2}" y="{pad + h - bh - 4}" text-anchor="middle">{b.count}</text>')
        parts.append(f'<text x="{x + w / 2}" y="{pad + h + 14}" text-anchor="middle">{b.low:g}</text>')
    parts.append(f'<line x1="{pad}" y1="{pad + h}" x2="{pad + w * len(bins)}" y2="{pad + h}"/>')
    parts.append(f'<text x="{pad}" y="{h + 2 * pad - 2}">students by total score (of {report.max_score:g})'
                 '</text></svg>')
    return "".join(parts)


def _count_rows(counts: list[Count], graded: int) -> str:
    rows = []
    for c in counts:
        who = ", ".join(c.students)
        rows.append(
            f"<tr><td class=\"n\">{c.count} / {graded}</td><td class=\"n\">{_percent(c.share)} {_bar(c.share)}</td>"
            f"<td>{_e(_label(c))}<br><span class=\"muted\">[{_e(c.id)}] taught in: {_e(c.section)}</span>"
            f"<details><summary>students</summary>{_e(who)}</details></td></tr>")
    return "".join(rows)


def _exercise(ex: ExerciseSummary) -> str:
    parts = [f'<section class="ex" id="{_e(ex.exercise_id)}"><h3>{_e(ex.title or ex.exercise_id)} '
             f'<span class="muted">({_e(ex.exercise_id)})</span></h3>',
             "<table><tr><th>graded</th><th>correct</th><th>incorrect</th><th>not attempted</th><th>error</th></tr>",
             f"<tr><td class=\"n\">{ex.graded}</td><td class=\"n\">{ex.correct}</td><td class=\"n\">{ex.incorrect}"
             f"</td><td class=\"n\">{ex.not_attempted}</td><td class=\"n\">{ex.error}</td></tr></table>"]
    head = "<table><tr><th>students</th><th>share</th><th>what</th></tr>"
    if ex.mistakes:
        parts.append(f"<h4>Named mistakes</h4>{head}{_count_rows(ex.mistakes, ex.graded)}</table>")
    if ex.diagnoses:
        parts.append(f"<h4>Other wrong answers, by pattern</h4>{head}{_count_rows(ex.diagnoses, ex.graded)}</table>")
    parts.append("</section>")
    return "".join(parts)


def page(report: ClassReport, title: str = "Class report") -> str:
    top = report.top_misconceptions
    headline = ""
    if top:
        c = top[0]
        headline = (f'<p class="top" id="top-misconception"><strong>Most common misconception:</strong> '
                    f'{_percent(c.share)} of the students graded on {_e(c.exercise_id)} ({c.count}): '
                    f'{_e(_label(c))}</p>')
    rows = "".join(
        f"<tr><td>{i}</td><td>{_e(c.exercise_id)}</td><td class=\"n\">{c.count}</td>"
        f"<td class=\"n\">{_percent(c.share)} {_bar(c.share)}</td><td>{_e(_label(c))}"
        f"<br><span class=\"muted\">[{_e(c.id)}] taught in: {_e(c.section)}</span></td></tr>"
        for i, c in enumerate(top, 1))
    skipped = "".join(
        f"<tr><td>{_e(s.exercise_id)}</td><td>{_e(s.title)}</td><td class=\"n\">{s.not_attempted} / {s.graded}</td>"
        f"<td class=\"n\">{_percent(s.not_attempted / s.graded)} {_bar(s.not_attempted / s.graded)}</td></tr>"
        for s in report.most_skipped)
    not_graded = (f"<p>Could not be run to the end ({len(report.not_graded)}): {_e(', '.join(report.not_graded))}</p>"
                  if report.not_graded else "")
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>{report.students} students; mean total {report.mean_score:.2f} of {report.max_score:g}. "
        "Shares are of the students graded on each exercise.</p>",
        headline, not_graded,
        "<h2>Most common misconceptions</h2>",
        "<table><tr><th>#</th><th>exercise</th><th>students</th><th>share</th><th>what</th></tr>"
        f"{rows}</table>" if rows else "<p>No wrong answers with a name or a pattern.</p>",
        "<h2>Totals</h2>", histogram_svg(report),
        "<h2>Most skipped exercises</h2>",
        "<table><tr><th>exercise</th><th>title</th><th>not attempted</th><th>share</th></tr>"
        f"{skipped}</table>" if skipped else "<p>Every exercise was attempted by everyone.</p>",
        "<h2>Exercises</h2>", *(_exercise(ex) for ex in report.exercises),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"color-scheme\" content=\"light dark\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
