"""The reporter guide: one A4 page in Vietnamese, printed and handed to village heads.

    python -m bot guide --commune xuanduong --out huong-dan.pdf

How to find the bot, enrol with an invite code, report an outreach session (/baocao), report a
case (/baotin, calling 113 first when someone is in danger), what never to write, /huy and
/trogiup, and a box of emergency numbers: 113, 111 and the commune's own numbers from
[communes.phones]. What config does not give (a phone number, the bot's handle) is printed as a
blank line to fill in by hand, never as an example.

The page must stay readable for older readers: no text is smaller than BODY_PT, and when the text
does not fit on one page the spacing shrinks, never the fonts; if it still does not fit, building
fails (GuideOverflow) rather than adding a second page.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fpdf import FPDF

from core.config import Commune, Config
from core.fonts import FontMissing, dejavu

BODY_PT = 11.0  # the smallest font size on the page: every set_font / set_font_size is checked against it
HEADING_PT = 12.5
TITLE_PT = 17.0
NUMBER_PT = 15.0  # the numbers in the emergency box
BLANK = "……………………"  # a line to fill in by hand

PT_MM = 25.4 / 72
MARGIN_X, MARGIN_Y = 14.0, 11.0
GUTTER = 7.0  # between the two columns
BULLET_W = 4.5
# From roomy to tight: the first spacing at which everything fits on the page is used.
SPACING_STEPS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)

# The six centrally-run cities since 07/2025: "thành phố Huế", every other province "tỉnh ...".
CITIES = ("Hà Nội", "Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ", "Huế")


class GuideError(Exception):
    """The guide cannot be built (fonts missing, text too small)."""


class GuideOverflow(GuideError):
    """The text does not fit on one A4 page at the body size, even with the tightest spacing."""


def font_files() -> tuple[Path, Path]:
    """DejaVu Sans regular and bold, as shipped with matplotlib (core/fonts.py)."""
    try:
        regular, bold = dejavu("", "-Bold")
    except FontMissing as exc:
        raise GuideError(str(exc)) from None
    return regular, bold


def province_label(province: str) -> str:
    """"Thái Nguyên" -> "tỉnh Thái Nguyên"; a centrally-run city -> "thành phố Huế"; kept as
    written when it already says which ("tỉnh ...", "thành phố ...", "TP. ...")."""
    province = province.strip()
    if not province:
        return ""
    if province.lower().startswith(("tỉnh ", "thành phố ", "tp ", "tp.")):
        return province
    if province.removeprefix("TP ").removeprefix("TP. ") in CITIES:
        return f"thành phố {province}"
    return f"tỉnh {province}"


def _md_escape(text: str) -> str:
    """Text (possibly from config) made literal for fpdf2's markdown: **, __, ~~ and -- are
    markers, [x](y) a link."""
    for marker in (FPDF.MARKDOWN_BOLD_MARKER, FPDF.MARKDOWN_ITALICS_MARKER, FPDF.MARKDOWN_STRIKETHROUGH_MARKER,
                   FPDF.MARKDOWN_UNDERLINE_MARKER):
        text = text.replace(marker, FPDF.MARKDOWN_ESCAPE_CHARACTER + marker)
    return text.replace("](", "] (")


class GuidePDF(FPDF):
    """FPDF that refuses any font smaller than BODY_PT and remembers the sizes it was given."""

    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.font_sizes: set[float] = set()

    def set_font(self, family=None, style="", size=0):
        self._check_size(size)
        super().set_font(family, style, size)

    def set_font_size(self, size):
        self._check_size(size)
        super().set_font_size(size)

    def _check_size(self, size) -> None:
        if size:  # 0 keeps the current size
            if size < BODY_PT:
                raise GuideError(f"font size {size} pt is below the body size of {BODY_PT} pt")
            self.font_sizes.add(float(size))


class _Layout:
    """Draws the page at one spacing; `fits` says whether it all landed on the page."""

    def __init__(self, commune: Commune, spacing: float) -> None:
        self.c = commune
        self.s = spacing
        self.lh = BODY_PT * PT_MM * (1.18 + 0.22 * spacing)  # body line height, mm
        pdf = self.pdf = GuidePDF()
        regular, bold = font_files()
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        pdf.set_auto_page_break(False)  # a second page is never added: overflow is detected instead
        pdf.set_margins(MARGIN_X, MARGIN_Y, MARGIN_X)
        pdf.set_title(f"Hướng dẫn báo cáo qua chatbot — {commune.name}")
        pdf.set_author(commune.name)
        pdf.set_subject("Hướng dẫn dành cho trưởng thôn và hội viên các đoàn thể")
        pdf.set_lang("vi")
        pdf.set_creator("python -m bot guide")
        pdf.add_page()
        self.width = pdf.w - 2 * MARGIN_X
        self.x0, self.colw = MARGIN_X, self.width  # the column being written

    def column(self, x0: float, width: float) -> None:
        self.x0, self.colw = x0, width
        self.pdf.set_margins(x0, MARGIN_Y, self.pdf.w - x0 - width)
        self.pdf.set_x(x0)

    # ---- building blocks -------------------------------------------------------------------

    def gap(self, mm: float) -> None:
        self.pdf.set_y(self.pdf.get_y() + mm * self.s)

    def font(self, size: float = BODY_PT, bold: bool = False) -> None:
        self.pdf.set_font("DejaVu", "B" if bold else "", size)

    def line(self, text: str, *, bullet: str = "•") -> None:
        """One paragraph in fpdf2's markdown (**bold**), wrapped in the column, with a hanging bullet.
        Anything taken from config goes in through _md_escape."""
        pdf = self.pdf
        self.font(BODY_PT, bold=True)
        pdf.set_x(self.x0)
        pdf.cell(BULLET_W, self.lh, bullet)
        self.font(BODY_PT)
        pdf.multi_cell(self.colw - BULLET_W, self.lh, text, markdown=True, align="L",
                       new_x="LMARGIN", new_y="NEXT")
        self.gap(0.7)

    def heading(self, text: str) -> None:
        pdf = self.pdf
        self.gap(3.2)
        self.font(HEADING_PT, bold=True)
        pdf.set_fill_color(225, 225, 225)
        pdf.set_x(self.x0)
        pdf.multi_cell(self.colw, HEADING_PT * PT_MM * 1.45, text, fill=True, padding=(0.4, 1.2),
                       new_x="LMARGIN", new_y="NEXT")
        self.gap(1.3)

    # ---- the page ------------------------------------------------------------------------

    def draw(self) -> None:
        self.title()
        self.emergency_box()
        top = self.pdf.get_y()
        half = (self.width - GUTTER) / 2
        self.column(MARGIN_X, half)
        self.find_the_bot()
        self.enrol()
        self.outreach()
        left_end = self.pdf.get_y()
        self.pdf.set_y(top)
        self.column(MARGIN_X + half + GUTTER, half)
        self.case()
        self.never()
        self.help()
        self.pdf.set_y(max(left_end, self.pdf.get_y()))
        self.column(MARGIN_X, self.width)
        self.footer_note()

    def title(self) -> None:
        pdf, c = self.pdf, self.c
        place = ", ".join(x for x in (c.name, province_label(c.province)) if x)
        self.font(HEADING_PT, bold=True)
        pdf.multi_cell(self.width, HEADING_PT * PT_MM * 1.3, place, align="C",
                       new_x="LMARGIN", new_y="NEXT")
        self.gap(1.2)
        self.font(TITLE_PT, bold=True)
        pdf.multi_cell(self.width, TITLE_PT * PT_MM * 1.3, "HƯỚNG DẪN BÁO CÁO QUA CHATBOT", align="C",
                       new_x="LMARGIN", new_y="NEXT")
        self.font(BODY_PT)
        pdf.multi_cell(self.width, self.lh,
                       "Dành cho trưởng thôn, hội viên các đoàn thể: báo cáo tuyên truyền về bình đẳng giới, "
                       "phòng, chống bạo lực gia đình; báo tin vụ việc nghi bạo lực gia đình.",
                       align="C", new_x="LMARGIN", new_y="NEXT")
        self.gap(3)

    def emergency_box(self) -> None:
        pdf, phones = self.pdf, self.c.phones
        top = pdf.get_y()
        pad = 3.0
        self.font(HEADING_PT, bold=True)
        pdf.set_fill_color(0, 0, 0)
        pdf.set_text_color(255, 255, 255)
        pdf.set_x(MARGIN_X)
        pdf.cell(self.width, HEADING_PT * PT_MM * 1.6, "Số điện thoại khẩn cấp", fill=True, align="C",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        self.gap(1.0)
        rows = [
            ("113", "Công an — gọi ngay khi có người đang gặp nguy hiểm"),
            ("111", "Tổng đài quốc gia bảo vệ trẻ em (nếu có trẻ em)"),
            (phones.police.strip() or BLANK, "Công an xã"),
            (phones.office_duty.strip() or BLANK, "Trực Phòng Văn hóa - Xã hội"),
        ]
        number_w = 62.0
        row_h = NUMBER_PT * PT_MM * (1.25 + 0.25 * self.s)
        for number, label in rows:
            y0 = pdf.get_y()
            pdf.set_xy(MARGIN_X + pad, y0)
            self.font(NUMBER_PT, bold=True)
            pdf.multi_cell(number_w, row_h, number, new_x="RIGHT", new_y="TOP")
            end = pdf.get_y()
            self.font(BODY_PT)
            pdf.set_xy(MARGIN_X + pad + number_w, y0)
            pdf.multi_cell(self.width - 2 * pad - number_w, row_h, label, new_x="LMARGIN", new_y="NEXT")
            pdf.set_y(max(end, pdf.get_y()))
        self.gap(1.2)
        pdf.set_line_width(0.8)
        pdf.rect(MARGIN_X, top, self.width, pdf.get_y() - top + 0.5)
        pdf.set_line_width(0.2)
        pdf.set_y(pdf.get_y() + 0.5)

    def find_the_bot(self) -> None:
        zalo, telegram = (_md_escape(v) if v else BLANK for v in (self.c.zalo_name, self.c.telegram_bot))
        self.heading("1. Tìm chatbot")
        self.line(f"**Zalo**: tìm **{zalo}**, mở trang của chatbot rồi bấm **Quan tâm** hoặc **Nhắn tin**.")
        self.line(f"**Telegram**: tìm **{telegram}**, mở cuộc trò chuyện rồi bấm **Bắt đầu**.")

    def enrol(self) -> None:
        self.heading("2. Đăng ký (chỉ làm một lần)")
        self.line("Xin cán bộ quản trị của xã một **mã mời** (8 ký tự). Mỗi mã dành cho một người, "
                  "có hạn sử dụng.")
        self.line("Gửi cho chatbot: **/start MÃ** (thay MÃ bằng mã mời được cấp).")
        self.line("Chatbot có thể hỏi số điện thoại để cán bộ gọi lại khi cần; không muốn cho thì bấm **Bỏ qua**.")

    def outreach(self) -> None:
        self.heading("3. Báo cáo tuyên truyền: /baocao")
        self.line("Chatbot hỏi lần lượt: thôn, ngày tổ chức, hình thức, chủ đề, số người tham dự "
                  "(tổng, nam, nữ)… Ngày có thể gõ “hôm nay”, “hôm qua” hoặc ngày/tháng (25/11).")
        self.line("Trả lời: **bấm nút**, hoặc **gõ số thứ tự** của lựa chọn (ví dụ gõ 2). Câu chọn được "
                  "nhiều ý: chọn xong bấm **Xong**. Gõ không dấu cũng được (“thon 3”).")
        self.line("**Ảnh minh chứng**: gửi tối đa 3 ảnh, từng ảnh một, rồi bấm **Xong**; không có ảnh "
                  "thì bấm **Bỏ qua**.")
        self.line("Cuối cùng là bước **xem lại**: sai câu nào thì chọn số của câu đó để sửa; đúng hết thì "
                  "bấm **Xác nhận** để gửi. Chưa bấm Xác nhận thì chưa lưu.")

    def case(self) -> None:
        self.heading("4. Báo tin vụ việc: /baotin")
        self.line("**Nếu có người đang gặp nguy hiểm: gọi 113 trước**, rồi mới báo tin qua chatbot.", bullet="⚠")
        self.line("Câu hỏi đầu tiên: “Có nguy hiểm tức thời đến tính mạng, sức khỏe không?”. Trả lời **Có**: "
                  "chatbot báo ngay cho Công an xã, lãnh đạo xã và hiện các số cần gọi.")
        self.line("Trả lời tiếp các câu hỏi; điều gì chưa biết thì chọn “Chưa rõ”, “Không rõ”. "
                  "Không cần chờ biết đủ mới báo.")
        self.line("Mỗi vụ việc có một **mã hồ sơ** (bắt đầu bằng HS-). Muốn bổ sung thông tin: gửi **/cuatoi** "
                  "kèm mã hồ sơ.")

    def never(self) -> None:
        self.heading("5. Tuyệt đối không ghi, không gửi")
        self.line("**Họ tên, địa chỉ**, số CCCD, số điện thoại của những người liên quan đến vụ việc.", bullet="✗")
        self.line("Ảnh về vụ việc (phiếu báo tin không nhận ảnh).", bullet="✗")
        self.line("**Bất cứ điều gì về vụ việc trong nhóm chat** (nhóm Zalo của thôn, của hội…). "
                  "Chỉ báo tin trong cuộc trò chuyện riêng với chatbot.", bullet="✗")

    def help(self) -> None:
        self.heading("6. Dừng lại và trợ giúp")
        self.line("**/huy** — dừng, hủy phiếu đang làm (tin khẩn cấp đã gửi đi thì vẫn được xử lý).")
        self.line("**/trogiup** — xem các lệnh và cách dùng.")
        self.line("Chưa hiểu câu hỏi: gõ **?** để chatbot giải thích. Bấm **Quay lại** để sửa câu trước.")

    def footer_note(self) -> None:
        pdf = self.pdf
        self.gap(3.5)
        pdf.set_line_width(0.3)
        pdf.line(MARGIN_X, pdf.get_y(), MARGIN_X + self.width, pdf.get_y())
        pdf.set_line_width(0.2)
        self.gap(1.5)
        self.font(BODY_PT)
        pdf.multi_cell(self.width, self.lh,
                       "Chatbot không thay cho cuộc gọi khẩn cấp. Thắc mắc xin liên hệ Phòng Văn hóa - Xã hội, "
                       f"{self.c.place}.", align="C", new_x="LMARGIN", new_y="NEXT")

    @property
    def fits(self) -> bool:
        return self.pdf.pages_count == 1 and self.pdf.get_y() <= self.pdf.h - MARGIN_Y


def layout(commune: Commune) -> GuidePDF:
    """The page drawn at the roomiest spacing that fits; GuideOverflow if none does."""
    for spacing in SPACING_STEPS:
        page = _Layout(commune, spacing)
        page.draw()
        if page.fits:
            return page.pdf
    raise GuideOverflow(f"the guide for {commune.id} does not fit on one A4 page at {BODY_PT:g} pt, "
                        f"even with the tightest spacing; shorten the text (a longer name or handle in config?)")


def build_guide(commune: Commune) -> bytes:
    """The one-page A4 reporter guide for this commune, as PDF bytes."""
    return bytes(layout(commune).output())


# ---- python -m bot guide ------------------------------------------------------------------


def main(config: Config, args) -> int:
    commune_id = args.commune
    if commune_id is None:
        if len(config.communes) != 1:
            ids = ", ".join(c.id for c in config.communes)
            print(f"error: --commune is needed: the config has several communes ({ids})", file=sys.stderr)
            return 2
        commune_id = config.communes[0].id
    commune = config.commune(commune_id)
    if commune is None:
        ids = ", ".join(c.id for c in config.communes)
        print(f"error: --commune {commune_id!r} is not in the config (communes: {ids})", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        data = build_guide(commune)
    except GuideError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        out.write_bytes(data)
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(out.resolve())
    return 0
