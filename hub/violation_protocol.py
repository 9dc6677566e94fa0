"""The Appendix A protocol (clause 4.7): its wording in Kazakh (the regulation's own), Russian
and English, the violation written out from the rule, and the A4 PDF.

The PDF is drawn by fpdf2 (pure Python, runs on a Pi without a browser) with DejaVu Sans
from Debian's ``fonts-dejavu-core``, which has every Kazakh letter (ә ғ қ ң ө ұ ү һ і); the
font is embedded (subset), so any reader shows the same text and ``pdftotext`` reads it back.
No Flask and no SQL here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hub import zone

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
LANGS = ("kk", "ru", "en")

# Appendix A, word for word from proctoring-regulation.kk.txt, with the blanks as fields.
TEXT: dict[str, dict[str, str]] = {
    "kk": {
        "appendix": "Қосымша А",
        "form": "\"Нысаны хаттаманы жіберу пересдачу аралық аттестаттау нәтижелерінің "
                "негізінде онлайн прокторинга\"",
        "title": "ХАТТАМА",
        "subtitle": "қайта тапсыру аралық аттестаттау",
        "body": "Өткізу нәтижелері бойынша аралық бақылау бағдарламасын қолданумен онлайн "
                "прокторинга жіберуге {group} тобының студенті: {student} қайта емтихан "
                "тапсыруға пәні бойынша: {discipline}",
        "date": "Аттестаттау күні \"{day}\" {month} {year}ж.",
        "violation": "Бұзу: {violation}",
        "note": "Проктордың ескертпесі: {note}",
        "examiner": "Емтихан алушының қолы ____________ {name} /___________",
        "head": "Кафедра меңгерушісі ____________ {name} /___________",
        "read": "Хаттамамен қайта тапсыру аралық аттестаттау таныстым "
                "_______________/ {name}",
        "sheet": "Лист, толықтыруларды тіркеу және ревизиялар құжатты",
        "evidence": "Дәлелдер (тіркелген суреттер және олардың SHA-256 хэштері)",
        "times": "Уақыт {zone} белдеуі бойынша көрсетілген",
        "seat": "Орын",
        "protocol_no": "Хаттама №",
        "signature": "Түйіннің қолтаңбасы ({alg})",
        "cert_fp": "Түйін сертификаты (SHA-256 ізі)",
        "key_fp": "Түйіннің өз кілті (SHA-256 ізі)",
        "trust_ca": "Сенім: {node} түйіні ғимараттың CA берген сертификатымен қол қойған",
        "trust_self": "Сенім: түйіннің өз кілтімен қол қойылған, ғимараттың CA растамаған",
        "trust_none": "Сенім: түйін қол қоймаған",
        "chain_ok": "Жазбалар тізбегі: толық",
        "chain_gap": "Жазбалар тізбегі: {n} жазба жоқ",
        "bundle": "Түйіннің қол қойылған жазбалары мен сертификаты толығымен: дәлелдер жинағы "
                  "(protocol-{number}-evidence.zip), kuzet verify арқылы ғимараттың CA "
                  "сертификатымен тексеріледі",
    },
    "ru": {
        "appendix": "Приложение А",
        "form": "«Форма протокола направления на пересдачу промежуточной аттестации по "
                "результатам онлайн-прокторинга»",
        "title": "ПРОТОКОЛ",
        "subtitle": "пересдачи промежуточной аттестации",
        "body": "По результатам проведения промежуточного контроля с применением программы "
                "онлайн-прокторинга студент группы {group}: {student} направляется на "
                "пересдачу экзамена по дисциплине: {discipline}",
        "date": "Дата аттестации «{day}» {month} {year} г.",
        "violation": "Нарушение: {violation}",
        "note": "Примечание проктора: {note}",
        "examiner": "Подпись экзаменатора ____________ {name} /___________",
        "head": "Заведующий кафедрой ____________ {name} /___________",
        "read": "С протоколом пересдачи промежуточной аттестации ознакомлен(а) "
                "_______________/ {name}",
        "sheet": "Лист регистрации дополнений и изменений документа",
        "evidence": "Доказательства (приложенные снимки и их хэши SHA-256)",
        "times": "Время указано по часовому поясу {zone}",
        "seat": "Место",
        "protocol_no": "Протокол №",
        "signature": "Подпись узла ({alg})",
        "cert_fp": "Сертификат узла (отпечаток SHA-256)",
        "key_fp": "Собственный ключ узла (отпечаток SHA-256)",
        "trust_ca": "Доверие: подписано узлом {node} сертификатом от УЦ (CA) здания",
        "trust_self": "Доверие: подписано собственным ключом узла, не удостоверено УЦ здания",
        "trust_none": "Доверие: узел не подписал",
        "chain_ok": "Цепочка записей: полная",
        "chain_gap": "Цепочка записей: недостаёт записей: {n}",
        "bundle": "Подписанные записи узла и его сертификат полностью: пакет доказательств "
                  "(protocol-{number}-evidence.zip), проверяется kuzet verify по сертификату "
                  "УЦ здания",
    },
    "en": {
        "appendix": "Appendix A",
        "form": "\"Form of the protocol of sending to a retake of the intermediate "
                "attestation on the results of online proctoring\"",
        "title": "PROTOCOL",
        "subtitle": "of the retake of the intermediate attestation",
        "body": "On the results of the intermediate control with the online proctoring "
                "program, the student of group {group}: {student} is sent to retake the exam "
                "in the discipline: {discipline}",
        "date": "Date of attestation \"{day}\" {month} {year}",
        "violation": "Violation: {violation}",
        "note": "Proctor's note: {note}",
        "examiner": "Examiner's signature ____________ {name} /___________",
        "head": "Head of department ____________ {name} /___________",
        "read": "I have read the protocol of the retake _______________/ {name}",
        "sheet": "Sheet for registering additions and revisions of the document",
        "evidence": "Evidence (attached snapshots and their SHA-256 hashes)",
        "times": "Times are in the {zone} time zone",
        "seat": "Seat",
        "protocol_no": "Protocol No.",
        "signature": "Node's signature ({alg})",
        "cert_fp": "Node certificate (SHA-256 fingerprint)",
        "key_fp": "Node's own key (SHA-256 fingerprint)",
        "trust_ca": "Trust: signed by {node} with its certificate from the building's CA",
        "trust_self": "Trust: signed with the node's own key, not under the building's CA",
        "trust_none": "Trust: not signed by the node",
        "chain_ok": "Record chain: complete",
        "chain_gap": "Record chain: {n} records missing",
        "bundle": "The node's signed records and its certificate in full: the evidence bundle "
                  "(protocol-{number}-evidence.zip), checked by kuzet verify against the "
                  "building's CA certificate",
    },
}

MONTHS = {
    "kk": ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз",
           "қыркүйек", "қазан", "қараша", "желтоқсан"],
    "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
}

# What each rule means, as the protocol writes it (clause 4.1).
VIOLATIONS: dict[str, dict[str, str]] = {
    "kk": {
        "seat_vacated": "емтихан кезінде орнын тастап кетті / камераның көру аймағынан шықты",
        "extra_person": "үшінші тұлғаның көмегін тартты (орында екінші адам)",
        "outsider_near_seat": "бөгде тұлғаны өз орнына жіберді",
        "notes": "конспектілерді, оқулықтарды немесе оқу құралдарын пайдаланды",
        "device": "телефонды, планшетті, калькуляторды немесе басқа техникалық құралды "
                  "пайдаланды",
        "head_turned": "көршісіне бұрылды",
        "head_down_hands_low": "ұзақ уақыт басын төмен салып, екі қолын парта астында ұстады",
        "room_overcrowded": "аудиторияда бөгде тұлғалар болды",
        "face_changed": "тіркелген орында басқа адам отырды (камераның кеңесі)",
    },
    "ru": {
        "seat_vacated": "покинул(а) место / вышел(ла) из поля зрения камеры во время экзамена",
        "extra_person": "привлекал(а) помощь третьих лиц (второй человек на месте)",
        "outsider_near_seat": "допустил(а) посторонних к своему месту",
        "notes": "пользовался(лась) конспектами, учебниками или учебными пособиями",
        "device": "пользовался(лась) телефоном, планшетом, калькулятором или иным "
                  "техническим средством",
        "head_turned": "поворачивался(лась) к соседу",
        "head_down_hands_low": "долго сидел(а) с опущенной головой и руками под партой",
        "room_overcrowded": "в аудитории находились посторонние",
        "face_changed": "на отмеченном месте сидел другой человек (подсказка камеры)",
    },
    "en": {
        "seat_vacated": "left the seat / the camera's field of view during the exam",
        "extra_person": "got help from a third party (a second person at the seat)",
        "outsider_near_seat": "let an outsider at the seat",
        "notes": "used notes, textbooks or study aids",
        "device": "used a phone, tablet, calculator or other technical device",
        "head_turned": "turned to a neighbour",
        "head_down_hands_low": "kept the head down and both hands under the desk for a long time",
        "room_overcrowded": "outsiders were in the room",
        "face_changed": "another person sat at the checked-in seat (the camera's advice)",
    },
}


# The proctor's check-in of the student at the start of the exam (hub.store.check_ins), as the
# protocol prints it: the result, who checked, when (in the hub's zone), the seat.
CHECK_IN: dict[str, dict[str, str]] = {
    "kk": {"line": "Орында тексеру: {result} — {seat}, {by}, {at}",
           "none": "Орында тексеру: жазылмаған",
           "identified": "тұлғасы расталды", "absent": "келмеді",
           "someone_else": "орында басқа адам отырды", "moved": "{to} орнына ауыстырылды"},
    "ru": {"line": "Проверка на месте: {result} — {seat}, {by}, {at}",
           "none": "Проверка на месте: не записана",
           "identified": "личность подтверждена", "absent": "отсутствовал(а)",
           "someone_else": "на месте сидел другой человек", "moved": "пересажен(а) на место {to}"},
    "en": {"line": "Check-in at the seat: {result} — {seat}, {by}, {at}",
           "none": "Check-in at the seat: not recorded",
           "identified": "identified", "absent": "absent",
           "someone_else": "someone else sat at the seat", "moved": "moved to seat {to}"},
}


@dataclass(frozen=True)
class CheckInLine:
    """The student's latest check-in result in the protocol's exam."""

    result: str                       # identified | absent | someone_else | moved
    seat: str
    by: str
    at: str                           # UTC ISO
    moved_to: str = ""


def check_in_text(c: CheckInLine | None, lang: str, timezone: str) -> str:
    """The protocol's check-in line, in its language; times in the hub's zone."""
    t = CHECK_IN[lang]
    if c is None:
        return t["none"]
    result = t.get(c.result, c.result).format(to=c.moved_to or "—")
    return t["line"].format(result=result, seat=c.seat or "—", by=c.by,
                            at=zone.local_text(c.at, timezone))


def violation_text(rule: str, lang: str) -> str:
    """The violation written out from the rule, citing clause 4.1 (a changed face: section 3,
    the identification of the person taking the exam)."""
    words = VIOLATIONS.get(lang, VIOLATIONS["kk"]).get(rule, rule)
    if rule == "face_changed":
        clause = {"kk": "3-бөлім", "ru": "раздел 3", "en": "section 3"}[lang]
    else:
        clause = {"kk": "4.1-тармақ", "ru": "п. 4.1", "en": "clause 4.1"}[lang]
    return f"{words} ({clause})"


@dataclass(frozen=True)
class Proof:
    """The node's signature on an evidence file's record, as the protocol prints it."""

    alg: str
    signature: str                   # base64, in full
    signer_fingerprint: str          # SHA-256 of the node certificate's (or own key's) DER
    by_certificate: bool
    trust: str                       # "ca": under the building's CA; "self": not
    signer_name: str = ""            # the certificate's common name


@dataclass
class Attachment:
    """One evidence file attached to the protocol (``data`` None if it is not an image;
    ``proof`` None if the node did not sign it)."""

    kind: str
    sha256: str
    captured_at: str
    data: bytes | None = None
    proof: Proof | None = None


@dataclass
class ProtocolDoc:
    """Everything the printed protocol shows."""

    number: int
    lang: str
    group: str
    student: str
    discipline: str
    attestation_date: str            # YYYY-MM-DD
    violation: str
    proctor_note: str
    examiner: str
    head_of_department: str
    seat: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    chain_missing: int | None = None  # records missing in the node's chain; None: unsigned
    timezone: str = "UTC"             # the hub's zone (hub.timezone): every time printed in it
    check_in: CheckInLine | None = None   # the student's check-in (None: not recorded)


def lines(doc: ProtocolDoc) -> list[tuple[str, str]]:
    """The protocol's text as ``(style, text)`` lines, in its language (also the HTML
    preview)."""
    t = TEXT[doc.lang]
    blank = "______________"
    try:
        d = date.fromisoformat(doc.attestation_date)
        day, month, year = f"{d.day:02d}", MONTHS[doc.lang][d.month - 1], str(d.year)
    except ValueError:
        day, month, year = "___", "______________", "20__"
    out = [("right", t["appendix"]), ("right-small", t["form"]),
           ("title", t["title"]), ("subtitle", t["subtitle"]),
           ("small", f"{t['protocol_no']} {doc.number}"),
           ("text", t["body"].format(group=doc.group or blank, student=doc.student or blank,
                                     discipline=doc.discipline or blank)),
           ("text", t["date"].format(day=day, month=month, year=year)),
           ("text", t["violation"].format(violation=doc.violation or blank))]
    if doc.seat:
        out.append(("small", f"{t['seat']}: {doc.seat}"))
    out.append(("small", check_in_text(doc.check_in, doc.lang, doc.timezone)))
    if doc.proctor_note:
        out.append(("text", t["note"].format(note=doc.proctor_note)))
    out += [("sign", t["examiner"].format(name=doc.examiner or blank)),
            ("sign", t["head"].format(name=doc.head_of_department or blank)),
            ("sign", t["read"].format(name=doc.student or blank))]
    return out


def font_path(bold: bool = False) -> Path:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} not found: install Debian fonts-dejavu-core")


def render_pdf(doc: ProtocolDoc) -> bytes:
    """The protocol on A4 (the form on page 1, the sheet of revisions and the evidence
    after), as PDF bytes."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(20, 15, 15)
    pdf.set_auto_page_break(True, 15)
    pdf.add_font("DejaVu", "", str(font_path()))
    pdf.add_font("DejaVu", "B", str(font_path(bold=True)))
    pdf.set_title(f"{TEXT[doc.lang]['title']} {doc.number}")
    pdf.set_creator("Kuzet hub")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for style, text in lines(doc):
        if style == "title":
            pdf.ln(6)
            pdf.set_font("DejaVu", "B", 16)
            pdf.multi_cell(width, 8, text, align="C", new_x="LMARGIN", new_y="NEXT")
        elif style == "subtitle":
            pdf.set_font("DejaVu", "B", 12)
            pdf.multi_cell(width, 7, text, align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(6)
        elif style.startswith("right"):
            pdf.set_font("DejaVu", "", 9 if style == "right-small" else 11)
            pdf.multi_cell(width, 5, text, align="R", new_x="LMARGIN", new_y="NEXT")
        elif style == "sign":
            pdf.ln(10)
            pdf.set_font("DejaVu", "", 11)
            pdf.multi_cell(width, 7, text, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("DejaVu", "", 9 if style == "small" else 12)
            pdf.multi_cell(width, 7, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    t = TEXT[doc.lang]
    pdf.ln(12)
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(width, 6, t["sheet"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    for i in range(3):
        pdf.cell(12, 7, "№" if i == 0 else "", border=1)
        pdf.cell(width - 12, 7, "", border=1, new_x="LMARGIN", new_y="NEXT")
    if doc.attachments:
        _evidence_pages(pdf, doc, width)
    return bytes(pdf.output())


def proof_lines(a: Attachment, lang: str) -> list[str]:
    """What the protocol says of an evidence file's signature: the signature in full, the
    signer's fingerprint and the trust."""
    t = TEXT[lang]
    if a.proof is None:
        return [t["trust_none"]]
    p = a.proof
    return [f"{t['signature'].format(alg=p.alg)}:", p.signature,
            f"{t['cert_fp' if p.by_certificate else 'key_fp']}:", p.signer_fingerprint,
            t["trust_ca"].format(node=p.signer_name) if p.trust == "ca" else t["trust_self"]]


def _evidence_pages(pdf, doc: ProtocolDoc, width: float) -> None:
    t = TEXT[doc.lang]
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(width, 7, t["evidence"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    first = zone.parse(doc.attachments[0].captured_at) if doc.attachments else None
    pdf.multi_cell(width, 5, t["times"].format(zone=zone.label(doc.timezone, first)),
                   new_x="LMARGIN", new_y="NEXT")
    if doc.chain_missing is not None:
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(width, 5, "\n".join([
            t["chain_gap"].format(n=doc.chain_missing) if doc.chain_missing
            else t["chain_ok"], t["bundle"].format(number=doc.number)]),
            new_x="LMARGIN", new_y="NEXT")
    for a in doc.attachments:
        pdf.ln(3)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(width, 5, "\n".join(
            [f"{a.kind} · {zone.local_text(a.captured_at, doc.timezone)}",
             f"SHA-256: {a.sha256}", *proof_lines(a, doc.lang)]),
            new_x="LMARGIN", new_y="NEXT")
        if a.data:
            if pdf.get_y() > pdf.h - 100:
                pdf.add_page()
            try:
                pdf.image(io.BytesIO(a.data), w=min(width, 120))
            except Exception:             # a damaged file: the hash still identifies it
                pdf.multi_cell(width, 5, "(image unreadable)", new_x="LMARGIN", new_y="NEXT")
