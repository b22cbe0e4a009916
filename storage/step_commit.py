"""PostgreSQL: a step's last writes in one statement, one round trip.

At the end of a step three writes were left, each a round trip to the server: the draft's new
state, the replies queued for the outbox, and the mark that the event is handled (conditional:
another replica may have handled it meanwhile). On PostgreSQL they go as one statement, the first
two as data-modifying WITH clauses of the third:

    WITH d AS (UPDATE drafts ...), o AS (INSERT INTO outbox_messages SELECT unnest(...) ... RETURNING id)
    UPDATE inbox_events SET processed_at = ... WHERE id = ... AND processed_at IS NULL
    RETURNING (SELECT array_agg(o.id) FROM o)

The clauses run whether the event was still pending or not; when it was not, no row comes back,
the caller rolls the transaction back and none of it stays. Statements are built once per shape
(whether there are replies, whether a draft changed) and kept. Anything else (SQLite, a step that changed
two drafts) writes as before: storage/drafts.py and storage/outbox.py at the commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert

from storage import drafts, outbox
from storage.models import Draft, InboxEvent, OutboxMessage, UtcDateTime

_INBOX = InboxEvent.__table__
_DRAFTS = Draft.__table__
_OUTBOX = OutboxMessage.__table__
MAX_ROWS = 200  # replies in one statement; a step that queues more (a broadcast) writes them apart
_BUILT: dict[tuple[bool, bool], object] = {}


def _statement(rows: bool, draft: bool):
    key = (rows, draft)
    if key not in _BUILT:
        done = (update(_INBOX).where(_INBOX.c.id == bindparam("m_id"), _INBOX.c.processed_at.is_(None))
                .values(processed_at=bindparam("m_now", type_=UtcDateTime), payload=None, error=None))
        if draft:
            done = done.add_cte(
                update(_DRAFTS).where(_DRAFTS.c.id == bindparam("d_id"))
                .values(state=bindparam("d_state", type_=_DRAFTS.c.state.type),
                        seq=bindparam("d_seq", type_=_DRAFTS.c.seq.type),
                        updated_at=bindparam("d_updated", type_=UtcDateTime),
                        expires_at=bindparam("d_expires", type_=UtcDateTime))
                .cte("d"))
        if rows:
            # The rows as one array per column, unnested side by side in their order: one statement
            # for any number of rows (a multi-row VALUES is compiled again at every execution).
            unnested = select(*[func.unnest(bindparam(f"o_{c}", type_=ARRAY(_OUTBOX.c[c].type)))
                                for c in outbox.COLUMNS])
            queued = (insert(_OUTBOX).from_select(list(outbox.COLUMNS), unnested)
                      .returning(_OUTBOX.c.id).cte("o"))
            done = done.add_cte(queued).returning(select(func.array_agg(queued.c.id)).scalar_subquery())
        else:
            done = done.returning(_INBOX.c.id)
        _BUILT[key] = done
    return _BUILT[key]


def finish(session, inbox_id: int, now: datetime) -> bool:
    """(A sync Session: run it with AsyncSession.run_sync.) The step's draft, replies and done mark
    written; False if the event was handled already (the caller rolls back)."""
    session.flush()  # the ORM's own rows first: a person enrolled in this step, a report saved
    changed = drafts.take_writes(session)
    if len(changed) > 1:  # two drafts (a form paused for another): written apart, as at the commit
        drafts.write(session, changed)
        changed = []
    rows = outbox.unwritten(session)
    if len(rows) > MAX_ROWS:
        outbox.write(session, rows)
        rows = []
    params: dict = {"m_id": inbox_id, "m_now": now}
    if changed:
        d = changed[0]
        params.update(d_id=d["p_id"], d_state=d["p_state"], d_seq=d["p_seq"], d_updated=d["p_updated"],
                      d_expires=d["p_expires"])
    if rows:
        for c in outbox.COLUMNS:
            params[f"o_{c}"] = [getattr(row, c) for row in rows]
    found = session.execute(_statement(bool(rows), bool(changed)), params).first()
    if found is None:
        return False
    if rows:
        ids = sorted(found[0] or ())  # one id per row, given in the order of the arrays
        if len(ids) != len(rows):
            raise RuntimeError(f"{len(rows)} replies queued, {len(ids)} ids returned")
        for row, row_id in zip(rows, ids, strict=True):
            row.id = row_id
    return True
