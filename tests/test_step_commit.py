"""PostgreSQL writes a step's draft, replies and done mark in one statement (storage/step_commit.py):
what is stored must be what the separate statements stored, and an event another replica handled
meanwhile must leave nothing behind."""

from __future__ import annotations

from sqlalchemy import func, select, update

from handlers import dispatch
from storage.models import Draft, InboxEvent, OutboxMessage
from tests.helpers import app_on, enrolled


async def _draft_state(app) -> bytes:
    async with app.sessions() as s:
        return await s.scalar(select(Draft.state).where(Draft.slot == "active"))


async def test_an_event_handled_meanwhile_by_another_replica_leaves_no_reply_and_no_draft_change(
        config, clock, keyring, pg_url, monkeypatch):
    app = await app_on(config, clock, keyring, pg_url)
    try:
        user = await enrolled(app)
        await user.say("/baocao")
        assert "thôn" in user.last.text.lower()
        before_state = await _draft_state(app)
        async with app.sessions() as s:
            outbox_before = await s.scalar(select(func.count()).select_from(OutboxMessage))
        real = dispatch.handle

        async def handled_elsewhere_meanwhile(ctx):
            await real(ctx)
            # Another replica marks the same event done and commits while this step is running.
            async with app.sessions() as other, other.begin():
                await other.execute(update(InboxEvent).where(InboxEvent.id == ctx.inbox_id)
                                    .values(processed_at=ctx.at, payload=None))

        monkeypatch.setattr(dispatch, "handle", handled_elsewhere_meanwhile)
        shown = await user.press("Thôn 3")
        assert shown == []  # this replica's answer was rolled back: the other one answered
        assert await _draft_state(app) == before_state  # and its draft change with it
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before
            assert await s.scalar(select(func.count()).select_from(InboxEvent)
                                  .where(InboxEvent.processed_at.is_(None))) == 0
        monkeypatch.setattr(dispatch, "handle", real)
        # The next step reads the draft as it was and goes on.
        shown = await user.press("Thôn 3")
        assert any("hôm qua" in t.lower() for t in shown), shown
    finally:
        await app.engine.dispose()


async def test_a_step_with_several_replies_stores_each_once_in_order(config, clock, keyring, pg_url):
    """Saving a report queues the thanks and the menu; each row gets its own id, in the order queued,
    and each is delivered once."""
    from tests.helpers import walk_to_review

    app = await app_on(config, clock, keyring, pg_url)
    try:
        user = await enrolled(app)
        await walk_to_review(user)
        shown = await user.press("Xác nhận")
        assert len(shown) >= 2, shown
        async with app.sessions() as s:
            rows = (await s.execute(select(OutboxMessage.id, OutboxMessage.delivered_at)
                                    .where(OutboxMessage.chat_id == user.user_id)
                                    .order_by(OutboxMessage.id.desc()).limit(len(shown)))).all()
        assert all(r.delivered_at is not None for r in rows)
        assert len({r.id for r in rows}) == len(shown)
        # What the person sees, in the order the step queued it: the thanks before the menu.
        assert "cảm ơn" in shown[0].lower() or "đã lưu" in shown[0].lower(), shown
    finally:
        await app.engine.dispose()
