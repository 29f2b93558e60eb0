"""The home page: who is signed in, their roles and unread messages, and the panels areas add
("Kas jādara": what needs the person, per role)."""

from typing import Any

from flask_babel import lazy_gettext as _l

from services.portal.areas import Area, HomePanel, NavItem

from .views import bp


def _unread(client: Any, _user: dict[str, Any]) -> dict[str, Any]:
    return {"unread": client.call("GET", "notifications", "/inbox/unread-count")}


AREA = Area(
    name="home",
    blueprint=bp,
    nav=[NavItem("home.index", _l("Home"), order=0)],
    home_panels=[HomePanel("inbox", "home/_inbox_panel.html", _unread, order=900)],
)
