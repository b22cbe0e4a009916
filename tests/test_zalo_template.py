"""An urgent alert is never held by a closed window: when the official account cannot write to a
police officer (7 days without a message from them, or Zalo answers -230), a Zalo template message
reaches them at once, beside their other channels, with the reference, "KHẨN CẤP", the reporter's
village from the profile and the reporter's phone, and nothing about the case; when they write on
the OA, the held alert follows. The real bot (App + the real Zalo channels, wired from an
environment) against the OA and template emulators over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.ops_cli import template_test_command
from bot.status import status_command
from core.config import ZaloTemplateConfig
from handlers.reachability import nudge_before_the_window_closes, tell_admins_who_cannot_be_reached, unreachable_now
from storage.cases import add_text, apply_coded
from storage.models import AdminNotice, Alert, Case, HeldMessage, Identity, OutboxMessage, Person
from storage.people import create_person, set_phone
from tests.conftest import _migrated
from tests.emulators.zalo_template import Template, ZaloTemplateEmulator, param
from tests.helpers import vi
from tests.zalo_harness import ZaloLab, enrol_on_oa

TID = "412345"
PARAMS = (("ref", "ma_ho_so"), ("urgent_word", "muc_do"), ("village", "thon"), ("reporter_phone", "sdt"))
URGENT = "🔴 URGENT — case {ref}"
DESCRIPTION = "Người chồng đánh vợ bằng gậy trước cổng nhà"


class TemplateLab(ZaloLab):
    """ZaloLab (tests/zalo_harness.py) with a template emulator beside the OA emulator."""

    async def template_emulator(self, oa, **template) -> ZaloTemplateEmulator:
        emu = ZaloTemplateEmulator(oa=oa)
        emu.add(Template(TID, [param("ma_ho_so"), param("muc_do", max_length=20), param("thon", max_length=100),
                               param("sdt", max_length=15)], **template))
        await emu.start()
        self.emulators.append(emu)
        return emu

    def use(self, tpl: ZaloTemplateEmulator, **changes) -> None:
        """[zalo_template] as config.toml would have it, pointed at the emulator."""
        self.config = replace(self.config, zalo_template=ZaloTemplateConfig(
            template_id=TID, params=PARAMS, api_url=tpl.api_url, uid_url=tpl.uid_url, **changes))


@pytest.fixture
async def lab(config, keyring, db_url):
    lab = TemplateLab(config, keyring, db_url)
    try:
        yield lab
    finally:
        await lab.close()
    for emu in lab.emulators:
        assert not emu.internal_errors, emu.internal_errors[0]


async def give_phone(bot, user_id: str, phone: str) -> None:
    async with bot.app.sessions() as s, s.begin():
        identity = await s.scalar(select(Identity).where(Identity.external_id == user_id))
        set_phone(bot.app.services.keyring, await s.get(Person, identity.person_id), phone)


async def enrol_police(bot, user_id: str = "o5005", name: str = "Trần Công An"):
    officer = bot.oa_user(user_id, name)
    await enrol_on_oa(bot, officer, name=name, roles=("police",), villages=(), org=None)
    return officer


async def report_urgent(bot, user_id: str = "o1001"):
    """A village head of Thôn 3 asks to report a case and says someone is in danger now."""
    head = bot.oa_user(user_id, "Ba")
    await enrol_on_oa(bot, head, name="Hoàng Văn Ba")
    await give_phone(bot, user_id, "+84987654321")
    await head.say("/baotin")
    replies = await head.say("có")
    assert vi("URGENT case {ref} has been created. The commune police and leaders are being alerted now.",
              ref="HS-2026-0001") in replies[0].text
    return head


async def test_an_urgent_alert_to_a_police_officer_whose_window_is_closed_arrives_as_a_template_message(lab):
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl)
    bot = await lab.start(oa_emu=oa)
    officer = await enrol_police(bot)
    await give_phone(bot, "o5005", "+84912000111")
    bot.app.clock.advance(days=8)  # the officer has not written for 8 days: the bot knows the window is closed
    oa.advance(days=8)
    seen = len(officer.messages)

    started = time.monotonic()
    await report_urgent(bot)  # returns once everything queued has been delivered
    assert time.monotonic() - started < 10

    [sent] = tpl.sent
    assert sent.to == "84912000111" and sent.template_id == TID
    assert sent.data == {"ma_ho_so": "HS-2026-0001", "muc_do": "KHẨN CẤP", "thon": "Thôn 3 (theo hồ sơ)",
                         "sdt": "0987654321"}
    [row] = await bot.rows(OutboxMessage, OutboxMessage.channel == "zalo_template")
    [case] = await bot.rows(Case)
    assert (row.delivered_at - case.created_at).total_seconds() < 5 and row.payload is None
    assert row.tag == f"alert:{case.id}:template" and row.kind == "alert"
    assert len(officer.messages) == seen and -230 not in oa.refused_sends  # the OA did not even try: it held it
    [held] = await bot.rows(HeldMessage)
    assert held.chat_id == "o5005" and held.released_at is None
    assert case.ack_at is None  # delivered is not acknowledged
    assert all(a.acknowledged_at is None for a in await bot.rows(Alert))

    # The officer opens the OA chat (the template's button) and writes: the held alert comes first.
    replies = await officer.say("xin chào")
    assert replies[0].text.startswith(vi(URGENT, ref="HS-2026-0001"))
    assert vi("Acknowledge (Đã tiếp nhận)") in replies[0].titles
    [held] = await bot.rows(HeldMessage)
    assert held.released_at is not None
    assert len(tpl.sent) == 1  # one template per case and person, whatever else follows


async def test_no_case_details_go_into_the_template_even_once_the_form_has_them(lab):
    """The officer is alerted again (escalation) after the reporter has answered what kind of case it
    is and described it: still only the reference, the word, the village and the phone."""
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl)
    bot = await lab.start(oa_emu=oa)
    bot.app.scheduler.stop()  # the jobs run when this test says
    await enrol_police(bot)
    await report_urgent(bot)
    bot.app.clock.advance(days=8)  # the officer's window closes before the reminder
    oa.advance(days=8)
    [case] = await bot.rows(Case)
    async with bot.app.sessions() as s, s.begin():  # what the form's answers write meanwhile
        row = await s.get(Case, case.id)
        await apply_coded(s, row, {"kind": "domestic_violence", "forms": ["physical"], "village_id": "t05"},
                          now=bot.app.clock.now())
        add_text(s, bot.app.services.keyring, row, "description", DESCRIPTION, author_id=row.reporter_id,
                 now=bot.app.clock.now())
    from handlers.safety import escalate

    bot.app.clock.advance(minutes=11)
    assert await escalate(bot.app.services, bot.app.sessions, bot.app.clock.now()) == 1
    bot.app.outbox.wake()
    await bot.settle()
    [sent] = tpl.sent
    values = " ".join(sent.data.values())
    assert sorted(sent.data) == ["ma_ho_so", "muc_do", "sdt", "thon"]
    assert sent.data["thon"] == "Thôn 3 (theo hồ sơ)"  # the profile's village, not the answer (Thôn 5)
    for detail in ("domestic_violence", vi("Domestic violence"), "physical", vi("Physical"), DESCRIPTION, "gậy",
                   "Thôn 5"):
        assert detail.lower() not in values.lower()


async def test_when_zalo_answers_230_the_template_goes_by_user_id_at_once(lab):
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl)
    bot = await lab.start(oa_emu=oa)
    officer = await enrol_police(bot, "o5006")  # no phone number: by the Zalo user id
    oa.advance(days=8)  # Zalo counts 8 days; the bot's own count does not know
    await report_urgent(bot)
    assert -230 in oa.refused_sends
    [sent] = tpl.sent
    assert sent.to == "uid:o5006" and sent.data["ma_ho_so"] == "HS-2026-0001"
    [held] = await bot.rows(HeldMessage)
    assert held.chat_id == "o5006"
    replies = await officer.say("đã xem")
    assert replies[0].text.startswith(vi(URGENT, ref="HS-2026-0001"))


async def test_a_night_refusal_is_recorded_and_the_alert_stays_held(lab):
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl)
    bot = await lab.start(oa_emu=oa)
    await enrol_police(bot)
    await give_phone(bot, "o5005", "+84912000111")
    bot.app.clock.advance(days=8)
    oa.advance(days=8)
    tpl.fail_next(-133)
    await report_urgent(bot)
    assert tpl.sent == [] and tpl.refused == [-133]
    [row] = await bot.rows(OutboxMessage, OutboxMessage.channel == "zalo_template")
    assert row.failed_at is not None and "-133" in row.last_error and "hour" in row.last_error
    assert len(await bot.rows(HeldMessage)) == 1


async def test_the_start_up_check_names_a_wrong_parameter_and_the_bot_still_starts(lab, caplog):
    caplog.set_level(logging.INFO)
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl)
    lab.config = replace(lab.config, zalo_template=replace(
        lab.config.zalo_template, params=PARAMS[:3] + (("reporter_phone", "so_dien_thoai"),)))
    bot = await lab.start(oa_emu=oa)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any('reporter_phone = "so_dien_thoai": template 412345 has no parameter "so_dien_thoai" '
               "(its parameters: ma_ho_so, muc_do, sdt, thon)" in e for e in errors), errors
    assert any('template 412345 requires the parameter "sdt"' in e for e in errors), errors
    [notice] = await bot.rows(AdminNotice)
    assert notice.key == f"zalo_template:{oa.app_id}" and "so_dien_thoai" in notice.params["problem"]
    out = io.StringIO()
    await status_command(bot.app.config, url=str(bot.app.engine.url), now=bot.app.clock.now(), out=out)
    line = next(x for x in out.getvalue().splitlines() if "zalo template" in x)
    assert line.lstrip().startswith("!!") and "so_dien_thoai" in line

    # Still running: the official account answers; a template not approved yet is named too.
    lan = bot.oa_user("o2002", "Lan")
    assert len(await lan.follow()) == 1
    tpl.templates[TID].status = "PENDING_REVIEW"
    channel = next(c for c in bot.app.channels if c.name == "zalo_template")
    problems = await channel.check()
    assert "template 412345 is PENDING_REVIEW, not ENABLE: Zalo has not approved it, or has disabled it" in problems

    # Put right: the notice is resolved.
    tpl.templates[TID].status = "ENABLE"
    channel.config = replace(channel.config, params=PARAMS)
    assert await channel.check() == []
    [notice] = await bot.rows(AdminNotice)
    assert notice.resolved_at is not None


async def test_the_cli_sends_one_test_message_and_prints_zalos_answer(lab, keyring, db_url, tmp_path_factory):
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl)
    await _migrated(db_url, keyring, tmp_path_factory)
    config = replace(lab.config, zalo_oa=replace(lab.config.zalo_oa, api_url=oa.api_url, oauth_url=oa.oauth_url))
    env = lab.env_for(None, oa)
    oa.expire_access_tokens()  # the template APIs answer -124: the OA's token is renewed once, then used
    out = io.StringIO()
    assert await template_test_command(config, "0912 000 111", env=env, out=out, keyring=keyring,
                                       storage_url=db_url) == 0
    assert oa.refreshes == 1 and tpl.refused == [-124]
    [sent] = tpl.sent
    assert sent.to == "84912000111"
    assert sent.data == {"ma_ho_so": "HS-TEST", "muc_do": "KHẨN CẤP", "thon": "(thử)", "sdt": "0912000111"}
    assert "Zalo answered" in out.getvalue() and '"error": 0' in out.getvalue()

    tpl.fail_next(-144)
    out = io.StringIO()
    assert await template_test_command(config, "+84912000111", env=env, out=out, keyring=keyring,
                                       storage_url=db_url) == 1
    assert '"error": -144' in out.getvalue()
    out = io.StringIO()
    assert await template_test_command(config, "113", env=env, out=out, keyring=keyring, storage_url=db_url) == 2
    assert "not a Vietnamese phone number" in out.getvalue()
    assert len(tpl.sent) == 1


async def test_an_officer_whose_window_closes_within_a_day_is_nudged_once(lab):
    oa = await lab.oa_emulator()
    bot = await lab.start(oa_emu=oa)  # no template configured: the nudge is for everyone
    bot.app.scheduler.stop()
    officer = await enrol_police(bot)
    services, sessions, clock = bot.app.services, bot.app.sessions, bot.app.clock

    async def nudge() -> int:
        n = await nudge_before_the_window_closes(services, sessions, clock.now())
        bot.app.outbox.wake()
        await bot.settle()
        return n

    nudge_text = vi("To keep receiving urgent alerts here on Zalo, please send any message (for example “ok”) today.")
    clock.advance(days=5)
    assert await nudge() == 0  # two days left
    clock.advance(days=1, hours=2)  # 6 days 2 hours: it closes within a day (12:00 in the commune)
    oa.advance(days=6, seconds=2 * 3600)
    assert await nudge() == 1
    assert officer.messages[-1].text == nudge_text
    assert await nudge() == 0  # once per window
    clock.advance(hours=3)
    assert await nudge() == 0

    await officer.say("ok")  # a new window
    clock.advance(days=6, hours=1)
    oa.advance(days=6, seconds=4 * 3600)
    assert await nudge() == 1
    assert [m.text for m in officer.messages].count(nudge_text) == 2


async def test_the_admins_get_a_daily_list_of_who_an_urgent_alert_would_not_reach(lab):
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl, by_user_id=False)  # a template by phone only
    bot = await lab.start(oa_emu=oa)
    bot.app.scheduler.stop()
    await enrol_police(bot, "o5005", "Trần Công An")  # OA only, no phone: not even a template
    await enrol_police(bot, "o5007", "Lê Văn Bảo")  # OA only, with a phone: the template reaches him
    await give_phone(bot, "o5007", "+84912000777")
    async with bot.app.sessions() as s, s.begin():  # a leader enrolled on no messenger at all
        await create_person(s, now=bot.app.clock.now(), name="Nguyễn Chủ Tịch", commune_id="xuanduong",
                            roles=["leader"], villages=[], org=None)
    bot.app.clock.advance(days=8)
    oa.advance(days=8)
    admin = bot.oa_user("o9009", "Quản Trị")
    await enrol_on_oa(bot, admin, name="Đỗ Quản Trị", roles=("admin",), villages=(), org=None)
    services, sessions, clock = bot.app.services, bot.app.sessions, bot.app.clock

    async def daily() -> int:
        n = await tell_admins_who_cannot_be_reached(services, sessions, clock.now())
        bot.app.outbox.wake()
        await bot.settle()
        return n

    assert await daily() == 1
    text = admin.messages[-1].text
    assert text.startswith(vi("⚠️ An urgent alert would not reach these people right now ({count}):", count=2))
    assert "Trần Công An" in text and "Nguyễn Chủ Tịch" in text and "Lê Văn Bảo" not in text
    assert vi("{who}: no messenger linked", who=vi("{name} ({role})", name="Nguyễn Chủ Tịch",
                                                    role=vi("commune leader"))) in text
    assert "Đỗ Quản Trị" not in text  # the admin herself wrote just now
    assert await daily() == 0  # once a day
    clock.advance(days=1)
    assert await daily() == 1

    # Without the template, the officer with a phone number cannot be reached either.
    services.capabilities.pop("zalo_template")
    async with sessions() as s:
        names = [u.person.name for u in await unreachable_now(s, services, "xuanduong", clock.now())]
    assert sorted(names) == ["Lê Văn Bảo", "Nguyễn Chủ Tịch", "Trần Công An"]

    # An officer who wrote yesterday, but for whom Zalo held a message back (-230): unreachable too.
    await enrol_police(bot, "o5011", "Phạm Thị Hà")
    clock.advance(days=1)
    async with sessions() as s:
        assert "Phạm Thị Hà" not in [u.person.name for u in await unreachable_now(s, services, "xuanduong",
                                                                                    clock.now())]
    async with sessions() as s, s.begin():
        ha = (await s.scalars(select(Identity).join(Person).where(Person.name == "Phạm Thị Hà"))).one()
        s.add(HeldMessage(channel=ha.channel, account=ha.account, chat_id=ha.chat_id, payload=b"",
                          created_at=clock.now()))
    async with sessions() as s:
        names = [u.person.name for u in await unreachable_now(s, services, "xuanduong", clock.now())]
    assert sorted(names) == ["Lê Văn Bảo", "Nguyễn Chủ Tịch", "Phạm Thị Hà", "Trần Công An"]


async def test_without_the_reporters_phone_the_call_button_holds_the_communes_duty_phone(lab):
    """A call button must hold a number Zalo accepts: a reporter who skipped the phone question is
    replaced by the commune's office duty phone (config), never by words."""
    oa = await lab.oa_emulator()
    tpl = await lab.template_emulator(oa)
    lab.use(tpl)
    bot = await lab.start(oa_emu=oa)
    await enrol_police(bot)
    await give_phone(bot, "o5005", "+84912000111")
    bot.app.clock.advance(days=8)
    oa.advance(days=8)
    head = bot.oa_user("o1002", "Bình")
    await enrol_on_oa(bot, head, name="Lò Văn Bình")  # no phone given
    await head.say("/baotin")
    await head.say("có")
    [sent] = tpl.sent
    assert sent.data["sdt"] == "02083000000" and sent.data["sdt"].isdigit()  # "0208 3000 000", as dialled
