"""A service's refusal (problem+json) as messages a person can act on, next to the field they concern.

    errors = form_errors(problem, FormMapping(
        fields={"new_password": "password"},                      # API member -> form field
        codes={"password_too_short": Message("password", _l("Choose a password of at least 12 characters."))},
    ))

What is looked up, in order: the form's own mapping of the problem's `code`, then the codes an area
registered (`register_codes`, once, at import, in the area's own module: no shared file to edit), then
each member of `errors` under the field it names, with the service's Latvian or English `detail` when we
have no words of our own. Whatever names no field on the form goes to the summary at the top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .client import ApiProblem


@dataclass(frozen=True)
class Message:
    """Where a code's message goes (a form field, or None for the summary) and its words."""

    field: str | None
    text: Any  # a lazy string, or a callable (problem) -> str for words that need the problem's facts


@dataclass(frozen=True)
class FormMapping:
    fields: Mapping[str, str] = field(default_factory=dict)
    codes: Mapping[str, Message] = field(default_factory=dict)


@dataclass
class FormErrors:
    """Errors of one form: by field (in the order found) and those of the whole form."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, field_name: str | None, message: str) -> None:
        if field_name:
            messages = self.by_field.setdefault(field_name, [])
            if message not in messages:
                messages.append(message)
        elif message not in self.general:
            self.general.append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)

    def first(self, field_name: str) -> str | None:
        found = self.by_field.get(field_name)
        return found[0] if found else None


_REGISTRY: dict[str, Message] = {}


def register_codes(codes: Mapping[str, Message]) -> None:
    """Words for codes an area's forms share (call at import in the area's module)."""
    for code, message in codes.items():
        existing = _REGISTRY.get(code)
        if existing is not None and existing != message:
            raise ValueError(f"problem code {code!r} is mapped twice with different words")
        _REGISTRY[code] = message


def registered(code: str) -> Message | None:
    return _REGISTRY.get(code)


def service_words(problem: ApiProblem) -> str:
    """The service's own words, in the person's language."""
    latvian = str(get_locale() or "lv") == "lv"
    text = (problem.detail_lv if latvian else problem.detail) or problem.detail or problem.detail_lv
    return text or str(_l("The service refused this. Check the form and try again."))


# marshmallow's English messages, for members of `errors` that carry no words of their own here
_MARSHMALLOW: dict[str, Any] = {
    "Missing data for required field.": _l("Fill in this field."),
    "Not a valid email address.": _l("Enter an e-mail address like name@example.lv."),
    "Not a valid UUID.": _l("Choose one of the options."),
    "Not a valid integer.": _l("Enter a whole number."),
    "Not a valid date.": _l("Enter a date like 02.12.2026."),
    "Not a valid number.": _l("Enter a number."),
    "Field may not be null.": _l("Fill in this field."),
    "Unknown field.": _l("This field is not expected here."),
    "Must be one of": _l("Choose one of the options."),
    "Length must be between": _l("The text is too long or too short."),
    "Shorter than minimum length": _l("The text is too short."),
    "Longer than maximum length": _l("The text is too long."),
    "too short": _l("This is too short."),
}


def member_words(message: str) -> str:
    for start, words in _MARSHMALLOW.items():
        if message.startswith(start):
            return str(words)
    return message


def _text(message: Message, problem: ApiProblem) -> str:
    text = message.text
    return str(text(problem) if callable(text) else text)


def form_errors(
    problem: ApiProblem,
    mapping: FormMapping | None = None,
    known_fields: set[str] | Callable[[str], bool] | None = None,
) -> FormErrors:
    """The errors a form shows for a problem (see the module docstring for the order of lookups)."""
    mapping = mapping or FormMapping()
    errors = FormErrors()
    message = mapping.codes.get(problem.code) or registered(problem.code)
    members = problem.field_messages()

    def on_form(api_field: str) -> str | None:
        name = mapping.fields.get(api_field, api_field)
        if known_fields is None:
            return name
        ok = known_fields(name) if callable(known_fields) else name in known_fields
        return name if ok else None

    if message is not None:
        errors.add(message.field, _text(message, problem))
        # the code explains it; members under other fields still show there
        for api_field, texts in members.items():
            target = on_form(api_field)
            if target and target != message.field:
                for t in texts:
                    errors.add(target, member_words(t))
        return errors
    for api_field, texts in members.items():
        target = on_form(api_field)
        for t in texts:
            errors.add(target, member_words(t) if target else f"{api_field}: {member_words(t)}")
    if not members:  # a rule's refusal, a conflict: the service's own words
        errors.add(None, service_words(problem))
    return errors
