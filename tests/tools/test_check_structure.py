"""tools/check_structure.py finds long files, long functions and import cycles (CI relies on it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_structure.py"
spec = importlib.util.spec_from_file_location("check_structure", TOOL)
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_lazy_import_that_closes_a_cycle_is_a_cycle(tmp_path, capsys):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": "def f():\n    from pkg.a import x\n    return x\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
        },
    )
    assert check.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "import cycle: pkg.a <-> pkg.b" in out and "pkg.c" not in out


def test_relative_imports_and_package_reexports_are_not_cycles(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "sub/__init__.py": "from .mod import g\n",
            "sub/mod.py": "from ..other import h\n",
            "other.py": "h = 1\n",
        },
    )
    graph = {}
    known = {check.module_name(f, root) for f in root.rglob("*.py")}
    for f in root.rglob("*.py"):
        import ast

        name = check.module_name(f, root)
        graph[name] = check.imported_modules(ast.parse(f.read_text()), name, f.name == "__init__.py", known)
    assert graph["pkg.sub.mod"] == {"pkg.other"}
    assert graph["pkg.sub"] == {"pkg.sub.mod"}
    assert check.main(["--root", str(root)]) == 0


def test_long_bodies_and_files_are_counted_without_the_docstring(tmp_path, capsys):
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "ok.py": f'def f():\n    """doc\n    more doc\n    """\n{body}\n',
            "long.py": f"def g():\n{body}\n    return 1\n",
            "big.py": "x = 1\n" * 401,
            "fine.py": "x = 1\n" * 400,
        },
    )
    assert check.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "long.py:1: function g has a 61-line body" in out
    assert "ok.py" not in out and "warning: pkg/big.py: 401 lines" in out and "fine.py" not in out


def test_a_long_file_is_a_warning_not_a_failure(tmp_path, capsys):
    root = _package(tmp_path, {"__init__.py": "", "big.py": "x = 1\n" * 401})
    assert check.main(["--root", str(root)]) == 0
    assert "warning: pkg/big.py: 401 lines" in capsys.readouterr().out
