"""What village heads type, and what the bot understands from it."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from handlers.parsing import (
    CODE_ALPHABET,
    ParseError,
    fold,
    looks_like_code,
    nfc,
    normalise_code,
    parse_age,
    parse_choices,
    parse_date,
    parse_int,
    parse_phone,
    parse_yes_no,
    quotable,
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


FORMS = [
    "Họp thôn / hội nghị",
    "Sinh hoạt chi hội, chi đoàn",
    "Tuyên truyền tại hộ gia đình",
    "Loa truyền thanh",
    "Hội thi, văn nghệ, tiểu phẩm",
    "Tọa đàm, đối thoại chính sách",
    "Lễ phát động, mít tinh",
    "Tập huấn",
    "Nhóm Zalo, mạng xã hội",
    "Khác",
]
TOPICS = [
    "Luật Bình đẳng giới",
    "Phòng, chống bạo lực gia đình",
    "Phòng, chống mua bán người",
    "Sức khỏe sinh sản, kế hoạch hóa gia đình",
    "Mất cân bằng giới tính khi sinh",
    "Tảo hôn, hôn nhân cận huyết thống",
    "Phòng, chống xâm hại trẻ em",
    "An toàn trên không gian mạng",
    "Khác",
]
VILLAGES = ["Thôn 1", "Thôn 2", "Thôn 3", "Thôn 12", "Thôn 20", "Toàn xã / liên thôn"]
CAMPAIGNS = ["8/3", "20/10", "Ngày Gia đình Việt Nam 28/6", "Không"]
AGES = ["dưới 16", "16\u201359", "từ đủ 60"]


# --------------------------------------------------------------------------- nfc, fold


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (nfd("Thôn 3"), "Thôn 3"),
        ("  Thôn   3  ", "Thôn 3"),
        ("a\x00b\x1fc\x7fd\x85e", "a b c d e"),
        ("dòng 1\u2028dòng 2\u2029x", "dòng 1 dòng 2 x"),
        ("dòng 1\r\ndòng 2\rdòng 3", "dòng 1\ndòng 2\ndòng 3"),
        ("a\tb", "a\tb"),
        ("dòng 1   \n   dòng 2", "dòng 1\ndòng 2"),
        ("a\u00a0\u00a0b", "a b"),
        ("\ufeffThôn\u200b 3", "Thôn 3"),
        ("\n\t  ", ""),
    ],
)
def test_nfc_cleans_what_phones_send(raw: str, expected: str) -> None:
    assert nfc(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Thôn 3", "thon 3"),
        ("thon 3", "thon 3"),
        (nfd("Thôn 3"), "thon 3"),
        ("THÔN 3.", "thon 3"),
        ("Hội Liên hiệp Phụ nữ", "hoi lien hiep phu nu"),
        (nfd("Hội Liên hiệp Phụ nữ"), "hoi lien hiep phu nu"),
        ("Đoàn Thanh niên", "doan thanh nien"),
        ("đồng ý", "dong y"),
        ("Phòng, chống bạo lực gia đình", "phong, chong bao luc gia dinh"),
        ("  ...Tảo   hôn!! ", "tao hon"),
        ("Sức khỏe\nsinh sản", "suc khoe sinh san"),
        ("Có 👍", "co"),
        ("\uff11\uff12\uff13", "123"),
        ("", ""),
    ],
)
def test_fold_compares_without_tone_marks(raw: str, expected: str) -> None:
    assert fold(raw) == expected


# --------------------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("2", [1]),
        (" 2. ", [1]),
        ("10", [9]),
        ("2 2", [1]),
        ("Tập huấn", [7]),
        ("tap huan", [7]),
        (nfd("Tập huấn"), [7]),
        ("TAP HUAN", [7]),
        ("hop thon", [0]),
        ("Họp thôn / hội nghị", [0]),
        ("hop thon hoi nghi", [0]),
        ("hoi nghi", [0]),
        ("zalo", [8]),
        ("khac", [9]),
        ("Sinh hoạt chi hội, chi đoàn", [1]),
        ("van nghe", [4]),
        ("2\ufe0f\u20e3", [1]),  # keycap emoji
        ("2. Sinh hoạt chi hội, chi đoàn", [1]),  # the whole line copied back
        ("8) Tập huấn", [7]),
        ("phat dong", [6]),
        ("uyen truyen", [2]),  # inside a word, but only one option has it
        ("truyen", None),  # starts a word in two options
    ],
)
def test_a_single_choice_by_number_or_text(reply: str, expected: list[int]) -> None:
    assert parse_choices(reply, FORMS, multi=False) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "0",
        "11",
        "1 3",
        "1,3",
        "1-3",
        "ab",  # too short for a partial match
        "hoi",  # "Hội thi", "hội nghị", "chi hội"...: ambiguous
        "xyz abc",
        "tap huan, khac",  # two answers where one is asked
        "1.5",
        "9" * 5000,
        "3. Sinh hoạt chi hội, chi đoàn",  # number and text disagree
    ],
)
def test_a_single_choice_rejects(reply: str) -> None:
    assert parse_choices(reply, FORMS, multi=False) is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("1 3", [0, 2]),
        ("1,3", [0, 2]),
        ("1, 3 và 5", [0, 2, 4]),
        ("1, 3 va 5", [0, 2, 4]),
        ("1;3", [0, 2]),
        ("1 va 3", [0, 2]),
        ("1 and 3", [0, 2]),
        ("1 & 3", [0, 2]),
        ("1-3", [0, 1, 2]),
        ("1 \u2013 3, 5", [0, 1, 2, 4]),
        ("5 3 1 3", [0, 2, 4]),
        ("1. 3.", [0, 2]),
        ("9", [8]),
        ("Luật Bình đẳng giới", [0]),
        ("Phòng, chống bạo lực gia đình", [1]),
        ("Phòng, chống bạo lực gia đình, Luật Bình đẳng giới", [1, 0]),
        ("bao luc gia dinh; mua ban nguoi", [1, 2]),
        ("tao hon va khac", [5, 8]),
        ("khác, khac", [8]),
        ("mua ban nguoi, luat binh dang gioi", [2, 0]),
        (
            nfd("Tảo hôn, hôn nhân cận huyết thống, An toàn trên không gian mạng"),
            [5, 7],
        ),
        ("xam hai tre em,, khong gian mang", [6, 7]),
    ],
)
def test_several_choices(reply: str, expected: list[int]) -> None:
    assert parse_choices(reply, TOPICS, multi=True) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "0",
        "1, 10",
        "3-1",
        "1-12",
        "phong chong",  # three topics begin with it
        "bao luc, xyz",
        "1, khac",  # numbers and texts are not mixed
        ",".join(["khac"] * 40),
    ],
)
def test_several_choices_rejects(reply: str) -> None:
    assert parse_choices(reply, TOPICS, multi=True) is None


@pytest.mark.parametrize(
    ("reply", "labels", "expected"),
    [
        ("thon 3", VILLAGES, [2]),
        ("Thôn 3", VILLAGES, [2]),
        (nfd("Thôn 3"), VILLAGES, [2]),
        ("3", VILLAGES, [2]),  # the number of the line, not "Thôn 3"
        ("thon 12", VILLAGES, [3]),
        ("thon 2", VILLAGES, [1]),  # not "Thôn 20"
        ("toan xa", VILLAGES, [5]),
        ("lien thon", VILLAGES, [5]),
        ("thon", VILLAGES, None),
        ("thon 7", VILLAGES, None),
        ("8/3", CAMPAIGNS, [0]),
        ("20/10", CAMPAIGNS, [1]),
        ("28/6", CAMPAIGNS, [2]),
        ("gia dinh viet nam", CAMPAIGNS, [2]),
        ("2", ["1", "2", "3"], [1]),
        ("2", ["3", "2", "1"], [1]),  # numbers win over a label reading "2"
        ("60", ["16", "40", "60"], [2]),  # out of range, but an exact label
        ("16-59", AGES, [1]),
        ("tu du 60", AGES, [2]),
        ("duoi 16", AGES, [0]),
        ("Có", ["Có", "Cổ"], [0]),  # exact text beats the folded one
        ("co", ["Có", "Cổ"], None),
        ("khong", ["Có", "Không", "Không rõ"], [1]),
        ("khong ro", ["Có", "Không", "Không rõ"], [2]),
        ("1", [], None),
    ],
)
def test_choices_among_villages_campaigns_and_age_groups(
    reply: str, labels: list[str], expected: list[int] | None
) -> None:
    assert parse_choices(reply, labels, multi=False) == expected


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("120", 120),
        ("0", 0),
        ("1.245", 1245),
        ("1,245", 1245),
        ("1 245", 1245),
        ("1\u00a0245", 1245),
        ("120 người", 120),
        (nfd("120 người"), 120),
        ("khoảng 50", 50),
        ("khoang 50 nguoi.", 50),
        ("tổng: 85 lượt", 85),
        ("\uff11\uff12\uff10", 120),
        ("12.500", 12500),
    ],
)
def test_a_count(reply: str, expected: int | ParseError) -> None:
    assert parse_int(reply) == expected


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("", "not_a_number"),
        ("không biết", "not_a_number"),
        ("năm mươi", "not_a_number"),
        ("-5", "negative"),
        ("khoảng -5 người", "negative"),
        ("\u22125", "negative"),
        ("12,5", "not_integer"),
        ("12.5", "not_integer"),
        ("1.245,5", "not_integer"),
        ("1,2345", "not_integer"),
        ("1234.567", "not_integer"),
        ("12 và 13", "several_numbers"),
        ("40-50", "several_numbers"),
        ("nam 30 nữ 40", "several_numbers"),
        ("3 50", "several_numbers"),
        ("2026 100", "several_numbers"),
    ],
)
def test_a_count_rejects(reply: str, code: str) -> None:
    result = parse_int(reply)
    assert isinstance(result, ParseError)
    assert result.code == code
    assert result.params == {}


@pytest.mark.parametrize(
    ("reply", "minimum", "maximum", "expected"),
    [
        ("5000", 0, 5000, 5000),
        ("5001", 0, 5000, ParseError("too_large", {"maximum": 5000})),
        ("0", 1, 10, ParseError("too_small", {"minimum": 1})),
        ("1", 1, 10, 1),
        ("1.245.000", 0, 10_000_000, 1_245_000),
        ("9" * 5000, 0, 100, ParseError("too_large", {"maximum": 100})),
        ("000120", 0, 1000, 120),
        ("1 245 000", 0, 10_000_000, 1_245_000),
        ("2.000.000", 0, 1_000_000, ParseError("too_large", {"maximum": 1_000_000})),
    ],
)
def test_a_count_within_bounds(
    reply: str, minimum: int, maximum: int, expected: int | ParseError
) -> None:
    assert parse_int(reply, minimum=minimum, maximum=maximum) == expected


# --------------------------------------------------------------------------- dates

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("25/11/2026", date(2026, 11, 25)),
        ("25/11/26", date(2026, 11, 25)),
        ("25-11-2026", date(2026, 11, 25)),
        ("25.11.2026", date(2026, 11, 25)),
        ("5/3/2026", date(2026, 3, 5)),
        ("05/03/2026", date(2026, 3, 5)),
        ("25 / 11 / 2026", date(2026, 11, 25)),
        ("20/11", date(2026, 11, 20)),
        ("20/11.", date(2026, 11, 20)),
        ("2026-11-20", date(2026, 11, 20)),
        ("ngày 20/11", date(2026, 11, 20)),
        ("ngày 20 tháng 11 năm 2026", date(2026, 11, 20)),
        ("20 thang 11", date(2026, 11, 20)),
        ("hôm nay", TODAY),
        (nfd("Hôm nay"), TODAY),
        ("hom nay", TODAY),
        ("nay", TODAY),
        ("today", TODAY),
        ("hôm qua", date(2026, 11, 24)),
        ("hom qua", date(2026, 11, 24)),
        ("HOM QUA", date(2026, 11, 24)),
        ("ngày hôm qua", date(2026, 11, 24)),
        ("qua", date(2026, 11, 24)),
        ("yesterday", date(2026, 11, 24)),
        ("hôm kia", date(2026, 11, 23)),
        ("hom kia", date(2026, 11, 23)),
        ("thứ 2", date(2026, 11, 23)),
        ("thu 2", date(2026, 11, 23)),
        ("t2", date(2026, 11, 23)),
        ("T2", date(2026, 11, 23)),
        ("thứ hai", date(2026, 11, 23)),
        ("thứ 4", TODAY),  # today itself
        ("thứ tư", TODAY),
        ("thứ 5", date(2026, 11, 19)),
        ("thứ năm", date(2026, 11, 19)),
        ("thu 7", date(2026, 11, 21)),
        ("thứ bảy", date(2026, 11, 21)),
        ("chủ nhật", date(2026, 11, 22)),
        (nfd("Chủ nhật"), date(2026, 11, 22)),
        ("chu nhat", date(2026, 11, 22)),
        ("cn", date(2026, 11, 22)),
    ],
)
def test_a_date(reply: str, expected: date) -> None:
    assert parse_date(reply, today=TODAY, window_days=None) == expected


@pytest.mark.parametrize(
    ("reply", "today", "expected"),
    [
        (
            "20/12",
            date(2027, 1, 5),
            date(2026, 12, 20),
        ),  # last December, typed in January
        ("3/1", date(2027, 1, 5), date(2027, 1, 3)),
        ("20/11", date(2027, 1, 5), date(2026, 11, 20)),  # well ahead this year: last year's
        ("15/3", date(2027, 2, 10), date(2026, 3, 15)),
        ("20/12", date(2026, 12, 25), date(2026, 12, 20)),
        ("hom qua", date(2027, 1, 1), date(2026, 12, 31)),
        ("29/02", date(2028, 3, 1), date(2028, 2, 29)),
    ],
)
def test_a_date_around_the_new_year(reply: str, today: date, expected: date) -> None:
    assert parse_date(reply, today=today, window_days=None) == expected


@pytest.mark.parametrize(
    ("reply", "window_days", "expected"),
    [
        ("31/02/2026", 60, ParseError("invalid_date", {"text": "31/02/2026"})),
        ("29/02", 400, ParseError("invalid_date", {"text": "29/02"})),
        ("0/11/2026", 60, ParseError("invalid_date", {"text": "0/11/2026"})),
        ("12/13/2026", 60, ParseError("invalid_date", {"text": "12/13/2026"})),
        ("2026-02-30", 60, ParseError("invalid_date", {"text": "2026-02-30"})),
        ("26/11/2026", 60, ParseError("future", {})),
        ("26/11", 60, ParseError("future", {})),  # this year's date, not last year's
        ("1/12", 60, ParseError("future", {})),
        ("1/1/2027", None, ParseError("future", {})),
        ("25/11/2025", 30, ParseError("too_old", {"days": 30})),
        ("25/10/2026", 30, ParseError("too_old", {"days": 30})),
        ("26/10/2026", 30, date(2026, 10, 26)),
        ("hom kia", 1, ParseError("too_old", {"days": 1})),
        ("thứ 5", 5, ParseError("too_old", {"days": 5})),
        ("1/1/2000", None, date(2000, 1, 1)),
        ("tuần trước", 60, ParseError("not_a_date", {})),
        ("thu 2 tuan truoc", 60, ParseError("not_a_date", {})),
        ("mai", 60, ParseError("not_a_date", {})),
        ("thu 8", 60, ParseError("not_a_date", {})),
        ("25/11/202", 60, ParseError("not_a_date", {})),
        ("25", 60, ParseError("not_a_date", {})),
        ("abc", 60, ParseError("not_a_date", {})),
        ("", 60, ParseError("not_a_date", {})),
    ],
)
def test_a_date_rejects(
    reply: str, window_days: int | None, expected: date | ParseError
) -> None:
    assert parse_date(reply, today=TODAY, window_days=window_days) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("26/11/2026", date(2026, 11, 26)),
        ("1/1/2027", date(2027, 1, 1)),
        ("31/12", date(2026, 12, 31)),
    ],
)
def test_a_date_in_the_future_when_allowed(reply: str, expected: date) -> None:
    assert parse_date(reply, today=TODAY, window_days=30, allow_future=True) == expected


# --------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("0912-345-678", "+84912345678"),
        ("0912345678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("+84912345678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("(+84) 912-345-678", "+84912345678"),
        ("+84 0912 345 678", "+84912345678"),
        ("0084 912 345 678", "+84912345678"),
        ("SĐT: 0912 345 678", "+84912345678"),
        ("0388 123 456", "+84388123456"),
        ("0208 3855 123", "+842083855123"),
        ("024 3825 1234", "+842438251234"),
        ("+1 202 555 0100", "+12025550100"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("+49 (30) 1234567", "+49301234567"),
    ],
)
def test_a_phone_number(reply: str, expected: str) -> None:
    assert parse_phone(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "113",
        "111",
        "1900 1234",
        "1800 599 920",
        "912 345 678",  # trunk zero missing
        "091 234 567",  # 9 digits
        "09123456789",  # 11 digits starting 09
        "0112345678",
        "0612345678",
        "02083",
        "+1 234",
        "+1234567890123456",
        "0912 345 678 hoặc 0987 654 321",
        "không có",
        "0912+345678",
    ],
)
def test_a_phone_number_rejects(reply: str) -> None:
    assert parse_phone(reply) == ParseError("not_a_phone", {})


# --------------------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("abcd-efgh", "ABCDEFGH"),
        (" ab cd.ef_gh ", "ABCDEFGH"),
        ("ab\u2013cd", "ABCD"),
        ("k7m2 p9qr", "K7M2P9QR"),
        ("O0I1L", "O0I1L"),  # look-alikes are not guessed
    ],
)
def test_an_invite_code_is_cleaned(reply: str, expected: str) -> None:
    assert normalise_code(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("K7M2P9QR", True),
        ("k7m2-p9qr", True),
        ("k7m2 p9qr", True),
        ("K7M2P9Q", False),
        ("K7M2P9QRS", False),
        ("K7M2P9Q0", False),
        ("K7M2P9QO", False),
        ("K7M2P9Q1", False),
        ("K7M2P9QL", False),
        ("K7M2P9QI", False),
        ("THÔN3ABC", False),
        ("", False),
    ],
)
def test_looks_like_code(reply: str, expected: bool) -> None:
    assert looks_like_code(reply) is expected


def test_code_alphabet_has_no_look_alikes() -> None:
    assert set("0O1IL").isdisjoint(CODE_ALPHABET)
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET) == 31


# --------------------------------------------------------------------------- yes/no


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("có", True),
        ("Có", True),
        (nfd("Có"), True),
        ("co", True),
        ("c", True),
        ("C", True),
        ("yes", True),
        ("y", True),
        ("ừ", True),
        ("u", True),
        ("đúng", True),
        ("dung", True),
        ("vâng", True),
        ("dạ", True),
        ("có ạ", True),
        ("Có.", True),
        ("ok", True),
        ("không", False),
        (nfd("Không"), False),
        ("khong", False),
        ("KHÔNG!", False),
        ("k", False),
        ("ko", False),
        ("no", False),
        ("n", False),
        ("dạ không", False),
        ("không ạ", False),
        ("không rõ", None),
        ("1", None),
        ("2", None),
        ("có thể", None),
        ("", None),
        ("abc", None),
    ],
)
def test_yes_or_no(reply: str, expected: bool | None) -> None:
    assert parse_yes_no(reply) is expected


def test_parse_error_is_frozen() -> None:
    error = ParseError("too_large", {"maximum": 5000})
    with pytest.raises(AttributeError):
        error.code = "other"  # type: ignore[misc]
    assert ParseError("future") == ParseError("future", {})


# --------------------------------------------------------------------------- what is quoted back

# Text direction and other format characters (Unicode category Cf) and controls (Cc).
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\u202eThôn 3\u202c", "Thôn 3"),
        ("5\u200f0", "50"),
        ("a" + BIDI + "b", "ab"),
        ("\u2067hủy\u2069", "hủy"),
        ("\u202e👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # the joiner inside emoji stays
    ],
)
def test_nfc_drops_text_direction_characters(raw: str, expected: str) -> None:
    assert nfc(raw) == expected


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        ("Thôn 3", 40, "Thôn 3"),
        ("\u202eabc", 40, "abc"),
        ("x" + BIDI + "y\x00z\x1b[31m", 40, "xyz[31m"),
        ("dòng 1\ndòng 2\u2028dòng 3", 40, "dòng 1 dòng 2 dòng 3"),
        ("  a\t b  ", 40, "a b"),
        ("0123456789" * 5, 20, "0123456789012345678…"),
        (nfd("Hội nghị"), 40, "Hội nghị"),
        (None, 40, ""),
        ("\ud800x", 40, "x"),  # a lone surrogate could not even be sent
    ],
)
def test_quotable_removes_what_must_not_be_echoed(raw, limit: int, expected: str) -> None:
    quoted = quotable(raw, limit)
    assert quoted == expected
    assert len(quoted) <= limit
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in quoted)


# --------------------------------------------------------------------------- numbers: look-alike letters


@pytest.mark.parametrize(
    ("reply", "letter", "guess", "meant", "value"),
    [
        ("5o", "o", "50", "50ng", 50),
        ("1o0", "o", "100", "100 người", 100),
        ("l0", "l", "10", "10 lượt", 10),
        ("O5", "O", "5", "khoảng 5", 5),
        ("5O", "O", "50", "50người", 50),
        ("1l", "l", "11", "11luot", 11),
        ("12I", "I", "121", "121 nguoi", 121),
        ("5ô", "ô", "50", "50 ông bà", 50),  # Telex turns a doubled o into ô
        ("khoảng 5o người", "o", "50", "khoảng 50 người", 50),
        ("\uff15o", "o", "50", "lô 50", 50),  # a full-width 5; a word beside the number does not touch it
        ("1o.245", "o", "10", "1.245", 1245),
        ("1 2o5", "o", "205", "1 245", 1245),
    ],
)
def test_a_letter_that_looks_like_a_digit_is_never_read_as_one(
    reply: str, letter: str, guess: str, meant: str, value: int
) -> None:
    assert parse_int(reply) == ParseError("lookalike", {"letter": letter, "guess": guess})
    assert parse_int(meant) == value  # the number as meant, with a unit or word people use


# --------------------------------------------------------------------------- ages


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("3", (3, 3)),
        ("0", (0, 0)),
        ("3 tuổi", (3, 3)),
        ("35 tuoi", (35, 35)),
        ("khoảng 40", (40, 40)),
        ("khoang 40", (40, 40)),
        ("40 tuổi", (40, 40)),
        ("trên dưới 40", (40, 40)),  # "about 40"
        ("30-40", (30, 40)),
        ("30 đến 40 tuổi", (30, 40)),
        ("dưới 16", (0, 15)),
        ("duoi 1 tuoi", (0, 0)),
        ("trên 60", (61, 120)),
        ("ngoài 60", (61, 120)),
        ("từ đủ 60", (60, 120)),
        ("18 tháng", (1, 1)),  # months, not years
        ("3 tháng tuổi", (0, 0)),
        ("sinh năm 1990", (35, 36)),
        ("1990", (35, 36)),
        ("sn 2010", (15, 16)),
        ("không rõ", None),
        ("khong ro", None),
        ("ko ro", None),
        ("Không biết", None),
    ],
)
def test_an_age(reply: str, expected) -> None:
    assert parse_age(reply, this_year=2026) == expected


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("150", "implausible_age"),
        ("121", "implausible_age"),
        ("2030", "implausible_age"),  # a birth year to come
        ("50-200", "implausible_age"),
        ("dưới 0", "implausible_age"),
        ("abc", "not_an_age"),
        ("", "not_an_age"),
        ("3o", "lookalike"),
        ("-3", "negative"),
        ("3 hay 4", "several_numbers"),
        ("2,5", "not_integer"),
    ],
)
def test_an_age_rejects(reply: str, code: str) -> None:
    result = parse_age(reply, this_year=2026)
    assert isinstance(result, ParseError) and result.code == code
