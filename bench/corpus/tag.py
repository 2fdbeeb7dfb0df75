"""Tag the corpus's notebooks by their sections, as a data scientist turning a chapter into a
pipeline would, and write the tagged copies (with the data they read) into a folder.

    python bench/corpus/tag.py OUT        # OUT/NAME.ipynb for every notebook of the corpus

The notebooks under ``notebooks/`` are the public ones of SOURCES.md with their outputs cleared;
nothing else of them is changed there. The tags:

- a notebook that already carries step tags (Kale's examples) is kept as its authors tagged it;
- the cells before the first section, and a section named Setup or Imports, are the prelude:
  its first code cell is tagged ``imports`` (the code cells after it continue the prelude);
- each section heading (level 1, or level 2 in a notebook with fewer than three level-1
  headings) starts a step named after it (``block:polynomial-regression``), on its first code
  cell; the cells after it continue the step, and no ``prev:`` is written (kalec finds the order
  from the data);
- sections of exercises are left out (``skip``): they download data sets and train for minutes;
- a code line that needs what this machine lacks (a download, the graphviz package) leaves its
  cell out (``skip``);
- a notebook without sections is one step.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
STEP_TAGS = ("block:", "step:")
PRELUDE_SECTIONS = ("setup", "imports", "import")
EXERCISES = ("exercise",)
UNAVAILABLE = (
    "fetch_openml", "fetch_california_housing", "fetch_olivetti_faces", "urlretrieve", "urlopen",
    "http://", "https://", "graphviz",
)  # fmt: skip


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _heading(cell: dict) -> tuple[int, str] | None:
    """(level, title) of a markdown cell that opens with a heading."""
    if cell.get("cell_type") != "markdown":
        return None
    match = re.match(r"\s*(#{1,6})\s+(.+)", _source(cell))
    return (len(match.group(1)), match.group(2).strip()) if match else None


def _slug(title: str, taken: set[str]) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "section"
    name, number = words, 2
    while name in taken:
        name, number = f"{words}-{number}", number + 1
    taken.add(name)
    return name


def _needs_what_is_missing(code: str) -> bool:
    lines = [line for line in code.splitlines() if not line.lstrip().startswith("#")]
    return any(marker in line for line in lines for marker in UNAVAILABLE)


def tag(notebook: dict) -> dict:
    """The notebook with its cells tagged by section (unchanged when it has step tags)."""
    cells = notebook["cells"]
    tagged = [
        t
        for cell in cells
        for t in cell.get("metadata", {}).get("tags", [])
        if isinstance(t, str) and t.startswith(STEP_TAGS)
    ]
    if tagged:
        return notebook
    headings = [_heading(c) for c in cells]
    level = 1 if sum(1 for h in headings if h and h[0] == 1) >= 3 else 2
    taken: set[str] = set()
    section = "prelude"  # "prelude", "skip", or a step's name
    pending_tag: str | None = "imports"  # the tag the next code cell gets
    seen_code = False
    for cell, heading in zip(cells, headings, strict=True):
        # a heading above the sections' level before any code is the notebook's title
        if heading and heading[0] <= level and (seen_code or heading[0] == level):
            title = heading[1]
            lowered = title.lower()
            if lowered.startswith(EXERCISES):
                section, pending_tag = "skip", None
            elif section == "prelude" and lowered.strip(" :") in PRELUDE_SECTIONS:
                pass  # the setup section is the prelude
            else:
                section = _slug(title, taken)
                pending_tag = f"block:{section}"
        if cell.get("cell_type") != "code":
            continue
        seen_code = True
        tags: list[str] = []
        if section == "skip" or _needs_what_is_missing(_source(cell)):
            tags = ["skip"]
        elif pending_tag is not None:
            tags, pending_tag = [pending_tag], None
        if tags:
            cell.setdefault("metadata", {})["tags"] = tags
    if not taken:  # no section after the prelude: the whole notebook is one step
        for cell in cells:
            if cell.get("metadata", {}).get("tags") == ["imports"]:
                cell["metadata"]["tags"] = ["block:main"]
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write the tagged notebooks to")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = tag(json.loads(path.read_text(encoding="utf-8")))
        (args.out / path.name).write_text(
            json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    for folder in (p for p in NOTEBOOKS.iterdir() if p.is_dir()):
        shutil.copytree(folder, args.out / folder.name, dirs_exist_ok=True)
    return 0


def prepare(out: Path) -> list[Path]:
    """Write the tagged corpus into ``out``; its notebooks."""
    main([str(out)])
    return sorted(out.glob("*.ipynb"))


if __name__ == "__main__":
    sys.exit(main())
