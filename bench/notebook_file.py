"""Writes a notebook of tagged code cells: the benchmarks' shared way to make their inputs."""

from __future__ import annotations

import json
from pathlib import Path


def write_notebook(
    path: Path, cells: list[tuple[list[str], str]], metadata: dict | None = None
) -> Path:
    """``cells``: (tags, source) of each code cell, in order."""
    document = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": tags},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for tags, source in cells
        ],
        "metadata": metadata or {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
