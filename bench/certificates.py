"""Certificate PDFs: cost per certificate and memory of a whole bundle.

    .venv/bin/python bench/certificates.py [--trainees 500] [--repeat 30]

1. Milliseconds per certificate drawn by our xhtml2pdf template, against the same
   content drawn directly with reportlab (the floor), in the same run.
2. A closed session of N successful trainees (SQLite in a temporary directory, or
   FORPREV_DATABASE_URL) goes through the real job; peak Python memory (tracemalloc) is
   printed for 50 and for N trainees: flat means the bundle is streamed, not held.
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
from reportlab.pdfgen import canvas  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app import create_app  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from app.domain.certificate_issue import CertificateView  # noqa: E402
from app.domain.certificate_pdf import qr_data_uri, render_pdf, verification_url  # noqa: E402

VIEW = CertificateView(
    number="2026-000001",
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


def reportlab_floor(view: CertificateView) -> bytes:
    """The same certificate drawn by hand: what a PDF of it costs at the least."""
    import base64

    from reportlab.lib.utils import ImageReader

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=landscape(A4))
    width, height = landscape(A4)
    logo = Path(__file__).resolve().parent.parent / "app/static/img/logo-forprev.png"
    page.drawImage(str(logo), 50, height - 90, width=180, height=48)
    page.setFont("Helvetica-Bold", 24)
    page.drawString(50, height - 140, view.model_name)
    page.setFont("Helvetica", 14)
    page.drawString(
        50, height - 165, f"{view.scheme_name} ({view.scheme_code}) — niveau {view.level}"
    )
    page.setFont("Helvetica-Bold", 22)
    page.drawString(50, height - 220, view.holder)
    page.setFont("Helvetica", 12)
    y = height - 260
    for label, value in (
        ("Fin de session", view.end_date.strftime("%d/%m/%Y")),
        ("Valable jusqu'au", view.valid_until.strftime("%d/%m/%Y")),
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
    with app.test_request_context():
        render_pdf(VIEW)
        reportlab_floor(VIEW)
        ours, floor = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            render_pdf(VIEW)
            ours.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            reportlab_floor(VIEW)
            floor.append((time.perf_counter() - started) * 1000)
    return statistics.median(ours), statistics.median(floor)


def bundle_memory(app, trainees: int) -> tuple[float, float]:
    from jobs.certificates import generate_certificates
    from tests import factories

    engine = app.extensions["forprev_engine"]
    with app.app_context(), Session(engine, expire_on_commit=False) as db:
        org = factories.organization(db, name=f"BENCH {trainees}")
        acc = factories.accreditation(db, org, scheme_code="PRAP-IBC", level=1)
        manager = factories.person(db, email=f"g{trainees}@bench.fr")
        trainer = factories.person(db, email=f"t{trainees}@bench.fr")
        rows = [(f"NOM{i}", "Prénom", date(1990, 1, 1 + i % 28), True) for i in range(trainees)]
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
    return peak / 1024 / 1024, elapsed


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
    print(
        f"par certificat : xhtml2pdf {ours:.1f} ms, reportlab direct {floor:.1f} ms "
        f"(rapport {ours / floor:.2f})"
    )
    for n in (50, args.trainees):
        peak, elapsed = bundle_memory(app, n)
        print(
            f"lot de {n:>4} stagiaires : pic mémoire {peak:6.1f} Mio, {elapsed:6.1f} s "
            f"({elapsed / n * 1000:.0f} ms par certificat, ZIP et PDF d'impression compris)"
        )


if __name__ == "__main__":
    main()
