"""Every command README.md shows runs as written: each `assistant …` line of its fenced blocks names a real
command, and every option it uses is one that command takes (checked against the command's own --help)."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[str]:
    text = README.read_text("utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()  # drop the trailing comment
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("assistant "):
                    lines.append(part)
    return lines


def command_path(argv: list[str]) -> list[str]:
    """The sub-command words (``corpus import``, ``eval qa`` …) before the first argument or option."""
    path = []
    for word in argv[1:]:
        if word.startswith("-") or not re.fullmatch(r"[a-z][a-z-]*", word) or len(path) == 2:
            break
        path.append(word)
    return path


def help_of(path: list[str]) -> str:
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", *path, "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"assistant {' '.join(path)} --help failed: {proc.stderr[-500:]}"
    return proc.stdout


def test_the_readme_shows_commands():
    assert len(readme_commands()) >= 15


@pytest.mark.parametrize("line", readme_commands())
def test_a_readme_command_exists_with_the_options_it_uses(line):
    argv = shlex.split(line)
    path = command_path(argv)
    text = help_of(path)
    # a word taken for a sub-command must be one: the help of the parent lists it
    if len(path) == 2:
        assert path[1] in help_of(path[:1])
    for option in (w.split("=", 1)[0] for w in argv if w.startswith("--")):
        assert option in text, f"{line!r}: `assistant {' '.join(path)}` has no option {option}"
