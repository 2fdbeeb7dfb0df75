"""How kalec proves who it is to Kubeflow Pipelines, found at run time and never written down.

Four ways, as Kubeflow installs ask for them:

- ``sa``: inside a notebook server, the service-account token the cluster projects into the pod
  (the file ``$KF_PIPELINES_SA_TOKEN_PATH`` names, else where kfp's client looks for it);
- ``cookies``: from a laptop through Dex or oauth2-proxy, the session cookies the browser holds
  (``$KALEC_KFP_COOKIES``, or the file ``$KALEC_KFP_COOKIES_FILE`` or ``--cookies-file`` names);
- ``token``: a bearer token (``$KALEC_KFP_TOKEN``, or the file ``$KALEC_KFP_TOKEN_FILE`` or
  ``--token-file`` names);
- ``none``: a server that asks for nothing (a port-forward, a standalone install).

Unless one is chosen, the first available is used, in that order. ``AuthSettings`` says where to
look and travels between processes; ``Credentials`` holds what was found, reads as its mode and
source only (its secrets never appear in a repr, a message or a log), and is made in the process
that makes the calls.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from kalec.deploy.errors import AuthRefused, DeployError

AuthMode = Literal["sa", "cookies", "token", "none"]
AUTH_MODES: tuple[AuthMode, ...] = get_args(AuthMode)

SA_TOKEN_ENV = "KF_PIPELINES_SA_TOKEN_PATH"  # as kfp's client names it
SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"  # where kfp's client looks
COOKIES_ENV, COOKIES_FILE_ENV = "KALEC_KFP_COOKIES", "KALEC_KFP_COOKIES_FILE"
TOKEN_ENV, TOKEN_FILE_ENV = "KALEC_KFP_TOKEN", "KALEC_KFP_TOKEN_FILE"

WHAT_TO_SET: dict[str, str] = {
    "sa": (
        "inside a notebook server, let the pod carry the Kubeflow Pipelines token (the "
        "'Allow access to Kubeflow Pipelines' configuration), or set "
        f"${SA_TOKEN_ENV} to the token's file"
    ),
    "cookies": (
        f"set ${COOKIES_ENV} to the session cookie your browser holds for the dashboard "
        "(e.g. authservice_session=...; oauth2_proxy_kubeflow=...), or "
        f"${COOKIES_FILE_ENV} to a file holding it"
    ),
    "token": f"set ${TOKEN_ENV} to a bearer token the server accepts, or ${TOKEN_FILE_ENV}",
    "none": "",
}


@dataclass(frozen=True)
class AuthSettings:
    """Where to find the credentials: the mode (None: the first available) and the files the
    command line named. Holds no secret, so it may be logged and sent to a worker."""

    mode: AuthMode | None = None
    token_file: str | None = None
    cookies_file: str | None = None


@dataclass(frozen=True)
class Credentials:
    """What was found: the mode, where it came from (in words), and the secret itself."""

    mode: AuthMode
    source: str
    token: str | None = field(default=None, repr=False)
    cookies: str | None = field(default=None, repr=False)
    token_file: str | None = None  # sa: re-read at each call, as the cluster rotates it

    def headers(self) -> dict[str, str]:
        """The headers a request carries (the secret is read now, for a token that rotates)."""
        if self.mode == "cookies" and self.cookies:
            return {"Cookie": self.cookies}
        token = _read(Path(self.token_file)) if self.token_file else self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def client_arguments(self) -> dict[str, Any]:
        """The arguments kfp's client takes for this way of authenticating."""
        if self.mode == "sa":
            from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

            return {"credentials": ServiceAccountTokenVolumeCredentials(self.token_file)}
        if self.mode == "cookies":
            return {"cookies": self.cookies}
        if self.mode == "token":
            return {"existing_token": self.token}
        return {}

    def said(self) -> str:
        return "no credentials" if self.mode == "none" else f"{self.mode} ({self.source})"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise DeployError(f"cannot read the credentials file {path}: {reason}") from None


def _found(mode: AuthMode, settings: AuthSettings, env: Mapping[str, str]) -> Credentials | None:
    """The credentials of one mode, when this machine has them."""
    if mode == "sa":
        path = env.get(SA_TOKEN_ENV) or SA_TOKEN_PATH
        if Path(path).is_file():
            return Credentials("sa", f"the service-account token {path}", token_file=path)
        return None
    if mode in ("cookies", "token"):
        value_env, file_env = (
            (COOKIES_ENV, COOKIES_FILE_ENV) if mode == "cookies" else (TOKEN_ENV, TOKEN_FILE_ENV)
        )
        named = settings.cookies_file if mode == "cookies" else settings.token_file
        if named or env.get(file_env):
            path = Path(named or env[file_env])
            secret, source = _read(path), f"the file {path}"
        elif env.get(value_env, "").strip():
            secret, source = env[value_env].strip(), f"${value_env}"
        else:
            return None
        if not secret:
            raise DeployError(f"{source} is empty: {WHAT_TO_SET[mode]}")
        if mode == "cookies":
            return Credentials("cookies", source, cookies=secret)
        return Credentials("token", source, token=secret)
    return Credentials("none", "none asked for")


def resolve(settings: AuthSettings, env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials to use: those of the chosen mode (``DeployError`` naming what to set
    when this machine has none), else those of the first mode available."""
    env = os.environ if env is None else env
    if settings.mode is not None:
        found = _found(settings.mode, settings, env)
        if found is None:
            what = WHAT_TO_SET[settings.mode]
            raise DeployError(f"--auth {settings.mode}: no credentials found; {what}")
        return found
    for mode in AUTH_MODES:
        found = _found(mode, settings, env)
        if found is not None:
            return found
    raise AssertionError("the mode 'none' is always available")


def refused(credentials: Credentials, host: str, status: int, location: str = "") -> AuthRefused:
    """The one sentence for a server that sent us to a login page (3xx) or refused (401/403)."""
    if 300 <= status < 400:
        what = f"sent the request to a login page ({status} to {location or 'its login'})"
    elif status == 403:
        what = "refused the request (403 Forbidden)"
    else:
        what = f"did not accept the request ({status} Unauthorized)"
    if credentials.mode == "none":
        fix = (
            "it needs credentials and none were found: from a laptop, "
            + WHAT_TO_SET["cookies"]
            + " (--auth cookies); inside a notebook server, --auth sa"
        )
    elif status == 403:
        fix = (
            f"the {credentials.said()} credentials were read, but may not do this: check "
            "--namespace (your profile's namespace) and that your profile may use pipelines"
        )
    else:
        fix = (
            f"the {credentials.said()} credentials were not accepted (expired?): "
            + WHAT_TO_SET[credentials.mode]
        )
    return AuthRefused(f"Kubeflow Pipelines at {host} {what}: {fix}")
