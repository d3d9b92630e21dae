"""Admin credentials for the statutes tab: who may import, rebuild and browse, and how guessing is slowed.

Secure by default: with no ``ASSISTANT_ADMIN_USER`` / ``ASSISTANT_ADMIN_PASSWORD`` the server makes a
one-time admin token at start-up and prints it (as notebook servers do); only ``ASSISTANT_ADMIN_OPEN=1`` on
a loopback address leaves the tab open. Failed logins are counted per client address: after a few free
tries the client is locked out for a time that doubles with every further failure, and a locked-out client
is refused without its password being looked at (so a guess during a lockout tells nothing).
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str | None) -> bool:
    return (host or "") in LOOPBACK_HOSTS or str(host or "").startswith("127.")


def new_admin_token() -> str:
    return secrets.token_urlsafe(18)


def credentials_match(user: object, password: object, *, admin_user: str | None, admin_password: str | None,
                      admin_token: str | None) -> bool:
    """Constant-time check of a login: the configured user and password, or the start-up token given as the
    password (the user name is then ignored)."""
    password_b = str(password or "").encode("utf-8", "surrogatepass")
    ok = False
    if admin_user and admin_password:
        user_ok = hmac.compare_digest(str(user or "").encode("utf-8", "surrogatepass"), admin_user.encode())
        ok = hmac.compare_digest(password_b, admin_password.encode()) and user_ok
    if admin_token:
        ok = hmac.compare_digest(password_b, admin_token.encode()) or ok
    return ok


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0


class LoginLimiter:
    """Per-client failure counter with lockout and exponential back-off.

    ``free_failures`` wrong passwords cost nothing; each further one locks the client out for
    ``base_lockout * 2**k`` seconds (k = failures beyond the free ones), at most ``max_lockout``. A success
    clears the record. At most ``max_clients`` records are kept (oldest dropped), so a flood of addresses
    cannot exhaust memory."""

    def __init__(self, free_failures: int = 5, base_lockout: float = 2.0, max_lockout: float = 900.0,
                 max_clients: int = 10_000, clock=time.monotonic):
        self.free_failures = free_failures
        self.base_lockout = base_lockout
        self.max_lockout = max_lockout
        self.max_clients = max_clients
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """Seconds until ``client`` may try again (0 when it may now)."""
        with self._lock:
            rec = self._records.get(client)
            return max(0.0, rec.locked_until - self._clock()) if rec else 0.0

    def failure(self, client: str) -> float:
        """Record a failed login; returns the lockout it triggers (0 while still within the free tries)."""
        with self._lock:
            rec = self._records.pop(client, None) or _Record()
            self._records[client] = rec  # most recent last
            while len(self._records) > self.max_clients:
                self._records.popitem(last=False)
            rec.failures += 1
            beyond = rec.failures - self.free_failures
            if beyond <= 0:
                return 0.0
            lockout = min(self.max_lockout, self.base_lockout * 2 ** min(beyond - 1, 30))
            rec.locked_until = self._clock() + lockout
            return lockout

    def success(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)


def client_key(request) -> str:
    """The client's address as the server sees it (not a forwarded-for header a client could forge)."""
    client = getattr(request, "client", None)
    host = getattr(client, "host", None) if client is not None else None
    return str(host or "unknown")
