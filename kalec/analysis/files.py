"""Files a cell writes or reads, when their paths are written out as string literals.

Cells share files through the working directory: ``df.to_csv('clean.csv')`` in one step,
``pd.read_csv('clean.csv')`` in a later one. Nothing passes between the steps, but the reader
must run after the writer, as in the notebook. Paths built at run time (``f'{name}.csv'``) are
not seen; a literal counts as a path when it has a file ending or a '/'.
"""

from __future__ import annotations

import ast
import re

from kalec.analysis.parsing import walk
from kalec.analysis.symbols import dotted_name

# Calls that write the paths given to them.
WRITERS = frozenset(
    """
    to_csv to_parquet to_json to_pickle to_excel to_feather to_hdf to_html to_latex to_markdown
    to_stata to_orc to_xml savefig save savez savez_compressed savetxt tofile dump write_text
    write_bytes to_file save_model save_weights copyfile copy copy2 move rename replace
    """.split()
)
# Calls that read the paths given to them: by name, or by how their names start.
READERS = frozenset("exists isfile is_file isdir getsize stat listdir glob connect ZipFile".split())
READER_PREFIXES = ("read", "load", "imread", "open")
_PATH = re.compile(r"^[^\n\0{}]{1,255}$")


def path_literals(tree: ast.AST) -> list[str]:
    """Every string constant of the code that looks like a path, wherever it is used
    (``DATA = 'data/train.csv'`` then ``read_csv(DATA)``): what a cached step may read."""
    return [
        node.value
        for node in walk(tree)
        if isinstance(node, ast.Constant) and looks_like_path(node.value)
    ]


def looks_like_path(value: object) -> bool:
    if not isinstance(value, str) or not _PATH.match(value) or "://" in value:
        return False
    return "/" in value or bool(re.search(r"\.[A-Za-z0-9]{1,8}$", value))


def _literal_paths(nodes: list[ast.expr]) -> list[str]:
    found = []
    for node in nodes:
        if isinstance(node, ast.Constant) and looks_like_path(node.value):
            found.append(node.value)
        elif isinstance(node, ast.Call) and dotted_name(node.func) in ("Path", "pathlib.Path"):
            found += _literal_paths(node.args)  # Path('out.csv')
    return found


def _open_mode(call: ast.Call) -> str:
    mode: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    return mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else "r"


def file_accesses(tree: ast.AST) -> tuple[list[str], list[str]]:
    """(paths written, paths read) by the calls in ``tree``, in the order they appear."""
    writes: list[str] = []
    reads: list[str] = []
    for node in walk(tree):
        if isinstance(node, ast.Import):  # a module a cell wrote with %%writefile, say
            reads.extend(f"{alias.name.split('.')[0]}.py" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            reads.append(f"{node.module.split('.')[0]}.py")
        if not isinstance(node, ast.Call):
            continue
        name = dotted_name(node.func) or ""
        method = name.rsplit(".", 1)[-1] if name else getattr(node.func, "attr", "")
        arguments = _literal_paths(list(node.args) + [k.value for k in node.keywords])
        # the path a method is called on: Path('out.txt').write_text(...)
        receiver = _literal_paths([node.func.value]) if isinstance(node.func, ast.Attribute) else []
        if name in ("open", "io.open"):
            (writes if set(_open_mode(node)) & set("wax+") else reads).extend(arguments[:1])
        elif method in WRITERS:
            writes.extend(arguments + receiver)
        elif method in READERS or method.startswith(READER_PREFIXES):
            reads.extend(arguments + receiver)
    return writes, reads
