"""Markdown, HTML and JSON renderings of a ``Report`` (pure functions: Report -> str or dict).

The report opens with three numbers and one verdict (theorem checks as expected / not; negative controls
failing as intended / not; paper claims reproduced / NOT reproduced) and lists by name every row that is
not as expected and every paper claim that was not reproduced, with measured value and threshold.
Each section starts with its case(s); each row reads: check id | case | claim (for a control: what was
changed) | what is measured (one line) | measured | threshold | verdict | as expected. Every figure is
embedded once, with its caption naming the run it shows. Only the typed fields of ``CheckResult`` are read
(never ``detail``). Figure paths are written relative to the report directory (``rel`` maps a path to that
string).
"""
from __future__ import annotations

import html
from pathlib import Path

from ..results import figure_caption, figure_path, verdict_text
from .model import Report, fmt_num

COLUMNS = ["check", "case", "claim", "measured quantity", "measured", "threshold", "verdict", "as expected"]
_STATUS_NOTE = {"error": "ERROR", "not available": "NOT AVAILABLE"}
_DOCS = Path(__file__).resolve().parents[2] / "docs" / "report.md"


def docs_link() -> str:
    """The how-to-read page: an absolute file URI when the source tree is present, else its name."""
    return _DOCS.as_uri() if _DOCS.is_file() else "docs/report.md in the kktcheck repository"


def _expected(r) -> str:
    if r.informational:
        return "reproduced" if r.reproduced else "NOT reproduced"
    return "yes" if r.as_expected else "NO"


def section_cases(s) -> list:
    """The distinct case descriptions of a section's rows, in order (row i refers to them as A, B, ...)."""
    return list(dict.fromkeys(r.case.text() for r in s.results if r.case is not None))


def _label(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"Z{i}"


def _row(r, cases):
    claim = r.claim + (f" [control: {r.changed}]" if r.negative_control and r.changed else "")
    case = _label(cases.index(r.case.text())) if r.case is not None else "-"
    return [r.name, case, claim, r.definition or "-", fmt_num(r.measured), r.threshold,
            verdict_text(r), _expected(r)]


def _figures(s) -> list:
    """Section figures then row figures, each path once (the first caption found wins)."""
    seen = {}
    for f in list(s.figures) + [f for r in s.results for f in r.figures]:
        p = str(Path(figure_path(f)))
        if p not in seen or (not seen[p] and figure_caption(f)):
            seen[p] = figure_caption(f)
    return list(seen.items())


def _problem_lines(report: Report) -> tuple:
    """(not as expected, not reproduced, section problems): one line each, with measured vs threshold."""
    def line(r):
        return f"{r.name}: measured {fmt_num(r.measured)} vs threshold {r.threshold} " \
               f"({verdict_text(r)}) -- {r.claim}"
    bad = [line(r) for r in report.not_as_expected()]
    claims = [line(r) for r in report.not_reproduced()]
    return bad, claims, [f"{s.title}: {s.status}: {s.message}" for s in report.sections if s.status != "ok"]


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _md_table(header, rows) -> list:
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_md_cell(fmt_num(c)) for c in row) + " |" for row in rows]
    return out


def to_markdown(report: Report, rel) -> str:
    L = [f"# {report.title}", ""] + [f"**{x}**  " for x in report.summary_lines()] + [""]
    bad, claims, secs = _problem_lines(report)
    for head, items in (("Not as expected (theorem checks and controls):", bad),
                        ("Paper claims NOT reproduced:", claims), ("Sections with problems:", secs)):
        if items:
            L += [head, ""] + [f"- {p}" for p in items] + [""]
    L += [f"How to read this report: {docs_link()}", "", "## Contents", ""]
    L += [f"- {s.title}" + (f" ({s.status})" if s.status != "ok" else "") for s in report.sections] + [""]
    for s in report.sections:
        L += [f"## {s.title}", ""]
        cases = section_cases(s)
        if cases:
            L += ["Cases:", ""] + [f"- **{_label(i)}**: {c}" for i, c in enumerate(cases)] + [""]
        if s.status != "ok":
            L += [f"**{_STATUS_NOTE.get(s.status, s.status)}**: {s.message}", ""]
        if s.text:
            L += [s.text, ""]
        if s.results:
            L += _md_table(COLUMNS, [_row(r, cases) for r in s.results]) + [""]
            n_ok = sum(r.as_expected for r in s.results)
            L += [f"{len(s.results)} rows, {n_ok} as expected; {fmt_num(s.seconds)} s.", ""]
        for t in list(s.tables) + [t for r in s.results for t in r.tables]:
            L += [f"*{t.caption}*", ""] + _md_table(t.header, t.rows) + [""]
        for f, cap in _figures(s):
            r = rel(f)
            L += [f"![{r}]({r})", "", f"*Figure {r}: {cap or 'no caption'}*", ""]
    L += ["## Run metadata", ""] + _md_table(["key", "value"], [[k, v] for k, v in report.metadata.items()])
    return "\n".join(L) + "\n"


_CSS = """body{font-family:sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1em 0;font-size:0.88em}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr.bad td{background:#fbb;font-weight:bold}tr.notrep td{background:#ffe2b3}
tr.neg td{background:#eef4ff}.summary{font-weight:bold;padding:0.5em;border:2px solid #888}
.ok{border-color:#2a2}.notok{border-color:#c22}.warn{border-color:#e90}
.status{color:#c22;font-weight:bold}img{max-width:100%;border:1px solid #ddd;margin:0.3em 0}
figcaption{font-size:0.9em;color:#444}"""


def _h(x) -> str:
    return html.escape(str(x))


def _html_table(header, rows, classes=None) -> list:
    out = ["<table><tr>" + "".join(f"<th>{_h(c)}</th>" for c in header) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{_h(fmt_num(c))}</td>" for c in row) + "</tr>")
    return out + ["</table>"]


def _row_class(r) -> str:
    if r.informational:
        return "" if r.reproduced else "notrep"
    return "bad" if not r.as_expected else ("neg" if r.negative_control else "")


def to_html(report: Report, rel) -> str:
    ok = "notok" if not report.ok else ("warn" if report.not_reproduced() else "ok")
    B = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{_h(report.title)}</title>",
         f"<style>{_CSS}</style></head><body>", f"<h1>{_h(report.title)}</h1>",
         f"<div class='summary {ok}'>" + "<br>".join(_h(x) for x in report.summary_lines()) + "</div>"]
    bad, claims, secs = _problem_lines(report)
    for head, items in (("Not as expected (theorem checks and controls):", bad),
                        ("Paper claims NOT reproduced:", claims), ("Sections with problems:", secs)):
        if items:
            B += [f"<p>{_h(head)}</p><ul>"] + [f"<li class='status'>{_h(p)}</li>" for p in items] + ["</ul>"]
    link = docs_link()
    B.append(f"<p>How to read this report: <a href='{_h(link)}'>{_h(link)}</a></p>" if link.startswith("file:")
             else f"<p>How to read this report: {_h(link)}</p>")
    B += ["<ul>"]
    B += [f"<li><a href='#s{i}'>{_h(s.title)}</a>" + (f" ({_h(s.status)})" if s.status != "ok" else "") + "</li>"
          for i, s in enumerate(report.sections)] + ["</ul>"]
    for i, s in enumerate(report.sections):
        B.append(f"<h2 id='s{i}'>{_h(s.title)}</h2>")
        cases = section_cases(s)
        if cases:
            B += ["<p>Cases:</p><ul>"] + [f"<li><b>{_label(j)}</b>: {_h(c)}</li>" for j, c in enumerate(cases)]
            B.append("</ul>")
        if s.status != "ok":
            B.append(f"<p class='status'>{_h(_STATUS_NOTE.get(s.status, s.status))}: {_h(s.message)}</p>")
        if s.text:
            B.append(f"<p>{_h(s.text)}</p>")
        if s.results:
            B += _html_table(COLUMNS, [_row(r, cases) for r in s.results], [_row_class(r) for r in s.results])
            n_ok = sum(r.as_expected for r in s.results)
            B.append(f"<p>{len(s.results)} rows, {n_ok} as expected; {_h(fmt_num(s.seconds))} s.</p>")
        for t in list(s.tables) + [t for r in s.results for t in r.tables]:
            B += [f"<p><em>{_h(t.caption)}</em></p>"] + _html_table(t.header, t.rows)
        for f, cap in _figures(s):
            r = rel(f)
            B.append(f"<figure><img src='{_h(r)}' alt='{_h(r)}'><figcaption>{_h(r)}: {_h(cap or 'no caption')}"
                     "</figcaption></figure>")
    B += ["<h2>Run metadata</h2>"] + _html_table(["key", "value"], [[k, v] for k, v in report.metadata.items()])
    return "\n".join(B + ["</body></html>"]) + "\n"


def to_json(report: Report, rel) -> dict:
    """The machine-readable report: summary counts, verdict, and every row (``CheckResult.to_dict``) with
    figure paths relative to the report directory."""
    rows = []
    for s in report.sections:
        for r in s.results:
            d = r.to_dict()
            d["suite"] = d["suite"] or s.name
            d["section"] = s.title
            d["figures"] = [rel(f) for f in d["figures"]]
            rows.append(d)
    return {"title": report.title, "summary": report.summary_lines(), "verdict": report.verdict(),
            "ok": report.ok, "counts": report.counts(), "rows": rows,
            "sections": [{"title": s.title, "name": s.name, "status": s.status, "message": s.message,
                          "seconds": s.seconds} for s in report.sections],
            "metadata": {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
                         for k, v in report.metadata.items()}}


__all__ = ["to_markdown", "to_html", "to_json", "COLUMNS", "section_cases", "docs_link"]
