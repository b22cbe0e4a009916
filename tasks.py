#!/usr/bin/env python3
"""Set everything up, then run the bot or the tests. Needs only Python 3.11+.

    python3 tasks.py run            set up, then run the bot (python -m bot run)
    python3 tasks.py bot ARGS...    set up, then python -m bot ARGS (invite, migrate, ...)
    python3 tasks.py test [ARGS]    set up with the test tools, then run the tests (pytest ARGS)

Setting up means: a virtual environment in .venv and the pinned packages of requirements.txt
(and requirements-dev.txt for tests), installed again only when those files change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup(dev: bool) -> Path:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed (found %d.%d)" % sys.version_info[:2])
    python = venv_python()
    if not python.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    files = [ROOT / "requirements.txt", ROOT / "constraints.txt"] + ([ROOT / "requirements-dev.txt"] if dev else [])
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]
    stamp = VENV / f".installed-{'dev' if dev else 'run'}-{digest}"
    if not stamp.exists():
        print("Installing the pinned packages ...", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
             "-r", str(ROOT / ("requirements-dev.txt" if dev else "requirements.txt")), "-c", str(ROOT / "constraints.txt")],
            check=True,
        )
        for old in VENV.glob(f".installed-{'dev' if dev else 'run'}-*"):
            old.unlink()
        stamp.touch()
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "bot", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = setup(dev=command == "test")
    os.chdir(ROOT)
    if command == "run":
        args = [str(python), "-m", "bot", "run", *rest]
    elif command == "bot":
        args = [str(python), "-m", "bot", *rest]
    else:
        args = [str(python), "-m", "pytest", *rest]
    if os.name == "nt":
        return subprocess.call(args)
    os.execv(args[0], args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
