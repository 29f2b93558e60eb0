"""The home page: every panel's API calls made at once, then each panel drawn from its answers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from services.portal import auth
from services.portal.areas import HomePanel, visible
from services.portal.client import ApiProblem, ServiceUnavailable, api

bp = Blueprint("home", __name__, template_folder="templates")


def panels_for(user: dict[str, Any]) -> list[HomePanel]:
    every = [p for area in current_app.extensions["portal.areas"] for p in area.home_panels]
    return visible(every, auth.roles())  # type: ignore[no-any-return]


@bp.get("/parts/unread-count")
def unread_count() -> str:
    """The header's inbox link with the number of unread messages (htmx asks for it after each page)."""
    try:
        count = api.get("notifications", "/inbox/unread-count").get("unread")
    except (ApiProblem, ServiceUnavailable):
        count = 0  # the link alone; the home page says when the inbox is away
    return render_template("_inbox_count.html", unread_count=count)


@bp.get("/")
def index() -> str:
    user = auth.current_user() or {}
    panels = panels_for(user)
    calls = {f"{p.name}:{name}": call for p in panels for name, call in p.calls(api, user).items()}
    answers = api.gather(optional=tuple(calls), **calls) if calls else {}
    drawn = []
    for p in panels:
        data = {key.split(":", 1)[1]: value for key, value in answers.items() if key.startswith(f"{p.name}:")}
        drawn.append((p, data))
    unread = answers.get("inbox:unread")
    unread_count = unread.get("unread") if isinstance(unread, dict) else None
    failed = {key: value for key, value in answers.items() if isinstance(value, ApiProblem | ServiceUnavailable)}
    return render_template("home/index.html", panels=drawn, unread_count=unread_count, failed=failed)
