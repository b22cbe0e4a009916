"""The free Zalo Bot plan's 50 people per bot, counted through real enrolments at the edge: the 50th
person is enrolled, the 51st is pointed elsewhere with the emergency number, and still gets the
numbers to call at once if they write that someone is in danger."""

from sqlalchemy import func, select

from storage.models import Identity, Invite
from storage.people import attach_identity, create_person
from tests.fakechannel import PlainUser, declare
from tests.helpers import make_invite, vi

FULL = ("This Zalo bot already serves the {n} people its plan allows, so it cannot enrol anyone else. Please ask "
        "the office for an invite to use on Telegram or on the commune's Zalo official account. If someone is in "
        "danger, call 113 now.")


async def test_the_fiftieth_enrols_and_the_fifty_first_is_pointed_elsewhere(app, clock):
    declare(app, app.plain, max_users=50)  # as the Zalo Bot channel declares it
    async with app.sessions() as s, s.begin():  # 49 people already on this bot
        for n in range(49):
            p = await create_person(s, now=clock.now(), name=f"p{n}", commune_id="xuanduong", roles=["reporter"],
                                    villages=["t01"], org="village_head", lang="vi")
            await attach_identity(s, p.id, channel="plain", account="test", external_id=f"zb{n}",
                                  chat_id=f"zb{n}", display_name="", now=clock.now())
    fiftieth = PlainUser(app, "zb-50")
    greeted = await fiftieth.say(f"/start {await make_invite(app, name='Người Thứ Năm Mươi')}")
    assert vi(FULL, n=50) not in greeted
    assert greeted[-1].startswith(vi("You are enrolled. Please type your phone number so that the commune can call "
                                     "you back when needed, e.g. 0912 345 678. You may skip this."))
    fifty_first = PlainUser(app, "zb-51")
    code = await make_invite(app, name="Người Thứ Năm Mốt")
    assert (await fifty_first.say(f"/start {code}"))[-1] == vi(FULL, n=50)
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Identity).where(Identity.channel == "plain")) == 50
        unused = await s.scalar(select(func.count()).select_from(Invite).where(Invite.used_by.is_(None)))
        assert unused == 1  # the 51st person's invite: it still works on another channel
    cry = "\n".join(await fifty_first.say("cứu"))  # the emergency numbers are never refused
    assert vi("• 113 (police)") in cry and "0208 3000 113" in cry
