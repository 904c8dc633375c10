"""Every test module that starts processes marks those tests ``slow``, so that a developer can run
the rest in seconds with ``pytest -m "not slow"`` (CI runs everything)."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MODULES = sorted(TESTS.rglob("test_*.py"))
STARTS_A_PROCESS = ("sys.executable", "subprocess.Popen", "Popen(")


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(TESTS)) for p in MODULES])
def test_a_module_that_starts_processes_marks_them_slow(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if path.name != "test_markers.py" and any(s in text for s in STARTS_A_PROCESS):
        assert "pytest.mark.slow" in text, f"{path.name} starts processes: mark them slow"
