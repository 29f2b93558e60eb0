"""One-time account links (invitation, password reset): the secret a link carries, and where it points.

Identity stores a link's id, user, purpose, expiry and use, and only a hash of its secret. The secret is
an HMAC of the link's id under a platform secret both identity and notifications hold, so the message that
asks notifications to mail the link carries the id alone (never a usable token) and notifications builds
the URL from it; identity checks a presented secret by recomputing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
PURPOSES = (INVITATION, PASSWORD_RESET)

# the portal's pages that open each kind of link (services/portal/areas/accounts)
PATHS = {INVITATION: "/account/invitation/{link_id}", PASSWORD_RESET: "/account/reset/{link_id}"}


def link_secret(key: str, link_id: uuid.UUID | str, purpose: str) -> str:
    """The secret of a link: HMAC-SHA256(key, purpose:id), URL-safe base64 without padding."""
    if not key:
        raise ValueError("ACCOUNT_LINK_SECRET is not set")
    digest = hmac.new(key.encode(), f"{purpose}:{uuid.UUID(str(link_id))}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_url(base_url: str, key: str, link_id: uuid.UUID | str, purpose: str) -> str:
    """The address a person opens (relative when no base URL is set)."""
    path = PATHS[purpose].format(link_id=uuid.UUID(str(link_id)))
    return f"{base_url.rstrip('/')}{path}?token={link_secret(key, link_id, purpose)}"
