"""Latvian first, English by a switch that is remembered; one catalogue per area, merged at load.

    python -m services.portal.i18n update accounts   # extract the area's strings into its .po
    python -m services.portal.i18n compile           # every .po to .mo (make setup, the Dockerfile)
    python -m services.portal.i18n check             # exit 1 when a .mo is missing or stale

The app compiles a missing or stale .mo at start when it can write it, and refuses to start when it
cannot: never English shown by accident in place of Latvian.
"""

from __future__ import annotations

import io
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask import Flask, g, request, session
from flask_babel import Babel, format_currency, format_date, format_decimal, format_timedelta

HERE = Path(__file__).resolve().parent
LANGUAGES = ("lv", "en")
DEFAULT = "lv"
COOKIE = "pumpurs_lang"
CATALOGUE = Path("LC_MESSAGES") / "messages.po"

# what each catalogue covers: the core (templates/, *.py of the portal itself) and each area's package
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
JINJA_OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.do", "newstyle_gettext": "true"}}


def catalogue_dirs() -> dict[str, Path]:
    """Every translations folder by area name ("core" is the portal's own)."""
    from .areas import HERE as AREAS

    found = {"core": HERE / "translations"}
    for area in sorted(p for p in AREAS.iterdir() if (p / "translations").is_dir()):
        found[area.name] = area / "translations"
    return found


def _compiled(po: Path) -> bytes:
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=po.parent.parent.name)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def stale(dirs: dict[str, Path] | None = None) -> list[Path]:
    """The .po files whose .mo is missing or not what compiling them gives now."""
    found = []
    for base in (dirs or catalogue_dirs()).values():
        for po in sorted(base.glob(f"*/{CATALOGUE}")):
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.read_bytes() != _compiled(po):
                found.append(po)
    return found


def compile_all(dirs: dict[str, Path] | None = None) -> list[Path]:
    written = []
    for po in stale(dirs):
        po.with_suffix(".mo").write_bytes(_compiled(po))
        written.append(po)
    return written


def ensure_compiled() -> None:
    """Compile what is stale, or fail loudly when the files cannot be written."""
    try:
        compile_all()
    except OSError as exc:
        raise RuntimeError(
            f"the portal's translation catalogues are not compiled ({exc}); run "
            "`python -m services.portal.i18n compile` (make setup and the Dockerfile do)"
        ) from exc
    left = stale()
    if left:
        raise RuntimeError(f"stale translation catalogues: {[str(p) for p in left]}")


def extract(area: str) -> Catalog:
    """Every message id of one area (or "core": the portal's own files outside areas/)."""
    root = catalogue_dirs()[area].parent
    catalog = Catalog(locale=None, project="PuMPuRS portal", msgid_bugs_address="", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        root,
        METHODS,
        options_map=JINJA_OPTIONS,
        keywords={"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2), "N_": None},
    ):
        if area == "core" and filename.startswith("areas/"):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update(area: str, locale: str = "lv") -> Path:
    """Bring an area's .po in step with its sources: new ids added untranslated, gone ones dropped."""
    template = extract(area)
    po = catalogue_dirs()[area] / locale / CATALOGUE
    po.parent.mkdir(parents=True, exist_ok=True)
    if po.exists():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        catalog.update(template, update_header_comment=False, no_fuzzy_matching=True)
        catalog.obsolete.clear()
    else:
        catalog = Catalog(locale=locale, project="PuMPuRS portal", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
    catalog.fuzzy = False  # a fuzzy header would drop the plural forms from the compiled catalogue
    catalog.project, catalog.copyright_holder = "PuMPuRS portal", "IKVD"
    with po.open("wb") as fh:
        write_po(fh, catalog, width=120, omit_header=False, sort_output=True, include_lineno=False)
    compile_all({area: catalogue_dirs()[area]})
    return po


# ---- the request's language ---------------------------------------------------------------------


def select_locale() -> str:
    """The signed-in person's language (kept in identity), else the switch's cookie, else Latvian."""
    user = session.get("user") if session else None
    if user and user.get("language") in LANGUAGES:
        return str(user["language"])
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT


def current_language() -> str:
    found = g.get("language")
    if found is None:
        from flask_babel import get_locale

        found = g.language = str(get_locale() or DEFAULT)
    return str(found)


# ---- Jinja filters: dates and money as Latvians write them --------------------------------------


def _as_date(value: Any) -> date | datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, date | datetime):
        return value
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def date_filter(value: Any, fmt: str = "long") -> str:
    """2026. gada 2. decembris (lv) / December 2, 2026 (en); `short`: 02.12.26."""
    found = _as_date(value)
    if found is None:
        return ""
    if isinstance(found, datetime):
        return format_date(_riga(found).date(), format=fmt)
    return format_date(found, format=fmt)


def _riga(moment: datetime) -> datetime:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Riga")) if moment.tzinfo else moment


def datetime_filter(value: Any) -> str:
    """2026. gada 2. decembris 16:05 (Riga time)."""
    found = _as_date(value)
    if found is None:
        return ""
    if not isinstance(found, datetime):
        return format_date(found, format="long")
    local = _riga(found)
    return f"{format_date(local.date(), format='long')} {local:%H:%M}"


def month_filter(value: Any) -> str:
    """2026. gada oktobris (lv) / October 2026 (en), from 2026-10 or a date in the month."""
    if value in (None, ""):
        return ""
    first = date.fromisoformat(f"{str(value)[:7]}-01")
    # CLDR's own skeleton gives "2026. gada. oktobris" in Latvian: the pattern is written out here
    return format_date(first, format="y. 'gada' LLLL" if current_language() == "lv" else "LLLL y")


def money_filter(value: Any) -> str:
    """1 234,50 € (lv) / €1,234.50 (en)."""
    if value in (None, ""):
        return ""
    return format_currency(Decimal(str(value)), "EUR")


def number_filter(value: Any) -> str:
    if value in (None, ""):
        return ""
    return format_decimal(Decimal(str(value)))


def duration_filter(seconds: Any) -> str:
    """pēc 15 minūtēm / in 15 minutes: a wait in words, from now."""
    secs = max(1, int(seconds or 0))
    return format_timedelta(timedelta(seconds=secs), threshold=1.1, add_direction=True)


def init_app(app: Flask) -> Babel:
    ensure_compiled()
    dirs = [str(p) for p in catalogue_dirs().values()]
    app.config.update(
        BABEL_DEFAULT_LOCALE=DEFAULT,
        BABEL_DEFAULT_TIMEZONE="Europe/Riga",
        BABEL_TRANSLATION_DIRECTORIES=";".join(dirs),
    )
    babel = Babel(app, locale_selector=select_locale, default_translation_directories=";".join(dirs))
    app.jinja_env.filters.update(
        date=date_filter,
        datetime=datetime_filter,
        money=money_filter,
        month=month_filter,
        number=number_filter,
        duration=duration_filter,
    )
    app.jinja_env.globals.update(current_language=current_language, LANGUAGES=LANGUAGES)
    return babel


def main(argv: list[str]) -> int:
    if argv[:1] == ["compile"]:
        for po in compile_all():
            print(f"compiled {po.relative_to(HERE)}")
        return 0
    if argv[:1] == ["check"]:
        left = stale()
        for po in left:
            print(f"stale: {po.relative_to(HERE)}")
        return 1 if left else 0
    if argv[:1] == ["update"] and len(argv) == 2:
        print(f"updated {update(argv[1]).relative_to(HERE)}; translate every empty msgstr, then run the tests")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
