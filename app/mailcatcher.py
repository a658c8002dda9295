"""A local SMTP server that keeps every mail in a Maildir (development only)."""

import mailbox
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path: str):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server, session, envelope):
        self.box.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def serve(host: str, port: int, path: str) -> None:
    controller = Controller(MaildirHandler(path), hostname=host, port=port)
    controller.start()
    print(f"Collecteur de courriels sur {host}:{port} → {path}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
