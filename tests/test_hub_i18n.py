"""Every string the hub shows is translated into Kazakh and Russian; the compiled catalogs
that ship (no build step on the Pi) match their .po sources; Kazakh is the default."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tests.support.hub_env import login

HUB = Path(__file__).resolve().parents[1] / "hub"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "N_": None}


def source_messages() -> set[str]:
    return {m[2] for m in extract_from_dir(str(HUB), METHODS, keywords=KEYWORDS)
            if isinstance(m[2], str)}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_string_is_translated(lang):
    with open(HUB / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        po = read_po(fh)
    translated = {m.id for m in po if m.id and m.string and not m.fuzzy}
    missing = source_messages() - translated
    assert not missing, f"{lang}: untranslated: {sorted(missing)}"


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


@pytest.mark.parametrize("lang, word", [("kk", "Дабылдар"), ("ru", "Тревоги"), ("en", "Alerts")])
def test_pages_in_each_language(client, lang, word):
    token = login(client, "aigerim")
    if lang != "kk":                           # Kazakh is the default
        client.post("/language", data={"lang": lang, "csrf_token": token})
    page = client.get("/proctor/room/main/a101").text
    assert f'<html lang="{lang}">' in page and word in page
