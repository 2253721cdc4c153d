"""Reading the mail the catalogue wrote to its outbox (no SMTP server in the tests)."""

from __future__ import annotations

import email
import re
import time

from catalogue.accounts_mail import outbox_messages
from catalogue.settings import Settings


def outbox_link(settings: Settings, to: str, *, wait: float = 10.0) -> str:
    """The link in the latest message to ``to`` in the outbox, waiting up to ``wait``
    seconds for it (a server in another process may still be writing it)."""
    deadline = time.monotonic() + wait
    while True:
        for path in reversed(outbox_messages(settings)):
            message = email.message_from_bytes(path.read_bytes())
            if message["To"] == to:
                payload = message.get_payload(decode=True)
                assert isinstance(payload, bytes)
                found = re.search(r"https?://\S+", payload.decode("utf-8"))
                assert found, payload
                return found.group(0)
        if time.monotonic() >= deadline:
            raise AssertionError(f"no message to {to} in the outbox")
        time.sleep(0.2)
