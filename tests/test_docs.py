"""The documents (README.md and docs/*.md) against the code: every relative link leads to a file
that exists and, with an anchor, to a heading of it; every chat command they name in code is in
the bot's registry; every `python -m bot …` (or `tasks.py bot …`, `tasks.py run …`, `deploy/botctl
…`) subcommand and option they name is in the parser of bot/__main__.py; the dependency table
matches the requirement files. A self-check feeds the checker a page with one of each mistake."""

from __future__ import annotations

import argparse
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
USER_GUIDES = ("office.md", "reporters.md", "police-leaders.md")  # Vietnamese, for the people who use the bot


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


# ---- reading Markdown --------------------------------------------------------------------------

FENCE = re.compile(r"^[ \t]*(```+|~~~+)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"\[((?:[^\[\]\\]|\\.)*)\]\(\s*<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
HTML_ID = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.I)


def without_code(text: str) -> str:
    """The text with fenced blocks and code spans blanked (same length, so nothing joins up)."""
    text = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    return CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def code_texts(text: str) -> list[str]:
    """What is in code: each fenced block's lines, and each code span."""
    blocks = [m.group(2) for m in FENCE.finditer(text)]
    spans = [m.group(2) for m in CODE_SPAN.finditer(FENCE.sub("", text))]
    return [line for block in blocks for line in block.splitlines()] + [s.replace("\n", " ") for s in spans]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: links reduced to their text, lower case, everything but
    letters (with their diacritics), digits, '_', '-' and spaces dropped, spaces made hyphens."""
    text = LINK.sub(lambda m: m.group(1), heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    return anchors_in(path.read_text(encoding="utf-8"))


def anchors_in(text: str) -> frozenset[str]:
    found: set[str] = set(HTML_ID.findall(text))
    seen: dict[str, int] = {}
    for m in HEADING.finditer(FENCE.sub("", text)):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return frozenset(found)


# ---- the checks --------------------------------------------------------------------------------


def link_problems(path: Path, text: str) -> list[str]:
    problems = []
    for m in LINK.finditer(without_code(text)):
        target = m.group(2)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
            continue  # https:, mailto: …
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{rel(path)}: [{m.group(1)}]({target})"
        if not dest.is_relative_to(ROOT):
            problems.append(f"{where} leads out of the project")
        elif file_part and not dest.exists():
            problems.append(f"{where}: no file {rel(dest)}")
        elif anchor and not file_part and anchor not in anchors_in(text):
            problems.append(f"{where}: no heading #{anchor} in this page")
        elif anchor and file_part and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where}: no heading #{anchor} in {rel(dest)}")
    return problems


# A chat command: '/' and lower-case letters, at the start of the code or after a space or an
# opening bracket or quote, and not going on as a path ("/etc/…", "/tmp/x.txt") or an option ("/grant:r").
COMMAND = re.compile(r"(?<![^\s(\[\"'“])/([a-z]+)(?![\w/.:\\-])")
OTHER_BOTS = frozenset({"newbot"})  # @BotFather's, in the Telegram set-up


@cache
def chat_commands() -> frozenset[str]:
    import handlers.features  # noqa: F401 - every module that registers commands
    from handlers.registry import COMMANDS

    return frozenset(COMMANDS)


@cache
def http_routes() -> frozenset[str]:
    """The paths of the bot's HTTP server: its own routes and those features register."""
    import handlers.features  # noqa: F401
    from handlers.registry import ROUTES

    paths = {r.path for r in ROUTES}
    for source in [*(ROOT / "bot").glob("*.py"), *(ROOT / "bot" / "channels").glob("*.py")]:
        paths |= set(re.findall(r"(?:add_get|add_post|web\.get|web\.post)\(\s*\"(/[^\"]*)\"", source.read_text(encoding="utf-8")))
    return frozenset(paths)


def command_problems(path: Path, text: str) -> list[str]:
    problems = []
    for code in code_texts(text):
        for m in COMMAND.finditer(code):
            name = m.group(1)
            if name not in chat_commands() | OTHER_BOTS and f"/{name}" not in http_routes():
                problems.append(f"{rel(path)}: `{code.strip()}` names /{name}, which is neither a chat command "
                                f"nor a route of the HTTP server")
    return problems


# `python -m bot ARGS`, `tasks.py bot ARGS`, `deploy/botctl ARGS`, and `tasks.py run ARGS` (= `python -m bot run ARGS`).
INVOCATION = re.compile(r"(?:(?:-m|tasks\.py)\s+bot\b|deploy/botctl\b|tasks\.py(?=\s+run\b))(?P<args>[^\n#|;&>`)]*)")
GLOBAL_WITH_VALUE = ("--config", "--log-format")


@cache
def bot_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from bot.__main__ import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, dict(sub.choices)


def subcommand_problems(path: Path, text: str) -> list[str]:
    parser, subcommands = bot_parser()
    problems = []
    for code in code_texts(text):
        for m in INVOCATION.finditer(code):
            words = [w.strip("\"'") for w in m.group("args").split()]
            where = f"{rel(path)}: `{code.strip()}`"
            i = 0
            while i < len(words) and words[i].startswith("-"):  # options before the subcommand
                option = words[i].split("=")[0]
                if option not in parser._option_string_actions:
                    problems.append(f"{where}: python -m bot has no option {option}")
                i += 2 if option in GLOBAL_WITH_VALUE and "=" not in words[i] else 1
            if i >= len(words) or not re.fullmatch(r"[a-z][a-z-]*", words[i]):
                continue  # `python -m bot …`, `python -m bot --help`
            name, rest = words[i], words[i + 1:]
            if name not in subcommands:
                problems.append(f"{where}: python -m bot has no subcommand {name!r}")
                continue
            for word in rest:
                option = word.split("=")[0]
                if option.startswith("--") and option not in subcommands[name]._option_string_actions:
                    problems.append(f"{where}: `python -m bot {name}` has no option {option}")
    return problems


def problems_in(path: Path, text: str) -> list[str]:
    return link_problems(path, text) + command_problems(path, text) + subcommand_problems(path, text)


def report(check) -> list[str]:
    return [p for doc in documents() for p in check(doc, doc.read_text(encoding="utf-8"))]


# ---- the documents -----------------------------------------------------------------------------


def test_the_documents_are_there_and_listed():
    names = {p.name for p in DOCS.glob("*.md")}
    assert {"README.md", "it.en.md", "it.vi.md", "design.md", *USER_GUIDES} <= names
    for index in (ROOT / "README.md", DOCS / "README.md"):
        linked = {(index.parent / m.group(2).partition("#")[0]).resolve()
                  for m in LINK.finditer(without_code(index.read_text(encoding="utf-8")))}
        missing = sorted(n for n in names if (DOCS / n).resolve() not in linked and DOCS / n != index)
        assert not missing, f"{rel(index)} does not link to {missing}"


def test_the_documents_are_nfc():
    """Vietnamese typed in one form only (NFC), so searching and anchors find it."""
    import unicodedata

    odd = [rel(d) for d in documents() if not unicodedata.is_normalized("NFC", d.read_text(encoding="utf-8"))]
    assert not odd, f"not in Unicode NFC: {odd}"


def test_every_relative_link_leads_somewhere():
    problems = report(link_problems)
    assert not problems, "\n".join(problems)


def test_every_chat_command_named_exists():
    problems = report(command_problems)
    assert not problems, "\n".join(problems)


def test_every_bot_subcommand_and_option_named_exists():
    problems = report(subcommand_problems)
    assert not problems, "\n".join(problems)


def requirements() -> dict[str, str]:
    """Package name (lower case, no extras) → pinned version, from both requirement files."""
    pins = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            m = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(?:==\s*([^\s;]+))?", line)
            if m and not line.startswith("-"):
                pins[m.group(1).lower()] = m.group(2) or ""
    return pins


def readme_dependencies() -> dict[str, str]:
    """Package name (lower case) → the version the README's table gives ('' when none)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Dependencies, and why each"):]
    section = section[:section.find("\n## ", 1)]
    named = {}
    for row in re.findall(r"^\| ([^|]+) \|", section, re.M)[1:]:  # after the header
        for part in re.split(r"[,;/+]", row):
            words = re.sub(r"\(.*?\)", "", part).split()
            if words:
                named[words[0].lower()] = words[1] if len(words) > 1 and re.fullmatch(r"[\d.]+", words[1]) else ""
    return named


def test_the_readme_says_why_each_dependency_is_there():
    pinned, named = requirements(), readme_dependencies()
    assert not sorted(set(pinned) - set(named)), f"pinned but not in the README's table: {sorted(set(pinned) - set(named))}"
    assert not sorted(set(named) - set(pinned)), f"in the README's table but not pinned: {sorted(set(named) - set(pinned))}"
    wrong = {n: (v, pinned[n]) for n, v in named.items() if v and not (pinned[n] + ".").startswith(v + ".")}
    assert not wrong, f"the README's version differs from the pinned one: {wrong}"


# ---- the checker finds what it should ----------------------------------------------------------


def test_slugs_are_githubs():
    assert slug("Moving to PostgreSQL") == "moving-to-postgresql"
    assert slug("Configuration reference (`config.toml`)") == "configuration-reference-configtoml"
    assert slug("For reference: the office's commands and figures") == "for-reference-the-offices-commands-and-figures"
    assert slug("Cài đặt Zalo, nhiều xã") == "cài-đặt-zalo-nhiều-xã"


def test_the_checker_reports_a_bad_link_a_bad_command_and_a_bad_subcommand():
    page = DOCS / "not-a-real-page.md"
    text = "\n".join([
        "# A page",
        "Good: [the README](../README.md), [a heading](../README.md#the-two-commands), [here](#a-page),",
        "[a site](https://example.vn), `/tuan`, `/nhan HS-2026-0001`, `GET /healthz`, `/metrics`,",
        "`/etc/commune-bot/bot.env`, `icacls C:\\data /grant:r x`, `python -m bot invite --role admin`,",
        "`python -m bot --log-format json run`, `python -m bot …`, `[x](nowhere-in-code.md)`.",
        "Bad: [a link](nowhere.md), [an anchor](../README.md#no-such-heading), [here too](#no-heading),",
        "`/khongcolenh`,",
        "```",
        "python3 tasks.py bot nosuchthing --x",
        "python -m bot digest --nosuchoption",
        "```",
    ])
    problems = problems_in(page, text)
    expected = ["no file docs/nowhere.md", "no heading #no-such-heading", "no heading #no-heading in this page",
                "/khongcolenh",
                "no subcommand 'nosuchthing'", "has no option --nosuchoption"]
    for bit in expected:
        assert sum(bit in p for p in problems) == 1, (bit, problems)
    assert len(problems) == len(expected), problems


@pytest.mark.parametrize("text", ["[x](../README.md#a-five-minute-tour)", "`/baotin`", "`python3 tasks.py bot status --json`"])
def test_the_checker_accepts_what_is_right(text):
    assert problems_in(DOCS / "README.md", text) == []
