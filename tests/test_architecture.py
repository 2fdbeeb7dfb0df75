"""The house's plan, checked: every import of kalec's code goes down the layers or stays in its
own, and no two parts import each other. A new module belongs to a part of ``PARTS``, or this
test says it has none."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

# Parts, lowest first: a part may import its own modules and those of the parts before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kalec", "kalec.errors", "kalec.ir", "kalec.runtime", "kalec.sized_cache"),
    ("kalec.cluster_names", "kalec.diagnostics", "kalec.startup_cache", "kalec.searchspace"),
    ("kalec.analysis", "kalec.frontend"),
    (
        "kalec.passes",
        "kalec.compiler",
        "kalec.params",
        "kalec.report",
        "kalec.graph",
        "kalec.graph_layout",
    ),
    ("kalec.packaging",),
    ("kalec.targets", "kalec.local"),
    ("kalec.deploy", "kalec.verify", "kalec.tune"),
    ("kalec.serve",),
    ("kalec.cli", "kalec.__main__"),
)
PARTS = {part: level for level, parts in enumerate(LAYERS) for part in parts}
# Parts that import only themselves: the IR (everything depends on it) and the runtime (it ships
# into step containers, without the compiler).
SELF_CONTAINED = ("kalec.ir", "kalec.runtime")


def part_of(module: str) -> str:
    """The longest part that ``module`` is, or is inside of."""
    found = max((p for p in PARTS if module == p or module.startswith(p + ".")), key=len)
    return found


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every kalec module the file imports, at any depth (imports inside functions count), and
    every kalec module it names in a string (a registry, ``import_module``, ``python -m``): a
    module reached by its name is imported all the same."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"kalec(\.\w+)+", node.value) and _is_module(node.value):
                found.add(node.value)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "kalec")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "kalec":
                continue
            for alias in node.names:  # from kalec import cluster_names: a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _is_module(candidate) else node.module)
    return found


def _is_module(name: str) -> bool:
    module_file = ROOT / Path(*name.split("."))
    return module_file.with_suffix(".py").exists() or module_file.is_dir()


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "kalec").rglob("*.py")):
        graph[module_name(path)] = imports_of(path)
    return graph


def test_every_module_belongs_to_a_part() -> None:
    for module in edges():
        assert any(module == p or module.startswith(p + ".") for p in PARTS), module


def test_imports_go_down_the_layers() -> None:
    upward = []
    for module, imported in edges().items():
        own = part_of(module)
        for target in imported:
            other = part_of(target)
            if own in SELF_CONTAINED and other != own:
                upward.append(f"{module} -> {target} ({own} imports only itself)")
            elif PARTS[other] > PARTS[own]:
                upward.append(f"{module} ({own}) -> {target} ({other})")
    assert not upward, "imports that go up:\n" + "\n".join(sorted(upward))


def test_no_two_parts_import_each_other() -> None:
    between: dict[str, set[str]] = {}
    for module, imported in edges().items():
        own = part_of(module)
        for target in imported:
            other = part_of(target)
            if other != own and own != "kalec" and other != "kalec":
                between.setdefault(own, set()).add(other)
    for part, others in between.items():
        for other in others:
            assert part not in between.get(other, set()), f"{part} <-> {other}"


def declared_imports(doc: str) -> set[str] | None:
    """The parts a package's docstring says it imports: ``Imports from kalec: a, b.`` (``kalec``
    is the package's root, ``nothing`` none); None when it does not say."""
    found = re.search(r"Imports from kalec: ([^.]*)\.", doc)
    if found is None:
        return None
    names = {name.strip() for name in found.group(1).split(",")}
    return (
        set()
        if names == {"nothing"}
        else {"kalec" if n == "kalec" else f"kalec.{n}" for n in names}
    )


def test_each_package_lists_exactly_what_it_imports() -> None:
    actual: dict[str, set[str]] = {}
    for module, imported in edges().items():
        own = part_of(module)
        if module.count(".") >= 1 and (ROOT / "kalec" / module.split(".")[1]).is_dir():
            package = ".".join(module.split(".")[:2])
            actual.setdefault(package, set()).update(
                other for other in map(part_of, imported) if other != own
            )
    wrong = []
    for init in sorted((ROOT / "kalec").glob("*/__init__.py")):
        package = f"kalec.{init.parent.name}"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        declared = declared_imports(doc)
        if declared is None:
            wrong.append(f"{package}: no 'Imports from kalec: ...' in its docstring")
        elif declared != actual.get(package, set()):
            said, done = sorted(declared), sorted(actual.get(package, set()))
            wrong.append(f"{package}: says {said}, imports {done}")
    assert not wrong, "\n".join(wrong)


def test_a_module_named_in_a_string_counts_as_imported() -> None:
    assert "kalec.runtime.step" in imports_of(ROOT / "kalec" / "local" / "processes.py")
