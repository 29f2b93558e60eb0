"""Texts of a notification from its kind's Jinja template, and e-mails (plain text and HTML) with the
reader's language first and the other one after it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from .catalogue import ACCOUNT_KINDS, KINDS, LEVEL_EN, LEVEL_LV, VERDICT_EN, VERDICT_LV

TEMPLATES = Path(__file__).parent / "templates"
RIGA = ZoneInfo("Europe/Riga")


@dataclass(frozen=True)
class Texts:
    title_lv: str
    title_en: str
    body_lv: str
    body_en: str

    def title(self, lang: str) -> str:
        return self.title_lv if lang == "lv" else self.title_en

    def body(self, lang: str) -> str:
        return self.body_lv if lang == "lv" else self.body_en


@dataclass(frozen=True)
class Entry:
    """One notification as it appears in an e-mail: its texts, its link and its kind."""

    kind: str
    texts: Texts
    link: str | None


def _day(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(RIGA).date()
    return f"{value:%d.%m.%Y}"


def _time(value: Any) -> str:
    """A moment in Riga's time: 02.12.2026 14:05."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.astimezone(RIGA):%d.%m.%Y %H:%M}"


def _month(value: Any) -> str:
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d:%m.%Y}"


def _paragraphs(text: str) -> Markup:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(x) for x in p.split("\n"))) for p in parts
    )


def _filters(env: Environment) -> Environment:
    env.filters.update(
        day=_day,
        month=_month,
        time_lv=lambda v: _time(v) + " (Rīgas laiks)",
        time_en=lambda v: _time(v) + " (Riga time)",
        level_lv=lambda v: LEVEL_LV.get(v, v or ""),
        level_en=lambda v: LEVEL_EN.get(v, v or ""),
        verdict_lv=lambda v: VERDICT_LV.get(v, v),
        verdict_en=lambda v: VERDICT_EN.get(v, v),
        paragraphs=_paragraphs,
    )
    return env


@cache
def _text_env() -> Environment:
    # kind templates make plain text; the HTML layout escapes it
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, trim_blocks=True, lstrip_blocks=True)  # noqa: S701
    return _filters(env)


@cache
def _html_env() -> Environment:
    return _filters(
        Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html", "html.j2"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )


def _clean(text: Any) -> str:
    return re.sub(r"\n{3,}", "\n\n", str(text)).strip()


def texts(kind: str, data: dict[str, Any]) -> Texts:
    """The title and body of a notification in Latvian and English."""
    module = _text_env().get_template(f"kinds/{kind}.j2").make_module(vars={"d": data})
    values = {name: _clean(getattr(module, name)) for name in ("title_lv", "title_en", "body_lv", "body_en")}
    return Texts(**values)


def _order(language: str) -> tuple[str, str]:
    return ("en", "lv") if language == "en" else ("lv", "en")


_LABELS = {
    "lv": {
        "open": "Atvērt",
        "digest": "Jūsu dienas kopsavilkums",
        "footer": "Šo paziņojumu nosūtīja PuMPuRS platforma ({what}). Iestatījumus varat mainīt sadaļā {settings}",
        "account_footer": "Šo vēstuli nosūtīja PuMPuRS platforma ({what}). Neviens no mums neprasīs jūsu paroli.",
    },
    "en": {
        "open": "Open",
        "digest": "Your daily digest",
        "footer": "Sent by the PuMPuRS platform ({what}). Change your notification settings at {settings}",
        "account_footer": "Sent by the PuMPuRS platform ({what}). None of us will ever ask for your password.",
    },
}


def _what(entries: list[Entry], lang: str, digest: bool) -> str:
    if digest:
        return "dienas kopsavilkums" if lang == "lv" else "daily digest"
    kind = KINDS.get(entries[0].kind) or ACCOUNT_KINDS.get(entries[0].kind)
    if kind is None:
        return entries[0].kind
    return kind.label_lv if lang == "lv" else kind.label_en


def subject(entries: list[Entry], language: str, digest: bool = False) -> str:
    first, second = _order(language)
    if digest:
        n = len(entries)
        by_lang = {"lv": f"PuMPuRS: dienas kopsavilkums ({n})", "en": f"PuMPuRS: daily digest ({n})"}
        return f"{by_lang[first]} / {by_lang[second]}"
    t = entries[0].texts
    return f"{t.title(first)} / {t.title(second)}"


def email_message(
    *,
    mail_from: str,
    to: str,
    language: str,
    entries: list[Entry],
    digest: bool = False,
    headers: dict[str, str] | None = None,
    settings_url: str = "/preferences",
) -> EmailMessage:
    """One e-mail with a plain-text and an HTML part, the reader's language first."""
    sections = []
    for lang in _order(language):
        labels = _LABELS[lang]
        sections.append(
            {
                "lang": lang,
                "heading": labels["digest"] if digest else None,
                "open_label": labels["open"],
                "footer": labels["account_footer" if entries[0].kind in ACCOUNT_KINDS else "footer"].format(
                    what=_what(entries, lang, digest), settings=settings_url
                ),
                "entries": [
                    {"title": e.texts.title(lang), "body": e.texts.body(lang), "link": e.link} for e in entries
                ],
            }
        )
    subj = subject(entries, language, digest)
    msg = EmailMessage()
    msg["Subject"] = subj
    msg["From"] = mail_from
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="pumpurs.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = ", ".join(_order(language))
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(_clean(_text_env().get_template("email.txt.j2").render(sections=sections)) + "\n")
    msg.add_alternative(
        _html_env().get_template("email.html.j2").render(sections=sections, subject=subj), subtype="html"
    )
    return msg
