"""The one-page reporter guide (python -m bot guide): run as the real command line on a test config,
read back with pypdf — one A4 page, the commune's name and numbers, blank lines where config has
none (never an example number), the bot's handle when configured, no text under 11 pt."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from bot import guide
from core.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent
A4_PT = (595.28, 841.89)

VILLAGES = 'villages = [{ id = "t01", name = "Thôn 1" }, { id = "t02", name = "Thôn 2" }]'
FULL = f"""
[[communes]]
id = "thunghiem"
name = "UBND xã Thử Nghiệm"
province = "Thái Nguyên"
telegram_bot = "@thunghiem_bot"
zalo_name = "Xã Thử Nghiệm"
{VILLAGES}

[communes.phones]
police = "0208 3777 456"
office_duty = "0912 654 321"
"""
BARE = f"""
[[communes]]
id = "mot"
name = "UBND xã Một"
province = "Thái Nguyên"
{VILLAGES}

[[communes]]
id = "hai"
name = "UBND xã Hai"
province = "Huế"
{VILLAGES}
"""


def run_guide(tmp_path: Path, config_text: str, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "config.toml"
    config.write_text(config_text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BOT_CONFIG")}
    env["BOT_DATA_DIR"] = str(tmp_path)
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "guide", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def page_text(reader: PdfReader) -> str:
    """The page's text with runs of white space made one space (a name may wrap)."""
    return " ".join(reader.pages[0].extract_text().split())


def font_sizes(reader: PdfReader) -> list[float]:
    """Every size set by a Tf operator on the page (fpdf2 places text with Td, never scaling it)."""
    page = reader.pages[0]
    ops = ContentStream(page.get_contents(), reader).operations
    assert not any(op == b"Tm" for _, op in ops)  # no text matrix that could scale the text down
    return [float(operands[1]) for operands, op in ops if op == b"Tf"]


def phone_like(text: str) -> list[str]:
    """Runs of 3 or more digits, spaces, dots or dashes allowed between them ("0208 3000 113")."""
    runs = re.findall(r"\d(?:[ .\-]?\d)+", text)
    return [r for r in runs if len(re.sub(r"\D", "", r)) >= 3]


@pytest.fixture(scope="module")
def full_pdf(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    tmp = tmp_path_factory.mktemp("full")
    out = tmp / "huong-dan.pdf"
    return run_guide(tmp, FULL, "--out", str(out)), out


def test_one_a4_page_with_the_communes_name_numbers_and_handle(full_pdf):
    done, out = full_pdf
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out.resolve())  # --commune left out: the config has one
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_PT, abs=0.5)
    text = page_text(reader)
    for wanted in ("UBND xã Thử Nghiệm", "tỉnh Thái Nguyên", "HƯỚNG DẪN BÁO CÁO QUA CHATBOT",
                   "Số điện thoại khẩn cấp", "0208 3777 456", "0912 654 321", "113", "111",
                   "Tổng đài quốc gia bảo vệ trẻ em", "@thunghiem_bot", "Xã Thử Nghiệm",
                   "/start MÃ", "/baocao", "/baotin", "gọi 113 trước", "/huy", "/trogiup", "gõ ?",
                   "Họ tên, địa chỉ", "nhóm chat", "Ảnh minh chứng", "Xác nhận"):
        assert wanted in text, wanted
    assert guide.BLANK not in text  # everything is configured: nothing to fill in by hand
    assert sorted(set(phone_like(text))) == ["0208 3777 456", "0912 654 321", "111", "113"]


def test_no_text_under_eleven_points(full_pdf):
    done, out = full_pdf
    assert done.returncode == 0, done.stderr
    sizes = font_sizes(PdfReader(out))
    assert sizes and min(sizes) >= 11
    assert guide.BODY_PT >= 11 and min(sizes) == guide.BODY_PT  # the body is set at that one constant


def test_the_layout_refuses_a_font_under_the_body_size():
    commune = parse_config(tomllib.loads(FULL)).communes[0]
    pdf = guide.layout(commune)
    assert min(pdf.font_sizes) == guide.BODY_PT
    with pytest.raises(guide.GuideError, match="below the body size"):
        pdf.set_font_size(guide.BODY_PT - 1)
    with pytest.raises(guide.GuideError):
        pdf.set_font("DejaVu", "", 9)


def test_numbers_and_handles_not_configured_are_blank_lines_never_examples(tmp_path):
    out = tmp_path / "hai.pdf"
    done = run_guide(tmp_path, BARE, "--commune", "hai", "--out", str(out))
    assert done.returncode == 0, done.stderr
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    text = page_text(reader)
    assert "UBND xã Hai" in text and "thành phố Huế" in text
    assert text.count(guide.BLANK) == 4  # the police, the office duty phone, the Zalo name, the Telegram handle
    assert set(phone_like(text)) <= {"113", "111"}, phone_like(text)
    assert "113" in text and "111" in text
    shipped = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))["communes"][0]
    assert set(shipped["phones"].values()) == {""}  # config.toml ships no number someone could call
    assert "@xuanduong_bot" not in text


def test_unknown_commune_exits_2_with_a_message(tmp_path):
    out = tmp_path / "x.pdf"
    done = run_guide(tmp_path, BARE, "--commune", "nope", "--out", str(out))
    assert done.returncode == 2
    assert "'nope' is not in the config" in done.stderr and "mot, hai" in done.stderr
    assert not out.exists()


def test_several_communes_need_commune(tmp_path):
    out = tmp_path / "x.pdf"
    done = run_guide(tmp_path, BARE, "--out", str(out))
    assert done.returncode == 2
    assert "--commune is needed" in done.stderr
    assert not out.exists()


def test_text_that_cannot_fit_one_page_fails_instead_of_adding_a_page(tmp_path):
    out = tmp_path / "x.pdf"
    long_name = " ".join(["Trang Zalo chính thức của Ủy ban nhân dân xã"] * 60)
    done = run_guide(tmp_path, FULL.replace('zalo_name = "Xã Thử Nghiệm"', f'zalo_name = "{long_name}"'),
                     "--out", str(out))
    assert done.returncode == 1
    assert "does not fit on one A4 page" in done.stderr
    assert not out.exists()


def test_config_text_is_printed_literally_not_as_markup():
    commune = parse_config(tomllib.loads(FULL)).communes[0]
    commune = replace(commune, zalo_name="Xã **A** __B__ --C-- [D](E)", telegram_bot="@a__b_bot")
    text = page_text(PdfReader(io.BytesIO(guide.build_guide(commune))))
    assert "Xã **A** __B__ --C-- [D] (E)" in text
    assert "@a__b_bot" in text


def test_the_handle_keys_default_empty_and_must_be_text():
    raw = tomllib.loads(BARE)
    assert [(c.telegram_bot, c.zalo_name) for c in parse_config(raw).communes] == [("", ""), ("", "")]
    raw["communes"][0]["telegram_bot"] = 5
    with pytest.raises(ConfigError, match=r"communes\[0\]\.telegram_bot"):
        parse_config(raw)
    raw = tomllib.loads(BARE)
    raw["communes"][1]["zalo_name"] = ["Xã Hai"]
    with pytest.raises(ConfigError, match=r"communes\[1\]\.zalo_name"):
        parse_config(raw)
    raw = tomllib.loads(FULL)
    assert parse_config(raw).communes[0].telegram_bot == "@thunghiem_bot"


def test_province_label():
    assert guide.province_label("Thái Nguyên") == "tỉnh Thái Nguyên"
    assert guide.province_label("Hà Nội") == "thành phố Hà Nội"
    assert guide.province_label("Tỉnh Cao Bằng") == "Tỉnh Cao Bằng"
    assert guide.province_label("") == ""
