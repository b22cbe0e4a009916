"""Shared steps of conversations: invites, enrolled people, the Vietnamese text of a message."""

from __future__ import annotations

from core.i18n import translate
from storage.invites import create_invite
from tests.fakechannel import PlainUser, User


def vi(msgid: str, **params) -> str:
    return translate("vi", msgid, **params)


async def make_invite(app, roles=("reporter",), villages=("t03",), name="Hoàng Văn Ba", org="village_head",
                      commune="xuanduong") -> str:
    async with app.sessions() as s, s.begin():
        return await create_invite(s, now=app.clock.now(), days=7, commune_id=commune, roles=list(roles),
                                   villages=list(villages), org=org, name=name)


async def enrolled(app, user_id="u1", **kw) -> User:
    user = User(app, user_id)
    code = await make_invite(app, **kw)
    await user.say(f"/start {code}")
    await user.press(vi("Skip"))
    return user


async def walk_to_review(user: User, *, total="120", male="50", female="70") -> None:
    await user.say("/baocao")
    await user.press("Thôn 3")
    await user.say("hôm qua")
    await user.press(vi("No"))  # not part of the gender month (the tests' clock is inside it)
    await user.press(vi("Village meeting / conference"))
    await user.say("1 2 xong")
    await user.say(total)
    await user.say(male)
    await user.say(female)
    await user.press(vi("No"))
    await user.press(vi("Done"))


async def enrolled_plain(app, user_id="p1", **kw) -> PlainUser:
    """An enrolled person on the plain channel (numbered lists, no buttons), past the phone question."""
    user = PlainUser(app, user_id)
    code = await make_invite(app, **kw)
    await user.say(f"/start {code}")
    await user.say("bỏ qua")
    return user


async def file_case(user: User) -> list[str]:
    """A reporter on the button channel files a non-urgent domestic-violence case, answering everything."""
    await user.say("/baotin")
    for label in ("No", "Thôn 3", "Yesterday", "A relative or neighbour told me", "Domestic violence", "Physical", "Done"):
        await user.press(vi(label))
    await user.say("1")
    await user.press(vi("Female"))
    await user.say("30")
    for label in ("Neither", "Done", "Male"):
        await user.press(vi(label))
    await user.say("40")
    for label in ("Wife / husband", "First time", "Unknown", "None yet", "Done", "No support yet", "Done", "No",
                  "Nobody yet", "Done", "Agrees", "Skip"):
        await user.press(vi(label))
    return await user.press(vi("Confirm"))


async def app_on(config, clock, keyring, url):
    """An App on `url` with the fake channel, prepared (a replica, a restarted process)."""
    from bot.app import App
    from tests.fakechannel import FakeChannel

    app = App(config, clock=clock, keyring=keyring, storage_url=url)
    app.fake = FakeChannel()
    app.add_channel(app.fake)
    await app.prepare()
    return app
