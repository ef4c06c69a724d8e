"""The documentation stays true: README.md and docs/*.md name only flags that exist, link only to files that
exist, and README keeps the two commands CI runs. Reads files and builds the argument parser; trains nothing."""
from __future__ import annotations

import argparse
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
# `bakeoff SUB`, also as `.venv/bin/bakeoff SUB` and `python -m bakeoff SUB`; not `bakeoff.compare(` or `bakeoff[extra]`
# (`bakeoff leaderboard: digits`, a title in printed output, is not a command)
BAKEOFF = re.compile(r"(?:^|(?<=[\s/]))bakeoff\s+([a-z][\w-]*)\b(?!:)(.*)")
BENCH = re.compile(r"(?:^|\s)\S*python3?\s+(bench/[\w./-]+\.py)(.*)")
# Flags of other tools the docs run (torchrun, mlflow ui, tensorboard): not bakeoff's to check.
OTHER_TOOLS = {"--nproc-per-node", "--nnodes", "--backend-store-uri", "--logdir"}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _strip_fenced(text: str) -> tuple[list[str], list[str]]:
    """(code lines, prose lines): fenced blocks and 4-space indented lines are code, with a trailing `\\` joined
    to the next line; the rest is prose."""
    code, prose, in_fence, pending = [], [], False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or line.startswith("    "):
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            code.append(line)
        else:
            if pending:
                code.append(pending)
                pending = ""
            prose.append(line)
    return code, prose


def _inline_code(lines: list[str]) -> list[str]:
    """The `code spans` of prose lines, also those wrapped onto the next line; a table's escaped pipe `\\|` is
    an alternative, not a shell pipe."""
    text = "\n".join(lines).replace("\\|", "/")
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", text)]


def _snippets(path: Path) -> list[str]:
    code, prose = _strip_fenced(path.read_text(encoding="utf-8"))
    return code + _inline_code(prose)


def _commands(snippet: str):
    """Each shell command of a snippet, comments and pipes cut off."""
    snippet = re.sub(r"(^|\s)#.*", "", snippet)
    for part in re.split(r"\|\||&&|[;|]", snippet):
        yield part.strip()


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


@lru_cache(maxsize=None)
def _subcommands() -> dict[str, set[str]]:
    from bakeoff.cli import build_parser

    parser = build_parser()
    top = _option_strings(parser)
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: _option_strings(p) | top for name, p in subs.choices.items()}


@lru_cache(maxsize=None)
def _bench_flags(script: str) -> set[str] | None:
    path = ROOT / script
    if not path.is_file():
        return None
    flags = {"-h", "--help"}
    for call in re.finditer(r"add_argument\(\s*((?:\"[^\"]*\"\s*,\s*)*\"[^\"]*\")", path.read_text(encoding="utf-8")):
        flags |= {s for s in re.findall(r"\"([^\"]*)\"", call.group(1)) if s.startswith("-")}
    return flags


def _unknown_flags(path: Path) -> list[str]:
    subs, problems = _subcommands(), []
    for snippet in _snippets(path):
        for cmd in _commands(snippet):
            bench = BENCH.search(cmd)
            if bench:
                script, rest = bench.group(1), bench.group(2)
                known = _bench_flags(script)
                if known is None:
                    problems.append(f"{_rel(path)}: `{cmd}`: {script} does not exist")
                    continue
                rest, _, passed_on = rest.partition(" -- ")   # time_to_accuracy.py passes these to `bakeoff train`
                problems += [f"{_rel(path)}: `{cmd}`: {script} has no {f}"
                             for f in FLAG.findall(rest) if f not in known]
                problems += [f"{_rel(path)}: `{cmd}`: bakeoff train has no {f}"
                             for f in FLAG.findall(passed_on) if f not in subs["train"]]
                continue
            for m in BAKEOFF.finditer(cmd):
                sub, rest = m.group(1), m.group(2)
                if sub not in subs:
                    problems.append(f"{_rel(path)}: `{cmd}`: bakeoff has no subcommand {sub!r}")
                    continue
                problems += [f"{_rel(path)}: `{cmd}`: bakeoff {sub} has no {f}"
                             for f in FLAG.findall(rest) if f not in subs[sub]]
                break
    return problems


@pytest.mark.parametrize("path", DOCS, ids=_rel)
def test_every_flag_of_a_written_command_exists(path):
    """`bakeoff SUB ... --flag` exists for SUB in bakeoff.cli.build_parser(); `python bench/X.py ... --flag` in
    that script's argparse (its add_argument lines)."""
    problems = _unknown_flags(path)
    assert not problems, "\n".join(problems)


def test_every_flag_written_anywhere_exists_somewhere():
    """A flag in any code span or block (`--epochs 5,10` in prose too) is an option of some bakeoff subcommand, of
    a bench script, or of another tool the docs run: a renamed or invented flag (`--weights-dir` written as
    bakeoff's) cannot linger in prose."""
    known = set().union(*_subcommands().values(), OTHER_TOOLS)
    for script in (ROOT / "bench").glob("*.py"):
        known |= _bench_flags(_rel(script))
    problems = [f"{_rel(path)}: {flag} in `{s}`" for path in DOCS for s in _snippets(path)
                for flag in FLAG.findall(s) if flag not in known]
    assert not problems, "\n".join(problems)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens (repeats numbered)."""
    seen: dict[str, int] = {}
    anchors = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).replace("`", "").lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _links(path: Path) -> list[str]:
    _, prose = _strip_fenced(path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`]*`", "", "\n".join(prose))
    return re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)


@pytest.mark.parametrize("path", DOCS, ids=_rel)
def test_every_relative_link_points_to_a_file_that_exists(path):
    problems = []
    for target in _links(path):
        if re.match(r"[a-z][\w+.-]*:", target):          # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            problems.append(f"{_rel(path)}: ({target}): no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            problems.append(f"{_rel(path)}: ({target}): no heading #{anchor} in {dest.name}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=_rel)
def test_every_repository_path_and_test_named_exists(path):
    """`bench/x.py`, `src/...`, `tests/test_x.py`, `test_x.py::test_y` and `test_y` written in the docs exist
    (docs/guarantees.md names the test that shows each guarantee); a bare `test_y` may also be a name in the code."""
    tests = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py")}
    all_tests = "\n".join(tests.values())
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    problems = []
    for span in _snippets(path):
        for token in re.findall(r"[\w./:-]+", span):
            token = token.rstrip(".:,")
            if (re.fullmatch(r"(bench|src|tests|docs|examples)/[\w./-]*\w", token) and not (ROOT / token).exists()
                    and not token.startswith("bench/results/")):         # benchmark outputs, not in the repository
                problems.append(f"{_rel(path)}: {token} does not exist")
            m = re.fullmatch(r"(?:tests/)?(test_\w+\.py)(?:::(test_\w+))?", token)
            if m:
                if m.group(1) not in tests:
                    problems.append(f"{_rel(path)}: tests/{m.group(1)} does not exist")
                elif m.group(2) and not re.search(rf"def {m.group(2)}\b", tests[m.group(1)]):
                    problems.append(f"{_rel(path)}: {token}: no such test")
            elif (re.fullmatch(r"test_\w+", token) and not re.search(rf"def {token}\b", all_tests)
                  and not re.search(rf"\b{token}\b", source)):          # `test_acc_mean` is a column, not a test
                problems.append(f"{_rel(path)}: {token}: no such test")
    assert not problems, "\n".join(problems)


def test_readme_gives_the_two_commands_ci_and_the_makefile_run():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^\s*make test\s*$", ci, re.M), ".ci/run no longer calls `make test`"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert demo and "bakeoff compare" in demo.group(1), "README says `make demo` runs `bakeoff compare`"
    assert re.search(r"^test:.*\n\t.*pytest", makefile, re.M)
