"""Extract, merge and check the translation catalogs.

    python -m tools.i18n extract   # write locales/messages.pot from the code
    python -m tools.i18n update    # extract, then merge into locales/<lang>/LC_MESSAGES/messages.po
    python -m tools.i18n check     # list missing translations and {placeholder} mismatches; exit 1 if any

Messages are marked in bot/ and handlers/ as ``ctx.t("...")``, ``N_("...")`` and
``translate(lang, "...")``. Message ids are the English source strings with named {placeholders}.

``update`` keeps existing translations, adds new message ids with an EMPTY msgstr (never a fuzzy
guess, so the check and tests/test_translations.py catch them) and drops message ids that are no
longer in the code (it prints them, so a reworded string's old translation can be reused).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import string
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
SOURCE_DIRS = ("bot", "handlers")
LANGUAGES = ("vi", "en")
KEYWORDS = {"t": None, "N_": None, "translate": (2,)}
COMMENT_TAGS = ("Translators:",)
WIDTH = 100
PROJECT = "commune-field-bot"

Locations = list[tuple[str, int]]


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


# --------------------------------------------------------------------------- extraction


def _extract() -> dict[str, tuple[Locations, list[str]]]:
    found: dict[str, tuple[Locations, list[str]]] = {}
    for sub in SOURCE_DIRS:
        base = ROOT / sub
        if not base.is_dir():
            continue
        results = extract_from_dir(
            base,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, _context in results:
            if isinstance(message, (tuple, list)):  # no plurals in this project; take the singular
                message = message[0]
            if not message:
                continue
            locs, cmts = found.setdefault(message, ([], []))
            loc = (f"{sub}/{Path(filename).as_posix()}", lineno)
            if loc not in locs:
                locs.append(loc)
            cmts.extend(c for c in comments if c not in cmts)
    for locs, _ in found.values():
        locs.sort()
    return found


def extract_messages() -> dict[str, Locations]:
    """Every msgid marked in the code, with its (file, line) locations, sorted by msgid."""
    return {msgid: locs for msgid, (locs, _) in sorted(_extract().items())}


def unextractable_calls() -> list[str]:
    """Marked calls whose message is an f-string: Babel cannot extract them and they never translate."""
    out = []
    for sub in SOURCE_DIRS:
        for path in sorted((ROOT / sub).rglob("*.py")):
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                index = {"t": 0, "N_": 0, "translate": 1}.get(name)
                if index is None or len(node.args) <= index:
                    continue
                if isinstance(node.args[index], ast.JoinedStr):
                    rel = path.relative_to(ROOT).as_posix()
                    out.append(f"{rel}:{node.lineno}: f-string passed to {name}(); use named {{placeholders}} instead")
    return out


def build_template() -> Catalog:
    template = Catalog(project=PROJECT, charset="utf-8")
    for msgid, (locs, comments) in sorted(_extract().items()):
        template.add(msgid, locations=locs, auto_comments=comments)
    return template


# --------------------------------------------------------------------------- writing

_VOLATILE = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.M)


def _render(cat: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, cat, width=WIDTH, sort_output=True, ignore_obsolete=True)
    return buf.getvalue()


def _write_if_changed(path: Path, cat: Catalog) -> bool:
    """Write the catalog unless only its dates would change (keeps diffs quiet)."""
    data = _render(cat)
    if path.exists() and _VOLATILE.sub(b"", path.read_bytes()) == _VOLATILE.sub(b"", data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _read(path: Path, lang: str) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def _new_catalog(lang: str) -> Catalog:
    cat = Catalog(locale=lang, project=PROJECT, charset="utf-8", fuzzy=False)
    cat.language_team = {"vi": "Vietnamese", "en": "English"}.get(lang, lang)
    return cat


def extract() -> Catalog:
    template = build_template()
    changed = _write_if_changed(POT, template)
    print(f"{POT.relative_to(ROOT)}: {len(template)} messages{'' if changed else ' (unchanged)'}")
    return template


def update(fill_en: bool = False) -> None:
    template = extract()
    for lang in LANGUAGES:
        path = po_path(lang)
        cat = _read(path, lang) if path.exists() else _new_catalog(lang)
        before = {m.id: m.string for m in cat if m.id}
        cat.update(template, no_fuzzy_matching=True, update_header_comment=False)
        added = [m.id for m in cat if m.id and m.id not in before]
        if fill_en and lang == "en":
            for m in cat:
                if m.id and not m.string:
                    m.string = m.id
        dropped = sorted(cat.obsolete)
        changed = _write_if_changed(path, cat)
        print(f"{path.relative_to(ROOT)}: {len(cat)} messages, {len(added)} new, {len(dropped)} removed"
              f"{'' if changed else ' (unchanged)'}")
        for msgid in added:
            print(f"  + {msgid!r}")
        for msgid in dropped:
            old = cat.obsolete[msgid].string
            print(f"  - {msgid!r}" + (f"  (was {old!r})" if old else ""))


# --------------------------------------------------------------------------- checking


def placeholders(text: str) -> set[str]:
    """Named fields of a str.format string; raises ValueError on unbalanced braces."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def problems_for(msgids: Iterable[str], cat: Catalog | None, lang: str) -> list[str]:
    out = []
    for msgid in msgids:
        msg = cat.get(msgid) if cat is not None else None
        if msg is None or not msg.string:
            out.append(f"[{lang}] missing: {msgid!r}")
            continue
        if msg.fuzzy:
            out.append(f"[{lang}] fuzzy: {msgid!r}")
            continue
        try:
            want, got = placeholders(msgid), placeholders(msg.string)
        except ValueError as exc:
            out.append(f"[{lang}] bad braces ({exc}): {msgid!r} -> {msg.string!r}")
            continue
        if want != got:
            out.append(f"[{lang}] placeholders {sorted(got)} != {sorted(want)}: {msgid!r} -> {msg.string!r}")
    return out


def check() -> int:
    msgids = list(extract_messages())
    problems = unextractable_calls()
    for lang in LANGUAGES:
        path = po_path(lang)
        problems += problems_for(msgids, _read(path, lang) if path.exists() else None, lang)
    if POT.exists():
        with POT.open("rb") as fh:
            pot_ids = {m.id for m in read_po(fh) if m.id}
        if pot_ids != set(msgids):
            problems.append(f"{POT.relative_to(ROOT)} is out of date: run python -m tools.i18n update")
    for line in problems:
        print(line)
    print(f"{len(msgids)} messages, {len(problems)} problem(s)")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="write locales/messages.pot from the code")
    up = sub.add_parser("update", help="extract, then merge into the vi and en catalogs")
    up.add_argument("--fill-en", action="store_true",
                    help="copy the English source into empty msgstr of the en catalog (review them!)")
    sub.add_parser("check", help="report missing translations and placeholder mismatches (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract()
    elif args.command == "update":
        update(fill_en=args.fill_en)
    else:
        return check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
