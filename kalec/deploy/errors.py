"""What can go wrong talking to Kubeflow Pipelines, each said in words the user can act on."""

from __future__ import annotations

from kalec.errors import KalecError


class DeployError(KalecError):
    """The server could not be reached or refused a request; the message says which."""


class DeployTimeout(DeployError):
    """The server did not answer within the time limit."""


class AuthRefused(DeployError):
    """The server wants credentials it was not given, or refused the ones it was given; the
    message names the way kalec authenticated and what to set."""
