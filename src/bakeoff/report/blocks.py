"""What a report is made of, apart from how it is written: sections of text, tables and figures.

html.py and markdown.py each render the same blocks, so the two files always say the same thing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Text:
    text: str
    kind: str = "p"  # "p" a paragraph, "note" a side remark, "warn" something that went wrong


@dataclass
class Cell:
    text: str
    sort: float | str | None = None  # the raw value the page sorts by (None: sort by the text, empties last)
    best: bool = False  # highlighted: the best value of its column
    href: str = ""  # a relative link the text points to (another report beside this one), or none


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    id: str = ""
    sortable: bool = False  # clicking a header sorts the rows in the page
    caption: str = ""


@dataclass
class Figure:
    name: str  # file stem: figures/<name>.png beside report.md
    png: bytes
    alt: str  # what the picture shows, in words
    width: int | None = None  # displayed width in CSS pixels (None: natural size, capped by the page)


@dataclass
class Row:
    """Blocks side by side where the page is wide enough (one after another in Markdown)."""

    blocks: list


@dataclass
class Details:
    """Blocks folded away under a one-line summary in the page (shown in full in Markdown)."""

    summary: str
    blocks: list


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)
    level: int = 2  # 2 a top-level section, 3 inside the one before it


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


def cell(text, sort=None, best: bool = False) -> Cell:
    return Cell(str(text), sort, best)


def slug(text: str) -> str:
    """A safe id / file-name piece: 'simple-cnn adam 0.001' -> 'simple-cnn-adam-0.001'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "x"
