"""Install, as a cluster step starts, only the requirements its image does not already hold.

Running pip costs about a second of CPU even when every requirement is installed, in every step.
An exact pin (``numpy==2.4.6``) that the image holds at that version needs no pip at all; any
other form (a range, an extra, a URL) is left to pip. The KFP steps run this file before kfp's
executor starts (kfp itself is one of the requirements, without its dependencies, as kfp
installs itself), so it imports nothing but the standard library.

    python -m kalec.runtime.install '{"packages": [...], "no_deps": [...]}'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

_NOT_A_PLAIN_PIN = set("<>!~;[],@* ")


def satisfied(requirement: str) -> bool:
    """True when ``requirement`` is an exact pin that the installed distribution meets."""
    name, separator, version = requirement.partition("==")
    if not separator or not name or not version or _NOT_A_PLAIN_PIN & set(name + version):
        return False
    try:
        return metadata.version(name) == version
    except (metadata.PackageNotFoundError, ValueError):
        return False


def install_missing(
    packages: list[str], no_deps: list[str] = (), index_urls: list[str] = ()
) -> list[str]:
    """pip-install the requirements not yet satisfied; return them (empty: pip did not run).
    ``index_urls``: the package index to install from, then extra ones (``--index-url``,
    ``--extra-index-url``), as the user gave them when building."""
    missing = [r for r in packages if not satisfied(r)]
    missing_no_deps = [r for r in no_deps if not satisfied(r)]
    if not missing and not missing_no_deps:
        return []
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore")
    no_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if (
        no_pip.returncode
        and subprocess.run([sys.executable, "-m", "ensurepip"], env=env).returncode
    ):
        subprocess.run([sys.executable, "-m", "ensurepip", "--user"], env=env, check=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-warn-script-location"]
    for number, url in enumerate(index_urls):
        pip += ["--index-url" if number == 0 else "--extra-index-url", url]
    if missing:
        subprocess.run([*pip, *missing], env=env, check=True)
    if missing_no_deps:
        subprocess.run([*pip, "--no-deps", *missing_no_deps], env=env, check=True)
    return missing + missing_no_deps


if __name__ == "__main__":
    wanted = json.loads(sys.argv[1])
    install_missing(
        wanted.get("packages", []), wanted.get("no_deps", []), wanted.get("index_urls", [])
    )
