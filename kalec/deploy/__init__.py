"""``kalec deploy``: the compiled pipeline on Kubeflow Pipelines. Uploading it and starting a
run (``upload``), with the credentials the install asks for, found at run time (``auth``); each
call within its own time limits, the first checking the credentials (``calls``); following the
run to its end (``follow``); which hosts a server may deploy to for its clients (``hosts``).

Imports from kalec: errors, targets, cluster_names. kfp is imported where a call needs it.
"""

from __future__ import annotations

from kalec.deploy.auth import AUTH_MODES, AuthMode, AuthSettings
from kalec.deploy.errors import AuthRefused, DeployError, DeployTimeout, DeployUnavailable
from kalec.deploy.hosts import host_problem
from kalec.deploy.upload import (
    DeployRequest,
    DeployResult,
    connect,
    deploy,
    describe,
    list_experiments,
    request_for,
)

__all__ = [
    "AUTH_MODES",
    "AuthMode",
    "AuthRefused",
    "AuthSettings",
    "DeployError",
    "DeployRequest",
    "DeployResult",
    "DeployTimeout",
    "DeployUnavailable",
    "connect",
    "deploy",
    "describe",
    "host_problem",
    "list_experiments",
    "request_for",
]
