"""Drafts: written at every step, survive a restart, offered back later, expire with a notice."""



from sqlalchemy import select

from bot.app import App
from storage.models import Draft, OutboxMessage, Report
from tests.fakechannel import FakeChannel, User
from tests.helpers import enrolled, vi


async def restarted(app, config, clock, keyring, db_url) -> App:
    """A new process on the same database: nothing carried over in memory."""
    await app.engine.dispose()
    again = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    again.fake = FakeChannel()
    again.add_channel(again.fake)
    await again.prepare()
    return again


async def test_a_form_continues_after_a_restart(app, config, clock, keyring, db_url):
    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    await head.say("hôm nay")
    await head.press(vi("No"))  # not part of the gender month (the tests' clock is inside it)
    app2 = await restarted(app, config, clock, keyring, db_url)
    head2 = User(app2)
    replies = await head2.say("1")
    assert vi("What topics were covered? Choose all that apply.") in replies[-1]
    await head2.say("1 xong")
    await head2.say("30")
    await head2.say("10")
    await head2.say("20")
    await head2.say("không")
    await head2.say("xong")
    await head2.say("xác nhận")
    async with app2.sessions() as s:
        assert len((await s.scalars(select(Report))).all()) == 1
    await app2.engine.dispose()


async def test_coming_back_later_offers_continue_or_discard(app, clock):
    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    clock.advance(hours=5)
    replies = await head.say("25/11/2026")
    assert replies[0].startswith(vi("You have an unfinished draft: {form}, at {where}.",
                                    form=vi("Outreach session report"), where=vi("step {i}/{n}", i=2, n=8))[:20])
    assert [vi("Continue"), vi("Discard draft")] == head.last.labels
    again = await head.press(vi("Continue"))
    assert vi("On what date was it held? (dd/mm/yyyy, or 'hôm nay', 'hôm qua')") in again[-1]
    await head.say("/baocao")
    await head.press(vi("Discard draft"))
    async with app.sessions() as s:
        assert (await s.scalars(select(Draft))).all() == []


async def test_an_untouched_draft_expires_with_a_notice(app, clock):
    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    clock.advance(days=2, hours=23)
    assert await app.scheduler.run_due() == 0
    clock.advance(hours=2)
    assert await app.scheduler.run_due() == 1
    await app.outbox.drain()
    assert head.last.text == vi(
        "Your unfinished draft ({form}) was discarded because it was not touched for a long time. "
        "You can start again from the menu.", form=vi("Outreach session report"))
    assert head.last.reply.remove_keyboard  # a share-my-phone keyboard its question put up goes too
    async with app.sessions() as s:
        assert (await s.scalars(select(Draft))).all() == []
    # a button of the expired form now gets a polite answer
    assert (await head.press_data("f3:o0"))[0] == vi("That form has already ended.")


async def test_two_schedulers_expire_a_draft_once(app, config, clock, keyring, db_url):
    head = await enrolled(app)
    await head.say("/baocao")
    clock.advance(days=4)
    other = App(config, clock=clock, keyring=keyring, storage_url=db_url)
    import asyncio

    done = await asyncio.gather(app.scheduler.run_due(), other.scheduler.run_due())
    assert sorted(done) == [0, 1]
    async with app.sessions() as s:
        notices = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "push"))).all()
    assert len(notices) == 1
    await other.engine.dispose()


async def test_a_report_is_corrected_within_seven_days_and_the_old_version_kept(app, clock):
    head = await enrolled(app)
    from tests.helpers import walk_to_review

    await walk_to_review(head)
    await head.press(vi("Confirm"))
    listing = await head.say("/cuatoi")
    assert "BC-2026-0001" in listing[0]
    await head.press(vi("Correct {ref}", ref="BC-2026-0001"))
    await head.press("✏️ 6")  # attendances (line 3 is the campaign answer)
    await head.say("130")
    await head.press("✏️ 8")  # women
    await head.say("80")
    done = await head.press(vi("Confirm"))
    assert done[0] == vi("Report {ref} has been corrected. The earlier version is kept.", ref="BC-2026-0001")
    async with app.sessions() as s:
        rows = (await s.scalars(select(Report).order_by(Report.id))).all()
    assert [(r.ref, r.attendees_total, r.superseded_at is None) for r in rows] == [
        ("BC-2026-0001", 120, False), ("BC-2026-0001", 130, True)]
    clock.advance(days=8)
    late = await head.say("/cuatoi BC-2026-0001")
    assert late[0] == vi("Report {ref} is older than {days} days and can no longer be corrected here. Please tell the office.",
                         ref="BC-2026-0001", days=7)



async def test_cancelling_a_correction_says_the_saved_report_stays(app):
    from tests.helpers import walk_to_review

    head = await enrolled(app)
    await walk_to_review(head)
    await head.press(vi("Confirm"))
    await head.say("/cuatoi BC-2026-0001")
    cancelled = await head.say("hủy")
    assert cancelled[0] == vi("The correction has been cancelled; report {ref} stays as it was.", ref="BC-2026-0001")
    async with app.sessions() as s:
        [report] = (await s.scalars(select(Report))).all()
    assert report.attendees_total == 120 and report.superseded_at is None


async def test_a_step_writes_its_draft_at_the_commit_and_a_rollback_writes_nothing(app, clock):
    """The draft's row is written by one statement at the commit (storage/drafts.py), not by the
    ORM: what the commit wrote is what a new session reads; a rolled-back step leaves it as it was;
    a draft changed and then deleted in one transaction is simply gone."""
    from datetime import timedelta

    from storage.drafts import load_draft, save_draft

    head = await enrolled(app)
    await head.say("/baocao")
    await head.press("Thôn 3")
    async with app.sessions() as s:
        person_id, seq = (await s.execute(select(Draft.person_id, Draft.seq))).one()
    later = clock.now() + timedelta(minutes=5)
    async with app.sessions() as s, s.begin():
        draft = await load_draft(s, app.services.keyring, person_id)
        draft.state.answers["note"] = "ghi chú đã lưu"
        assert draft.bump_seq() == seq + 1
        save_draft(draft, app.services.keyring, now=later, expires_at=later + timedelta(days=1))
        assert draft.row.seq == seq + 1 and draft.row.updated_at == later  # the step sees its own change
        assert not s.dirty  # nothing for the ORM's unit of work
    async with app.sessions() as s:
        again = await load_draft(s, app.services.keyring, person_id)
        assert again.state.answers["note"] == "ghi chú đã lưu" and again.row.seq == seq + 1
        assert again.row.updated_at == later
    async with app.sessions() as s:
        async with s.begin():
            draft = await load_draft(s, app.services.keyring, person_id)
            draft.state.answers["note"] = "bị hủy"
            draft.bump_seq()
            save_draft(draft, app.services.keyring, now=later, expires_at=later)
            await s.rollback()
    async with app.sessions() as s:
        again = await load_draft(s, app.services.keyring, person_id)
        assert again.state.answers["note"] == "ghi chú đã lưu" and again.row.seq == seq + 1
    from storage.drafts import discard_draft

    async with app.sessions() as s, s.begin():
        draft = await load_draft(s, app.services.keyring, person_id)
        save_draft(draft, app.services.keyring, now=later, expires_at=later)
        await discard_draft(s, person_id, keyring=app.services.keyring)
    async with app.sessions() as s:
        assert (await s.scalars(select(Draft))).all() == []
