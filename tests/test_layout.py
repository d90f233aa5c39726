"""The house a newcomer walks: a package per audience, a fixed assembly, no import circles.

These read the source as text, so a circle or a probe is caught before anything imports it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "prescreen"
#: Asking whether a module or page exists, instead of knowing it does.
PROBES = re.compile(r"find_spec|has_endpoint|except ImportError|table_info")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The prescreen modules *name* imports, lazily inside functions too."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {t for t in found if t in known and t != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                item = stack.pop()
                group.append(item)
                if item == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_between_files_of_the_package():
    known = modules()
    names = set(known)
    graph = {name: imports_of(name, path, names) for name, path in known.items()}
    assert cycles(graph) == []


def test_assembly_asks_nothing_whether_a_module_or_page_exists():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in PACKAGE.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PROBES.search(line)
    ]
    templates = (ROOT / "templates").rglob("*.html")
    offenders += [str(p.relative_to(ROOT)) for p in templates if "has_endpoint" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_each_audience_has_its_package_and_views_never_import_their_blueprint():
    for area in ("public", "coordinator", "volunteer", "auth", "mail"):
        assert (PACKAGE / area / "__init__.py").is_file(), area
    for area in ("public", "coordinator", "volunteer", "auth"):
        init = (PACKAGE / area / "__init__.py").read_text()
        assert "Blueprint(" in init, area
        for module in (PACKAGE / area).glob("*.py"):
            if module.name != "__init__.py":
                assert "Blueprint(" not in module.read_text(), module
                assert not re.search(r"^from \. import .*\bbp\b|import bp\b", module.read_text(), re.M), module


def test_the_readme_map_names_every_folder_of_the_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    missing = [f for f in folders if f"`prescreen/{f}/`" not in section]
    assert missing == []
    for top in ("questions", "translations", "templates", "tests", "bench"):
        assert f"`{top}/`" in section, top


#: An SQL statement, or a call that runs one: only ``prescreen/store/`` may hold either.
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|TRIGGER)|PRAGMA\s+\w+)\b"
    r"|\.(execute|executemany|executescript)\(|\bdb\.(query|table)\("
)


def test_no_sql_outside_the_store():
    store = PACKAGE / "store"
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if store not in path.parents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == []
