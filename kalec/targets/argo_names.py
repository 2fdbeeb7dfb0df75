"""Names in an Argo workflow: Kubernetes labels for templates and tasks, artifact names for
variables, and the text that holds Argo's own placeholders."""

from __future__ import annotations

import re

from kalec.cluster_names import digest, normalized_name


def k8s_name(name: str) -> str:
    """A DNS-1123 label: lower-case letters, digits and '-', at most 63 characters; a longer
    name keeps its start and gains a digest of the whole, so two long names stay apart."""
    label = normalized_name(name) or "step"
    if len(label) > 63:
        label = label[:50].strip("-") + "-" + digest(name)
    return label


def artifact_name(variable: str) -> str:
    """An Argo artifact name (letters, digits, '-', '_') for a variable; the variable's own name
    when it is one, else its ASCII part and a digest."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,100}", variable):
        return variable
    ascii_part = re.sub(r"[^A-Za-z0-9_]+", "_", variable)[:50]
    return f"{ascii_part}-{digest(variable)}".lstrip("-")


class Placeholder(str):
    """Text kalec writes that holds placeholders Argo is meant to substitute."""


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3`` ...: the first not in ``taken``."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate
