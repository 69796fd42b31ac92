"""Markdown and HTML renderings of a ``Report`` (pure functions: Report -> str).

Each check is one table row: check id | claim | measured | tolerance | verdict | as expected.
``tolerance`` reads "<= 1e-13" or ">= 0.8": the relation the measured value must satisfy for the check
to pass. Negative controls show their verdict with "(negative control)"; they are as expected when they FAIL.
Informational rows ("(informational)") report a comparison the theory does not claim; they never count as failures.
Figure paths are written relative to the report directory (``rel`` maps a path to that string).
"""
from __future__ import annotations

import html

from ..checks.result import verdict_text
from .model import Report, fmt_num

COLUMNS = ["check", "claim", "measured", "tolerance", "verdict", "as expected"]
_STATUS_NOTE = {"error": "ERROR", "not available": "NOT AVAILABLE"}


def _row(r):
    return [r.name, r.claim, fmt_num(r.measured), f"{r.comparison} {fmt_num(r.tolerance)}", verdict_text(r),
            "yes" if r.as_expected else "NO"]


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _md_table(header, rows) -> list:
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_md_cell(fmt_num(c)) for c in row) + " |" for row in rows]
    return out


def _problems(report: Report) -> list:
    """One line per check not as expected and per section that raised or is not available."""
    out = [f"{r.name} ({'negative control passed' if r.negative_control else 'failed'})"
           for s in report.sections for r in s.results if not r.as_expected]
    return out + [f"{s.title}: {s.status}" for s in report.sections if s.status != "ok"]


def to_markdown(report: Report, rel) -> str:
    L = [f"# {report.title}", "", f"**Summary: {report.summary()}**", ""]
    probs = _problems(report)
    if probs:
        L += ["Not as expected:", ""] + [f"- {p}" for p in probs] + [""]
    L += ["How to read this report: docs/report.md.", "", "## Contents", ""]
    L += [f"- {s.title}" + (f" ({s.status})" if s.status != "ok" else "") for s in report.sections] + [""]
    for s in report.sections:
        L += [f"## {s.title}", ""]
        if s.status != "ok":
            L += [f"**{_STATUS_NOTE.get(s.status, s.status)}**: {s.message}", ""]
        if s.text:
            L += [s.text, ""]
        if s.results:
            L += _md_table(COLUMNS, [_row(r) for r in s.results]) + [""]
            n_ok = sum(r.as_expected for r in s.results)
            L += [f"{len(s.results)} checks, {n_ok} as expected; {fmt_num(s.seconds)} s.", ""]
        for t in s.tables:
            L += [f"*{t.caption}*", ""] + _md_table(t.header, t.rows) + [""]
        for f in s.figures:
            r = rel(f)
            L += [f"![{r}]({r})", ""]
        figs = [f for r in s.results for f in r.figures if f not in s.figures]
        for f in figs:
            r = rel(f)
            L += [f"![{r}]({r})", ""]
    L += ["## Run metadata", ""] + _md_table(["key", "value"], [[k, v] for k, v in report.metadata.items()])
    return "\n".join(L) + "\n"


_CSS = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1em 0;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr.bad td{background:#fdd}tr.neg td{background:#eef4ff}
.summary{font-weight:bold;padding:0.5em;border:2px solid #888}.ok{border-color:#2a2}.notok{border-color:#c22}
.status{color:#c22;font-weight:bold}img{max-width:100%;border:1px solid #ddd;margin:0.3em 0}"""


def _h(x) -> str:
    return html.escape(str(x))


def _html_table(header, rows, classes=None) -> list:
    out = ["<table><tr>" + "".join(f"<th>{_h(c)}</th>" for c in header) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{_h(fmt_num(c))}</td>" for c in row) + "</tr>")
    return out + ["</table>"]


def to_html(report: Report, rel) -> str:
    ok = "ok" if report.ok else "notok"
    B = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{_h(report.title)}</title>",
         f"<style>{_CSS}</style></head><body>", f"<h1>{_h(report.title)}</h1>",
         f"<p class='summary {ok}'>Summary: {_h(report.summary())}</p>",
         "<p>How to read this report: docs/report.md.</p>"]
    probs = _problems(report)
    if probs:
        B += ["<p>Not as expected:</p><ul>"] + [f"<li class='status'>{_h(p)}</li>" for p in probs] + ["</ul>"]
    B += ["<ul>"]
    B += [f"<li><a href='#s{i}'>{_h(s.title)}</a>" + (f" ({_h(s.status)})" if s.status != "ok" else "") + "</li>"
          for i, s in enumerate(report.sections)] + ["</ul>"]
    for i, s in enumerate(report.sections):
        B.append(f"<h2 id='s{i}'>{_h(s.title)}</h2>")
        if s.status != "ok":
            B.append(f"<p class='status'>{_h(_STATUS_NOTE.get(s.status, s.status))}: {_h(s.message)}</p>")
        if s.text:
            B.append(f"<p>{_h(s.text)}</p>")
        if s.results:
            cls = ["bad" if not r.as_expected else ("neg" if r.negative_control else "") for r in s.results]
            B += _html_table(COLUMNS, [_row(r) for r in s.results], cls)
            n_ok = sum(r.as_expected for r in s.results)
            B.append(f"<p>{len(s.results)} checks, {n_ok} as expected; {_h(fmt_num(s.seconds))} s.</p>")
        for t in s.tables:
            B += [f"<p><em>{_h(t.caption)}</em></p>"] + _html_table(t.header, t.rows)
        figs = list(s.figures) + [f for r in s.results for f in r.figures if f not in s.figures]
        for f in figs:
            r = rel(f)
            B.append(f"<p><img src='{_h(r)}' alt='{_h(r)}'></p>")
    B += ["<h2>Run metadata</h2>"] + _html_table(["key", "value"], [[k, v] for k, v in report.metadata.items()])
    return "\n".join(B + ["</body></html>"]) + "\n"


__all__ = ["to_markdown", "to_html", "COLUMNS"]
