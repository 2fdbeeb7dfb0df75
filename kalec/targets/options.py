"""What the command line (or a server) can choose for each cluster target: one typed record per
target, and the one way to make them from the choices a user gives.

The CLI and the service build these (``options_for``), so a target reads only its own options;
the records import nothing heavy, so choosing a target costs nothing. (Their annotations are
read as the classes are made, not kept as text: a named tuple's text annotations are each
compiled when it is defined.)
"""

from pathlib import Path
from typing import NamedTuple


def script_name_for(output: str | None, notebook: str) -> str:
    """The kfp-py script's file name: the ``-o`` path's when it is a script, else named after
    the output or the notebook, so that ``-o x.yaml`` (target yaml) means the script
    ``x.kfp.py``, never a script named like its own output."""
    if output and output.endswith(".py"):
        return Path(output).name
    stem = Path(output).name if output else Path(notebook).name
    for suffix in (".yaml", ".ipynb", ".pipeline"):
        stem = stem.removesuffix(suffix)
    return (stem or "pipeline") + ".kfp.py"


class KfpOptions(NamedTuple):
    """Targets ``kfp-py`` and ``yaml`` (and ``deploy``)."""

    image: str | None = None  # default base image of every step
    packages: tuple[str, ...] = ()  # requirement overrides (--package)
    script_name: str = "pipeline.kfp.py"
    index_urls: tuple[str, ...] = ()  # where steps install from: the index, then extra ones
    data: str = "artifacts"  # or "workspace": values in the run's KFP workspace
    workspace_size: str = "10Gi"  # the workspace's size, for data=workspace
    workspace_storage_class: str | None = None  # its storage class (default: the cluster's)


class ArgoOptions(NamedTuple):
    """Target ``argo``."""

    image: str | None = None
    packages: tuple[str, ...] = ()
    data: str = "artifacts"  # or "volume"
    volume_claim: str | None = None  # an existing claim, for data=volume
    volume_size: str = "1Gi"  # size of the claim made for each run, for data=volume
    index_urls: tuple[str, ...] = ()


class IrOptions(NamedTuple):
    """Target ``ir``: nothing to choose."""


TargetOptions = KfpOptions | ArgoOptions | IrOptions


def options_for(
    target: str,
    notebook: str,
    image: str | None = None,
    packages: tuple[str, ...] = (),
    output: str | None = None,
    argo_data: str = "artifacts",
    argo_volume_claim: str | None = None,
    argo_volume_size: str = "1Gi",
    index_urls: tuple[str, ...] = (),
    kfp_data: str = "artifacts",
    kfp_workspace_size: str = "10Gi",
    kfp_workspace_storage_class: str | None = None,
) -> TargetOptions:
    """The options of ``target`` (of the type the registry gives it) from what a user chose
    (``output``: where the result goes, which names the kfp-py script)."""
    from kalec.targets import TARGETS

    kind = TARGETS[target].options
    if kind is KfpOptions:
        return KfpOptions(
            image=image,
            packages=packages,
            script_name=script_name_for(output, notebook),
            index_urls=index_urls,
            data=kfp_data,
            workspace_size=kfp_workspace_size,
            workspace_storage_class=kfp_workspace_storage_class,
        )
    if kind is ArgoOptions:
        return ArgoOptions(
            image=image,
            packages=packages,
            data=argo_data,
            volume_claim=argo_volume_claim,
            volume_size=argo_volume_size,
            index_urls=index_urls,
        )
    return IrOptions()


PYPI = "https://pypi.org/simple"


def index_urls(index_url: str | None, extra: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The package indexes steps install from, the main one first (PyPI when only extra ones
    are given); ``ValueError`` naming a value that is no http(s) URL."""
    import re

    for url in [index_url or "", *extra]:
        if url and not re.fullmatch(r"https?://[^\s'\"{}\\<>`]+", url):
            raise ValueError(f"{url!r} is not an http(s) URL of a package index")
    if not index_url and not extra:
        return ()
    return (index_url or PYPI, *extra)


def option_problems(
    image: str | None, packages: tuple[str, ...] | list[str]
) -> list[tuple[str, str]]:
    """What is wrong with an image or package requirements a user gave, which reach generated
    commands: (``"image"`` or ``"package"``, the problem); empty when nothing is."""
    from kalec import cluster_names

    found = []
    if image:
        problem = cluster_names.image_problem(image)
        if problem:
            found.append(("image", problem))
    for requirement in packages:
        problem = cluster_names.requirement_problem(requirement)
        if problem:
            found.append(("package", problem))
    return found
