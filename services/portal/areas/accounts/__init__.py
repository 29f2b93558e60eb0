"""Accounts: log in and out, forgotten passwords, invitations, password change, my sessions, my details,
the language switch and the accessibility statement."""

from flask_babel import lazy_gettext as _l

from services.portal.areas import Area, NavItem

from .views import bp

AREA = Area(
    name="accounts",
    blueprint=bp,
    nav=[NavItem("accounts.details", _l("My account"), order=900)],
)
