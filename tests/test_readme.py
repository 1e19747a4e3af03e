"""The README's command lines match the CLI (every documented option exists)."""

import re
from pathlib import Path

from click.testing import CliRunner

from picd.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands():
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*picd (\w[\w-]*)(.*)", line)
        if m:
            yield m.group(1), re.findall(r"(--[a-z][a-z-]*)", m.group(2).split("#")[0])


def test_readme_commands_exist_with_their_options():
    seen = 0
    for command, options in _commands():
        r = CliRunner().invoke(cli, [command, "--help"])
        assert r.exit_code == 0, (command, r.output)
        for opt in options:
            assert opt in r.output, f"README uses `picd {command} {opt}`, which --help does not list"
        seen += 1
    assert seen >= 5


def test_readme_opens_with_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert [l.split("#")[0].strip() for l in first_block.strip().splitlines()] == ["make demo", "make test"]
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
