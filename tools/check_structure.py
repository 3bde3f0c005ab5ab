"""Structural limits of the package, checked in CI.

    python tools/check_structure.py [--root src/hadamard_restore]

Warns about a file under the package longer than ``--warn-file-lines`` lines (default 400: a
file that long may hold more than one concept; split it where the concept splits, never to meet a
count). Fails (exit 1) and lists every violation of:

* a function or method whose body, docstring excluded, is longer than ``--max-body-lines``
  lines (default 60);
* an import cycle between the package's modules. Every ``import`` / ``from ... import``
  counts, also those inside functions (a lazy import that closes a cycle hides the cycle, it
  does not remove it). ``if TYPE_CHECKING:`` blocks do not count: they never run.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


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


def imported_modules(tree: ast.AST, this: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules of the package that ``this`` imports (resolving relative imports)."""
    out: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_block(node):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = this.split(".") if is_package else this.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != this:
                out.add(name)
    return out


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="file length, function length and import cycles")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1] / "src" / "hadamard_restore")
    ap.add_argument("--warn-file-lines", type=int, default=400)
    ap.add_argument("--max-body-lines", type=int, default=60)
    args = ap.parse_args(argv)
    files = sorted(args.root.rglob("*.py"))
    known = {module_name(f, args.root) for f in files}
    problems: list[str] = []
    warnings: list[str] = []
    graph: dict[str, set[str]] = {}
    for f in files:
        text = f.read_text()
        rel = f.relative_to(args.root.parent)
        n_lines = len(text.splitlines())
        if n_lines > args.warn_file_lines:
            warnings.append(f"warning: {rel}: {n_lines} lines (does it hold one concept? over {args.warn_file_lines})")
        tree = ast.parse(text, filename=str(f))
        for name, line, body in long_functions(tree, args.max_body_lines):
            problems.append(f"{rel}:{line}: function {name} has a {body}-line body (limit {args.max_body_lines})")
        this = module_name(f, args.root)
        graph[this] = imported_modules(tree, this, f.name == "__init__.py", known)
    for cycle in package_cycles(graph):
        problems.append("import cycle: " + " <-> ".join(cycle))
    for p in warnings + problems:
        print(p)
    print(f"{len(files)} files checked: {len(problems)} problem(s), {len(warnings)} warning(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
