"""Reports and charts in a Zalo chat, end to end: the real bot against the strict emulators.

On an official account the weekly digest brings the report form as an uploaded PDF, the chart as an
uploaded image and the workbook as a signed link (an .xlsx cannot be uploaded); an upload or an
attachment message that fails sends the file's link instead, so nothing is lost. On the Zalo Bot the
chart goes by sendPhoto, as a signed link Zalo fetches itself, only with [http] public_url set.
"""

from __future__ import annotations

import io
import random
import re
from datetime import UTC, date, datetime

import aiohttp
import pytest
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader

from core.events import Reply
from handlers.context import job_step
from handlers.office import delivery
from storage import stats
from storage.models import OutboxMessage, Report
from storage.people import create_person
from tests import zalo_harness
from tests.helpers import vi
from tests.zalo_harness import PUBLIC_URL, enrol_on_oa, enrol_on_zalo, zalo_fixture  # noqa: F401

WEEK = stats.week_of(date(2026, 11, 18))  # Monday 16/11 to Sunday 22/11/2026: over at the harness's clock
LINK = re.compile(r"(https?://\S+/files/\S+)")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def seed(bot) -> None:
    """The week: Thôn 1 on 17/11 (60 people: 25 men, 35 women) and Thôn 2 on 19/11 (40: 10 men, 30 women)."""
    async with bot.app.sessions() as s, s.begin():
        p = await create_person(s, now=bot.app.clock.now(), name="Lò Văn Tâm", commune_id="xuanduong",
                                roles=["reporter"], villages=["t01"], org="village_head", lang="vi")
        for n, (village, day, total, male, female) in enumerate((("t01", 17, 60, 25, 35), ("t02", 19, 40, 10, 30)), 1):
            s.add(Report(ref=f"BC-2026-{n:04d}", commune_id="xuanduong", village_id=village, person_id=p.id,
                         org="village_head", held_on=date(2026, 11, day), format="meeting", attendees_total=total,
                         attendees_male=male, attendees_female=female,
                         created_at=datetime(2026, 11, day, 9, tzinfo=UTC)))


async def send_digest(bot) -> int:
    """The week's digest, queued as the weekly job queues it, then delivered."""
    app = bot.app
    async with job_step(app.services, app.sessions, app.clock.now()) as out:
        reached = await delivery.queue_digest(out, app.config.communes[0], WEEK)
    app.outbox.wake()
    await bot.settle()
    return reached


async def fetch(bot, url: str) -> tuple[int, bytes]:
    """A signed link, as the person's phone opens it (the public URL is the bot's HTTP server)."""
    local = url.replace(PUBLIC_URL, f"http://127.0.0.1:{bot.app.http.bound_port}")
    async with aiohttp.ClientSession() as http, http.get(local) as resp:
        return resp.status, await resp.read()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def failed_rows(bot) -> list:
    return await bot.rows(OutboxMessage, OutboxMessage.failed_at.is_not(None))


async def test_a_digest_on_the_official_account_brings_the_form_as_a_pdf_the_chart_and_the_excel_link(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    office = bot.oa_user("o-office", "Văn phòng")
    await enrol_on_oa(bot, office, name="Nguyễn Thị Thu", roles=("office",), villages=())
    await seed(bot)
    mark = oa.mark()
    assert await send_digest(bot) == 1

    *texts, form, chart = [m for m in office.messages if m.seq > mark]
    text = "".join(m.text for m in texts)  # the digest, in parts of at most 2000 characters
    assert all(m.kind == "text" for m in texts) and text.startswith("BẢN TIN TỔNG HỢP TUẦN 47/2026")
    [book_url] = LINK.findall(text)
    assert vi("Excel file: {url}", url=book_url) in text  # the only link: the form and the chart come as files
    status, book = await fetch(bot, book_url)
    assert status == 200 and load_workbook(io.BytesIO(book)).worksheets[0].cell(1, 1).value == "UBND XÃ XUÂN DƯƠNG"

    # The report form, uploaded as a PDF: the commune's, for the week, with the week's figures (by hand:
    # 2 sessions, 100 people, men 35, women 65).
    assert form.kind == "file" and form.name.endswith(".pdf") and form.data.startswith(b"%PDF-")
    words = pdf_text(form.data)
    assert "UBND XÃ XUÂN DƯƠNG" in words and vi(delivery.files.FORM.title).split()[0] in words
    assert "Kỳ báo cáo: từ 16/11/2026 đến 22/11/2026" in words
    assert "1 Số buổi tuyên truyền Buổi 2 2" in words and "2.1.1 Nam Lượt người 35 35" in words
    assert "2.1.2 Nữ Lượt người 65 65" in words

    # The chart, uploaded as an image: a PNG within the official account's 1 MB.
    assert chart.kind == "image" and chart.data.startswith(PNG_MAGIC) and len(chart.data) <= 1024 * 1024
    assert Image.open(io.BytesIO(chart.data)).size[0] > 500

    assert [(u.endpoint, u.sniffed, u.error) for u in oa.uploads] == [("file", "application/pdf", 0),
                                                                     ("image", "image/png", 0)]
    assert not any(u.name.endswith(".xlsx") or u.sniffed == "application/zip" for u in oa.uploads)
    assert oa.refused_sends == [] and await failed_rows(bot) == []


async def test_a_refused_upload_sends_the_files_link_instead_and_nothing_is_lost(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    office = bot.oa_user("o-office", "Văn phòng")
    await enrol_on_oa(bot, office, name="Nguyễn Thị Thu", roles=("office",), villages=())
    await seed(bot)
    oa.refuse_uploads(1)  # the PDF's upload is refused (HTTP 200, a non-zero error)
    mark = oa.mark()
    await send_digest(bot)

    *texts, instead, chart = [m for m in office.messages if m.seq > mark]
    assert [m.kind for m in texts] == ["text"] * len(texts) and instead.kind == "text" and chart.kind == "image"
    [pdf_url] = LINK.findall(instead.text)
    assert instead.text.startswith(vi("Report form (PDF): {url}", url=pdf_url))
    status, data = await fetch(bot, pdf_url)
    assert status == 200 and "UBND XÃ XUÂN DƯƠNG" in pdf_text(data)
    assert [u.error for u in oa.uploads] == [-210, 0] and await failed_rows(bot) == []


async def test_an_attachment_message_refused_sends_the_link_and_an_xlsx_is_never_uploaded(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    office = bot.oa_user("o-office", "Văn phòng")
    await enrol_on_oa(bot, office, name="Nguyễn Thị Thu", roles=("office",), villages=())
    channel = bot.channel("zalo_oa")
    png = io.BytesIO()
    Image.new("RGB", (300, 200), "#2b6cb0").save(png, format="PNG")

    # The upload works but the attachment message fails (403, Zalo's internal error): the link goes.
    oa.internal_errors_403(1)
    sent = await channel.send("o-office", Reply(text="", photo=png.getvalue(), instead="Biểu đồ: https://x.test/c"))
    assert sent.ok and len(sent.platform_ids) == 1
    assert office.messages[-1].kind == "text" and office.messages[-1].text == "Biểu đồ: https://x.test/c"

    # A workbook is never offered to the upload API: its link, or without one a permanent failure.
    book = io.BytesIO()
    import xlsxwriter

    with xlsxwriter.Workbook(book) as wb:
        wb.add_worksheet().write(0, 0, 1)
    uploads = len(oa.uploads)
    sent = await channel.send("o-office", Reply(text="", file=("so-lieu.xlsx", book.getvalue()),
                                                instead="Tệp Excel: https://x.test/b"))
    assert sent.ok and office.messages[-1].text == "Tệp Excel: https://x.test/b"
    failed = await channel.send("o-office", Reply(text="", file=("so-lieu.xlsx", book.getvalue())))
    assert not failed.ok and failed.permanent and "cannot be uploaded" in failed.error
    assert len(oa.uploads) == uploads  # neither was tried

    # A chart over 1 MB is made smaller before its upload, never refused for its size.
    noise = Image.frombytes("RGB", (1100, 800), random.Random(7).randbytes(1100 * 800 * 3))
    big = io.BytesIO()
    noise.save(big, format="PNG")
    assert len(big.getvalue()) > 1024 * 1024
    assert (await channel.send("o-office", Reply(text="", photo=big.getvalue()))).ok
    assert office.messages[-1].kind == "image" and len(office.messages[-1].data) <= 1024 * 1024
    assert all(u.error == 0 for u in oa.uploads)


async def test_the_emulator_refuses_what_zalo_refuses(zalo):
    """Strict as the platform: types by their bytes, sizes, tokens that exist and serve one purpose."""
    oa = await zalo.oa_emulator()
    await zalo.start(oa_emu=oa, http=False)
    oa.user("o1", "Một")
    oa.last_interaction["o1"] = oa.now()
    headers = {"access_token": oa.seed[0]}

    async def upload(endpoint: str, name: str, data: bytes, mime: str) -> dict:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type=mime)
        async with aiohttp.ClientSession() as http, http.post(f"{oa.api_url}/v2.0/oa/upload/{endpoint}", data=form,
                                                              headers=headers) as resp:
            assert resp.status == 200  # refusals too: Zalo answers them with a non-zero error
            return await resp.json()

    async def message(attachment: dict) -> dict:
        body = {"recipient": {"user_id": "o1"}, "message": {"attachment": attachment}}
        async with aiohttp.ClientSession() as http, http.post(f"{oa.api_url}/v3.0/oa/message/cs", json=body,
                                                              headers=headers) as resp:
            return await resp.json()

    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 100
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, format="PNG")
    assert (await upload("file", "a.xlsx", b"PK\x03\x04" + b"0" * 50, "application/octet-stream"))["error"] != 0
    assert (await upload("file", "a.png", png.getvalue(), "image/png"))["error"] != 0
    assert (await upload("file", "big.pdf", pdf + b"0" * (5 * 1024 * 1024), "application/pdf"))["error"] != 0
    assert (await upload("image", "a.pdf", pdf, "application/pdf"))["error"] != 0
    assert (await upload("image", "a.png", png.getvalue(), "application/pdf"))["error"] != 0  # says it is a PDF
    file_token = (await upload("file", "a.pdf", pdf, "application/pdf"))["data"]["token"]
    image_id = (await upload("image", "a.png", png.getvalue(), "image/png"))["data"]["attachment_id"]

    def media(ref: str) -> dict:
        return {"type": "template", "payload": {"template_type": "media", "elements": [
            {"media_type": "image", "attachment_id": ref}]}}

    assert (await message({"type": "file", "payload": {"token": image_id}}))["error"] != 0  # an image's id
    assert (await message(media(file_token)))["error"] != 0  # a file's token
    assert (await message({"type": "file", "payload": {"token": "no-such-token"}}))["error"] != 0
    assert (await message({"type": "file", "payload": {"token": file_token}}))["error"] == 0
    assert (await message(media(image_id)))["error"] == 0
    oa.advance(days=8)  # images are kept about 7 days
    oa.last_interaction["o1"] = oa.now()
    assert (await message(media(image_id)))["error"] != 0
    assert [m.kind for m in oa.messages("o1")] == ["file", "image"]


async def test_on_the_zalo_bot_the_chart_goes_by_send_photo_with_a_public_url(zalo):
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu)
    office = bot.zalo_user("z-office", "Văn phòng")
    await enrol_on_zalo(bot, office, name="Nguyễn Thị Thu", roles=("office",), villages=())
    await seed(bot)
    mark = emu.mark()
    await send_digest(bot)

    *texts, photo = [m for m in emu.messages("z-office") if m.seq > mark]
    [book_url] = LINK.findall("".join(m.text for m in texts))
    assert vi("Excel file: {url}", url=book_url) in texts[-1].text
    assert photo.photo_url.startswith(PUBLIC_URL + "/files/") and emu.calls["sendPhoto"] == 1
    assert photo.photo.startswith(PNG_MAGIC)  # Zalo fetched it from the bot's HTTP server: the chart
    assert await failed_rows(bot) == []

    # Zalo cannot fetch it: the chart's link goes as text instead.
    emu.resolve = lambda url: "http://127.0.0.1:9/unreachable"
    mark = emu.mark()
    await send_digest(bot)
    *_, instead = [m for m in emu.messages("z-office") if m.seq > mark]
    [chart_url] = LINK.findall(instead.text)
    assert instead.text.startswith(vi("Chart: {url}", url=chart_url)) and emu.calls["sendPhoto"] == 2
    assert (await fetch(bot, chart_url))[1].startswith(PNG_MAGIC)
    assert await failed_rows(bot) == []


async def test_without_a_public_url_the_zalo_bot_sends_no_photo(zalo, monkeypatch):
    monkeypatch.setattr(zalo_harness, "PUBLIC_URL", "")  # [http] public_url not set
    emu = await zalo.bot_emulator()
    bot = await zalo.start(bot_emu=emu)
    assert not bot.channel("zalo_bot").capabilities.takes("image/png")
    office = bot.zalo_user("z-office", "Văn phòng")
    await enrol_on_zalo(bot, office, name="Nguyễn Thị Thu", roles=("office",), villages=())
    await seed(bot)
    mark = emu.mark()
    await send_digest(bot)
    text = "".join(m.text for m in emu.messages("z-office") if m.seq > mark)
    book_url, chart_url = LINK.findall(text)
    assert vi("Excel file: {xlsx}\nChart: {png}\n(The links work for {days} days.)", xlsx=book_url, png=chart_url,
              days=bot.app.config.digest.link_days) in text
    assert emu.calls.get("sendPhoto", 0) == 0


@pytest.mark.parametrize("size", [(300, 200), (1600, 1100)])
def test_fit_image_keeps_a_small_photo_and_shrinks_a_large_one(size):
    from bot.channels.zalo_oa import JPEG, PNG, fit_image

    noise = Image.frombytes("RGB", size, random.Random(size[0]).randbytes(size[0] * size[1] * 3))
    raw = io.BytesIO()
    noise.save(raw, format="PNG")
    data, kind = fit_image(raw.getvalue())
    assert len(data) <= 1024 * 1024 and kind in (PNG, JPEG)
    assert (data == raw.getvalue()) == (len(raw.getvalue()) <= 1024 * 1024)
    assert Image.open(io.BytesIO(data)).format == ("PNG" if kind == PNG else "JPEG")


def test_a_reply_stored_before_the_link_fields_still_reads():
    """Outbox and held rows written before `url` and `instead` existed."""
    old = {"text": "BẢN TIN", "choices": [], "columns": 1, "photo": PNG_MAGIC.hex(), "file": None,
           "ask_contact": False, "tag": None, "edit": False, "html": False, "contact_label": "",
           "remove_keyboard": False, "commands": None, "delete": None}
    reply = Reply.from_dict(old)
    assert (reply.photo, reply.url, reply.instead) == (PNG_MAGIC, "", "")
    again = Reply(text="", photo=PNG_MAGIC, url="https://bot.example.test/files/x", instead="Biểu đồ: …")
    assert Reply.from_dict(again.to_dict()) == again


async def test_xuat_on_the_official_account_brings_the_form_as_a_pdf_beside_the_links(zalo):
    oa = await zalo.oa_emulator()
    bot = await zalo.start(oa_emu=oa)
    office = bot.oa_user("o-office", "Văn phòng")
    await enrol_on_oa(bot, office, name="Nguyễn Thị Thu", roles=("office",), villages=())
    await seed(bot)
    mark = oa.mark()
    await office.say("/xuat 11/2026")
    await bot.settle()
    *texts, form = [m for m in office.messages if m.seq > mark]
    text = "".join(m.text for m in texts)
    assert "Excel: " in text and "CSV: " in text  # the workbook and the CSV stay links: no .xlsx upload
    assert form.kind == "file" and form.name == "so-lieu-2026-11-01-2026-11-30.pdf"
    words = pdf_text(form.data)  # November by hand: 2 sessions, 100 people, men 35, women 65
    assert "Kỳ báo cáo: từ 01/11/2026 đến 30/11/2026" in words and "1 Số buổi tuyên truyền Buổi 2 2" in words
    assert [u.sniffed for u in oa.uploads] == ["application/pdf"]
