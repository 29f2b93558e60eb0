"""Access tokens for benchmarks of the services other than identity: an RSA key of the run, its JWKS
served on 127.0.0.1 as identity serves its own, and tokens with identity's claims signed by it.

The services verify these exactly as they verify identity's (JWKS_URL, issuer, audience, expiry,
revocation in Redis), so the benchmark measures the real authentication without argon2 logins.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .core import LOOPBACK

AUDIENCE = "pumpurs"


class TokenIssuer:
    """Signs tokens and serves the public key at `jwks_url` until `stop()`."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"bench-{uuid.uuid4().hex[:12]}"
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == "/.well-known/jwks.json"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.issuer = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self.jwks_url = f"{self.issuer}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-jwks", daemon=True)

    def start(self) -> TokenIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(
        self,
        user_id: uuid.UUID,
        roles: list[dict[str, str]],
        *,
        tenant_id: uuid.UUID | None = None,
        region: str | None = None,
        ttl: int = 3600,
    ) -> str:
        """An access token with identity's claims (sessions.access_token), valid for `ttl` seconds."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "sid": str(uuid.uuid4()),
            "typ": "access",
            "tenant_id": str(tenant_id) if tenant_id else None,
            "region": region,
            "roles": roles,
            "name": "Bench User",
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
