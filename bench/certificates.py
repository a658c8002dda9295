"""Certificate PDFs: cost per certificate and memory of a whole bundle.

    .venv/bin/python bench/certificates.py [--trainees 500] [--repeat 30]

1. CPU milliseconds per certificate drawn by our xhtml2pdf template, against the same
   content drawn directly with reportlab (the floor, with the same embedded DejaVu Sans),
   in the same run; the size of one certificate.
2. A closed session of N successful trainees (SQLite in a temporary directory, or
   FORPREV_DATABASE_URL) goes through the real job; peak Python memory (tracemalloc) is
   printed for 50 and for N trainees: flat means the bundle is streamed, not held. The
   sizes of the ZIP and of the printing PDF follow.
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.lib.pagesizes import A4, landscape  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from app import create_app  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from app.domain.certificate_issue import CertificateView  # noqa: E402
from app.domain.certificate_pdf import (  # noqa: E402
    STATIC,
    qr_data_uri,
    render_pdf,
    verification_url,
)
from app.models import Bundle, StoredFile  # noqa: E402

VIEW = CertificateView(
    number="2026-000001",
    holder="Łukasz WOŹNIAK",
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


def reportlab_floor(view: CertificateView) -> bytes:
    """The same certificate drawn by hand: what a PDF of it costs at the least."""
    import base64

    from reportlab.lib.utils import ImageReader

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", STATIC / "fonts/DejaVuSans.ttf"))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", STATIC / "fonts/DejaVuSans-Bold.ttf"))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=landscape(A4))
    width, height = landscape(A4)
    logo = Path(__file__).resolve().parent.parent / "app/static/img/logo-forprev.png"
    page.drawImage(str(logo), 50, height - 90, width=180, height=48)
    page.setFont("DejaVuSans-Bold", 24)
    page.drawString(50, height - 140, view.model_name)
    page.setFont("DejaVuSans", 14)
    page.drawString(
        50, height - 165, f"{view.scheme_name} ({view.scheme_code}) — niveau {view.level}"
    )
    page.setFont("DejaVuSans-Bold", 22)
    page.drawString(50, height - 220, view.holder)
    page.setFont("DejaVuSans", 12)
    y = height - 260
    for label, value in (
        ("Fin de session", view.end_date.strftime("%d/%m/%Y")),
        ("Valable", f"du {view.end_date:%d/%m/%Y} au {view.valid_until:%d/%m/%Y}"),
        ("Entité habilitée", f"{view.organization} — habilitation {view.accreditation_number}"),
        ("Formateur", view.trainer),
    ):
        page.drawString(50, y, label)
        page.drawString(230, y, value)
        y -= 20
    png = base64.b64decode(qr_data_uri(verification_url(view.verification_code)).split(",", 1)[1])
    page.drawImage(ImageReader(io.BytesIO(png)), width - 160, 40, width=110, height=110)
    page.showPage()
    page.save()
    return out.getvalue()


def per_certificate(app, repeat: int) -> tuple[float, float]:
    """Median CPU milliseconds of each (CPU time: other work on the machine does not count)."""
    with app.test_request_context():
        render_pdf(VIEW)
        reportlab_floor(VIEW)
        ours, floor = [], []
        for _ in range(repeat):
            started = time.process_time()
            render_pdf(VIEW)
            ours.append((time.process_time() - started) * 1000)
            started = time.process_time()
            reportlab_floor(VIEW)
            floor.append((time.process_time() - started) * 1000)
    return statistics.median(ours), statistics.median(floor)


def bundle_memory(app, trainees: int) -> tuple[float, float, int, int]:
    """Peak memory (MiB) and seconds of the job, then the sizes of its ZIP and printing PDF."""
    from jobs.certificates import generate_certificates
    from tests import factories

    engine = app.extensions["forprev_engine"]
    with app.app_context(), Session(engine, expire_on_commit=False) as db:
        org = factories.organization(db, name=f"BENCH {trainees}")
        acc = factories.accreditation(db, org, scheme_code="PRAP-IBC", level=1)
        manager = factories.person(db, email=f"g{trainees}@bench.fr")
        trainer = factories.person(db, email=f"t{trainees}@bench.fr")
        rows = [(f"WOŹNIAK{i}", "Łukasz", date(1990, 1, 1 + i % 28), True) for i in range(trainees)]
        cs = factories.closed_session(
            db, org=org, acc=acc, trainer=trainer, creator=manager, trainees=rows
        )
        db.commit()
        cs_id = cs.id
    with app.app_context():
        tracemalloc.start()
        started = time.perf_counter()
        generate_certificates(cs_id)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    with Session(engine) as db:
        bundle = db.exec(select(Bundle).where(Bundle.cert_session_id == cs_id)).one()
        zip_size = db.get(StoredFile, bundle.zip_file_id).size
        pdf_size = db.get(StoredFile, bundle.pdf_file_id).size
    return peak / 1024 / 1024, elapsed, zip_size, pdf_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trainees", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    url = os.environ.get("FORPREV_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade_database(url)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "REDIS_URL": "redis://127.0.0.1:1",
            "BASE_URL": "https://forprev.example.fr",
        }
    )
    with app.app_context(), Session(app.extensions["forprev_engine"]) as db:
        from seeds.reference import load_reference

        load_reference(db)
        db.commit()
    ours, floor = per_certificate(app, args.repeat)
    with app.test_request_context():
        size = len(render_pdf(VIEW))
    print(
        f"par certificat (temps CPU) : xhtml2pdf {ours:.1f} ms, reportlab direct {floor:.1f} ms "
        f"(rapport {ours / floor:.2f}) ; {size / 1024:.0f} Kio"
    )
    for n in (50, args.trainees):
        peak, elapsed, zip_size, pdf_size = bundle_memory(app, n)
        print(
            f"lot de {n:>4} stagiaires : pic mémoire {peak:6.1f} Mio, {elapsed:6.1f} s "
            f"({elapsed / n * 1000:.0f} ms par certificat, ZIP et PDF d'impression compris) ; "
            f"ZIP {zip_size / 2**20:.1f} Mio, PDF d'impression {pdf_size / 2**20:.1f} Mio"
        )


if __name__ == "__main__":
    main()
