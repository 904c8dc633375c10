"""The README walkthrough, run for real: each console block must match what the commands print."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
DIGEST = Path("campaigns/newsletters/weekly-digest.yaml")


def console_blocks() -> list[list[tuple[str, list[str]]]]:
    """Each ```console block as (command, expected output lines) pairs."""
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        steps: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def edit(old: str, new: str) -> Callable[[], None]:
    def change() -> None:
        text = DIGEST.read_text()
        assert old in text
        DIGEST.write_text(text.replace(old, new, 1))

    return change


def add_copy() -> None:
    block = re.search(r"```yaml\n(apiVersion: reconciler/v1\nkind: Campaign\nmetadata:\n  name: "
                      r"weekly-digest-2027\n.*?)```", README, flags=re.S)  # fmt: skip
    assert block is not None
    Path("campaigns/newsletters/weekly-digest-2027.yaml").write_text(block.group(1))
    edit("  run: running\n", "  run: stopped\n")()


def nothing() -> None:
    pass


# what the reader does before each console block, in the README's order
BEFORE = [
    nothing,
    nothing,
    edit('subject: "This week at Northwind"', 'subject: "This week at Northwind: our picks"'),
    edit("  state: live\n", "  state: live\n  run: stopped\n"),
    edit("  run: stopped\n", "  run: running\n"),
    add_copy,
]


def matches(expected: list[str], actual: list[str]) -> bool:
    """The expected lines appear in order; '...' stands for any number of lines."""
    position = 0
    for line in expected:
        if line.strip() == "...":
            continue
        try:
            position = actual.index(line, position) + 1
        except ValueError:
            return False
    return True


def test_the_walkthrough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO / "campaigns", tmp_path / "campaigns")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_RUNTIME", raising=False)
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-27T12:00:00Z")
    blocks = console_blocks()
    assert len(blocks) == len(BEFORE)
    for before, steps in zip(BEFORE, blocks, strict=True):
        before()
        for command, expected in steps:
            assert command.startswith("reconciler ")
            result = CliRunner().invoke(cli, command.split()[1:])
            assert matches(expected, result.output.splitlines()), (command, result.output)
