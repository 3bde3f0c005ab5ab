"""Structural limits of the package and of benchmarks/, checked in CI (``make lint``).

    python tools/check_structure.py [--root src/hadamard_restore benchmarks] [--importers tests benchmarks tools]

Each ``--root`` is a tree of Python modules checked on its own (default: the package and
benchmarks/, which follow the same rules; the layer table applies to the package only). Warns
about a file under a root longer than ``--warn-file-lines`` lines (default 400: a file that long
may hold more than one concept; split it where the concept splits, never to meet a count). Fails
(exit 1) and lists every violation of:

* a function or method whose body, docstring excluded, is longer than ``--max-body-lines``
  lines (default 60);
* an import cycle between the package's modules. Every ``import`` / ``from ... import``
  counts, also those inside functions (a lazy import that closes a cycle hides the cycle, it
  does not remove it). ``if TYPE_CHECKING:`` blocks do not count: they never run;
* an upward import between the layers of the map in docs/internals.md (:data:`LAYERS`, lowest
  first): a module may import its own package and the layers below it, never a peer of its layer
  or a layer above.
  Imports inside functions count, ``if TYPE_CHECKING:`` blocks do not. A package or top-level
  module missing from the table is a failure too, so a new one gets its place on the map. Checked
  only when ``--root`` is the package the table describes (its top-level name is ``PACKAGE``);
* a re-export: ``from A import X`` (or ``import A`` and then ``A.X``) where ``X`` is not defined in
  module ``A`` but only imported into it; each name is imported from its one home. A submodule
  ``A.X`` is not a re-export. The one exception is the package's top-level ``__init__.py``, whose
  ``__all__`` is the public API. Importers are the modules under the root and the Python files
  under every ``--importers`` folder (outside the root).
* (outside benchmarks/, :data:`LAZY_EXEMPT`) an import inside a function without a trailing ``# lazy:`` comment saying
  why it is not at the module's top, in one of the forms of :data:`LAZY_REASON`:
  ``# lazy: start-up cost (torch, 4-5 s)``, ``# lazy: optional dependency (tensorboard)``,
  ``# lazy: cycle (a <-> b)``. ``if TYPE_CHECKING:`` blocks do not count.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from pathlib import Path

#: The package the layer table describes.
PACKAGE = "hadamard_restore"

#: The layers of the map in docs/internals.md ("The map"), lowest first. Each entry names the
#: sub-packages and top-level modules of one layer ("__init__" is the top-level package itself). A
#: module may import its own package and the layers below, never a peer of its layer or a layer
#: above: evaluation/ and zoo/ never import training/, search/ never imports reporting/, the
#: building blocks never import the stages. Change the map and this table together.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "artifacts", "config_yaml"),
    ("config",),
    ("runtime", "backbones"),
    ("config_reference", "data", "metrics", "net", "losses"),
    ("photo", "jobs"),
    ("classifier",),
    ("search", "inference", "reporting"),
    ("evaluation",),
    ("training", "zoo"),
    ("workflows",),
    ("cli",),
    ("__main__",),
)


#: The comment an import inside a function carries: why it is not at the module's top (a measured
#: start-up cost, an optional dependency, or a cycle whose layering is not fixed yet) and what.
#: Roots the lazy-import rule does not cover: each benchmark script runs on its own and imports what one
#: of its parts needs inside that part (the package is what users import, and where start-up counts).
LAZY_EXEMPT = frozenset({"benchmarks"})

LAZY_REASON = re.compile(r"#\s*lazy: (start-up cost|optional dependency|cycle) \(.+\)")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def long_functions(tree: ast.AST, limit: int) -> list[tuple[str, int, int]]:
    """``(name, line, body_lines)`` of every function whose body exceeds ``limit`` lines."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]
        if not body:
            continue
        lines = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
        if lines > limit:
            found.append((node.name, node.lineno, lines))
    return found


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of every node inside an ``if TYPE_CHECKING:`` block."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_block(node):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def import_base(node: ast.ImportFrom, this: str | None, is_package: bool) -> str:
    """The module ``from <base> import ...`` names, relative imports resolved against ``this``."""
    base = node.module or ""
    if node.level and this is not None:
        pkg = this.split(".") if is_package else this.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([base] if base else []))
    return base


def imported_modules(tree: ast.AST, this: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules of the package that ``this`` imports (resolving relative imports)."""
    out: set[str] = set()
    skip = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = import_base(node, this, is_package)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != this:
                out.add(name)
    return out


def unexplained_lazy_imports(tree: ast.AST, text: str) -> list[tuple[int, str]]:
    """``(line, statement)`` of every import inside a function without a ``# lazy:`` reason
    (:data:`LAZY_REASON`) on one of its lines; ``if TYPE_CHECKING:`` blocks do not count."""
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string
    skip = _type_checking_nodes(tree)
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in skip:
                continue
            lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
            if not any(LAZY_REASON.search(comments.get(i, "")) for i in lines):
                found.append((node.lineno, ast.unparse(node)))
    return sorted(set(found))


def part_of(module: str) -> str:
    """The sub-package or top-level module ``pkg.x...`` belongs to (``x``; ``__init__`` for ``pkg``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> int | None:
    """Index in ``layers`` of the layer ``module`` belongs to (None: not in the table)."""
    return next((i for i, names in enumerate(layers) if part_of(module) in names), None)


def upward_imports(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    """Every import of a peer in the same layer or of a layer above, and every module without a layer."""
    problems = []
    for module in sorted(graph):
        here = layer_of(module, layers)
        if here is None:
            problems.append(f"{module}: not in the layer table (tools/check_structure.py LAYERS, docs/internals.md)")
            continue
        for dep in sorted(graph[module]):
            there = layer_of(dep, layers)
            if there is None or part_of(dep) == part_of(module) or there < here:
                continue
            what = "a layer above" if there > here else "a peer in its layer"
            problems.append(f"upward import: {module} imports {dep} ({what}: layer {here} -> {there})")
    return problems


def _module_level(body: list[ast.stmt]):
    """Statements that run at module level: into if/try/with/for/while, not into defs or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(stmt, field, []))
        for handler in getattr(stmt, "handlers", []):
            yield from _module_level(handler.body)


def _target_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def module_names(tree: ast.Module, this: str, is_package: bool) -> tuple[dict[str, str], set[str]]:
    """``(imported, defined)`` module-level names: imported maps a name to the module it came from."""
    imported: dict[str, str] = {}
    defined: set[str] = set()
    for stmt in _module_level(tree.body):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                imported[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(stmt, ast.ImportFrom):
            base = import_base(stmt, this, is_package)
            imported.update({alias.asname or alias.name: base for alias in stmt.names if alias.name != "*"})
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                defined |= _target_names(target)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            defined |= _target_names(stmt.target)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    defined |= _target_names(item.optional_vars)
        elif isinstance(stmt, ast.Try):
            defined |= {h.name for h in stmt.handlers if h.name}
    for node in ast.walk(tree):  # `global X` in a function, and `(X := ...)` anywhere
        if isinstance(node, ast.Global):
            defined.update(node.names)
        elif isinstance(node, ast.NamedExpr):
            defined |= _target_names(node.target)
    return imported, defined


def reexported_names(trees: dict[str, tuple[ast.Module, bool]], known: set[str]) -> dict[str, dict[str, str]]:
    """Per module: the names it only imports, each with the module it imports it from. A package's
    own submodule (``from pkg import mod`` in ``pkg/__init__.py``) is not one; a name imported over a
    submodule's name (``from pkg.psnr import psnr``) is."""
    out: dict[str, dict[str, str]] = {}
    for module, (tree, is_package) in trees.items():
        imported, defined = module_names(tree, module, is_package)
        out[module] = {
            name: source
            for name, source in imported.items()
            if name not in defined and not (source == module and f"{module}.{name}" in known)
        }
    return out


def _dotted(node: ast.Attribute) -> list[str] | None:
    parts = [node.attr]
    value = node.value
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    return [value.id, *reversed(parts)]


def reexport_uses(
    tree: ast.AST, this: str | None, is_package: bool, known: set[str], reexports: dict[str, dict[str, str]], top: str
) -> list[tuple[int, str, str, str]]:
    """``(line, name, module, home)`` of every name ``tree`` takes from a module that only imports it.

    ``this`` is the importer's module name (None outside the package: relative imports are not
    resolved). Names taken from the top-level package ``top`` (the public API) are allowed.
    """
    found = []
    aliases: dict[str, str] = {}  # local name -> package module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in known:
                    aliases[alias.asname] = alias.name
                elif not alias.asname and alias.name.split(".")[0] in known:
                    aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = import_base(node, this, is_package)
            for alias in node.names:
                if base != top and alias.name in reexports.get(base, {}):
                    found.append((node.lineno, alias.name, base, reexports[base][alias.name]))
                elif f"{base}.{alias.name}" in known:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    for node in ast.walk(tree):
        parts = _dotted(node) if isinstance(node, ast.Attribute) else None
        if not parts or parts[0] not in aliases:
            continue
        module: str | None = aliases[parts[0]]
        for part in parts[1:-1]:
            if module != top and part in reexports.get(module or "", {}):
                module = None  # this step is the re-export, reported on its own node
            else:
                module = f"{module}.{part}" if f"{module}.{part}" in known else None
            if module is None:
                break
        if module and module != top and parts[-1] in reexports.get(module, {}):
            found.append((node.lineno, parts[-1], module, reexports[module][parts[-1]]))
    return sorted(set(found))


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles between modules, ignoring the edge from a package to its own submodules.

    ``pkg/__init__.py`` re-exporting ``pkg.mod`` while ``pkg.mod`` imports a sibling through
    ``pkg`` is how packages work; what is reported is a cycle between different modules.
    """
    pruned = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    return find_cycles(pruned)


def reexport_problems(root: Path, trees: dict[str, tuple[ast.Module, bool]], importers: list[Path]) -> list[str]:
    """One line per use of a re-exported name, by the package's modules and the files under ``importers``."""
    known = set(trees)
    reexports = reexported_names(trees, known)
    top = root.name
    sources: list[tuple[Path, str | None, bool, ast.AST]] = [
        (root.parent / Path(*m.split(".")) / ("__init__.py" if pkg else ""), m, pkg, t) for m, (t, pkg) in trees.items()
    ]
    for folder in importers:
        for f in sorted(folder.rglob("*.py")):
            if f.resolve().is_relative_to(root.resolve()):
                continue  # a module of the tree itself, already among the sources
            sources.append((f, None, False, ast.parse(f.read_text(), filename=str(f))))
    problems = []
    for path, this, is_package, tree in sources:
        if this is not None and not is_package:
            path = path.with_suffix(".py")
        for line, name, module, home in reexport_uses(tree, this, is_package, known, reexports, top):
            problems.append(f"{path}:{line}: re-export: {name} taken from {module}, which imports it from {home}")
    return problems


def check_tree(
    root: Path, importers: list[Path], warn_file_lines: int, max_body_lines: int
) -> tuple[list[str], list[str], int]:
    """``(problems, warnings, files checked)`` of the modules under ``root``."""
    files = sorted(root.rglob("*.py"))
    known = {module_name(f, root) for f in files}
    problems: list[str] = []
    warnings: list[str] = []
    graph: dict[str, set[str]] = {}
    trees: dict[str, tuple[ast.Module, bool]] = {}
    for f in files:
        text = f.read_text()
        rel = f.relative_to(root.parent)
        n_lines = len(text.splitlines())
        if n_lines > warn_file_lines:
            warnings.append(f"warning: {rel}: {n_lines} lines (does it hold one concept? over {warn_file_lines})")
        tree = ast.parse(text, filename=str(f))
        for name, line, body in long_functions(tree, max_body_lines):
            problems.append(f"{rel}:{line}: function {name} has a {body}-line body (limit {max_body_lines})")
        if root.name not in LAZY_EXEMPT:
            for line, stmt in unexplained_lazy_imports(tree, text):
                problems.append(
                    f"{rel}:{line}: import inside a function without a reason: {stmt} "
                    "(move it to the top, or say why: '# lazy: start-up cost (...)', 'optional dependency (...)' "
                    "or 'cycle (...)')"
                )
        this = module_name(f, root)
        graph[this] = imported_modules(tree, this, f.name == "__init__.py", known)
        trees[this] = (tree, f.name == "__init__.py")
    for cycle in package_cycles(graph):
        problems.append("import cycle: " + " <-> ".join(cycle))
    if root.name == PACKAGE:
        problems += upward_imports(graph)
    problems += reexport_problems(root, trees, importers)
    return problems, warnings, len(files)


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(
        description="file and function length, import cycles, layers, re-exports, lazy imports"
    )
    ap.add_argument("--root", type=Path, nargs="+", default=[here / "src" / PACKAGE, here / "benchmarks"])
    ap.add_argument("--importers", type=Path, nargs="*", default=[], help="more folders whose imports are checked")
    ap.add_argument("--warn-file-lines", type=int, default=400)
    ap.add_argument("--max-body-lines", type=int, default=60)
    args = ap.parse_args(argv)
    failed = False
    for root in args.root:
        problems, warnings, n_files = check_tree(root, args.importers, args.warn_file_lines, args.max_body_lines)
        for p in warnings + problems:
            print(p)
        print(f"{root.name}: {n_files} files checked: {len(problems)} problem(s), {len(warnings)} warning(s)")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
