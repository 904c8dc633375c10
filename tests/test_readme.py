"""The README walkthrough, run for real: each console block must match what the commands print."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
DIGEST = Path("campaigns/newsletters/weekly-digest.yaml")


def section(title: str) -> str:
    """The README's section ``## title``, up to the next one."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.S | re.M)
    assert found is not None, title
    return found.group(1)


def console_blocks(text: str = README) -> list[list[tuple[str, list[str]]]]:
    """Each ```console block as (command, expected output lines) pairs."""
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", text, flags=re.S):
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


def steps(*changes: Callable[[], None]) -> Callable[[], None]:
    def change() -> None:
        for each in changes:
            each()

    return change


SUBJECT = 'subject: "This week at Northwind"'


# what the reader does before each console block, in the README's order
BEFORE = [
    nothing,  # the quick start's commands, which the first block shows
    edit(SUBJECT, 'subject: "This week at Northwind: our picks"'),
    steps(edit("  state: live\n", "  state: draft\n"), edit(": our picks", ": the winter edition")),
    edit("  state: draft\n", "  state: live\n"),
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


def quick_start() -> list[str]:
    """The commands the quick start's first line runs after installing, in its order."""
    block = re.search(r"```sh\n(.*?)```", README, flags=re.S)
    assert block is not None
    first = next(line for line in block.group(1).splitlines() if line and line[0] != "#")
    return [part.strip().removeprefix(".venv/bin/") for part in first.split("&&")][2:]


def a_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a reader runs the quick start: the example campaigns and project file, no runtime
    yet, the README's moment as now."""
    shutil.copytree(REPO / "campaigns", tmp_path / "campaigns")
    shutil.copy(REPO / "reconciler.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_RUNTIME", raising=False)
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-27T12:00:00Z")


def after_quick_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a_clone(tmp_path, monkeypatch)
    for command in quick_start():
        assert CliRunner().invoke(cli, command.split()[1:]).exit_code == 0


def test_the_walkthrough_follows_the_quick_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader runs the quick start, then the walkthrough's commands block by block: the first
    block shows what the quick start printed, the others what each step prints after it."""
    a_clone(tmp_path, monkeypatch)
    blocks = console_blocks(section("Walkthrough"))
    assert len(blocks) == len(BEFORE)
    assert quick_start() == ["reconciler plan", "reconciler apply"]
    assert [command for command, _ in blocks[0][:2]] == quick_start()
    for before, steps in zip(BEFORE, blocks, strict=True):
        before()
        for command, expected in steps:
            assert command.startswith("reconciler ")
            result = CliRunner().invoke(cli, command.split()[1:])
            assert matches(expected, result.output.splitlines()), (command, result.output)


def run(steps: list[tuple[str, list[str]]]) -> None:
    for command, expected in steps:
        assert command.startswith("reconciler ")
        result = CliRunner().invoke(cli, command.split()[1:])
        assert matches(expected, result.output.splitlines()), (command, result.output)


def test_adopting_existing_campaigns_as_the_readme_walks_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the quick start: campaigns made in a console, imported, validated, then adopted by
    a plan that does nothing else, applied, and planned again to nothing."""
    text = section("Adopting existing campaigns")
    after_quick_start(tmp_path, monkeypatch)
    console_file, imported = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    Path("console.yaml").write_text(console_file)
    made, labelled, adopted = console_blocks(text)
    run(made)
    # the file the README shows is the one import wrote, byte for byte
    assert Path("campaigns/imported/spring-sale.yaml").read_text() == imported
    # a second import of the same runtime writes the same bytes
    again = CliRunner().invoke(cli, ["import", "--all", "--out", "again", "--path", "elsewhere"])
    assert again.exit_code == 0, again.output
    for name in ("spring-sale", "welcome-banner"):
        written = Path(f"campaigns/imported/{name}.yaml").read_bytes()
        assert Path(f"again/{name}.yaml").read_bytes() == written
    # the teams the project file requires, as the README says to add them
    added = re.findall(r"`labels: \{team: (\w+)\}` under `name: ([\w-]+)`", text)
    assert sorted(name for _, name in added) == ["spring-sale", "welcome-banner"]
    for team, name in added:
        file = Path(f"campaigns/imported/{name}.yaml")
        named = f"  name: {name}\n"
        file.write_text(file.read_text().replace(named, f"{named}  labels: {{team: {team}}}\n"))
    run(labelled)
    run(adopted)


def test_policies_as_the_readme_walks_through_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the quick start: the README's project file, a change to a campaign the freeze holds,
    then the same change in a pull request that also lifts the freeze, judged by main's policies."""
    text = section("Policies")
    after_quick_start(tmp_path, monkeypatch)
    project = re.search(r"```yaml\n(apiVersion: reconciler/v1\nkind: Project\n.*?)```", text, re.S)
    assert project is not None
    Path("reconciler.yaml").write_text(project.group(1))
    deal = Path("campaigns/promotions/daily-deal-push.yaml")
    title = re.search(r'\(`(title: "Deal of the day: 40% off")`, under\n`content:`\)', text)
    assert title is not None
    deal.write_text(deal.read_text().replace('title: "Deal of the day"', title.group(1), 1))
    frozen, judged_by_main = console_blocks(text)
    run(frozen)
    # the two changes committed on main; the freeze ended early in the working tree
    Path(".gitignore").write_text(".reconciler/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."]):
        subprocess.run(["git", *args], check=True)
    subprocess.run(
        ["git", "-c", "user.name=r", "-c", "user.email=r@example.com", "commit", "-qm", "main"],
        check=True,
    )
    lifted = re.search(r"\(`(until: 2026-11-27T00:00:00-05:00)`\)", text)
    assert lifted is not None
    project_file = Path("reconciler.yaml")
    project_file.write_text(
        project_file.read_text().replace("until: 2026-12-02T00:00:00-05:00", lifted.group(1), 1)
    )
    run(judged_by_main)
