"""What a form shows: the values typed (kept on every error) and the errors by field (problems.FormErrors)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import request

from .problems import FormErrors
from .security import SECRET_FIELDS, pending_values


@dataclass
class FormState:
    values: dict[str, Any] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)

    @classmethod
    def from_request(cls, *, keep_secrets: bool = False) -> FormState:
        """What was sent, as typed (passwords are never sent back to the browser)."""
        values = {
            k: (v[0] if len(v) == 1 else v) for k, v in request.form.lists() if keep_secrets or k not in SECRET_FIELDS
        }
        return cls(values)

    @classmethod
    def initial(cls, values: Mapping[str, Any] | None = None) -> FormState:
        """A form's first showing: `values`, or what it held when the person's session ended (once)."""
        kept = pending_values()
        state = cls(dict(values or {}))
        if kept:
            state.values.update(kept)
            state.restored = True  # type: ignore[attr-defined]
        return state

    def value(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)

    def error(self, name: str) -> str | None:
        return self.errors.first(name)

    def require(self, *names: str, message: Any) -> None:
        """An empty required field: an error under it (the service would refuse it anyway)."""
        for name in names:
            if not str(self.values.get(name, "")).strip():
                self.errors.add(name, str(message))

    def text(self, name: str) -> str:
        return str(self.values.get(name, "")).strip()

    def secret(self, name: str) -> str:
        return request.form.get(name, "")
