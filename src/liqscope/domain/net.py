"""Which hosts are the loopback interface (servers bind there by default; control routes and
unauthenticated serving are allowed only there)."""

from __future__ import annotations

import ipaddress

__all__ = ["LOOPBACK_HOSTS", "is_loopback"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "localhost.localdomain")


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a name or address to bind or serve, or a client's address; IPv6 in
    brackets or with a zone allowed) is the loopback interface: 127.0.0.0/8, ::1, localhost."""
    if not host:
        return False
    h = host.strip().strip("[]").split("%", 1)[0].lower()
    if h in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False
