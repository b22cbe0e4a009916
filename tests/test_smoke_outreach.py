from sqlalchemy import select

from storage.invites import create_invite
from storage.models import Report
from tests.fakechannel import User


async def invite(app, **kw) -> str:
    async with app.sessions() as s, s.begin():
        return await create_invite(s, now=app.clock.now(), days=7, commune_id="xuanduong",
                                   roles=kw.get("roles", ["reporter"]), villages=kw.get("villages", ["t03"]),
                                   org="village_head", name=kw.get("name", "Hoàng Văn Ba"))


async def test_smoke(app):
    code = await invite(app)
    u = User(app)
    print(await u.say("hello"))
    print(await u.say(f"/start {code}"))
    print(await u.say("0912 345 678"))
    print(await u.say("/baocao"))
    print(await u.press("Thôn 3"))
    print(await u.say("hom qua"))
    print(await u.say("1"))
    print(await u.say("1 2"))
    print(await u.say("120"))
    print(await u.say("50"))
    print(await u.say("60"))
    print(await u.say("70"))
    print(await u.say("khong"))
    print(await u.say("xong"))
    print(await u.say("xac nhan"))
    async with app.sessions() as s:
        reports = (await s.scalars(select(Report))).all()
    assert len(reports) == 1
