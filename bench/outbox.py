"""How fast the outbox drains and how much memory it takes.

    .venv/bin/python bench/outbox.py [N]

Writes N mails (default 2000) on a fresh SQLite database (or FORPREV_DATABASE_URL), then
delivers them to a real local SMTP server (aiosmtpd) in one call of the job, and prints
mails per second for writing and for sending, and the peak Python memory of the send.
"""

import socket
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app import create_app  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from app.domain.mail import queue_email  # noqa: E402
from jobs.mail import deliver_outbox  # noqa: E402


class Counter:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Counter.count += 1
        return "250 OK"


def main(n: int) -> None:
    import os

    tmp = Path(tempfile.mkdtemp(prefix="forprev-bench-"))
    url = os.environ.get("FORPREV_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    upgrade_database(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = Controller(Counter(), hostname="127.0.0.1", port=port)
    smtp.start()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "REDIS_URL": "redis://127.0.0.1:1/0",  # enqueue fails quietly: we call the job
            "SMTP_PORT": port,
        }
    )
    with app.app_context():
        started = time.perf_counter()
        with Session(app.extensions["forprev_engine"]) as db:
            for i in range(n):
                queue_email(
                    db,
                    to=f"personne{i}@example.fr",
                    subject=f"Session n° {i} à valider",
                    template="notification",
                    context={"first_name": "Karine", "message": "À valider.", "link": "/"},
                    category="notification",
                )
                if i % 500 == 499:
                    db.flush()
            db.commit()
        written = time.perf_counter() - started

        tracemalloc.start()
        started = time.perf_counter()
        total = 0
        while True:
            result = deliver_outbox(limit=500)
            total += result["sent"]
            if not result["sent"]:
                break
        sent = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    smtp.stop()
    print(f"base : {url.split(':', 1)[0]}, {n} courriels")
    print(f"écriture dans l'outbox : {n / written:8.0f} courriels/s ({written:.2f} s)")
    print(f"envoi SMTP (1 worker)  : {total / sent:8.0f} courriels/s ({sent:.2f} s)")
    print(f"pic mémoire de l'envoi : {peak / 1024 / 1024:8.1f} Mio")
    print(f"reçus par le serveur   : {Counter.count}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
