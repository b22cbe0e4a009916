"""The ground floor: what every other floor stands on and which depends on none of them.

Channel-neutral events and replies (events.py), translations (i18n.py), the clock (clock.py), the
configuration (config.py), text normalisation and the invite-code alphabet (text.py), and the
vocabulary the forms, the alerts and the figures share (vocabulary.py). Nothing here imports
bot/, handlers/ or storage/.
"""
