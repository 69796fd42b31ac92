"""Write one benchmark's section of docs/benchmarks.md in place (the other sections, including the hand-written
"reading the numbers" ones, stay where they are)."""
from __future__ import annotations

import re
from pathlib import Path


def replace_section(path, title: str, lines: list) -> str:
    """Replace the section headed exactly ``## {title}`` (up to the next ``## `` heading) by ``lines``,
    or append it when absent; return the section's text."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = "\n".join([f"## {title}", "", *lines]).rstrip("\n") + "\n"
    pat = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(text):
        text = pat.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
    print(f"wrote {path}")
    return section
