"""report.md: the same report for READMEs and pull requests, its figures as PNG files in figures/."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from ..files import atomic_write_bytes, atomic_write_text
from .blocks import Details, Document, Figure, Row, Section, Table, Text


def write_markdown(doc: Document, path: Path, figures_dir: Path) -> Path:
    """Write every figure to figures_dir, then the Markdown that links them by relative path."""
    for figure in _figures([b for s in doc.sections for b in s.blocks]):
        atomic_write_bytes(figures_dir / f"{figure.name}.png", figure.png)
    atomic_write_text(path, render(doc, Path(os.path.relpath(figures_dir, path.parent)).as_posix()))
    return path


def _figures(blocks: list) -> list[Figure]:
    out = []
    for b in blocks:
        out += _figures(b.blocks) if isinstance(b, (Row, Details)) else [b] if isinstance(b, Figure) else []
    return out


def render(doc: Document, figures_rel: str = "figures") -> str:
    lines = [f"# {doc.title}", "", f"_{_inline(doc.subtitle)}_", ""]
    for s in doc.sections:
        lines += _section(s, figures_rel)
    return "\n".join(lines).rstrip() + "\n"


def _section(s: Section, figures_rel: str) -> list[str]:
    return [f"{'#' * s.level} {s.title}", ""] + _blocks(s.blocks, figures_rel)


def _blocks(blocks: list, figures_rel: str) -> list[str]:
    lines = []
    for block in blocks:
        if isinstance(block, Row):
            lines += _blocks(block.blocks, figures_rel)
        elif isinstance(block, Details):
            lines += [f"**{_inline(block.summary)}**", ""] + _blocks(block.blocks, figures_rel)
        elif isinstance(block, Text):
            prefix = {"p": "", "note": "> ", "warn": "> **Warning:** "}[block.kind]
            lines += [prefix + _inline(block.text), ""]
        elif isinstance(block, Table):
            lines += _table(block) + [""]
        elif isinstance(block, Figure):
            lines += [f"![{_inline(block.alt)}]({figures_rel}/{block.name}.png)", ""]
        else:
            raise TypeError(f"unknown report block {type(block).__name__}")
    return lines


def _table(t: Table) -> list[str]:
    lines = [f"_{_inline(t.caption)}_", ""] if t.caption else []
    lines.append("| " + " | ".join(_cell(c) for c in t.columns) + " |")
    lines.append("|" + "---|" * len(t.columns))
    for row in t.rows:
        lines.append("| " + " | ".join(_linked(c, _cell(f"**{c.text}**" if c.best and c.text else c.text))
                                       for c in row) + " |")
    return lines


def _linked(c, text: str) -> str:
    return f"[{text}]({quote(c.href)})" if c.href else text  # quoted: spaces or ')' would end the link


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|").replace("\n", " ")


def _inline(text: str) -> str:
    """Keep Markdown from reading model names like `resnet_20_x` as emphasis, and HTML-ish text as tags."""
    return text.replace("_", "\\_").replace("<", "&lt;")
