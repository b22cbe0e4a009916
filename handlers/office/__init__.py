"""The office's side of the bot (issue 5): the weekly digest, reminders, figures, case follow-up,
exports and people. Importing the package registers its commands, buttons, forms, jobs and routes."""

from handlers.office import cases, commands, delivery, exports, links, people, reminders  # noqa: F401
