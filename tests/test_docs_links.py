"""Every relative link in the project's Markdown (README, docs, benchmark tables, model notes)
points at a file or folder that exists, so a reader following one never lands on a 404."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".venv", ".git", "node_modules", "build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _markdown_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.md") if not SKIP & set(p.relative_to(ROOT).parts)]


def _broken(path: Path) -> list[str]:
    out = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a web address, mailto:, or an anchor in the same page
        file = target.split("#", 1)[0]
        if file and not (path.parent / file).exists():
            out.append(target)
    return out


def test_relative_links_in_markdown_resolve():
    files = _markdown_files()
    assert any(p.name == "README.md" and p.parent == ROOT for p in files) and len(files) > 10
    broken = {str(p.relative_to(ROOT)): b for p in files if (b := _broken(p))}
    assert not broken, f"links to missing files (paths are relative to the page): {broken}"


def test_a_link_to_a_missing_file_is_caught(tmp_path):
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    (tmp_path / "table.md").write_text("x")
    page.write_text("[ok](../table.md) [web](https://example.org/a) [here](#top) [bad](table.md#row)")
    assert _broken(page) == ["table.md#row"]
