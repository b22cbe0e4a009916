"""Every module that registers commands, buttons or jobs. A new feature adds one line here."""

from handlers import commands  # noqa: F401
from handlers.alerts import send_due_details  # noqa: F401
from handlers.forms import case, followup, outreach  # noqa: F401
