"""The README's commands parse as written (every `synth ...` line names real subcommands and flags)."""

from __future__ import annotations

import shlex

import pytest

from synth.cli import build_parser
from tests.conftest import ROOT


def readme_synth_commands() -> list[str]:
    lines = []
    for line in (ROOT / "README.md").read_text().splitlines():
        line = line.split("#", 1)[0].strip().rstrip("&").strip()
        if line.startswith(".venv/bin/synth "):
            lines.append(line[len(".venv/bin/synth "):])
    return lines


def test_readme_shows_every_subcommand():
    used = {shlex.split(line)[0] for line in readme_synth_commands()}
    assert {"play", "render", "train", "export", "inspect", "dataset", "devices"} <= used


@pytest.mark.parametrize("command", readme_synth_commands())
def test_readme_command_parses(command):
    build_parser().parse_args(shlex.split(command))  # argparse exits (a failure) on a wrong flag


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
