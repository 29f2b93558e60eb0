"""Every text a person reads is in a catalogue, and Latvian translates every one of them.

A template's literal text outside `{% trans %}`/`_()` fails (its AST is walked: static text with
letters, and the texts of attributes people read or hear: alt, title, aria-label, placeholder); so does a
macro called with a literal label, a message id without its Latvian, one id translated two ways in two
areas, and a compiled catalogue that is missing or older than its .po.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import nodes

from services.portal import i18n

pytestmark = pytest.mark.unit

PORTAL = Path(i18n.__file__).parent
TEMPLATES = sorted(PORTAL.rglob("templates/**/*.html"))
SPOKEN_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder", "aria-description"}
TEXT_PARAMETERS = {"label", "hint", "text", "title", "heading", "caption", "change_text", "legend", "message"}
# not language: names of languages in their own language (the switch), the programme's name, symbols
ALLOWED = {"English", "Latviešu", "PuMPuRS", "€", "…"}
MARK = "\x00"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in SPOKEN_ATTRIBUTES and value:
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def _untranslated(path: Path) -> list[str]:
    from services.portal.app import create_app  # noqa: F401  (the environment's extensions)

    env = _env()
    tree = env.parse(path.read_text(), name=str(path))
    static = MARK.join(n.data for n in tree.find_all(nodes.TemplateData))
    parser = _Text()
    parser.feed(static.replace(MARK, " "))
    bad = []
    for text in parser.found:
        for piece in re.split(r"\s{2,}|\n", text):
            words = piece.strip()
            if re.fullmatch(r'([\w:-]+="[^"]*"\s*)+', words):
                continue  # an attribute a macro writes into the tag around it, not text
            if words and re.search(r"[^\W\d_]", words) and words not in ALLOWED:
                bad.append(words)
    for call in tree.find_all(nodes.Call):
        for kw in call.kwargs:
            literal = isinstance(kw.value, nodes.Const) and isinstance(kw.value.value, str)
            if kw.key in TEXT_PARAMETERS and literal and re.search(r"[^\W\d_]", kw.value.value):
                bad.append(f"{kw.key}={kw.value.value!r}")
    return bad


def _env():  # type: ignore[no-untyped-def]
    from jinja2 import Environment

    return Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do"])


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(PORTAL)))
def test_a_template_holds_no_text_outside_the_catalogue(path: Path) -> None:
    assert _untranslated(path) == []


def test_the_check_finds_text_outside_the_catalogue(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<p>Sveiki</p><img alt="Logo" src="x.png"><p>{{ _("Fine") }}</p>{{ ui.field(f, "x", label="Vārds") }}'
    )
    assert _untranslated(page) == ["Sveiki", "Logo", "label='Vārds'"]


def _catalogue(area: str) -> dict[str, object]:
    po = i18n.catalogue_dirs()[area] / "lv" / i18n.CATALOGUE
    with po.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(fh, locale="lv") if m.id}


@pytest.mark.parametrize("area", sorted(i18n.catalogue_dirs()))
def test_latvian_translates_every_message_of_the_area(area: str) -> None:
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in i18n.extract(area) if m.id}
    have = _catalogue(area)
    missing = sorted(wanted - set(have))
    assert missing == [], f"run `make catalogue AREA={area}` and translate: {missing}"
    untranslated = [
        key
        for key, m in have.items()
        if key in wanted and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))  # type: ignore[attr-defined]
    ]
    assert untranslated == [], f"no Latvian yet in {area}: {untranslated}"


def test_no_message_is_translated_two_ways_in_two_areas() -> None:
    seen: dict[str, tuple[str, object]] = {}
    clashes = []
    for area in sorted(i18n.catalogue_dirs()):
        for key, m in _catalogue(area).items():
            string = m.string  # type: ignore[attr-defined]
            if key in seen and seen[key][1] != string:
                clashes.append((key, seen[key][0], area))
            seen.setdefault(key, (area, string))
    assert clashes == []


def test_the_compiled_catalogues_are_current() -> None:
    assert i18n.stale() == [], "python -m services.portal.i18n compile"


def test_a_stale_catalogue_is_found(tmp_path: Path) -> None:
    base = tmp_path / "translations"
    po = base / "lv" / i18n.CATALOGUE
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Language: lv\\n"\n\nmsgid "Home"\nmsgstr "Sākums"\n')
    assert i18n.stale({"x": base}) == [po]
    assert i18n.compile_all({"x": base}) == [po]
    assert i18n.stale({"x": base}) == []
    po.write_text(po.read_text().replace("Sākums", "Sākumlapa"))
    assert i18n.stale({"x": base}) == [po]
