"""What a cluster step needs from the notebook's folder: local modules, packages named by magics,
and the data files it will not have.

On this machine a step runs in the notebook's folder, so ``import helpers`` finds
``helpers.py`` beside the notebook and ``pd.read_csv('data/train.csv')`` finds the data. In a
pod neither is there. kalec ships the local modules (``helpers.py``, or a package folder with
``__init__.py``, and the local modules they import in turn) inside the generated pipeline, as it
ships its own runtime, and the packages their imports need; it installs the packages that
``%pip install``, ``!pip install`` and ``%load_ext`` name; and it says which data files a step
reads through a literal path that no step writes, since those it cannot ship.

Nothing here runs the notebook or the modules: everything is read from the source.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kalec.analysis.installs import MagicNeeds, magic_needs  # noqa: F401 - used from here
from kalec.analysis.parsing import parse
from kalec.analysis.symbols import tree_modules
from kalec.ir import InputKind, Origin, Pipeline, Step
from kalec.ir.places import enclosing, notebook_path

_MAX_MODULE_BYTES = 5 * 2**20  # a "module" larger than this is data, not code to embed


def imported_modules(code: Iterable[str]) -> set[str]:
    """Top-level names of the absolute imports in the code (at any depth of its tree)."""
    modules: set[str] = set()
    for text in code:
        try:
            tree = parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        modules |= tree_modules(tree)
    return modules


def step_modules(pipeline: Pipeline, step: Step) -> set[str]:
    """The modules a step's code imports (prelude, cells, the imports it repeats): read from
    the cells' facts, which the compiler recorded from their trees (no cell is parsed again)."""
    modules: set[str] = set()
    for number in step.prelude + step.cells:
        facts = pipeline.cell(number).facts
        if facts is None:  # facts are recorded for every cell that parses
            modules |= imported_modules([pipeline.cell(number).python])
        else:
            modules.update(facts.modules)
    statements = [i.statement for i in step.inputs if i.kind is InputKind.IMPORT and i.statement]
    return modules | imported_modules(statements)


def step_code(pipeline: Pipeline, step: Step) -> list[str]:
    """The code a step runs: prelude, its cells, the imports it repeats (runnable text)."""
    code = [pipeline.cell(n).python for n in step.prelude + step.cells]
    code += [i.statement for i in step.inputs if i.kind is InputKind.IMPORT and i.statement]
    return code


def _written_files(pipeline: Pipeline) -> set[str]:
    """Paths (as written in the code) that some cell writes: made at run time, never shipped."""
    return {path for cell in pipeline.cells if cell.facts for path in cell.facts.file_writes}


class LocalModules:
    """The notebook folder's own modules that the steps import, found by reading their source.

    In a composition a step of a referenced notebook also finds the modules beside that
    notebook (and beside the notebooks above it), as the inlined program does with their
    folders on ``sys.path``: its own folder first."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.folder = Path(pipeline.source).resolve().parent
        self.written = _written_files(pipeline)
        self._files: dict[tuple[Path, str], dict[str, Path]] = {}  # -> archive path -> file

    def folders(self, scope: str) -> tuple[Path, ...]:
        """Where a step of notebook ``scope`` finds local modules, nearest first."""
        found = [Path(notebook_path(self.pipeline, s)).resolve().parent for s in enclosing(scope)]
        return tuple(dict.fromkeys([*found, self.folder]))

    def files_of(self, module: str, folders: tuple[Path, ...] = ()) -> dict[str, Path]:
        """The files of a local module (archive path -> file); empty when it is not local."""
        for folder in folders or (self.folder,):
            key = (folder, module)
            if key not in self._files:
                self._files[key] = self._find(module, folder)
            if self._files[key]:
                return self._files[key]
        return {}

    def _find(self, module: str, folder: Path) -> dict[str, Path]:
        if not module.isidentifier() or f"{module}.py" in self.written:
            return {}
        single = folder / f"{module}.py"
        package = folder / module
        if single.is_file() and single.stat().st_size <= _MAX_MODULE_BYTES:
            return {single.name: single}
        if (package / "__init__.py").is_file():
            return {
                path.relative_to(folder).as_posix(): path
                for path in sorted(package.rglob("*.py"))
                if path.stat().st_size <= _MAX_MODULE_BYTES and "__pycache__" not in path.parts
            }
        return {}

    def closure(
        self, modules: set[str], folders: tuple[Path, ...] = ()
    ) -> tuple[dict[str, Path], set[str]]:
        """Every local module that ``modules`` reach through imports, with the non-local
        modules those local ones import (whose packages the step must install)."""
        files: dict[str, Path] = {}
        external: set[str] = set()
        pending = sorted(modules)
        seen: set[str] = set()
        while pending:
            module = pending.pop()
            if module in seen:
                continue
            seen.add(module)
            found = self.files_of(module, folders)
            if not found:
                continue
            for archived, path in found.items():
                files.setdefault(archived, path)
            for path in found.values():
                try:
                    source = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                for imported in imported_modules([source]):
                    if self.files_of(imported, folders):
                        pending.append(imported)
                    else:
                        external.add(imported)
        return files, external

    def for_step(self, pipeline: Pipeline, step: Step) -> tuple[dict[str, Path], set[str]]:
        return self.closure(step_modules(pipeline, step), self.folders(step.scope))


def unshipped_reads(pipeline: Pipeline) -> list[tuple[str, str, Origin]]:
    """(step, path, where) for files a step reads through a literal relative path that no
    step writes: on this machine they sit beside the notebook, in a pod they do not."""
    written = _written_files(pipeline)
    modules = LocalModules(pipeline)
    found = []
    for step in pipeline.steps:
        for number in step.prelude + step.cells:
            facts = pipeline.cell(number).facts
            for path in facts.file_reads if facts else ():
                if path in written or path.startswith(("/", "~")):
                    continue
                if path.endswith(".py") and modules.files_of(path[:-3]):
                    continue  # a local module: shipped
                if not (modules.folder / path).exists():
                    continue  # not here either: a path the code only tests, or made elsewhere
                found.append((step.name, path, Origin(number)))
    unique = {(s, p): o for s, p, o in found}
    return [(s, p, o) for (s, p), o in unique.items()]
