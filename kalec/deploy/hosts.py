"""Which hosts a server may deploy to for its clients: never a cloud metadata service, which
hands out credentials, nor a link-local address."""

from __future__ import annotations

import contextlib
from typing import Any

# Names and addresses of cloud instance metadata services, which hand out credentials: a
# server that deploys for its clients must not be made to call them (nor any link-local address).
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "instance-data"})
METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})


def host_problem(
    url: str, allow_link_local: bool = False, resolve_seconds: float = 3.0
) -> str | None:
    """Why a server should not deploy to ``url`` for a client: a cloud metadata service or a
    link-local address (by name, or by what the name resolves to); None when it may."""
    import ipaddress
    import socket
    import threading
    from urllib.parse import urlsplit

    if allow_link_local:
        return None
    try:
        name = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return "not a URL"
    if not name:
        return "no host name"
    if name in METADATA_NAMES:
        return f"{name} is a cloud metadata service"
    addresses: list[str] = []
    try:
        addresses = [str(ipaddress.ip_address(name))]
    except ValueError:
        found: list[Any] = []

        def look_up() -> None:
            with contextlib.suppress(OSError, UnicodeError):
                found.extend(socket.getaddrinfo(name, None))

        thread = threading.Thread(target=look_up, daemon=True)
        thread.start()
        thread.join(resolve_seconds)  # a name that does not resolve in time is tried as is
        addresses = [info[4][0].split("%")[0] for info in found]
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if address in METADATA_ADDRESSES or str(ip) in METADATA_ADDRESSES:
            return f"{name} is a cloud metadata service ({ip})"
        if ip.is_link_local:
            return f"{name} is a link-local address ({ip})"
    return None
