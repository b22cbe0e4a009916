"""Years of outreach reports and cases for one commune or a whole province, written in bulk."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, insert, select

from bench.world import config_for
from bot.clock import Clock
from storage.db import make_engine, migrate, session_factory
from storage.models import Case, CaseCode, CasePerson, Person, PersonRole, PersonVillage, Report, ReportTopic
from storage.people import sync_communes

FORMATS = ("meeting", "branch", "household", "loudspeaker", "contest", "dialogue", "launch", "training", "online")
TOPICS = ("gender_equality", "domestic_violence", "trafficking", "reproductive_health", "sex_ratio",
          "child_marriage", "child_abuse", "online_safety")
CAMPAIGNS = (None, None, None, None, "gender_month", "dv_month")
STATUSES = ("new", "verifying", "confirmed_dv", "handling", "handled", "monitoring", "closed", "closed", "closed")
CHUNK = 5000


def layout(communes: int, villages: int) -> list[tuple[str, str, list[tuple[str, str]]]]:
    if communes == 1:
        return [("xuanduong", "UBND xã Xuân Dương", [(f"t{v:02d}", f"Thôn {v}") for v in range(1, villages + 1)])]
    return [(f"xa{c:03d}", f"UBND xã Số {c}", [(f"t{v:02d}", f"Thôn {v}") for v in range(1, villages + 1)])
            for c in range(1, communes + 1)]


async def _bulk(session, model, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        await session.execute(insert(model), rows[i:i + CHUNK])


async def generate(url: str, *, communes: int = 1, villages: int = 22, years: int = 5, per_week: float = 1.5,
                   cases_per_year: int = 60, seed: int = 1, out=print) -> dict:
    rng = random.Random(seed)
    started = time.perf_counter()
    engine = make_engine(url)
    await migrate(engine)
    sessions = session_factory(engine)
    world = layout(communes, villages)
    config = config_for(world, url)
    now = Clock().now()
    today = now.date()
    first = today - timedelta(days=365 * years)
    counts = {"reports": 0, "cases": 0}
    async with sessions() as session, session.begin():
        await sync_communes(session, config.communes)
        ids = [c.id for c in config.communes]
        for model in (Report,):
            old = select(model.id).where(model.commune_id.in_(ids))
            await session.execute(delete(ReportTopic).where(ReportTopic.report_id.in_(old)))
        old_cases = select(Case.id).where(Case.commune_id.in_(ids))
        await session.execute(delete(CaseCode).where(CaseCode.case_id.in_(old_cases)))
        await session.execute(delete(CasePerson).where(CasePerson.case_id.in_(old_cases)))
        await session.execute(delete(Case).where(Case.commune_id.in_(ids)))
        await session.execute(delete(Report).where(Report.commune_id.in_(ids)))
        next_report = (await session.scalar(select(func.max(Report.id))) or 0) + 1
        next_case = (await session.scalar(select(func.max(Case.id))) or 0) + 1
        for commune in config.communes:
            reporters = {}
            for v in commune.villages:
                p = Person(name=f"Trưởng {v.name}", commune_id=commune.id, org="village_head", lang="vi",
                           active=True, created_at=now, phone_asked=True)
                session.add(p)
                await session.flush()
                session.add(PersonRole(person_id=p.id, role="reporter"))
                session.add(PersonVillage(person_id=p.id, commune_id=commune.id, village_id=v.id))
                reporters[v.id] = p.id
            reports, topics, seq = [], [], {}
            day = first
            while day <= today:
                for v in commune.villages:
                    n = int(per_week) + (rng.random() < per_week - int(per_week))
                    for _ in range(n):
                        held = day + timedelta(days=rng.randrange(7))
                        if held > today:
                            continue
                        total = rng.randint(15, 180)
                        male = rng.randint(0, total)
                        counted = rng.random() > 0.05
                        seq[held.year] = seq.get(held.year, 0) + 1
                        reports.append(dict(
                            id=next_report, ref=f"BC-{held.year}-{seq[held.year]:05d}", commune_id=commune.id,
                            village_id=v.id if rng.random() > 0.03 else None, person_id=reporters[v.id],
                            org="village_head", held_on=held, format=rng.choice(FORMATS),
                            attendees_total=total, attendees_male=male if counted else None,
                            attendees_female=total - male if counted else None, campaign=rng.choice(CAMPAIGNS),
                            created_at=datetime.combine(held, datetime.min.time(), UTC) + timedelta(hours=12),
                        ))
                        for topic in rng.sample(TOPICS, rng.randint(1, 3)):
                            topics.append(dict(report_id=next_report, topic=topic))
                        next_report += 1
                day += timedelta(days=7)
            await _bulk(session, Report, reports)
            await _bulk(session, ReportTopic, topics)
            counts["reports"] += len(reports)
            cases, codes, people, cseq = [], [], [], {}
            for _ in range(cases_per_year * years):
                created = now - timedelta(days=rng.uniform(0, 365 * years))
                cseq[created.year] = cseq.get(created.year, 0) + 1
                urgent = rng.random() < 0.15
                status = rng.choice(STATUSES) if created < now - timedelta(days=60) else rng.choice(STATUSES[:4])
                cases.append(dict(
                    id=next_case, ref=f"HS-{created.year}-{cseq[created.year]:04d}", commune_id=commune.id,
                    reporter_id=rng.choice(list(reporters.values())), urgent=urgent, created_at=created,
                    confirmed_at=created, updated_at=created + timedelta(days=rng.uniform(0, 30)), status=status,
                    police_routed=urgent, village_id=rng.choice(commune.villages).id,
                    occurred_on=(created - timedelta(days=rng.randint(0, 5))).date(), source="relative",
                    kind=rng.choice(("domestic", "domestic", "domestic", "sexual_abuse", "trafficking")),
                    people_count=1, perpetrator_sex=rng.choice(("male", "male", "female")),
                    perpetrator_age=rng.choice(("18_59", "18_59", "60p", "16_17")),
                    relationship="spouse", repeat=rng.choice(("first", "repeat")), fined_before="no",
                    perpetrator_counselled=rng.choice(("yes", "no", "unknown")),
                    consent=rng.choice(("agreed", "refused", "not_asked")),
                ))
                for f in rng.sample(("physical", "psychological", "sexual", "economic"), rng.randint(1, 2)):
                    codes.append(dict(case_id=next_case, field="forms", code=f))
                codes.append(dict(case_id=next_case, field="measures", code=rng.choice(("stop_order", "mediation"))))
                codes.append(dict(case_id=next_case, field="support", code=rng.choice(("medical", "none", "legal"))))
                for i in range(rng.randint(1, 3)):
                    people.append(dict(case_id=next_case, position=i + 1, sex=rng.choice(("female", "male")),
                                       age_group=rng.choice(("u16", "16_59", "60p")), disabled=False,
                                       pregnant_or_nursing=False))
                next_case += 1
            await _bulk(session, Case, cases)
            await _bulk(session, CaseCode, codes)
            await _bulk(session, CasePerson, people)
            counts["cases"] += len(cases)
    await engine.dispose()
    out(f"generated {len(world)} commune(s), {counts['reports']:,} reports and {counts['cases']:,} cases over "
        f"{years} year(s) into {url} in {time.perf_counter() - started:.1f} s (from {date.isoformat(first)})")
    return counts
