"""The students' page: no login, Kazakh by default, Russian and English, a QR code."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("lang, words", [("", "бақылауы"), ("ru", "Что отслеживается"),
                                         ("en", "How long it is kept")])
def test_public_page_without_login(client, lang, words):
    r = client.get(f"/public/main/a101?lang={lang}")
    assert r.status_code == 200 and words in r.text and "30" in r.text
    assert client.get("/public/main/nowhere").status_code == 404


def test_qr_code_for_the_door(client):
    r = client.get("/public/main/a101/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml" and b"<svg" in r.data
