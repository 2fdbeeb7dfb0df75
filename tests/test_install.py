"""Cluster steps install only what their image lacks (``kalec.runtime.install``)."""

from __future__ import annotations

import subprocess
from importlib import metadata

import pytest

from kalec.runtime import install

DILL = f"dill=={metadata.version('dill')}"


@pytest.mark.parametrize(
    ("requirement", "met"),
    [
        (DILL, True),
        ("dill==0.0.1", False),  # another version: pip installs the pinned one
        ("dill>=0.1", False),  # not an exact pin: pip decides
        ("dill[graph]==" + metadata.version("dill"), False),  # extras: pip decides
        ("kalec-no-such-distribution==1.0", False),
        ("==1.0", False),
        ("dill==", False),
    ],
)
def test_only_an_exact_pin_the_environment_holds_is_satisfied(requirement: str, met: bool) -> None:
    assert install.satisfied(requirement) is met


def test_nothing_missing_runs_no_pip_and_missing_ones_are_installed_alone(monkeypatch) -> None:
    calls: list[list[str]] = []

    def record(command: list[str], **_: object) -> subprocess.CompletedProcess:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(install.subprocess, "run", record)
    assert install.install_missing([DILL], no_deps=[DILL]) == []
    assert calls == []

    missing = install.install_missing([DILL, "kalec-no-such==1.0"], no_deps=["kalec-other==2"])
    assert missing == ["kalec-no-such==1.0", "kalec-other==2"]
    installs = [c[3:] for c in calls if c[3] == "install"]
    assert installs == [
        ["install", "--quiet", "--no-warn-script-location", "kalec-no-such==1.0"],
        ["install", "--quiet", "--no-warn-script-location", "--no-deps", "kalec-other==2"],
    ]
