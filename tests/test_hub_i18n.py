"""Every string the hub shows is translated into Kazakh and Russian (really: in Cyrillic,
with the same placeholders) and has its English entry; the compiled catalogs that ship (no
build step on the Pi) match their .po sources; Kazakh is the default."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tests.support.hub_env import login

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "hub"
# the keywords of docs/hub.md's pybabel extract command
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "N_": None}
CYRILLIC = re.compile("[\u0400-\u04ff]")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]*\}")
# an English word (not an acronym such as PDF, nor a placeholder's name)
ENGLISH_WORD = re.compile(r"\b[A-Za-z]?[a-z]{2,}\b")


def source_messages() -> set[str]:
    """The msgids that pybabel extract finds with hub/babel.cfg's mapping."""
    with open(HUB / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    return {m[2] for m in extract_from_dir(str(ROOT), method_map, options_map,
                                           keywords=KEYWORDS,
                                           directory_filter=_only_hub)
            if isinstance(m[2], str)}


def _only_hub(dirpath: str) -> bool:
    rel = Path(dirpath).resolve().relative_to(ROOT)
    return rel == Path(".") or rel.parts[0] == "hub"


def catalog(lang: str):
    with open(HUB / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def test_the_hub_has_messages_to_translate():
    found = source_messages()
    assert len(found) > 200 and "Exams" in found and "Log out" in found


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_string_is_translated(lang):
    translated = {m.id for m in catalog(lang) if m.id and m.string and not m.fuzzy}
    missing = source_messages() - translated
    assert not missing, f"{lang}: untranslated (or fuzzy): {sorted(missing)}"


def test_every_string_has_its_english_entry():
    missing = source_messages() - {m.id for m in catalog("en") if m.id and not m.fuzzy}
    assert not missing, f"en: no entry for: {sorted(missing)}"


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_translations_are_in_the_language_and_keep_the_placeholders(lang):
    copied, placeholders = [], []
    for m in catalog(lang):
        if not (m.id and isinstance(m.id, str) and m.string):
            continue
        words = ENGLISH_WORD.findall(PLACEHOLDER.sub("", m.id))
        if words and not CYRILLIC.search(m.string):
            copied.append(m.id)
        if sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string)):
            placeholders.append(f"{m.id!r} -> {m.string!r}")
    assert not copied, f"{lang}: not translated, only copied: {copied}"
    assert not placeholders, f"{lang}: placeholders differ: {placeholders}"


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_compiled_catalog_matches_its_source(lang):
    folder = HUB / "translations" / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as fh:
        po = read_po(fh)
    fresh = BytesIO()
    write_mo(fresh, po)
    fresh.seek(0)
    with open(folder / "messages.mo", "rb") as fh:
        shipped = read_mo(fh)
    want = {m.id: m.string for m in read_mo(fresh) if m.id}
    assert {m.id: m.string for m in shipped if m.id} == want, \
        f"run: pybabel compile -d hub/translations -l {lang}"


@pytest.mark.parametrize("lang, word", [("kk", "Емтихандар"), ("ru", "Экзамены"), ("en", "Exams")])
def test_pages_in_each_language(client, lang, word):
    token = login(client, "aigerim")
    if lang != "kk":                           # Kazakh is the default
        client.post("/language", data={"lang": lang, "csrf_token": token})
    page = client.get("/proctor/room/main/a101").text
    assert f'<html lang="{lang}">' in page and word in page
