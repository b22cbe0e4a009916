"""Sending the weekly digest: who receives it, the claim that makes it go out once, the files.

A scheduled run reads the figures and the recipients in one short transaction and builds the
files with no transaction open (a workbook takes about a second; held inside a transaction it
would hold SQLite's single write lock, and the urgent path with it). It then claims (commune,
week) by inserting its row, in the transaction that stores each kind of reader's messages once
(storage/digest_runs.py), and queues the recipients BATCH at a time, each batch a short
transaction of its own that records how far the run got: a crash between batches leaves the rest
to the next run of the job, which queues them and repeats nobody. The outbox then delivers; only
a message in flight at a crash can arrive twice. After downtime only the latest due week is sent,
noting the weeks missed. /guitin and the CLI queue a digest in the step's own transaction
(queue_digest).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select

from core.config import WeeklyAt
from core.events import PLAIN, Reply
from core.i18n import translate
from handlers.context import ChatAddress, Outgoing
from handlers.office import files, form_pdf, links, render
from handlers.registry import job
from storage import digest_runs, stats
from storage.db import engine_of, reading
from storage.models import DigestRun, DigestSubscription, Identity, Person, PersonRole
from storage.people import delivery_orders

DIGEST_ROLES = ("office", "leader")
MAX_MISSED = 52
BATCH = 500  # recipients queued per transaction: a few tens of milliseconds of the write lock
# A run still half queued this long after its claim was left by a crash (PostgreSQL: another replica
# may still be queueing it). On SQLite there is one process: a run it is not queueing now is left
# by a crash or a failed batch, and is taken up at the job's next pass.
RESUME_AFTER = timedelta(minutes=2)
FIRST_GRACE = timedelta(hours=24)
PNG = "image/png"

log = logging.getLogger(__name__)


def digest_moment(period: stats.Period, at: WeeklyAt, tz) -> datetime:
    """When a week's digest is due: the configured weekday and time after the week ended."""
    return datetime.combine(period.start + timedelta(days=7 + at.weekday), time(at.hour, at.minute), tz)


def due_week(local_now: datetime, at: WeeklyAt) -> stats.Period:
    """The latest week whose digest moment has come."""
    last = stats.week_of(local_now.date() - timedelta(days=7))
    if local_now >= digest_moment(last, at, local_now.tzinfo):
        return last
    return stats.week_of(last.start - timedelta(days=1))


def weeks_between(last: str, due: stats.Period) -> list[str]:
    """The week keys after `last` and before `due`: the ones downtime swallowed."""
    year, week = last.split("-W")
    start = date.fromisocalendar(int(year), int(week), 1) + timedelta(days=7)
    out = []
    while start < due.start:
        out.append(stats.week_of(start).week_key)
        start += timedelta(days=7)
    return out[-MAX_MISSED:]


async def digest_recipients(session, commune_id: str) -> list[int]:
    """The commune's office and leaders (unless they unsubscribed), and everyone subscribed with
    /bantin whose commune it is or who belongs to none (province officers)."""
    opted_out = select(DigestSubscription.person_id).where(DigestSubscription.subscribed.is_(False))
    by_role = (
        select(Person.id).join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.commune_id == commune_id, Person.active.is_(True), PersonRole.role.in_(DIGEST_ROLES),
               Person.id.not_in(opted_out))
    )
    subscribed = (
        select(Person.id).join(DigestSubscription, DigestSubscription.person_id == Person.id)
        .where(DigestSubscription.subscribed.is_(True), Person.active.is_(True),
               or_(Person.commune_id == commune_id, Person.commune_id.is_(None)))
    )
    ids = set((await session.scalars(by_role)).all()) | set((await session.scalars(subscribed)).all())
    return sorted(ids)


class Attachments:
    """The workbook, chart and report form of one digest, made once per language and reader (inside
    the commune, or outside it, where case counts of 1 or 2 read "<3") and stored once for links.

    Per channel, by what it takes (its capabilities, never its name): the workbook and the chart
    into the chat (Telegram); else the workbook as a signed link, and the report form as a PDF and
    the chart as an image where the channel takes those (a Zalo Official Account uploads PDF, JPG
    and PNG, never XLSX; the Zalo Bot sends an image by its public URL), each carrying its own link
    in words (`Reply.instead`) for the adapter to send when the upload fails; else links only."""

    def __init__(self, session, services, commune, figures: stats.Figures, *, now: datetime) -> None:
        # `session`: where the rows are read and the links stored; it may be changed between the
        # two (read in one transaction, files built with none open, links stored in the next).
        self.session, self.services, self.commune, self.figures, self.now = session, services, commune, figures, now
        self._rows: list | None = None
        self._others: dict = {}
        self._made: dict[tuple[str, bool], tuple[bytes, bytes]] = {}
        self._forms: dict[tuple[str, bool], bytes] = {}
        self._links: dict[tuple[str, bool, str], str] = {}

    @property
    def name(self) -> str:
        return f"ban-tin-{self.figures.period.week_key}-{self.commune.id}"

    async def read(self) -> None:
        """The report rows the workbook is made of, read once."""
        if self._rows is None:
            period = self.figures.period
            self._rows = await stats.report_rows(self.session, [self.commune.id], period.start, period.end)
            self._others = await files.other_answers(self.session, [self.commune.id], period.start, period.end)

    async def build(self, variants) -> None:
        """The files for each (lang, small, channel) a recipient reads on, no database needed."""
        for lang, small, channel in sorted(set(variants)):
            await self.made(lang, small)
            caps = self.services.capabilities.get(channel, PLAIN)
            if not caps.takes(files.XLSX) and caps.takes(form_pdf.PDF):
                await self.form(lang, small)

    async def made(self, lang: str, small: bool = False) -> tuple[bytes, bytes]:
        if (lang, small) not in self._made:
            await self.read()
            names = {(self.commune.id, v.id): v.name for v in self.commune.villages}
            self._made[(lang, small)] = (
                await files.built(files.workbook, lang, self._rows, names, figures=self.figures, commune=self.commune,
                                  others=self._others, now=self.now, small=small),
                await files.built(files.chart, lang, self.figures, self.commune.name))
        return self._made[(lang, small)]

    async def form(self, lang: str, small: bool = False) -> bytes:
        """The workbook's form sheet as a PDF (handlers/office/form_pdf.py)."""
        if (lang, small) not in self._forms:
            self._forms[(lang, small)] = await files.built(form_pdf.report_form_pdf, lang, self.figures, self.commune,
                                                           now=self.now, small=small)
        return self._forms[(lang, small)]

    async def link(self, lang: str, small: bool, kind: str) -> str:
        """The signed link to one of the files ("xlsx", "png", "pdf"), stored once."""
        if (lang, small, kind) not in self._links:
            if kind == "pdf":
                data, mime = await self.form(lang, small), form_pdf.PDF
            else:
                xlsx, png = await self.made(lang, small)
                data, mime = (xlsx, files.XLSX) if kind == "xlsx" else (png, PNG)
            self._links[(lang, small, kind)] = await links.link(
                self.session, self.services, commune_id=self.commune.id, name=f"{self.name}.{kind}", mime=mime,
                data=data, now=self.now)
        return self._links[(lang, small, kind)]

    async def replies(self, lang: str, channel: str, text: str, small: bool = False) -> list[Reply]:
        xlsx, png = await self.made(lang, small)
        caps = self.services.capabilities.get(channel, PLAIN)
        if caps.takes(files.XLSX):
            return [Reply(text=text), Reply(text="", photo=png), Reply(text="", file=(self.name + ".xlsx", xlsx))]
        days = self.services.config.digest.link_days
        book = await self.link(lang, small, "xlsx")
        pdf_in, png_in = caps.takes(form_pdf.PDF), caps.takes(PNG)
        if not (pdf_in or png_in):  # links only
            picture = await self.link(lang, small, "png")
            return [Reply(text=text + "\n\n" + translate(
                lang, "Excel file: {xlsx}\nChart: {png}\n(The links work for {days} days.)", xlsx=book, png=picture,
                days=days))]
        valid = translate(lang, "(The link works for {days} days.)", days=days)
        lines = [translate(lang, "Excel file: {url}", url=book), valid]
        if not png_in:
            lines[1:] = [translate(lang, "Chart: {url}", url=await self.link(lang, small, "png")),
                         translate(lang, "(The links work for {days} days.)", days=days)]
        out = [Reply(text=text + "\n\n" + "\n".join(lines))]
        if pdf_in:
            url = await self.link(lang, small, "pdf")
            out.append(Reply(text="", file=(self.name + ".pdf", await self.form(lang, small)), url=url,
                             instead=translate(lang, "Report form (PDF): {url}", url=url) + "\n" + valid))
        if png_in:
            url = await self.link(lang, small, "png")
            out.append(Reply(text="", photo=png, url=url,
                             instead=translate(lang, "Chart: {url}", url=url) + "\n" + valid))
        return out


@dataclass
class Prepared:
    """A digest read and its files made, ready to be queued (queue_digest)."""

    figures: stats.Figures
    attachments: Attachments
    people: list[int]
    readers: list[tuple[int, str, bool, Identity]]  # as read then (_readers): the files they need


async def prepare_digest(session, services, commune, period: stats.Period, *, now: datetime,
                         people: list[int] | None = None) -> Prepared:
    """Read what the digest and its files are made of (in the caller's transaction)."""
    figures = await stats.figures(session, commune, period, now=now)
    people = await digest_recipients(session, commune.id) if people is None else people
    attachments = Attachments(session, services, commune, figures, now=now)
    await attachments.read()
    return Prepared(figures, attachments, people, await _readers(session, commune, people))


async def _readers(session, commune, people: list[int]) -> list[tuple[int, str, bool, Identity]]:
    """(person, language, outside the commune, the identity the digest goes to: their preferred)
    of each reachable one: three reads for them all."""
    persons = {}
    for n in range(0, len(people), 2000):
        persons.update((p.id, p) for p in (await session.scalars(
            select(Person).where(Person.id.in_(people[n:n + 2000])))).all())
    orders = await delivery_orders(session, people)
    return [(pid, persons[pid].lang, persons[pid].commune_id != commune.id, orders[pid][0])
            for pid in people if pid in persons and orders.get(pid)]


async def build_files(prepared: Prepared) -> None:
    """The files every recipient will need, built before the transaction that queues them."""
    prepared.attachments.session = None  # nothing may read or write while no transaction is open
    await prepared.attachments.build([(lang, small, identity.channel) for _, lang, small, identity in prepared.readers])


async def queue_digest(out: Outgoing, commune, period: stats.Period, *, missed: list[str] = (),
                       people: list[int] | None = None) -> int:
    """Say the digest to every recipient, in the step's transaction (/guitin, the CLI); how many can
    be reached. The scheduled run queues in batches instead (claim_and_queue)."""
    session, services, now = out.session, out.services, out.now
    prepared = await prepare_digest(session, services, commune, period, now=now, people=people)
    prepared.attachments.session = session  # the links are stored in this transaction
    texts = DigestTexts(services, commune, prepared.figures, list(missed), now)
    shaped: dict[tuple[str, bool, str], list[Reply]] = {}  # the same replies to all who read them alike
    for person_id, lang, small, identity in prepared.readers:
        channel = identity.channel
        if (lang, small, channel) not in shaped:  # (stored and encrypted once: storage/outbox.py)
            shaped[(lang, small, channel)] = await prepared.attachments.replies(lang, channel, texts.of(lang, small),
                                                                                small)
        chat = ChatAddress(identity.channel, identity.account, identity.chat_id)  # their preferred, read just now
        for reply in shaped[(lang, small, channel)]:
            out.to_chat(chat, reply, person_id=person_id, kind="digest")
    return len(prepared.readers)


class DigestTexts:
    """The digest's text, rendered once per language and place: outside the commune (province
    officers), case counts of 1 or 2 print as "<3", in the text and in the workbook alike."""

    def __init__(self, services, commune, figures: stats.Figures, missed: list[str], now: datetime) -> None:
        self.services, self.commune, self.figures, self.missed = services, commune, figures, missed
        self.today = now.astimezone(commune.tz).date()
        self._made: dict[tuple[str, bool], str] = {}

    def of(self, lang: str, small: bool) -> str:
        if (lang, small) not in self._made:
            self._made[(lang, small)] = render.digest_text(
                lang, self.figures, self.commune.name, today=self.today, missed=self.missed, small=small,
                targets=self.services.config.targets)
        return self._made[(lang, small)]


async def run_scheduled(services, sessions, commune, now: datetime) -> int:
    """Claim and queue the commune's due digest, unless some process already did; first finish a
    run a crash left half queued. How many recipients were queued."""
    resumed = await _resume(services, sessions, commune, now)
    period = due_week(now.astimezone(commune.tz), services.config.digest.at)
    async with reading(sessions)() as session, session.begin():  # 1. read: is it due here, what is it made of
        missed = await _due(session, services, commune, period, now)
        if missed is None:
            return resumed
        prepared = await prepare_digest(session, services, commune, period, now=now)
    await build_files(prepared)  # 2. the files, with no transaction open
    return resumed + await claim_and_queue(services, sessions, commune, period, prepared, now=now)


async def claim_and_queue(services, sessions, commune, period: stats.Period, prepared: Prepared, *,
                          now: datetime) -> int:
    """3. Claim the week and store its messages once per kind of reader, in one transaction;
    4. queue the recipients BATCH at a time, each batch its own short transaction, so no other
    writer (an urgent alert) waits behind 3,000 of them."""
    async with sessions() as session, session.begin():
        missed = await _due(session, services, commune, period, now)  # another process may have sent it meanwhile
        if missed is None:
            return 0
        run = await digest_runs.claim(session, commune.id, period.week_key, now, missed)
        if run is None:
            return 0
        await _store_parts(session, services, commune, run, prepared, set(), now=now)
        run_id = run.id
    return await _queue(sessions, run_id, 0, prepared.readers, now=now)


async def _store_parts(session, services, commune, run: DigestRun, prepared: Prepared, stored: set[str], *,
                       now: datetime) -> None:
    """Each kind of reader's messages (text, chart, workbook or links), encrypted once, for the
    shapes not `stored` yet."""
    attachments = prepared.attachments
    attachments.session = session  # the links are stored in this transaction
    texts = DigestTexts(services, commune, prepared.figures, list(run.missed), now)
    for lang, small, channel in sorted({(lang, small, i.channel) for _, lang, small, i in prepared.readers}):
        shape = digest_runs.shape_of(lang, small, channel)
        if shape in stored:
            continue
        replies = await attachments.replies(lang, channel, texts.of(lang, small), small)
        digest_runs.add_parts(session, services.keyring, run.id, shape, replies, now)
        stored.add(shape)


async def _queue(sessions, run_id: int, after: int, readers, *, now: datetime) -> int:
    """The recipients after person `after`, BATCH per transaction; stops where another process
    took the run on. How many were queued here."""
    todo = sorted(((pid, digest_runs.shape_of(lang, small, i.channel), i) for pid, lang, small, i in readers
                   if pid > after), key=lambda r: r[0])
    queued = 0
    for n in range(0, max(len(todo), 1), BATCH):
        batch = todo[n:n + BATCH]
        async with sessions() as session, session.begin():
            if not await digest_runs.queue_batch(session, run_id, after, batch, now=now, last=n + BATCH >= len(todo)):
                break
        queued += len(batch)
        after = batch[-1][0] if batch else after
    return queued


async def _resume(services, sessions, commune, now: datetime) -> int:
    """A run whose recipients were not all queued (the process died between batches): the rest
    are queued now, with the messages stored for them; those queued before are not again."""
    one_process = engine_of(sessions).dialect.name == "sqlite"
    async with reading(sessions)() as session, session.begin():
        run = await digest_runs.unfinished(session, commune.id, now if one_process else now - RESUME_AFTER)
        if run is None:
            return 0
        year, week = run.week.split("-W")
        period = stats.week_period(int(year), int(week))
        people = [p for p in await digest_recipients(session, commune.id) if p > run.queued_through]
        prepared = await prepare_digest(session, services, commune, period, now=now, people=people)
        stored = await digest_runs.shapes(session, run.id)
    missing = [r for r in prepared.readers if digest_runs.shape_of(r[1], r[2], r[3].channel) not in stored]
    if missing:  # someone's language or channel changed since: their files are built now
        await build_files(Prepared(prepared.figures, prepared.attachments, prepared.people, missing))
        async with sessions() as session, session.begin():
            await _store_parts(session, services, commune, run, prepared, stored, now=now)
    log.info("digest %s of %s: queueing the recipients a stop left out", run.week, commune.id)
    return await _queue(sessions, run.id, run.queued_through, prepared.readers, now=now)


async def _due(session, services, commune, period: stats.Period, now: datetime) -> list[str] | None:
    """The weeks missed before this one if its digest is to be sent now; None if not."""
    key = period.week_key
    done = await session.scalar(select(DigestRun.id).where(DigestRun.commune_id == commune.id, DigestRun.week == key))
    if done is not None:
        return None
    last = await session.scalar(select(func.max(DigestRun.week)).where(DigestRun.commune_id == commune.id))
    if last is None and now - digest_moment(period, services.config.digest.at, commune.tz) > FIRST_GRACE:
        return None  # a new installation starts with the next digest, not with an old week's
    return weeks_between(last, period) if last and last < key else []


@job("weekly_digest", 60)
async def send_weekly_digests(services, sessions, now: datetime) -> int:
    return sum([await run_scheduled(services, sessions, commune, now) for commune in services.config.communes])
