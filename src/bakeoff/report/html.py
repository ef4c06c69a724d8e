"""report.html: one file that works offline. Figures are PNG data URIs; style and the sorting script are inline.

A Content-Security-Policy allows nothing from outside the page, so a stray URL
cannot load even if one crept in: no CDN, no fonts, no network at all.
"""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from ..files import atomic_write_text
from .blocks import Details, Document, Figure, Row, Section, Table, Text

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa; --best: #dafbe1; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { padding: 24px 32px 12px; border-bottom: 1px solid var(--line); background: var(--bg-soft); }
header h1 { margin: 0 0 4px; font-size: 26px; }
.sub { margin: 0 0 10px; color: var(--muted); font-size: 13px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-size: 14px; white-space: nowrap; }
main { padding: 8px 32px 48px; max-width: 1400px; }
h2 { margin-top: 36px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { margin-top: 28px; }
p.note { color: var(--muted); font-size: 13px; }
p.warn { color: #9a6700; background: #fff8c5; padding: 6px 10px; border-radius: 6px; }
.table-wrap { overflow-x: auto; margin: 8px 0 12px; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.num, table.sortable td { white-space: nowrap; }
th { vertical-align: bottom; }
td { max-width: 360px; overflow-wrap: anywhere; }
table.sortable th, table.sortable td { padding: 4px 5px; }
table.sortable th { white-space: normal; min-width: 3.5em; }  /* headers wrap at spaces: a column is as wide
   as its numbers, not its name, so the leaderboard fits a 1,366 px screen */
th { background: var(--bg-soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { background: var(--best); font-weight: 600; }
/* a wide leaderboard scrolls under its model column, which stays in view */
table.sortable td:first-child, table.sortable th:first-child { position: sticky; left: 0; z-index: 1; }
table.sortable td:first-child { background: #fff; box-shadow: 1px 0 0 var(--line); }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th:hover { background: #eaeef2; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
.row { display: flex; flex-wrap: wrap; gap: 8px 40px; align-items: flex-start; }
figure { margin: 12px 0 20px; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; color: var(--accent); }
figure img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
"""

# Click (or Enter on) a header: ascending, again descending. Cells sort by data-sort; empty cells stay last.
SCRIPT = """
(function () {
  function key(td) {
    var v = td ? td.getAttribute("data-sort") : null;
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function compare(x, y) {
    if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x === null || y === null) return (x === null) - (y === null);
          return ascending ? compare(x, y) : -compare(x, y);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
})();
"""


def write_html(doc: Document, path: Path) -> Path:
    atomic_write_text(path, render(doc))
    return path


def render(doc: Document) -> str:
    toc = " ".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in doc.sections if s.level == 2)
    body = "\n".join(_section(s) for s in doc.sections)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(doc.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{escape(doc.title)}</h1>
<p class="sub">{escape(doc.subtitle)}</p>
<nav>{toc}</nav>
</header>
<main>
{body}
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _section(s: Section) -> str:
    tag = f"h{s.level}"
    parts = [f'<section id="{escape(s.id)}">', f"<{tag}>{escape(s.title)}</{tag}>"]
    for block in s.blocks:
        parts.append(_block(block))
    parts.append("</section>")
    return "\n".join(parts)


def _block(block) -> str:
    if isinstance(block, Text):
        cls = "" if block.kind == "p" else f' class="{block.kind}"'
        return f"<p{cls}>{escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return _figure(block)
    if isinstance(block, Details):
        inner = "".join(_block(b) for b in block.blocks)
        return f"<details><summary>{escape(block.summary)}</summary>{inner}</details>"
    if isinstance(block, Row):
        return '<div class="row">' + "".join(f"<div>{_block(b)}</div>" for b in block.blocks) + "</div>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def _table(t: Table) -> str:
    attrs = (f' id="{escape(t.id)}"' if t.id else "") + (' class="sortable"' if t.sortable else "")
    out = [f'<div class="table-wrap"><table{attrs}>']
    if t.caption:
        out.append(f"<caption>{escape(t.caption)}</caption>")
    if any(t.columns):
        sort_attrs = ' aria-sort="none" tabindex="0"' if t.sortable else ""
        out.append("<thead><tr>" + "".join(f'<th scope="col"{sort_attrs}>{escape(c)}</th>' for c in t.columns)
                   + "</tr></thead>")
    out.append("<tbody>")
    for row in t.rows:
        tds = []
        for c in row:
            numeric = isinstance(c.sort, (int, float)) and not isinstance(c.sort, bool)
            classes = " ".join(k for k, on in (("num", numeric), ("best", c.best)) if on)
            sort = c.text if c.sort is None else (repr(float(c.sort)) if numeric else str(c.sort))
            cls_attr = f' class="{classes}"' if classes else ""
            text = f'<a href="{escape(c.href)}">{escape(c.text)}</a>' if c.href else escape(c.text)
            tds.append(f'<td{cls_attr} data-sort="{escape(sort)}">{text}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _figure(f: Figure) -> str:
    width, height = png_size(f.png)
    if f.width and f.width < width:
        width, height = f.width, round(height * f.width / width)
    data = base64.b64encode(f.png).decode("ascii")
    return (f'<figure id="fig-{escape(f.name)}"><img src="data:image/png;base64,{data}" alt="{escape(f.alt)}" '
            f'width="{width}" height="{height}"><figcaption>{escape(f.alt)}</figcaption></figure>')


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16-24), so the page lays out before images decode."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
