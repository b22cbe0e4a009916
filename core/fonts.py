"""The DejaVu TrueType fonts matplotlib ships, for the PDFs the bot writes (the reporter guide, the
digest's report form): they cover Vietnamese, and matplotlib is a dependency already. Only the font
files are looked up: pyplot is never imported."""

from __future__ import annotations

from pathlib import Path


class FontMissing(Exception):
    """A font file is not where matplotlib keeps them."""


def dejavu(*styles: str, family: str = "DejaVuSans") -> tuple[Path, ...]:
    """The files of a DejaVu family in the given styles, by their file suffix: "" (regular),
    "-Bold", "-Oblique" (Sans), "-Italic" (Serif), ...; FontMissing if one is not there."""
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    paths = tuple(ttf / f"{family}{style}.ttf" for style in styles or ("",))
    for path in paths:
        if not path.is_file():
            raise FontMissing(f"font not found: {path} (it comes with matplotlib; is matplotlib installed?)")
    return paths
