"""The official statistics forms the workbook can follow, one file each (see handlers/office/report_form.py)."""

from handlers.office.forms.bieu_01_bc_x import FORM

__all__ = ["FORM"]
