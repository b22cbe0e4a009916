"""Every module that registers commands, buttons or jobs. A new feature adds one line here."""

from handlers import (  # noqa: F401
    admin_notices,  # noqa: F401
    commands,
    linking,  # noqa: F401 - /lienket: one person on several messengers
    office,  # noqa: F401 - the digest, reminders and the office's commands
    reachability,  # noqa: F401 - urgent alerts through a closed Zalo window: template messages, nudges, the daily list
    safety,
)
from handlers.alerts import send_due_details  # noqa: F401
from handlers.forms import case, expiry, followup, outreach  # noqa: F401
