"""What a certificate PDF prints: every name as typed, in a font embedded in the PDF, on
every certificate layout, and the validity as "Valable du … au …"."""

import io
import struct
import unicodedata
from dataclasses import replace
from datetime import date

import pypdfium2
import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.pdfbase.ttfonts import TTFontParser

from app.domain.certificate_issue import CertificateView
from app.domain.certificate_pdf import STATIC, layouts_for, render_pdf

NAMES = ["Łukasz WOŹNIAK", "Ayşe YILDIRIM", "Ștefan POPESCU", "Nguyễn Thị Ánh", "Œdipe ĞÜLEN"]
# every certificate template, with a certificate drawn by it: the common one, trainers',
# CATEC's (a new template fails `test_every_certificate_template_is_checked` until listed)
LAYOUTS = {
    "certificates/pdf.html": ("SST", 1),
    "certificates/pdf-formateur.html": ("SST", 2),
    "certificates/pdf-catec.html": ("CATEC", 1),
}
VIEW = CertificateView(
    number="2026-000042",
    holder="Paul DURAND",
    birth_date=date(1990, 3, 12),
    scheme_name="Sauvetage secourisme du travail",
    scheme_code="SST",
    level=1,
    model_name="Certificat de sauveteur secouriste du travail",
    end_date=date(2026, 11, 24),
    valid_until=date(2028, 11, 24),
    organization="MAROSE FORMATION",
    accreditation_number="H67001/2025/SST-1/O/00",
    trainer="Stéphanie WEBER",
    is_refresher=False,
    verification_code="rN5g1XDFiKAWtpE2Tw327bNtyUwJTA08",
)


def _pdf(app, **changes) -> bytes:
    with app.test_request_context():
        return render_pdf(replace(VIEW, **changes))


def _text_fonts(reader: PdfReader) -> set[str]:
    """The fonts that draw the page's visible text."""
    fonts = set()

    def visit(text, _cm, _tm, font, _size):
        if text.strip():
            fonts.add(font["/BaseFont"] if font else None)

    reader.pages[0].extract_text(visitor_text=visit)
    return fonts


def _glyphs(font) -> tuple[int, tuple[int, ...]]:
    """The glyph of each character code of a font embedded in the PDF, from the cmap of
    the font program itself (the format-6 table reportlab writes in its subsets)."""
    program = font["/FontDescriptor"]["/FontFile2"].get_object().get_data()
    table = TTFontParser(io.BytesIO(program), validate=0).get_table("cmap")
    (offset,) = struct.unpack(">L", table[8:12])
    fmt, _length, _language, first, count = struct.unpack(">5H", table[offset : offset + 10])
    assert fmt == 6
    return first, struct.unpack(f">{count}H", table[offset + 10 : offset + 10 + 2 * count])


def _missing_glyphs(reader: PdfReader) -> set[tuple[str, int]]:
    """(font, code) of each character the page draws with its embedded font's glyph 0, the
    empty box of a missing letter: every string shown, looked up in the font program
    (a built-in font embeds none: `_text_fonts` tells if one draws)."""
    page = reader.pages[0]
    fonts = page["/Resources"]["/Font"]
    missing, font = set(), None
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"Tf":
            font = fonts[operands[0]].get_object()
        elif operator in (b"Tj", b"'", b'"', b"TJ") and "/FontDescriptor" in font:
            first, glyphs = _glyphs(font)
            shown = operands[0] if operator == b"TJ" else operands[-1:]
            for string in shown:
                if isinstance(string, (int, float)):
                    continue
                for code in getattr(string, "original_bytes", string):
                    if not 0 <= code - first < len(glyphs) or glyphs[code - first] == 0:
                        missing.add((font["/BaseFont"], code))
    return missing


def _words(text: str) -> str:
    return " ".join(text.split())


def test_every_certificate_template_is_checked():
    templates = STATIC.parent / "templates"
    found = {str(p.relative_to(templates)) for p in templates.glob("certificates/pdf*.html")}
    assert found == set(LAYOUTS)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", NAMES)
def test_names_in_any_latin_script_print_on_every_certificate(app, layout, name):
    scheme_code, level = LAYOUTS[layout]
    view_changes = dict(scheme_code=scheme_code, level=level, holder=name, trainer=name)
    assert layout in layouts_for(replace(VIEW, **view_changes))
    pdf = _pdf(app, **view_changes)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    # the holder (bold) and the trainer (regular) as typed, in the PDF's text
    text = _words(reader.pages[0].extract_text())
    assert f"délivré à {name} né(e) le 12/03/1990" in text
    assert f"Formateur {name}" in text
    # drawn by the embedded DejaVu Sans only, never by a built-in font (Helvetica drew
    # a ZapfDingbats box for each letter outside Latin-1) ...
    assert _text_fonts(reader) == {"/AAAAAA+DejaVuSans", "/AAAAAA+DejaVuSans-Bold"}
    # ... which has a glyph for every character it draws
    assert _missing_glyphs(reader) == set()
    # and a second reader (PDFium, Chromium's) sees the same, with no box or U+FFFD
    page_text = pypdfium2.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert f"Formateur {name}\r\n" in page_text
    assert not set(page_text) & {"\ufffd", "■"}


def test_the_glyph_check_sees_a_letter_the_font_lacks():
    # xhtml2pdf leaves such a letter blank (the text check above sees it); reportlab
    # alone draws the font's empty box, which only the glyph check can see
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    pdfmetrics.registerFont(TTFont("GlyphCheck", STATIC / "fonts" / "DejaVuSans.ttf"))
    out = io.BytesIO()
    page = Canvas(out)
    page.setFont("GlyphCheck", 12)
    page.drawString(50, 700, "Wang 王芳 Łukasz")
    page.save()
    assert _missing_glyphs(PdfReader(out)) == {("/AAAAAA+DejaVuSans", 0)}


def test_a_name_typed_with_combining_accents_is_drawn_with_the_composed_letters(app):
    typed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    assert sum(map(unicodedata.combining, typed)) > 0
    text = _words(PdfReader(io.BytesIO(_pdf(app, holder=typed))).pages[0].extract_text())
    assert "délivré à Nguyễn Thị Ánh né(e)" in text


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_certificate_says_from_when_to_when_it_is_valid(app, layout):
    scheme_code, level = LAYOUTS[layout]
    pdf = _pdf(app, scheme_code=scheme_code, level=level)
    text = _words(PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
    assert "Valable du 24/11/2026 au 24/11/2028" in text
    assert "Fin de session 24/11/2026" in text
