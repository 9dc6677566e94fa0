"""The Appendix A protocol: created on confirm, prefilled, editable only as a draft,
statuses forward only, the PDF in each language read back, the registrar's CSV."""

from __future__ import annotations

import subprocess

import pytest

from hub.store import violation_protocols as store
from hub.store.db import connect
from hub.violation_protocol import ProtocolDoc, render_pdf, violation_text
from tests.support.hub_env import login
from tests.test_hub_access import put_alert


@pytest.mark.parametrize("lang, words", [
    ("kk", ["ХАТТАМА", "тобының студенті", "Аттестаттау күні \"26\" қараша 2026ж.",
            "ә ғ қ ң ө ұ ү һ і"]),
    ("ru", ["ПРОТОКОЛ", "студент группы", "Дата аттестации «26» ноября 2026 г."]),
    ("en", ["PROTOCOL", "the student of group", "I have read the protocol"]),
])
def test_the_pdf_reads_back_in_each_language(tmp_path, lang, words):
    doc = ProtocolDoc(7, lang, "ЭЭ-21", "ә ғ қ ң ө ұ ү һ і", "Физика", "2026-11-26",
                      violation_text("device", lang), "", "Сейітова", "Омаров")
    path = tmp_path / "p.pdf"
    path.write_bytes(render_pdf(doc))
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    for w in words:
        assert w in text


def test_confirm_opens_a_draft_and_statuses_move_forward(client, services, seeded):
    aid, _ = put_alert(services, "a101")
    token = login(client, "aigerim")
    assert client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token}
                       ).status_code == 302
    conn = connect(services.db_path, readonly=True)
    p = store.for_alert(conn, aid)
    assert p["status"] == "draft" and p["lang"] == "kk" and p["violation"].startswith("телефонды")
    pid = p["id"]
    r = client.post(f"/protocols/{pid}", data={"csrf_token": token, "student": "Әлия",
                                               "discipline": "Физика"})
    assert r.status_code == 302
    with client.get(f"/protocols/{pid}.pdf") as r:
        assert r.mimetype == "application/pdf"
    client.post(f"/protocols/{pid}/issue", data={"csrf_token": token})
    p = store.get(conn, pid)
    assert p["status"] == "issued" and len(p["pdf_sha256"]) == 64
    client.post(f"/protocols/{pid}", data={"csrf_token": token, "student": "Other"})
    assert store.get(conn, pid)["student"] == "Әлия"          # issued: no more edits
    assert client.post(f"/protocols/{pid}/retake", data={      # the dean schedules it
        "csrf_token": token, "retake_on": "2026-12-01"}).status_code == 403
    dean = client.application.test_client()
    dean_token = login(dean, "dean")
    r = dean.post(f"/protocols/{pid}/retake", data={"csrf_token": dean_token,
                                                    "retake_on": "2026-12-01"},
                  follow_redirects=True)
    assert store.get(conn, pid)["status"] == "issued"         # not signed yet
    assert "қайта тапсыру хаттамаға қол қойылған соң белгіленеді" in r.text   # why, in Kazakh
    from io import BytesIO
    client.post(f"/protocols/{pid}/signed", data={"csrf_token": token, "scan": (
        BytesIO(b"%PDF-1.4 signed"), "scan.pdf", "application/pdf")})
    assert store.get(conn, pid)["status"] == "signed"
    dean.post(f"/protocols/{pid}/retake", data={"csrf_token": dean_token,
                                                "retake_on": "2026-12-01"})
    assert store.get(conn, pid)["status"] == "retake_scheduled"
    conn.close()

    login(client, "dean")
    csv = client.get("/protocols/retakes?format=csv").text
    assert csv.splitlines()[1].startswith("Физика,,,Әлия,") and "retake_scheduled" in csv
    login(client, "bolat")                                    # another room's proctor
    assert client.get(f"/protocols/{pid}").status_code == 404
