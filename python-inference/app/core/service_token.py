"""python-inference's identity at the Worker: short-lived JWTs (HS256, PyJWT) signed with this service's own key
(WORKER_TOKEN_KEY, an AppHost secret parameter), issuer `python-inference`, audience `worker`. The Worker decides what
this caller may do (register versions, read the active one); the token only says who is calling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt

ALGORITHM = "HS256"
SCOPES = "registry.register registry.read"


class ServiceTokens:
    """Mints a token and reuses it until half its lifetime has passed, so a call never carries one about to expire."""

    def __init__(
        self,
        key: str,
        *,
        issuer: str = "python-inference",
        audience: str = "worker",
        lifetime: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(key) < 32:
            raise ValueError("WORKER_TOKEN_KEY must be at least 32 characters")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._renew_at:
                issued = int(now)
                claims = {
                    "iss": self._issuer,
                    "aud": self._audience,
                    "sub": self._issuer,
                    "scope": SCOPES,
                    "iat": issued,
                    "nbf": issued,
                    "exp": issued + int(self._lifetime),
                }
                self._token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
                self._renew_at = now + self._lifetime / 2
            return self._token

    def authorization(self) -> str:
        """The value of the `authorization` header (HTTP) or metadata entry (gRPC)."""
        return f"Bearer {self.token()}"
