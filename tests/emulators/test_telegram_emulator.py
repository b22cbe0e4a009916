"""The Telegram emulator, exercised through a real python-telegram-bot Bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import struct
import warnings

import httpx
import pytest
import pytest_asyncio
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter

from tests.emulators.telegram import TelegramEmulator, parse_html, parse_markdown_v2, utf16_len

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22 warns on RetryAfter construction that retry_after will become a timedelta
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "123456:TEST-token"
LAN = 1001


def make_jpeg(width: int = 800, height: int = 600) -> bytes:
    """A minimal JPEG header (SOI, SOF0, EOI): enough for the emulator to read its size."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\x00" * 64 + b"\xff\xd9"


class Clock:
    def __init__(self, start: float = 1_750_000_000.0):
        self.t = start

    def __call__(self) -> float:
        return self.t


@pytest_asyncio.fixture
async def emu():
    emulator = TelegramEmulator(token=TOKEN, bot_username="xuanduong_bot")
    await emulator.start()
    emulator.user(user_id=LAN, first_name="Lan", language_code="vi")
    try:
        yield emulator
    finally:
        await emulator.stop()
    assert not emulator.internal_errors, emulator.internal_errors[0]


@pytest_asyncio.fixture
async def bot(emu):
    async with telegram.Bot(TOKEN, base_url=emu.api_url, base_file_url=emu.file_url) as b:
        yield b


def retry_seconds(err: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value = err.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs])


# --------------------------------------------------------------------------- basics


async def test_get_me(bot, emu):
    me = await bot.get_me()
    assert me.is_bot and me.username == "xuanduong_bot" and me.id == 123456
    assert bot.username == "xuanduong_bot"
    assert [name for name, _ in emu.calls].count("getMe") >= 1


async def test_wire_format_token_method_and_encodings(emu):
    async with httpx.AsyncClient(base_url=emu.url) as http:
        r = await http.post("/bot123456:wrong/getMe")
        assert r.status_code == 401
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        r = await http.post(f"/bot{TOKEN}/noSuchMethod")
        assert r.status_code == 404 and r.json()["description"] == "Not Found"
        # JSON body, query string and form body are all accepted; method names ignore case
        r = await http.post(
            f"/bot{TOKEN}/sendMessage",
            json={
                "chat_id": LAN,
                "text": "json",
                "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
            },
        )
        assert r.json()["ok"] and r.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"
        r = await http.get(f"/bot{TOKEN}/sendmessage", params={"chat_id": LAN, "text": "query"})
        assert r.json()["result"]["text"] == "query"
        r = await http.post(
            f"/bot{TOKEN}/sendMessage", data={"chat_id": str(LAN), "text": "form", "reply_markup": "{not json"}
        )
        assert r.status_code == 400
        assert r.json()["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    assert [m.text for m in emu.messages(LAN)] == ["json", "query"]


# --------------------------------------------------------------------------- updates


async def test_long_poll_round_trip_and_offset_confirmation(bot, emu):
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()  # really waiting
    update_id = await emu.send_text(LAN, "/start")
    updates = await asyncio.wait_for(poll, 30)
    assert [u.update_id for u in updates] == [update_id]
    message = updates[0].message
    assert message.text == "/start" and message.chat.type == "private" and message.chat.id == LAN
    assert message.from_user.language_code == "vi" and not message.from_user.is_bot
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6
    # not confirmed yet: delivered again
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update_id]
    # confirmed by offset
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    assert emu.pending_updates == []


async def polling(emu, first) -> None:
    """Until the emulator holds the long poll `first` sent (a fixed sleep is too short on a busy machine)."""
    async with asyncio.timeout(30):
        while emu._active_poll is None:
            assert not first.done(), first.result()
            await asyncio.sleep(0.01)


async def test_second_get_updates_terminates_the_first(emu):
    url = f"{emu.api_url}{TOKEN}/getUpdates"
    async with httpx.AsyncClient(timeout=60) as http:
        first = asyncio.create_task(http.post(url, data={"timeout": "30"}))
        await polling(emu, first)
        second = asyncio.create_task(http.post(url, data={"timeout": "30"}))
        r1 = await asyncio.wait_for(first, 30)
        assert r1.status_code == 409
        assert r1.json()["description"].startswith("Conflict: terminated by other getUpdates request")
        await emu.send_text(LAN, "xin chào")
        r2 = await asyncio.wait_for(second, 30)
        assert r2.status_code == 200 and r2.json()["result"][0]["message"]["text"] == "xin chào"
        emu.reject_concurrent_polls = True  # the variant where the newer request is refused
        idle = {"timeout": "30", "offset": str(r2.json()["result"][0]["update_id"] + 1)}
        first = asyncio.create_task(http.post(url, data=idle))
        await polling(emu, first)
        assert (await http.post(url, data=idle)).status_code == 409
        assert not first.done()  # the older poll goes on, and gets the next update
        await emu.send_text(LAN, "còn đó không")
        r1 = await asyncio.wait_for(first, 30)
        assert r1.status_code == 200 and r1.json()["result"][0]["message"]["text"] == "còn đó không"


async def test_user_media_updates_parse_with_ptb(bot, emu):
    await emu.send_contact(LAN, phone_number="+84912345678")
    await emu.send_sticker(LAN)
    await emu.send_raw_update(
        {
            "message": {
                "message_id": 999,
                "date": 1,
                "text": "raw",
                "chat": {"id": LAN, "type": "private", "first_name": "Lan"},
            }
        }
    )
    contact, sticker, raw = await bot.get_updates(timeout=0)
    assert contact.message.contact.user_id == LAN
    assert contact.message.contact.phone_number == "+84912345678"
    assert sticker.message.sticker.emoji == "👍"
    assert raw.message.text == "raw" and raw.update_id == sticker.update_id + 1


# --------------------------------------------------------------------------- keyboards & callbacks


async def test_inline_keyboard_press_and_answer(bot, emu):
    sent = await bot.send_message(
        LAN, "Chọn loại báo cáo:", reply_markup=keyboard(("Họp thôn / hội nghị", "rpt:meeting"), ("Khác", "rpt:other"))
    )
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "rpt:meeting"
    shown = emu.last(LAN)
    assert shown.buttons == [[("Họp thôn / hội nghị", "rpt:meeting")], [("Khác", "rpt:other")]]
    with pytest.raises(AssertionError):
        await emu.press(LAN, sent.message_id, "rpt:nope")  # no such button
    query_id = await emu.press_label(LAN, "Họp thôn / hội nghị")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query.id == query_id and query.data == "rpt:meeting"
    assert query.message.message_id == sent.message_id and query.from_user.id == LAN
    assert await bot.answer_callback_query(query_id, text="Đã chọn")
    assert emu.answered_callbacks[query_id]["text"] == "Đã chọn"
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_callback_answer_window_uses_emulator_clock(bot, emu):
    emu.now = clock = Clock()
    sent = await bot.send_message(LAN, "?", reply_markup=keyboard(("OK", "ok")))
    query_id = await emu.press(LAN, sent.message_id, "ok")
    clock.t += 11
    with pytest.raises(BadRequest, match="(?i)query is too old and response timeout expired"):
        await bot.answer_callback_query(query_id)


async def test_callback_data_is_limited_to_64_bytes(bot, emu):
    fits = "ọ" * 21 + "a"  # 3 bytes each: 64 bytes
    await bot.send_message(LAN, "ok", reply_markup=keyboard(("A", fits)))
    too_long = "Họp thôn / hội nghị toàn thể nhân dân ấp Ông Đôn"  # 48 letters, 65 bytes
    assert len(too_long.encode()) == 65
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(LAN, "x", reply_markup=keyboard(("A", too_long)))
    with pytest.raises(BadRequest, match="(?i)Text buttons are unallowed"):
        await bot.send_message(LAN, "x", reply_markup=keyboard(("A", "")))


async def test_reply_keyboard_keeps_request_contact(bot, emu):
    markup = ReplyKeyboardMarkup(
        [[KeyboardButton("Chia sẻ số điện thoại", request_contact=True)]], one_time_keyboard=True
    )
    await bot.send_message(LAN, "Số điện thoại?", reply_markup=markup)
    expected = [[{"text": "Chia sẻ số điện thoại", "request_contact": True}]]
    assert emu.last(LAN).reply_keyboard == expected and emu.reply_keyboard(LAN) == expected
    await bot.send_message(LAN, "Cảm ơn", reply_markup=telegram.ReplyKeyboardRemove())
    assert emu.reply_keyboard(LAN) is None


# --------------------------------------------------------------------------- validation


async def test_text_length_counts_utf16_after_parsing(bot, emu):
    await bot.send_message(LAN, "a" * 4096)
    await bot.send_message(LAN, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(LAN, "😀" * 2048)  # 4096 UTF-16 code units
    for text in ("a" * 4097, "😀" * 2049):
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(LAN, text)
    with pytest.raises(BadRequest, match="(?i)message must be non-empty"):
        await bot.send_message(LAN, "  \n ")
    assert utf16_len("😀") == 2


@pytest.mark.parametrize(
    "html", ["<br>", "a < b", "<b>x", "<b>x</i>", "<p>x</p>", "<span>x</span>", "Giá &nbsp; 5", "x</b>"]
)
async def test_broken_html_is_refused(bot, html):
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(LAN, html, parse_mode="HTML")


async def test_html_is_stored_as_plain_text_with_entities(bot, emu):
    sent = await bot.send_message(
        LAN, '<b>Họp</b> &lt;thôn&gt; &amp; <a href="https://xuanduong.vn">trang</a>', parse_mode="HTML"
    )
    assert sent.text == "Họp <thôn> & trang"
    assert [e.type for e in sent.entities] == ["bold", "text_link"]
    assert sent.entities[1].url == "https://xuanduong.vn"
    m = emu.last(LAN)
    assert m.text == "Họp <thôn> & trang" and m.parse_mode == "HTML" and m.raw_text.startswith("<b>")
    assert parse_html("&#128512;<i>x</i>") == ("😀x", [{"type": "italic", "offset": 2, "length": 1}])


async def test_markdown_v2_reserved_characters(bot):
    with pytest.raises(BadRequest, match="(?i)Character '.' is reserved"):
        await bot.send_message(LAN, "Giá 1.000đ", parse_mode="MarkdownV2")
    sent = await bot.send_message(LAN, r"*Giá* 1\.000đ", parse_mode="MarkdownV2")
    assert sent.text == "Giá 1.000đ"
    assert parse_markdown_v2("__u__ ||s||")[1][0]["type"] == "underline"


async def test_chat_and_text_errors(bot, emu):
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(424242, "hello")
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{emu.api_url}{TOKEN}/sendMessage", data={"chat_id": LAN})
    assert r.json()["description"] == "Bad Request: message text is empty"
    emu.user(2002, "Minh", started=False)
    with pytest.raises(Forbidden, match="(?i)can't initiate conversation"):
        await bot.send_message(2002, "hello")


# --------------------------------------------------------------------------- faults & limits


async def test_injected_429_and_502(bot, emu):
    emu.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(LAN, "x")
    assert retry_seconds(info.value) == 3
    emu.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError) as info:
        await bot.send_message(LAN, "x")
    assert not isinstance(info.value, (BadRequest, Forbidden))
    await bot.send_message(LAN, "ok now")
    assert [m.text for m in emu.messages(LAN)] == ["ok now"]
    assert [name for name, _ in emu.calls if name == "sendMessage"] == ["sendMessage"] * 3


async def test_blocked_chat_is_forbidden(bot, emu):
    emu.delete_chat(LAN)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(LAN, "x")
    (update,) = await bot.get_updates(timeout=0)
    assert update.my_chat_member.new_chat_member.status == "kicked"


async def test_rate_limits_follow_emulator_clock(bot, emu):
    emu.now = clock = Clock()
    for i in range(30):
        await bot.send_message(LAN, f"m{i}")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(LAN, "one too many")
    assert retry_seconds(info.value) == 1
    clock.t += 1.01
    await bot.send_message(LAN, "after a second")
    emu.per_chat_limit = 1
    clock.t += 5
    await bot.send_message(LAN, "first")
    with pytest.raises(RetryAfter):
        await bot.send_message(LAN, "second in the same second")
    emu.enforce_rate_limits = False
    await bot.send_message(LAN, "limits off")


# --------------------------------------------------------------------------- files


async def test_photo_and_document_round_trip(bot, emu):
    jpeg = make_jpeg(800, 600)
    await emu.send_photo(LAN, jpeg, caption="Ảnh hiện trường")
    (update,) = await bot.get_updates(timeout=0)
    photos = update.message.photo
    assert len(photos) == 2 and photos[-1].width == 800 and photos[0].width == 90
    assert update.message.caption == "Ảnh hiện trường"
    tg_file = await bot.get_file(photos[-1].file_id)
    assert bytes(await tg_file.download_as_bytearray()) == jpeg
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{emu.file_url}{TOKEN}/photos/nope.jpg")).status_code == 404

    sent = await bot.send_photo(LAN, photo=jpeg, caption="<b>Biên bản</b>", parse_mode="HTML")
    assert sent.caption == "Biên bản" and emu.last(LAN).photo == jpeg
    with pytest.raises(BadRequest, match="(?i)message caption is too long"):
        await bot.send_photo(LAN, photo=jpeg, caption="x" * 1025)
    with pytest.raises(BadRequest, match="(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(LAN, photo=b"not an image")
    await bot.send_photo(LAN, photo=photos[-1].file_id)  # re-send by file_id

    doc = await bot.send_document(LAN, document=b"a;b\n1;2\n", filename="bao-cao.csv")
    assert doc.document.file_name == "bao-cao.csv"
    assert emu.last(LAN).document == ("bao-cao.csv", b"a;b\n1;2\n")
    downloaded = await (await bot.get_file(doc.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"a;b\n1;2\n"


# --------------------------------------------------------------------------- edits & deletes


async def test_edits(bot, emu):
    sent = await bot.send_message(LAN, "Bước 1", reply_markup=keyboard(("Tiếp", "next")))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text(
            "Bước 1", chat_id=LAN, message_id=sent.message_id, reply_markup=keyboard(("Tiếp", "next"))
        )
    # editing the text without reply_markup removes the inline keyboard, as in Telegram
    await bot.edit_message_text("<b>Bước 2</b>", chat_id=LAN, message_id=sent.message_id, parse_mode="HTML")
    m = emu.last(LAN)
    assert (m.text, m.buttons, m.edits, m.history) == ("Bước 2", [], 1, ["Bước 1"])
    await bot.edit_message_reply_markup(LAN, sent.message_id, reply_markup=keyboard(("Xong", "done")))
    assert emu.last(LAN).buttons == [[("Xong", "done")]]
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(LAN, sent.message_id, reply_markup=keyboard(("Xong", "done")))
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=LAN, message_id=9999)
    await emu.send_text(LAN, "user text")
    with pytest.raises(BadRequest, match="(?i)message can't be edited"):
        await bot.edit_message_text("x", chat_id=LAN, message_id=emu.updates[-1]["message"]["message_id"])


async def test_delete_message_window(bot, emu):
    emu.now = clock = Clock()
    old = await bot.send_message(LAN, "old")
    await emu.send_text(LAN, "user message")
    user_message_id = emu.updates[-1]["message"]["message_id"]
    assert user_message_id == old.message_id + 1  # one id sequence per chat
    assert await bot.delete_message(LAN, user_message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(LAN, user_message_id)
    clock.t += 48 * 3600 + 1
    with pytest.raises(BadRequest, match="(?i)message can't be deleted for everyone"):
        await bot.delete_message(LAN, old.message_id)
    fresh = await bot.send_message(LAN, "fresh")
    assert await bot.delete_message(LAN, fresh.message_id)
    assert [m.text for m in emu.messages(LAN)] == ["old"]


# --------------------------------------------------------------------------- waiting


async def test_wait_for_new_and_edited_messages(bot, emu):
    await bot.send_message(LAN, "stale answer")
    await emu.send_text(LAN, "hi")

    async def reply_later():
        await asyncio.sleep(0.05)
        sent = await bot.send_message(LAN, "Chào Lan")
        await asyncio.sleep(0.05)
        await bot.edit_message_text("Chào Lan! Chọn mục:", chat_id=LAN, message_id=sent.message_id)

    task = asyncio.create_task(reply_later())
    first = await emu.wait_for(LAN, lambda m: "Chào" in m.text, timeout=30)
    edited = await emu.wait_for(LAN, lambda m: "Chọn mục" in m.text, timeout=30)
    await task
    assert first.message_id == edited.message_id and edited.edits == 1
    with pytest.raises(TimeoutError, match="(?i)stale answer"):  # the dump lists the chat
        await emu.wait_for(LAN, lambda m: "stale" in m.text, timeout=0.2)


# --------------------------------------------------------------------------- commands


async def test_commands(bot, emu):
    await bot.set_my_commands([("start", "Bắt đầu"), ("baocao", "Gửi báo cáo")], language_code="vi")
    assert json.loads(emu.commands["default/vi"]["commands"])[0]["command"] == "start"
    commands = await bot.get_my_commands(language_code="vi")
    assert [c.command for c in commands] == ["start", "baocao"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bao-Cao", "x")])
    assert await bot.send_chat_action(LAN, "typing")
    assert await bot.set_chat_menu_button(LAN, telegram.MenuButtonCommands())


# --------------------------------------------------------------------------- webhook


@pytest_asyncio.fixture
async def hook():
    """A small webhook receiver on loopback that checks the secret like PTB does."""
    state = {"received": [], "fail": False}

    async def handle(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != "s3cret-Token_1":
            return web.Response(status=403)
        if request.content_type != "application/json":
            return web.Response(status=403)
        if state["fail"]:
            return web.Response(status=500)
        state["received"].append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/tg", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    state["url"] = f"http://{host}:{port}/tg"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_webhook_delivery_retry_and_conflict(bot, emu, hook):
    with pytest.raises(BadRequest, match="(?i)HTTPS URL must be provided"):
        await bot.set_webhook("http://example.com/tg")
    assert await bot.set_webhook(hook["url"], secret_token="s3cret-Token_1")
    update_id = await emu.send_text(LAN, "qua webhook")
    assert [u["update_id"] for u in hook["received"]] == [update_id]
    assert hook["received"][0]["message"]["text"] == "qua webhook"
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates(timeout=0)

    hook["fail"] = True
    failed_id = await emu.send_text(LAN, "lần 2")
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and "500" in info.last_error_message
    hook["fail"] = False
    assert await emu.redeliver_pending() == 0
    assert hook["received"][-1]["update_id"] == failed_id

    assert await emu.deliver_webhook(hook["received"][0], secret="wrong") == 403
    assert await emu.deliver_webhook(hook["received"][0]) == 200  # a duplicate delivery
    assert [u["update_id"] for u in hook["received"]] == [update_id, failed_id, update_id]

    assert await bot.delete_webhook()
    await emu.send_text(LAN, "polling again")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message.text == "polling again"


# --------------------------------------------------------------------------- a real Application


async def test_ptb_application_polling_end_to_end(emu):
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler

    async def start(update, context):
        await update.message.reply_text("Chọn:", reply_markup=keyboard(("Họp thôn / hội nghị", "meeting")))

    async def chosen(update, context):
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(f"Đã chọn: {update.callback_query.data}")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(emu.api_url)
        .base_file_url(emu.file_url)
        .get_updates_read_timeout(5)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(chosen))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await emu.send_text(LAN, "/start")
        menu = await emu.wait_for(LAN, lambda m: m.text == "Chọn:", timeout=30)
        query_id = await emu.press_label(LAN, "Họp thôn / hội nghị")
        done = await emu.wait_for(LAN, lambda m: m.text.startswith("Đã chọn"), timeout=30)
        await app.updater.stop()
        await app.stop()
    assert done.message_id == menu.message_id and done.buttons == []
    assert query_id in emu.answered_callbacks
    assert [name for name, _ in emu.calls][:2] == ["getMe", "deleteWebhook"]
