"""Channel adapters tested courier-style: a table of raw platform payloads in, the exact event out;
a table of replies in, the exact request body out. Adapters translate; they decide nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import ZaloOAChannel, render
from core.events import Choice, Reply

INBOX = SimpleNamespace(sessions=None, keyring=None, clock=None)


def zalo_bot(config) -> ZaloBotChannel:
    return ZaloBotChannel("1234567890:secret", config.zalo_bot, INBOX, communes=("xuanduong",))


def zalo_oa(config) -> ZaloOAChannel:
    return ZaloOAChannel(app_id="42", app_secret="s", secret_key="k", config=config.zalo_oa, inbox=INBOX,
                         communes=("xuanduong",))


def essentials(event) -> tuple | None:
    return None if event is None else (event.kind, event.user_id, event.chat_id, event.text, event.choice,
                                       event.dedup_key)


BOT_UPDATES = [
    ({"event_name": "message.text.received", "message": {
        "from": {"id": "u1", "display_name": "Ba"}, "chat": {"id": "u1", "chat_type": "PRIVATE"},
        "message_id": "m1", "date": 1764000000000, "text": "hôm qua"}},
     ("text", "u1", "u1", "hôm qua", None, "m1")),
    ({"event_name": "message.sticker.received", "message": {
        "from": {"id": "u1"}, "chat": {"id": "u1"}, "message_id": "m2", "sticker": "s1"}},
     ("sticker", "u1", "u1", None, None, "m2")),
    ({"event_name": "message.text.received", "message": {  # a group chat: ignored, never answered
        "from": {"id": "u1"}, "chat": {"id": "g9", "chat_type": "GROUP"}, "message_id": "m3", "text": "hi"}}, None),
    ({"event_name": "message.voice.received", "message": {"from": {"id": "u1"}, "chat": {"id": "u1"},
                                                          "message_id": "m4"}},
     ("unsupported", "u1", "u1", None, None, "m4")),
    ({"event_name": "message.text.received", "message": {"from": {"id": "b1", "is_bot": True}, "chat": {"id": "b1"},
                                                         "message_id": "m5", "text": "x"}}, None),
    ({"message": "not an object"}, None),
]


@pytest.mark.parametrize(("update", "expected"), BOT_UPDATES)
async def test_zalo_bot_updates_in(config, update, expected):
    assert essentials(await zalo_bot(config).to_incoming(update)) == expected


OA_EVENTS = [
    ({"event_name": "user_send_text", "sender": {"id": "z1"}, "message": {"msg_id": "a1", "text": "50 người"},
      "timestamp": "1764000000000"}, ("text", "z1", "z1", "50 người", None, "a1")),
    ({"event_name": "user_send_text", "sender": {"id": "z1"}, "message": {"msg_id": "a2", "text": "#f12:o3"}},
     ("choice", "z1", "z1", None, "f12:o3", "a2")),  # a button pressed: the payload comes back as text
    ({"event_name": "user_send_sticker", "sender": {"id": "z1"}, "message": {"msg_id": "a3"}},
     ("sticker", "z1", "z1", None, None, "a3")),
    ({"event_name": "user_send_location", "sender": {"id": "z1"}, "message": {"msg_id": "a4", "attachments": [
        {"payload": {"coordinates": {"latitude": "21.6", "longitude": "105.8"}}}]}},
     ("location", "z1", "z1", None, None, "a4")),
    ({"event_name": "user_send_audio", "sender": {"id": "z1"}, "message": {"msg_id": "a5"}},
     ("unsupported", "z1", "z1", None, None, "a5")),
    ({"event_name": "follow", "follower": {"id": "z2"}, "timestamp": "1764000000000", "oa_id": "oa-1"},
     ("text", "z2", "z2", "/start", None, "follow:z2:1764000000000")),  # the live shape: no sender
    ({"event_name": "unfollow", "follower": {"id": "z2"}, "timestamp": "1764000000001"}, None),  # handled apart
    ({"event_name": "oa_send_text", "sender": {"id": "42"}, "message": {"msg_id": "a6", "text": "x"}}, None),
    ({"event_name": "user_seen_message", "sender": {"id": "z1"}}, None),
    # Group messages (GMF): ignored, not answered privately.
    ({"event_name": "user_send_group_text", "sender": {"id": "z1"}, "recipient": {"id": "g1"},
      "message": {"msg_id": "a7", "text": "chào cả nhóm"}}, None),
    ({"event_name": "user_send_group_image", "sender": {"id": "z1"}, "recipient": {"id": "g1"},
      "message": {"msg_id": "a8", "attachments": [{"type": "image", "payload": {"url": "https://x.invalid/i"}}]}},
     None),
    ({"event_name": "user_send_group_sticker", "sender": {"id": "z1"}, "recipient": {"id": "g1"},
      "message": {"msg_id": "a9"}}, None),
]


@pytest.mark.parametrize(("data", "expected"), OA_EVENTS)
async def test_zalo_oa_events_in(config, data, expected):
    assert essentials(await zalo_oa(config).to_incoming(data)) == expected


def options(n: int) -> tuple[Choice, ...]:
    return tuple(Choice(f"Thôn {i}", f"f1:o{i}") for i in range(n))


CANCEL = Choice("Hủy", "f1:c", control=True, keyword="huy")
OA_REPLIES = [
    (Reply(text="Thôn nào?", choices=options(2) + (CANCEL,)),
     [{"text": "Thôn nào?", "attachment": {"type": "template", "payload": {"buttons": [
         {"title": "Thôn 0", "type": "oa.query.hide", "payload": "#f1:o0"},
         {"title": "Thôn 1", "type": "oa.query.hide", "payload": "#f1:o1"},
         {"title": "Hủy", "type": "oa.query.hide", "payload": "#f1:c"}]}}}]),
    (Reply(text="Thôn nào?", choices=options(6)),  # more than 5: a numbered list to type back
     [{"text": "Thôn nào?\n\n1. Thôn 0\n2. Thôn 1\n3. Thôn 2\n4. Thôn 3\n5. Thôn 4\n6. Thôn 5"}]),
    (Reply(text="Chủ đề?", choices=(Choice("A", "f1:t0", selected=True), Choice("B", "f1:t1", selected=False))),
     [{"text": "Chủ đề?\n\n1. [x] A\n2. [ ] B"}]),  # toggles: always numbered, answered "1 2"
    (Reply(text="Xong."), [{"text": "Xong."}]),
]


@pytest.mark.parametrize(("reply", "expected"), OA_REPLIES)
def test_zalo_oa_replies_out(reply, expected):
    assert render(reply) == expected


TELEGRAM_REPLIES = [
    (Reply(text="Thôn nào?", choices=options(2) + (CANCEL,)),
     {"inline_keyboard": [[{"text": "Thôn 0", "callback_data": "f1:o0"}], [{"text": "Thôn 1", "callback_data": "f1:o1"}],
                          [{"text": "Hủy", "callback_data": "f1:c"}]]}),
    (Reply(text="Xong."), None),
    (Reply(text="x", choices=(Choice("quá dài", "x" * 65),)), None),  # data over 64 bytes is never sent
]


@pytest.mark.parametrize(("reply", "expected"), TELEGRAM_REPLIES)
def test_telegram_keyboards_out(config, reply, expected):
    from bot.channels.telegram import TelegramChannel

    markup = TelegramChannel("123456:ABC", config.telegram, INBOX)._markup(reply)
    assert markup == expected
