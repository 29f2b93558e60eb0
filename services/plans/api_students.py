"""Plans API: (being built)."""

from __future__ import annotations

from flask_smorest import Blueprint

BLUEPRINTS: tuple[Blueprint, ...] = ()
