"""Zalo credentials per commune: one set in the environment by default, another commune's own
variables named in its [[communes]] table, and clear errors for what is missing."""

from __future__ import annotations

import pytest

from bot import zalo
from core.config import ConfigError, parse_config

VILLAGES = [{"id": "t01", "name": "Thôn 1"}]


def config(**extra):
    raw = {
        "communes": [
            {"id": "xuanduong", "name": "UBND xã Xuân Dương", "villages": VILLAGES},
            {"id": "lathien", "name": "UBND xã La Hiên", "villages": VILLAGES,
             "zalo_bot_token_env": "ZALO_BOT_TOKEN_LH", "zalo_oa_app_id_env": "ZALO_OA_APP_ID_LH",
             "zalo_oa_app_secret_env": "ZALO_OA_APP_SECRET_LH", "zalo_oa_secret_key_env": "ZALO_OA_SECRET_KEY_LH"},
            {"id": "phucha", "name": "UBND xã Phúc Hà", "villages": VILLAGES},
        ],
        **extra,
    }
    return parse_config(raw, env={})


def test_each_commune_reads_its_own_variables_or_the_default_ones():
    env = {"ZALO_BOT_TOKEN": "111:default-token-aaaaaaaaaaaaaaaaaaaa", "ZALO_BOT_TOKEN_LH": "222:lh-token-bbbbbbbbbb",
           "ZALO_OA_APP_ID_LH": "9876", "ZALO_OA_APP_SECRET_LH": "lh-app-secret", "ZALO_OA_SECRET_KEY_LH": "lh-oa-key"}
    cfg = config()
    bots = zalo.bot_credentials(cfg, env)
    assert [(b.token[:3], b.communes) for b in bots] == [("111", ("xuanduong", "phucha")), ("222", ("lathien",))]
    [oa] = zalo.oa_credentials(cfg, env)
    assert (oa.app_id, oa.communes, oa.secret_key) == ("9876", ("lathien",), "lh-oa-key")
    secrets = zalo.secret_values(cfg, env)
    assert {"lh-app-secret", "lh-oa-key", env["ZALO_BOT_TOKEN_LH"]} <= set(secrets) and "9876" not in secrets
    assert zalo.configured(cfg, env) and not zalo.configured(cfg, {})


def test_bad_zalo_settings_are_named():
    with pytest.raises(ConfigError, match=r"communes\[0\]\.zalo_bot_token_env: expected the NAME"):
        parse_config({"communes": [{"id": "x", "name": "X", "villages": VILLAGES, "zalo_bot_token_env": "abc-1"}]},
                     env={})
    with pytest.raises(ConfigError, match="zalo_bot.mode"):
        config(zalo_bot={"mode": "push"})
    with pytest.raises(ConfigError, match="http.public_url: Zalo webhooks need"):
        config(zalo_bot={"mode": "webhook"})
    assert config(zalo_bot={"mode": "webhook"}, http={"public_url": "https://bot.example.vn"}).zalo_bot.mode == "webhook"


class _App:
    """Just enough of an App for add_channels to refuse before building anything."""

    def __init__(self, cfg) -> None:
        self.config = cfg


def test_half_configured_zalo_stops_the_start():
    cfg = config(zalo_bot={"mode": "webhook"}, http={"public_url": "https://bot.example.vn"})
    with pytest.raises(zalo.ZaloSetupError, match="ZALO_BOT_WEBHOOK_SECRET"):
        zalo.add_channels(_App(cfg), {"ZALO_BOT_TOKEN": "111:default-token-aaaaaaaaaaaaaaaaaaaa"})
    with pytest.raises(zalo.ZaloSetupError, match="ZALO_OA_SECRET_KEY"):
        zalo.add_channels(_App(config()), {"ZALO_OA_APP_ID": "1234", "ZALO_OA_APP_SECRET": "s3cret-app"})
