"""Each call to Kubeflow Pipelines within its own time limits, and the first call made by kalec.

kfp's client waits as long as the server likes: a server that accepts the connection and never
answers holds the caller until the whole deploy's deadline, saying nothing. While
``time_limited`` is in force (in this thread), every request kfp's generated client makes has a
connect and a read limit, and a failed read is not tried again; a call that runs out becomes
``DeployTimeout``, in words.

``check_access`` is the first request of a deploy, made here without following redirects, so
that a login page (Dex, oauth2-proxy) or a refusal is told apart from a server that is away,
and said in one sentence naming the way kalec authenticated (``auth.refused``).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kalec.deploy.auth import Credentials, refused
from kalec.deploy.errors import DeployError, DeployTimeout, DeployUnavailable


@dataclass(frozen=True)
class CallLimits:
    """Seconds to connect and to wait for an answer, per request. Nothing is tried again: a
    refused connection is said at once, and a silent server within one call's limits."""

    connect: float = 5.0
    read: float = 20.0


_LIMITS: contextvars.ContextVar[CallLimits | None] = contextvars.ContextVar(
    "kalec_kfp_call_limits", default=None
)
_INSTALLING = threading.Lock()  # a server asks from several threads


def _install() -> None:
    """Wraps the generated client's one request method, once per process: a call made while
    ``time_limited`` is in force gets its limits, any other call is left as it was."""
    import urllib3
    from kfp_server_api import rest

    with _INSTALLING:
        original = rest.RESTClientObject.request
        if getattr(original, "kalec_limited", False):
            return
        rest.RESTClientObject.request = _limited(original, urllib3)


def _limited(original: Any, urllib3: Any) -> Any:
    """``original`` (the generated client's request method), with the limits in force."""

    def request(self: Any, *args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        limits = _LIMITS.get()
        if limits is not None:
            if _request_timeout is None:
                _request_timeout = (limits.connect, limits.read)
            pool_settings = self.pool_manager.connection_pool_kw
            if "retries" not in pool_settings:  # read before any pool is made: they keep it
                pool_settings["retries"] = urllib3.Retry(
                    connect=0, read=0, status=0, other=0, redirect=5
                )
                self.pool_manager.clear()
        return original(self, *args, _request_timeout=_request_timeout, **kwargs)

    request.kalec_limited = True  # type: ignore[attr-defined]
    return request


@contextlib.contextmanager
def time_limited(limits: CallLimits) -> Iterator[None]:
    """Every request kfp's client makes in this block (in this thread) has ``limits``."""
    _install()
    token = _LIMITS.set(limits)
    try:
        yield
    finally:
        _LIMITS.reset(token)


@dataclass(frozen=True)
class Access:
    """What the server said of itself: whether it is multi-user (each user in a namespace)."""

    multi_user: bool


def get_once(
    url: str, credentials: Credentials, limits: CallLimits, fields: dict[str, str] | None = None
) -> Any:
    """One GET with the credentials and the limits, no redirect followed and nothing tried
    again (urllib3's answer; its ``HTTPError`` when there is none)."""
    import urllib3

    pool = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=limits.connect, read=limits.read),
        retries=urllib3.Retry(connect=0, read=0, status=0, other=0, redirect=False),
    )
    try:
        return pool.request(
            "GET", url, fields=fields, headers=credentials.headers(), redirect=False
        )
    finally:
        pool.clear()


def check_access(host: str, credentials: Credentials, limits: CallLimits) -> Access:
    """Ask the server's health endpoint with the credentials, redirects not followed: a login
    page or a refusal becomes ``AuthRefused``, silence ``DeployTimeout``, and an unreachable
    server ``DeployError``, each in one sentence. A server that has no such endpoint (an old
    install) is let through; kfp's client says what it makes of it."""
    import urllib3

    try:
        answer = get_once(host.rstrip("/") + "/apis/v2beta1/healthz", credentials, limits)
    except urllib3.exceptions.HTTPError as error:
        if timed_out(error):
            raise DeployTimeout(
                f"Kubeflow Pipelines at {host} did not answer within {limits.read:.0f} s"
            ) from None
        raise DeployError(f"cannot reach Kubeflow Pipelines at {host}: {in_words(error)}") from None
    status = answer.status
    if 300 <= status < 400 or status in (401, 403):
        raise refused(credentials, host, status, answer.headers.get("Location", ""))
    multi_user = False
    if status == 200:
        with contextlib.suppress(ValueError, AttributeError):
            multi_user = json.loads(answer.data or b"{}").get("multi_user") is True
    return Access(multi_user=multi_user)


def timed_out(error: BaseException) -> bool:
    """Whether the call ran out of time (urllib3 files a refused connection under its timeouts
    too: that one is not)."""
    from urllib3.exceptions import NewConnectionError, ReadTimeoutError

    chain = _chain(error)
    if any(isinstance(f, (NewConnectionError, ConnectionRefusedError)) for f in chain):
        return False
    return any(isinstance(f, (ReadTimeoutError, TimeoutError, socket.timeout)) for f in chain)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and every error it wraps (urllib3 wraps a failure in reasons and causes)."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or current in seen:
            continue
        seen.append(current)
        pending += [getattr(current, "reason", None), current.__cause__, current.__context__]
    return seen


def in_words(error: BaseException) -> str:
    """A connection failure as a person says it, from the chain urllib3 wraps it in."""
    seen = _chain(error)
    for found in seen:
        if isinstance(found, ConnectionRefusedError):
            return "the connection was refused (is the server running, on that port?)"
        if isinstance(found, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(found, ssl.SSLError):
            return f"the TLS handshake failed ({found.reason or found}); http:// instead?"
        if isinstance(found, TimeoutError) or "timed out" in str(found).lower():
            return "it did not answer in time"
    return str(error).strip()[:300]


@contextlib.contextmanager
def said_in_words(host: str, limits: CallLimits) -> Iterator[None]:
    """What kfp's client raises, as one sentence: the server's answer, silence past the call's
    limit, or why it could not be reached."""
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as error:
        passing = (error.status or 0) >= 500 or error.status == 429  # its own trouble, or busy
        raise (DeployUnavailable if passing else DeployError)(
            f"the Kubeflow Pipelines server at {host} answered "
            f"{error.status} {error.reason}: {str(error.body or '').strip()[:300]}"
        ) from None
    except (HTTPError, OSError) as error:
        if timed_out(error):
            raise DeployTimeout(
                f"Kubeflow Pipelines at {host} did not answer within {limits.read:.0f} s"
            ) from None
        raise DeployUnavailable(
            f"cannot reach Kubeflow Pipelines at {host}: {in_words(error)}"
        ) from None
