"""One person on two messengers: linked with a one-time code from /lienket, then one person —
one draft, one ordering of events, alerts on both — whichever messenger they write from."""

from __future__ import annotations

from storage.models import Identity, InboxEvent, Person, Report
from tests.helpers import vi
from tests.zalo_harness import enrol_on_zalo, zalo_fixture  # noqa: F401

FORM = vi("Outreach session report")


def step(i: int, n: int = 8) -> str:
    """The outreach form's question i: eight in its first part, then the photos, a part of their own."""
    if i == 9:
        return vi("{form} · Step {i}/{n}", form=FORM, i=1, n=1)
    return vi("{form} · Step {i}/{n}", form=FORM, i=i, n=n)


async def test_a_person_linked_on_both_zalo_channels_starts_a_report_on_one_and_finishes_it_on_the_other(zalo):
    bot = await zalo.start(bot_emu=await zalo.bot_emulator(), oa_emu=await zalo.oa_emulator())
    on_zalo, on_oa = bot.zalo_user("z1001", "Ba"), bot.oa_user("o1001", "Ba")
    await enrol_on_zalo(bot, on_zalo)

    [shown] = await on_zalo.say("lienket")  # a command typed without the slash
    code = shown.split("/lienket ", 1)[1].split()[0]
    assert shown == vi("To use the bot from another messenger as well (Zalo or Telegram), open the bot there and "
                       "send:\n/lienket {code}\nThe code works once, within {minutes} minutes. Your drafts, reports "
                       "and alerts are then the same on both.", code=code, minutes=30)

    # On the official account, a wrong code first, then the right one typed bare.
    [wrong] = await on_oa.say("/lienket ABCD-EFGH")
    assert wrong.text == vi("That link code is not valid: it may be mistyped, already used or expired. Send /lienket "
                            "again in the messenger where you are registered to get a new one.")
    linked, greeting = await on_oa.say(code.lower())
    assert linked.text == vi("This messenger is now linked to your account. Your drafts, reports and alerts are "
                             "shared between your messengers.")
    assert greeting.text.startswith(vi("Hello {name}! You are registered as: {who}.", name="Hoàng Văn Ba",
                                       who=vi("{roles} — {where}", roles=vi("Village head"), where="Thôn 3")))
    assert on_zalo.texts[-1] == vi("{channel} has been linked to your account. If that was not you, tell the "
                                   "administrator at once.", channel="Zalo OA")
    [person] = await bot.rows(Person)
    assert {(i.channel, i.person_id) for i in await bot.rows(Identity)} == {("zalo_bot", person.id),
                                                                           ("zalo_oa", person.id)}
    assert (await on_oa.say(code))[0].text == vi("I did not understand that.")  # used up: just text now

    # Started on the Zalo bot...
    await on_zalo.say("/baocao")
    await on_zalo.say("1")
    await on_zalo.say("hôm qua")
    assert (await on_zalo.say("khong"))[-1].startswith(step(3))  # 24/11's campaign yes/no: not part of it
    # ...finished on the official account, where the same draft is offered.
    [offer] = await on_oa.say("/baocao")
    assert offer.text == vi("You have an unfinished draft: {form}, at {where}.", form=FORM,
                            where=vi("step {i}/{n}", i=3, n=8))
    [format_q] = await on_oa.press(vi("Continue"))
    assert format_q.text.startswith(step(3))
    for answer in ("1", "1 2 xong", "120", "50", "70"):
        await on_oa.say(answer)
    await on_oa.press(vi("No"))
    [review] = await on_oa.press(vi("Skip"))
    assert "Thôn 3" in review.text and "24/11/2026" in review.text
    thanks, _ = await on_oa.say("xác nhận")
    assert thanks.text == vi("Thank you! Your report has been saved with reference {ref}.", ref="BC-2026-0001")
    [report] = await bot.rows(Report)
    assert report.person_id == person.id

    # Once known, her events on both channels share one ordering key: handled one at a time, in order.
    keys = {(e.channel, e.order_key) for e in await bot.rows(InboxEvent) if not e.order_key.startswith("zalo")}
    assert keys == {("zalo_bot", f"person:{person.id}"), ("zalo_oa", f"person:{person.id}")}
