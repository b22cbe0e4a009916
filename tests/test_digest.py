"""The weekly digest: its figures against hand-computed expectations, its files, and its delivery
(once, to everyone, across a crash, after downtime and with two processes)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.app import App
from core.events import Reply
from handlers.office import delivery, render
from storage import digest_runs, stats
from storage.models import (
    Alert,
    AuditEntry,
    Case,
    CaseCode,
    CasePerson,
    DigestPart,
    DigestRun,
    Identity,
    OutboxMessage,
    Report,
    ReportTopic,
)
from storage.people import attach_identity, create_person
from tests.fakechannel import FakeChannel, User, declare
from tests.helpers import vi

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
W53 = stats.week_period(2026, 53)


def local(y, m, d, h=10, mi=0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ).astimezone(UTC)


async def person(app, user_id: str, roles, *, commune="xuanduong", villages=(), lang="vi", name=None):
    """Someone enrolled, without the enrolment conversation (these tests are about other things)."""
    async with app.sessions() as s, s.begin():
        p = await create_person(s, now=app.clock.now(), name=name or user_id, commune_id=commune, roles=list(roles),
                                villages=list(villages), org="village_head" if "reporter" in roles else None, lang=lang)
        p.phone_asked = True
        await attach_identity(s, p.id, channel="fake", account="test", external_id=user_id, chat_id=user_id,
                              display_name=user_id, now=app.clock.now())
        return p.id


def report(n: int, village, held: date, fmt: str, topics, total, male=None, female=None, *, campaign=None,
           superseded=False, reporter=1, commune="xuanduong") -> tuple[Report, list[str]]:
    r = Report(ref=f"BC-{held.year}-{n:04d}", commune_id=commune, village_id=village, person_id=reporter,
               org="village_head", held_on=held, format=fmt, attendees_total=total, attendees_male=male,
               attendees_female=female, campaign=campaign, created_at=local(held.year, held.month, held.day),
               superseded_at=local(2027, 1, 1) if superseded else None)
    return r, topics


def case(ref: str, created: datetime, *, kind="domestic", forms=(), people=(), perp=("male", "18_59"),
         repeat="first", measures=(), support=(), counselled=None, consent="agreed", status="new", urgent=False,
         occurred: date | None = None, updated: datetime | None = None, reporter=1):
    c = Case(ref=ref, commune_id="xuanduong", reporter_id=reporter, urgent=urgent, created_at=created,
             confirmed_at=created, updated_at=updated or created, status=status, police_routed=urgent,
             village_id="t01", occurred_on=occurred, kind=kind, people_count=len(people), perpetrator_sex=perp[0],
             perpetrator_age=perp[1], repeat=repeat, perpetrator_counselled=counselled, consent=consent)
    codes = [("forms", x) for x in forms] + [("measures", x) for x in measures] + [("support", x) for x in support]
    return c, codes, people


async def seed(app) -> dict:
    """The data set of the year-end week 2026-W53 (28/12/2026 – 03/01/2027), computed by hand in the tests."""
    reporter = await person(app, "head", ["reporter"], villages=["t01"], name="Hoàng Văn Ba")
    reports = [
        report(1, "t01", date(2026, 12, 28), "meeting", ["gender_equality", "domestic_violence"], 100, 40, 60),
        report(2, "t02", date(2027, 1, 3), "household", ["domestic_violence"], 50, 20, 30),
        report(3, "t02", date(2027, 1, 3), "household", ["domestic_violence"], 50, 20, 30),  # a likely duplicate
        report(4, "t03", date(2026, 12, 30), "loudspeaker", ["gender_equality"], 80, 30, 45),  # 30 + 45 != 80
        report(5, None, date(2026, 12, 31), "launch", ["gender_equality"], 1200),  # not counted by sex
        report(6, "t01", date(2026, 12, 28), "meeting", ["gender_equality"], 999, 1, 998, superseded=True),
        report(7, "t04", date(2026, 12, 15), "meeting", ["gender_equality"], 40, 10, 30, campaign="gender_month"),
        report(8, "t05", date(2026, 1, 2), "meeting", ["domestic_violence"], 30, 10, 20),
        report(9, "t05", date(2025, 12, 29), "meeting", ["domestic_violence"], 10, 5, 5),  # ISO 2026-W01
        report(10, "t06", date(2025, 12, 28), "meeting", ["domestic_violence"], 1000, 500, 500),  # ISO 2025
    ]
    cases = [
        case("HS-2026-0001", local(2026, 12, 29), urgent=True, forms=("physical", "psychological"),
             people=(("female", "16_59"), ("female", "u16"), ("male", "60p")), repeat="repeat",
             measures=("stop_order", "mediation"), support=("medical",), counselled="yes", status="verifying",
             occurred=date(2026, 12, 28)),
        case("HS-2027-0001", local(2027, 1, 2, 9), forms=("economic",), people=(("female", "60p"),),
             perp=("female", "18_59"), measures=("none",), support=("none",), counselled="no", consent="refused"),
        case("HS-2026-0002", local(2026, 12, 31), urgent=True, kind="sexual_abuse", forms=("sexual",),
             people=(("female", "u16"),), perp=("male", "60p"), repeat="repeat", support=("counselling", "legal"),
             counselled="unknown", status="handling", occurred=date(2026, 12, 30)),
        case("HS-2026-0003", local(2026, 6, 10), people=(("female", "16_59"), ("male", "u16")), repeat="repeat",
             support=("none",), counselled="yes", status="monitoring", occurred=date(2026, 6, 9)),
        case("HS-2025-0009", local(2025, 12, 20), people=(("female", "16_59"),), support=("medical",),
             status="closed", occurred=date(2025, 12, 19)),
        case("HS-2026-0004", local(2026, 3, 1), people=(("female", "16_59"),), support=("medical",),
             counselled="yes", status="not_dv", occurred=date(2026, 3, 1)),
    ]
    async with app.sessions() as s, s.begin():
        refs = {}
        for r, topics in reports:
            r.person_id = reporter
            s.add(r)
            await s.flush()
            refs[r.ref] = r.id
            for t in topics:
                s.add(ReportTopic(report_id=r.id, topic=t))
        for c, codes, people in cases:
            c.reporter_id = reporter
            s.add(c)
            await s.flush()
            for field, code in codes:
                s.add(CaseCode(case_id=c.id, field=field, code=code))
            for i, (sex, age) in enumerate(people, 1):
                s.add(CasePerson(case_id=c.id, position=i, sex=sex, age_group=age))
            if c.ref == "HS-2026-0001":
                s.add(Alert(case_id=c.id, kind="urgent", recipient_id=reporter, role="office", created_at=c.created_at,
                            acknowledged_by=reporter, acknowledged_at=c.created_at))
    return {"reporter": reporter}


async def test_the_year_end_week_counts_every_section_by_hand(app, config):
    await seed(app)
    commune = config.communes[0]
    # Calendar year everywhere: the week keeps its ISO number, its year to date starts on 01/01 of the
    # year of its last day, and it also gives the final totals of the year it closes.
    assert (W53.start, W53.end, W53.ytd_start, W53.closed_year) == (date(2026, 12, 28), date(2027, 1, 3),
                                                                   date(2027, 1, 1), 2026)
    now = local(2027, 1, 4, 8)
    async with app.sessions() as s:
        f = await stats.figures(s, commune, W53, now=now)
    o = f.outreach
    assert (o.sessions, o.total, o.male, o.female, o.counted) == (5, 1480, 110, 165, 280)
    assert f.reported == ["t01", "t02", "t03"]
    assert {k: v.sessions for k, v in f.by_format.items()} == {"meeting": 1, "household": 2, "loudspeaker": 1,
                                                               "launch": 1}
    assert f.by_topic == {"gender_equality": 3, "domestic_violence": 3}
    # 2027 so far: reports 2 and 3 (03/01/2027), 50 + 50.
    assert (f.ytd.sessions, f.ytd.total) == (2, 100)
    assert [n for n, _ in f.thin_villages if n == "Thôn 2"] == []
    assert ("Thôn 5", 0) in f.thin_villages and ("Thôn 1", 0) in f.thin_villages and len(f.thin_villages) == 21
    assert f.campaigns == []  # the Action Month ended on 15/12
    # 2026's final totals: reports 1, 4, 5, 7 and 8 (report 6 is superseded, 9 and 10 are of 2025):
    # 100 + 80 + 1.200 + 40 + 30 = 1.450; men 40 + 30 + 10 + 10 = 90; women 60 + 45 + 30 + 20 = 155 of the
    # 250 counted by sex (1.200 not counted).
    y = f.closed_year.outreach
    assert (f.closed_year.year, y.sessions, y.total, y.male, y.female, y.counted) == (2026, 5, 1450, 90, 155, 250)
    c = f.cases
    assert (c.new, c.urgent, c.urgent_acknowledged) == (3, 2, 1)
    assert c.by_kind == {"domestic": 2, "sexual_abuse": 1}
    assert c.by_form == {"physical": 1, "psychological": 1, "economic": 1, "sexual": 1}
    assert c.people == {("female", "16_59"): 1, ("female", "u16"): 2, ("male", "60p"): 1, ("female", "60p"): 1}
    assert c.perpetrators == {"male": 2, "female": 1}
    assert c.measures == {"stop_order": 1, "mediation": 1, "none": 1}
    assert (c.repeat_adults, f.cases_ytd.repeat_adults) == (2, 0)  # 2027's one case was a first time
    assert (f.open_cases, f.stale_cases) == (5, 2)
    # NQ 28 over 2027 so far: HS-2027-0001 alone (its one person got no support; not counselled).
    assert f.supported == (0, 1) and f.counselled == (0, 1)
    q = f.quality
    assert (q.mismatched, q.uncounted, q.undated_cases, q.duplicates) == (
        ["BC-2026-0004"], ["BC-2026-0005"], 1, [["BC-2027-0002", "BC-2027-0003"]])

    text = render.digest_text("vi", f, commune.name, today=date(2027, 1, 4))
    assert "báo cáo không đếm theo giới (1): BC-2026-0005" in text  # which one, for the office to ask about
    assert text.startswith("BẢN TIN TỔNG HỢP TUẦN 53/2026 (28/12/2026 – 03/01/2027) — UBND xã Xuân Dương")
    assert vi("{reported}/{villages} villages have reported.", reported="3", villages="22") in text
    assert "0/1 (0,0%) — chỉ tiêu 90% đến năm 2030" in text and "0/1 (0,0%) — chỉ tiêu 70% đến năm 2030" in text
    assert "Từ đầu năm (01/01/2027 – 03/01/2027): 2 buổi, 100 lượt người tham dự" in text
    # The village lines add up to the week's 5 sessions: the commune-wide launch has its own line.
    assert "• Toàn xã / liên thôn: 1 buổi, 1.200 lượt người · 0 buổi" in text
    assert ("Tổng kết năm 2026 (01/01/2026 – 31/12/2026)\nTuyên truyền: 5 buổi, 1.450 lượt người tham dự: nam 90, "
            "nữ 155/250 lượt được đếm theo giới (62,0%), 1.200 lượt không đếm theo giới") in text
    # A one-day observance is "on" its date, and its name does not repeat the date.
    assert vi("{campaign} is on {date} — {days} days left.", campaign=vi("International Women's Day"),
              date="08/3/2027", days="63") in text and "8/3 bắt đầu" not in text
    assert ("Trong tuần, trên địa bàn xã đã tổ chức 5 buổi tuyên truyền về bình đẳng giới, phòng, chống bạo lực gia "
            "đình tại 3/22 thôn với 1.480 lượt người tham dự, trong đó nữ 165/280 lượt được đếm theo giới (58,9%), "
            "1.200 lượt không đếm theo giới") in text
    for secret in ("Chồng", "description"):
        assert secret not in text


async def test_the_data_quality_section_lists_what_the_form_now_refuses_or_asks_about(app, config):
    """Reports stored before the form's checks (or corrected around them): more young people or ethnic
    minority than attendances, and more than 1.000 attendances at one session."""
    reporter = await person(app, "head", ["reporter"], villages=["t01"])
    rows = [
        report(1, "t01", date(2026, 11, 23), "meeting", ["gender_equality"], 50, 20, 30),  # youth 60 of 50
        report(2, "t02", date(2026, 11, 24), "meeting", ["gender_equality"], 50, 20, 30),  # ethnic minority 100
        report(3, "t03", date(2026, 11, 25), "launch", ["gender_equality"], 1500, 700, 800),
        report(4, "t04", date(2026, 11, 26), "meeting", ["gender_equality"], 1000, 500, 500),  # 1.000: fine
        report(5, "t05", date(2026, 11, 27), "meeting", ["gender_equality"], 50, 20, 30),  # all counts fine
        report(6, None, date(2026, 11, 28), "launch", ["gender_equality"], 2400),
        report(7, "t06", date(2026, 11, 27), "meeting", ["gender_equality"], 40, 10, 30, superseded=True),
    ]
    rows[0][0].youth = 60
    rows[1][0].ethnic_minority, rows[1][0].youth = 100, 10
    rows[4][0].youth, rows[4][0].ethnic_minority = 50, 50
    rows[6][0].youth = 99  # a superseded version does not count
    async with app.sessions() as s, s.begin():
        for r, topics in rows:
            r.person_id = reporter
            s.add(r)
            await s.flush()
            for t in topics:
                s.add(ReportTopic(report_id=r.id, topic=t))
    commune = config.communes[0]
    week = stats.week_period(2026, 48)
    async with app.sessions() as s:
        f = await stats.figures(s, commune, week, now=local(2026, 11, 30, 8))
    assert f.quality.over_total == ["BC-2026-0001", "BC-2026-0002"]
    assert f.quality.large == ["BC-2026-0003", "BC-2026-0006"]
    text = render.digest_text("vi", f, commune.name, today=date(2026, 11, 30))
    quality = text.split(vi("6. Data quality"))[1].split(vi("7. Paragraph for the report"))[0]
    assert vi("young people or ethnic minority above the total: {refs}", refs="BC-2026-0001, BC-2026-0002") in quality
    assert vi("more than {n} attendances at one session, to check: {refs}", n="1.000",
              refs="BC-2026-0003, BC-2026-0006") in quality
    assert "BC-2026-0004" not in quality and "BC-2026-0005" not in quality


def test_people_of_unknown_age_are_named_so_in_the_digest():
    line = render._people_table(render.Words("vi"), {("female", "unknown"): 2, ("male", "u16"): 1},
                                render.OFFICIAL_SUBJECTED_AGES)
    assert f"{vi('Female')}: " in line and f"{vi('age not known')} 2" in line and "unknown" not in line


async def test_a_campaign_week_has_campaign_totals_and_the_heading_of_decree_30(app, config):
    await seed(app)
    commune = config.communes[0]
    week = stats.week_period(2026, 51)
    async with app.sessions() as s:
        f = await stats.figures(s, commune, week, now=local(2026, 12, 21, 8))
    (c,) = f.campaigns
    assert (c.code, c.start, c.end, c.upto, c.closed, c.held.sessions, c.held.total, c.tagged.sessions) == (
        "gender_month", date(2026, 11, 15), date(2026, 12, 15), date(2026, 12, 15), True, 1, 40, 1)
    text = render.digest_text("vi", f, commune.name, today=date(2026, 12, 21))
    assert ("Tháng hành động vì bình đẳng giới (15/11/2026 – 15/12/2026), kết quả: buổi được đánh dấu thuộc đợt: "
            "1 buổi, 40 lượt người tham dự") in text
    assert render.heading("vi", stats.week_period(2026, 48), commune.name) == \
        "BẢN TIN TỔNG HỢP TUẦN 48/2026 (23/11 – 29/11/2026) — UBND xã Xuân Dương"
    assert render.span(stats.week_period(2026, 6)) == "02/02 – 08/02/2026"


async def officers(app, n=3) -> list[int]:
    return [await person(app, f"o{i}", ["office"] if i else ["leader"]) for i in range(n)]


def digests(app, user: str) -> list[str]:
    return [m.text for m in app.fake.chats.get(user, []) if m.text.startswith("BẢN TIN TỔNG HỢP TUẦN 48/2026")]


async def test_a_crash_while_sending_loses_no_recipient(app, config, clock, keyring, db_url):
    await officers(app)
    async with app.sessions() as s, s.begin():
        s.add(DigestRun(commune_id="xuanduong", week="2026-W47", claimed_at=clock.now(), missed=[], recipients=3))
    clock.set(local(2026, 11, 30, 7, 31))
    assert await delivery.send_weekly_digests(app.services, app.sessions, clock.now()) == 3
    await app.outbox.deliver_due(limit=1)  # one delivered and recorded
    (in_flight,) = await app.outbox._claim(1)  # one sent, but the process dies before recording it
    await app.fake.send(in_flight.chat_id, Reply.from_dict(json.loads(keyring.decrypt(in_flight.payload))))
    first = app.fake
    await app.engine.dispose()

    restarted = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    restarted.add_channel(FakeChannel())
    await restarted.prepare()
    restarted.fake = restarted.outbox.channels["fake"]
    clock.advance(minutes=3)
    assert await restarted.scheduler.run_due() == 0  # the run is claimed: nothing is queued again
    await restarted.outbox.drain()
    counts = [len(digests(restarted, f"o{i}")) + len([m for m in first.chats.get(f"o{i}", [])
                                                      if m.text.startswith("BẢN TIN")]) for i in range(3)]
    assert sorted(counts) == [1, 1, 2]  # everyone has it; only the one in flight twice
    await restarted.engine.dispose()


async def test_a_crash_between_batches_is_finished_by_the_next_run_and_repeats_nobody(
        any_app, config, clock, keyring, monkeypatch):
    """The recipients are queued a batch at a time, each batch its own transaction (so an urgent
    alert never waits behind 3,000 of them): a process that dies after the first batch leaves the
    rest to the next run of the job, which queues them and nobody twice. On SQLite (one process)
    the restarted bot takes the run up at its first pass; on PostgreSQL another replica may still
    be queueing it, so it is left alone for two minutes after its claim."""
    app = any_app
    url = app.engine.url.render_as_string(hide_password=False)
    sqlite = app.engine.dialect.name == "sqlite"
    await officers(app, 5)
    async with app.sessions() as s, s.begin():
        s.add(DigestRun(commune_id="xuanduong", week="2026-W47", claimed_at=clock.now(), missed=[], recipients=3))
    monkeypatch.setattr(delivery, "BATCH", 2)
    real, calls = digest_runs.queue_batch, []

    async def dies_at_the_second_batch(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise ConnectionResetError("the process died")
        return await real(*args, **kwargs)

    monkeypatch.setattr(digest_runs, "queue_batch", dies_at_the_second_batch)
    clock.set(local(2026, 11, 30, 7, 31))
    with pytest.raises(ConnectionResetError):
        await delivery.run_scheduled(app.services, app.sessions, config.communes[0], clock.now())
    monkeypatch.setattr(digest_runs, "queue_batch", real)
    await app.outbox.drain()
    assert [len(digests(app, f"o{i}")) for i in range(5)] == [1, 1, 0, 0, 0]
    await app.engine.dispose()

    restarted = App(config, clock=clock, keyring=keyring, storage_url=url)
    restarted.add_channel(FakeChannel())
    await restarted.prepare()
    restarted.fake = restarted.outbox.channels["fake"]
    clock.advance(minutes=1)
    if not sqlite:  # another replica might still be queueing it: left alone
        assert await delivery.send_weekly_digests(restarted.services, restarted.sessions, clock.now()) == 0
        clock.advance(minutes=2)
    assert await delivery.send_weekly_digests(restarted.services, restarted.sessions, clock.now()) == 3
    assert await delivery.send_weekly_digests(restarted.services, restarted.sessions, clock.now()) == 0
    await restarted.outbox.drain()
    assert [len(digests(restarted, f"o{i}")) for i in range(5)] == [0, 0, 1, 1, 1]  # with the first two: once each
    # The rest got the very messages the first two did (stored once for their kind of reader), links included.
    assert {digests(restarted, f"o{i}")[0] for i in range(2, 5)} == {digests(app, "o0")[0]}
    assert vi("(The links work for {days} days.)", days=7) in digests(app, "o0")[0]
    async with restarted.sessions() as s:
        run = await s.scalar(select(DigestRun).where(DigestRun.week == "2026-W48"))
        assert (run.recipients, run.queued_through) == (5, None)
        assert await s.scalar(select(func.count()).select_from(DigestPart)) == 0
    await restarted.engine.dispose()


async def test_a_batch_another_process_queued_is_not_queued_again(app, clock, keyring):
    """Two processes finishing the same run: the batch's claim on the run's progress lets one
    queue it."""
    ids = await officers(app, 2)
    async with app.sessions() as s, s.begin():
        run = await digest_runs.claim(s, "xuanduong", "2026-W48", clock.now(), [])
        identities = {i.person_id: i for i in (await s.scalars(select(Identity))).all()}
        digest_runs.add_parts(s, keyring, run.id, "vi|inside|fake", [Reply(text="p1"), Reply(text="p2")], clock.now())
    readers = [(pid, "vi|inside|fake", identities[pid]) for pid in ids]
    async with app.sessions() as s, s.begin():
        assert await digest_runs.queue_batch(s, run.id, 0, readers[:1], now=clock.now(), last=False)
    async with app.sessions() as s, s.begin():  # the other process, still thinking nothing was queued
        assert not await digest_runs.queue_batch(s, run.id, 0, readers[:1], now=clock.now(), last=False)
    async with app.sessions() as s, s.begin():
        assert await digest_runs.queue_batch(s, run.id, ids[0], readers[1:], now=clock.now(), last=True)
    async with app.sessions() as s:
        rows = (await s.execute(select(OutboxMessage.person_id, OutboxMessage.payload, OutboxMessage.kind)
                                .order_by(OutboxMessage.id))).all()
        shown = [(pid, json.loads(keyring.decrypt(payload))["text"], kind) for pid, payload, kind in rows]
        assert shown == [(ids[0], "p1", "digest"), (ids[0], "p2", "digest"),
                         (ids[1], "p1", "digest"), (ids[1], "p2", "digest")]
        assert (await s.get(DigestRun, run.id)).queued_through is None


@pytest.mark.parametrize("last_sent, missed_note", [("2026-W47", None), ("2026-W46", "47/2026")])
async def test_started_two_days_after_a_missed_monday_the_digest_goes_out_once(app, clock, last_sent, missed_note):
    await officers(app, 1)
    async with app.sessions() as s, s.begin():
        s.add(DigestRun(commune_id="xuanduong", week=last_sent, claimed_at=clock.now(), missed=[], recipients=1))
    clock.set(local(2026, 12, 2, 10))  # Wednesday; Monday 30/11 07:30 passed while the bot was down
    await app.scheduler.run_due()
    clock.advance(minutes=5)
    app.scheduler._last.clear()
    await app.scheduler.run_due()
    await app.outbox.drain()
    (text,) = digests(app, "o0")
    note = vi("(The digests of weeks {weeks} could not be sent while the system was down; this is the latest.)",
              weeks=missed_note or "")
    assert (note in text) == bool(missed_note)
    async with app.sessions() as s:
        assert (await s.scalars(select(DigestRun.week).order_by(DigestRun.week))).all() == [last_sent, "2026-W48"]


async def test_a_new_installation_does_not_send_an_old_week(app, clock):
    await officers(app, 1)
    clock.set(local(2026, 12, 2, 10))
    assert await delivery.send_weekly_digests(app.services, app.sessions, clock.now()) == 0
    clock.set(local(2026, 12, 7, 7, 30))
    assert await delivery.send_weekly_digests(app.services, app.sessions, clock.now()) == 1


async def test_two_processes_send_the_digest_once(any_app, config, clock, keyring):
    app = any_app
    await officers(app)
    async with app.sessions() as s, s.begin():
        s.add(DigestRun(commune_id="xuanduong", week="2026-W47", claimed_at=clock.now(), missed=[], recipients=3))
    other = App(config, clock=clock, keyring=keyring, storage_url=app.engine.url.render_as_string(hide_password=False))
    clock.set(local(2026, 11, 30, 7, 30))
    done = await asyncio.gather(delivery.send_weekly_digests(app.services, app.sessions, clock.now()),
                                delivery.send_weekly_digests(other.services, other.sessions, clock.now()))
    assert sorted(done) == [0, 3]
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "digest")) == 3
    await other.engine.dispose()


async def test_the_excel_file_is_typed_and_its_totals_are_the_digests(app, config, clock, monkeypatch):
    declare(app, app.fake, files=True, file_types=("*",))
    await seed(app)
    await person(app, "office", ["office"])
    clock.set(local(2027, 1, 4, 8))
    office = User(app, "office")
    replies = await office.say("/xuat 2026-W53")
    # answered at once; the files follow when the exports job has built them (handlers/office/exports.py)
    assert replies[0] == "Đang chuẩn bị tệp số liệu từ 28/12/2026 đến 03/01/2027… Tệp sẽ được gửi vào đây ngay khi xong."
    assert replies[1].startswith(vi("Export {start} – {end}: {n} outreach reports", start="28/12/2026",
                                    end="03/01/2027", n="5"))
    book = load_workbook(io.BytesIO(office.messages[-2].reply.file[1]))
    assert office.messages[-1].reply.file[0].endswith(".csv")
    sheet = book[vi("Outreach")]  # the first sheet is the report form (tests/test_report_form.py)
    data = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(data) == 5 and all(isinstance(r[3], datetime) for r in data)
    assert sheet.cell(2, 4).number_format == "DD/MM/YYYY"
    async with app.sessions() as s:
        f = await stats.figures(s, config.communes[0], W53, now=clock.now())
    col = {c.value: i for i, c in enumerate(sheet[1])}
    totals = [sum(r[col[vi(h)]] or 0 for r in data) for h in ("Attendances (total)", "Men", "Women")]
    assert [len(data), *totals] == [f.outreach.sessions, f.outreach.total, f.outreach.male, f.outreach.female]
    assert all(isinstance(r[col[vi("Attendances (total)")]], int) for r in data)
    cases = book.worksheets[-1]
    assert [r[0] for r in cases.iter_rows(min_row=2, values_only=True)] == ["HS-2026-0001", "HS-2026-0002"]
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "export")) == 1


async def test_channels_without_files_get_a_signed_expiring_link(app, clock, keyring):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    await officers(app, 1)
    async with app.sessions() as s, s.begin():
        s.add(DigestRun(commune_id="xuanduong", week="2026-W47", claimed_at=clock.now(), missed=[], recipients=1))
    clock.set(local(2026, 11, 30, 7, 31))
    await delivery.send_weekly_digests(app.services, app.sessions, clock.now())
    await app.outbox.drain()
    (text,) = digests(app, "o0")
    url = text.split(vi("Excel file: {xlsx}\nChart: {png}\n(The links work for {days} days.)", xlsx="§", png="§",
                        days=7).split("§")[0])[1].split("\n")[0]
    path = url.split("8080", 1)[1]
    server = web.Application()
    from bot.http import domain_routes
    from handlers.registry import ROUTES

    server.add_routes(domain_routes([r for r in ROUTES if r.path == "/files/{token}"], app.services, app.sessions))
    async with TestClient(TestServer(server)) as client:
        ok = await client.get(path)
        assert ok.status == 200 and (await ok.read())[:2] == b"PK"  # an xlsx is a zip
        assert (await client.get(path[:-6] + "AAAAAA")).status == 403
        clock.advance(days=8)
        assert (await client.get(path)).status == 403
