"""tools/check_structure.py finds long files, long functions, import cycles, upward imports between
the layers of docs/internals.md and re-exports (CI relies on it)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.tools.scripts import load_tool

ROOT = Path(__file__).resolve().parents[2]
check = load_tool("check_structure")


def _package(tmp_path: Path, files: dict[str, str], name: str = "pkg") -> Path:
    root = tmp_path / name
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


def test_every_root_is_checked_by_the_same_rules_and_the_layers_only_bind_the_package(tmp_path, capsys):
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    bench = _package(
        tmp_path,
        {
            "__init__.py": "",
            "studies/__init__.py": "",
            "studies/a.py": "from bench.studies import b\n",
            "studies/b.py": f"def f():\n    from bench.studies.a import y\n{body}\n",
            "report.py": "from bench.studies.a import b\n",  # a re-export, between two benchmark modules
            "cli.py": "import bench.report\n",  # a module the package's layer table does not know: no failure
        },
        name="bench",
    )
    fine = _package(tmp_path, {"__init__.py": "", "x.py": "y = 1\n"}, name="fine")
    assert check.main(["--root", str(fine), str(bench)]) == 1
    out = capsys.readouterr().out
    assert "fine: 2 files checked: 0 problem(s)" in out and "bench: 6 files checked: 4 problem(s)" in out
    assert "bench/studies/b.py:1: function f has a 62-line body" in out
    assert "bench/studies/b.py:2: import inside a function without a reason" in out
    assert "import cycle: bench.studies.a <-> bench.studies.b" in out
    assert "report.py:1: re-export: b taken from bench.studies.a" in out and "layer" not in out


def test_the_real_trees_pass_by_default(capsys):
    assert check.main([]) == 0
    out = capsys.readouterr().out
    assert f"{check.PACKAGE}: " in out and "benchmarks: " in out


def _layered(tmp_path: Path, files: dict[str, str]) -> Path:
    """A tree named like the real package, so the layer table applies; every sub-package has an __init__."""
    inits = {f"{p.split('/')[0]}/__init__.py": "" for p in files if "/" in p}
    return _package(tmp_path, {"__init__.py": "", **inits, **files}, name=check.PACKAGE)


def test_an_upward_import_fails_even_inside_a_function(tmp_path, capsys):
    root = _layered(
        tmp_path,
        {
            "training/fit.py": "def fit():\n    return 1\n",
            "evaluation/score.py": (
                "def score():\n    from hadamard_restore.training.fit import fit\n\n    return fit()\n"
            ),
            "search/outputs.py": "from hadamard_restore.reporting import plots\n",
            "reporting/plots.py": "x = 1\n",
            "data/io.py": "from ..training import fit\n",
        },
    )
    assert check.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "hadamard_restore.evaluation.score imports hadamard_restore.training.fit (a layer above" in out
    assert "hadamard_restore.search.outputs imports hadamard_restore.reporting.plots (a peer in its layer" in out
    assert "hadamard_restore.data.io imports hadamard_restore.training.fit (a layer above" in out


def test_layers_pass_downward_imports_type_checking_blocks_and_flag_an_unplaced_package(tmp_path, capsys):
    files = {
        "errors.py": "class E(Exception):\n    pass\n",
        "training/fit.py": "from hadamard_restore.errors import E\nfrom hadamard_restore.evaluation import score\n",
        "evaluation/score.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from hadamard_restore.training import fit\n"
        ),
        "zoo/package.py": "from hadamard_restore.evaluation import score\n",
    }
    assert check.main(["--root", str(_layered(tmp_path / "clean", files))]) == 0
    assert "upward" not in capsys.readouterr().out
    assert check.main(["--root", str(_layered(tmp_path / "new", {**files, "extras/x.py": "y = 2\n"}))]) == 1
    assert "hadamard_restore.extras.x: not in the layer table" in capsys.readouterr().out


def test_the_real_package_follows_the_layers():
    graph = {}
    src = ROOT / "src" / check.PACKAGE
    known = {check.module_name(f, src) for f in src.rglob("*.py")}
    for f in src.rglob("*.py"):
        name = check.module_name(f, src)
        graph[name] = check.imported_modules(ast.parse(f.read_text()), name, f.name == "__init__.py", known)
    assert check.upward_imports(graph) == []
    arrows = {(check.part_of(m), check.part_of(d)) for m, ds in graph.items() for d in ds}
    assert not {("evaluation", "training"), ("zoo", "training"), ("search", "reporting")} & arrows


REEXPORTS = {
    "__init__.py": "from pkg.home import f\n",  # the package's public API: allowed
    "home.py": "import json\n\n\ndef f():\n    return json\n\n\nG = 1\n",
    "middle.py": "from pkg.home import G, f\n\nH = G + 1\n",
    "sub/__init__.py": "from ..home import f\n",  # a sub-package's __init__ is no exception
}


def test_a_name_taken_from_a_module_that_only_imports_it_is_a_reexport(tmp_path, capsys):
    root = _package(
        tmp_path,
        {
            **REEXPORTS,
            "a.py": "from pkg.middle import H, f\n",
            "b.py": "from pkg import middle\n\nmiddle.G\n",
            "c.py": "import pkg.middle as m\nimport pkg.home\n\nm.f\npkg.home.json\n",
            "d.py": "from pkg.sub import f\n",
            "e.py": "def g():\n    from .middle import G\n\n    return G\n",
        },
    )
    outside = tmp_path / "tests"
    outside.mkdir()
    (outside / "test_x.py").write_text("import pkg.middle\n\npkg.middle.f\n")
    assert check.main(["--root", str(root), "--importers", str(outside)]) == 1
    out = capsys.readouterr().out
    for where, name, module, home in [
        ("a.py:1", "f", "pkg.middle", "pkg.home"),
        ("b.py:3", "G", "pkg.middle", "pkg.home"),
        ("c.py:4", "f", "pkg.middle", "pkg.home"),
        ("c.py:5", "json", "pkg.home", "json"),
        ("d.py:1", "f", "pkg.sub", "pkg.home"),
        ("e.py:2", "G", "pkg.middle", "pkg.home"),
        ("test_x.py:3", "f", "pkg.middle", "pkg.home"),
    ]:
        assert f"{where}: re-export: {name} taken from {module}, which imports it from {home}" in out, out
    assert "H taken" not in out and out.count("re-export") == 7


def test_each_name_from_its_home_submodules_and_the_public_api_pass(tmp_path, capsys):
    root = _package(
        tmp_path,
        {
            **REEXPORTS,
            "a.py": (
                "from pkg import f, home, sub\nfrom pkg.home import G\n"
                "from pkg.middle import H\n\nhome.f\nsub.__doc__\n"
            ),
            "b.py": "import pkg\nimport pkg.home as h\n\npkg.f\nh.G\n",
        },
    )
    assert check.main(["--root", str(root)]) == 0
    assert "re-export" not in capsys.readouterr().out


def test_an_import_inside_a_function_needs_a_lazy_reason(tmp_path, capsys):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "top.py": "import json\n\n\ndef f():\n    return json\n",
            "bare.py": "def f():\n    import json\n\n    return json\n",
            "vague.py": "def f():\n    import json  # lazy\n\n    return json\n",
            "said.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import json\n\n\n"
                "def f():\n    import json  # lazy: start-up cost (json, 1 ms)\n\n"
                "    from pkg.top import (\n        f as g,  # lazy: cycle (said <-> top)\n    )\n\n"
                "    async def h():\n        import csv  # lazy: optional dependency (csv)\n\n"
                "    return json, g, h\n"
            ),
        },
    )
    assert check.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "pkg/bare.py:2: import inside a function without a reason: import json" in out
    assert "pkg/vague.py:2: import inside a function without a reason" in out
    assert "top.py" not in out and "said.py" not in out and out.count("without a reason") == 2
    # benchmarks/ is the one root the rule does not cover (check.LAZY_EXEMPT: scripts, run one at a time)
    exempt = _package(tmp_path, {"__init__.py": "", "bare.py": "def f():\n    import json\n"}, name="benchmarks")
    assert check.main(["--root", str(exempt)]) == 0


def test_the_real_package_says_why_each_lazy_import_is_lazy():
    src = ROOT / "src" / check.PACKAGE
    for f in src.rglob("*.py"):
        text = f.read_text()
        assert check.unexplained_lazy_imports(ast.parse(text), text) == [], f
