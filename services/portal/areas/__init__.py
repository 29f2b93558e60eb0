"""The portal's areas: each a package here with `AREA = Area(...)`, found at start (no list to edit).

An area brings its blueprint (views), its templates (`<area>/templates/<area>/...`), its catalogue
(`<area>/translations/lv/LC_MESSAGES/messages.po`), its navigation entries, and its parts of the home
page. Two engineers adding two areas touch no file in common (services/portal/README.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class NavItem:
    """A link in the header's navigation, shown to people holding any of `roles` (empty: everyone signed in)."""

    endpoint: str
    label: Any  # a lazy string (lazy_gettext)
    roles: frozenset[str] = frozenset()
    order: int = 100


@dataclass(frozen=True)
class HomePanel:
    """A part of the home page ("Kas jādara" and beside it), for people holding any of `roles`.

    `calls(client, user)` names the API calls the panel needs (a dict of name -> client.call(...)); the
    home page makes every panel's calls at once, then renders `template` with `data` (their answers, or
    the exception for a call that failed) and `user`.
    """

    name: str
    template: str
    calls: Callable[[Any, dict[str, Any]], dict[str, Any]]
    roles: frozenset[str] = frozenset()
    order: int = 100


@dataclass
class Area:
    name: str
    blueprint: Blueprint | None = None
    nav: list[NavItem] = field(default_factory=list)
    home_panels: list[HomePanel] = field(default_factory=list)
    # paths of notification links this area serves (links.py keeps a fallback until an area does)
    module_path: Path | None = None

    @property
    def translations(self) -> Path | None:
        if self.module_path is None:
            return None
        found = self.module_path / "translations"
        return found if found.is_dir() else None


def discover() -> list[Area]:
    """Every area package under services/portal/areas, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        area = getattr(module, "AREA", None)
        if not isinstance(area, Area):
            raise RuntimeError(f"services/portal/areas/{info.name} has no AREA = Area(...)")
        area.module_path = HERE / info.name
        found.append(area)
    return found


def visible(items: list[Any], roles: set[str]) -> list[Any]:
    """The entries this person sees, in order."""
    return sorted(
        (i for i in items if not i.roles or i.roles & roles),
        key=lambda i: (i.order, str(i.label if hasattr(i, "label") else i.name)),
    )
