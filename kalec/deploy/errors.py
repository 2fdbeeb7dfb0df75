"""What can go wrong talking to Kubeflow Pipelines, each said in words the user can act on."""

from __future__ import annotations

from kalec.errors import KalecError


class DeployError(KalecError):
    """The server could not be reached or refused a request; the message says which."""


class DeployUnavailable(DeployError):
    """The server could not answer now (unreachable, overloaded, an error of its own): asking
    again later may succeed, where a refusal (4xx) would not."""


class DeployTimeout(DeployUnavailable):
    """The server did not answer within the time limit."""


class AuthRefused(DeployError):
    """The server wants credentials it was not given, or refused the ones it was given; the
    message names the way kalec authenticated and what to set."""
