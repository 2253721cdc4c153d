"""Outgoing mail: by SMTP when ``CATALOGUE_SMTP_URL`` is set, otherwise into an outbox.

The outbox is ``<data dir>/outbox/``: one ``.eml`` file per message (readable by any
mail client), its path and the link it carries written to the log, so that a catalogue
run without a mail server still lets people confirm their address and reset passwords.
Messages are in the recipient's language (French or English).
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from catalogue.accounts_model import utc_now
from catalogue.errors import ConfigurationError
from catalogue.settings import Settings

log = logging.getLogger("catalogue.mail")


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str
    #: the link the message exists for (logged with the outbox path)
    link: str = ""


_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "confirm": {
        "en": ("Confirm your e-mail address for the cohort catalogue",
               "Hello {name},\n\nTo confirm your e-mail address and activate your account, "
               "open this link within {hours} hours:\n\n{link}\n\nIf you did not sign up, "
               "ignore this message.\n"),
        "fr": ("Confirmez votre adresse électronique pour le catalogue des cohortes",
               "Bonjour {name},\n\nPour confirmer votre adresse électronique et activer votre "
               "compte, ouvrez ce lien dans les {hours} heures :\n\n{link}\n\nSi vous ne vous "
               "êtes pas inscrit, ignorez ce message.\n"),
    },
    "already": {
        "en": ("Your account on the cohort catalogue",
               "Hello {name},\n\nSomeone (you, probably) tried to sign up with this address, "
               "which already has an account. To sign in:\n\n{link}\n\nIf you forgot your "
               "password, use \"Forgot your password?\" on that page.\n"),
        "fr": ("Votre compte sur le catalogue des cohortes",
               "Bonjour {name},\n\nQuelqu'un (vous, sans doute) a voulu s'inscrire avec cette "
               "adresse, qui a déjà un compte. Pour vous connecter :\n\n{link}\n\nSi vous "
               "avez oublié votre mot de passe, utilisez « Mot de passe oublié ? » sur cette "
               "page.\n"),
    },
    "reset": {
        "en": ("Set a new password for the cohort catalogue",
               "Hello {name},\n\nTo choose a new password, open this link within {hours} "
               "hour(s):\n\n{link}\n\nIf you did not ask for it, ignore this message: your "
               "password stays as it is.\n"),
        "fr": ("Choisissez un nouveau mot de passe pour le catalogue des cohortes",
               "Bonjour {name},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien dans "
               "un délai de {hours} heure(s) :\n\n{link}\n\nSi vous ne l'avez pas demandé, "
               "ignorez ce message : votre mot de passe reste inchangé.\n"),
    },
}


def compose(kind: str, lang: str, *, to: str, name: str, link: str, hours: int = 0) -> Mail:
    """One of the account messages (``confirm``, ``already``, ``reset``) in ``lang``."""
    subject, body = _TEXTS[kind].get(lang, _TEXTS[kind]["en"])
    return Mail(to=to, subject=subject, body=body.format(name=name, link=link, hours=hours),
                link=link)


def send(settings: Settings, mail: Mail) -> Path | None:
    """Send ``mail``; returns the outbox file when there is no SMTP server."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = make_msgid(domain="cohort-catalogue")
    # 8bit: lines stay whole, so the link in an outbox file can be copied as it is
    message.set_content(mail.body, cte="8bit")
    if settings.smtp_url:
        _send_smtp(settings.smtp_url, message)
        log.info("mail sent to %s: %s", mail.to, mail.subject)
        return None
    return _write_outbox(settings.data_dir / "outbox", message, mail)


def _write_outbox(outbox: Path, message: EmailMessage, mail: Mail) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # names sort by time
    path = outbox / f"{stamp}-{secrets.token_hex(4)}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(message))
    os.chmod(tmp, 0o600)  # it holds a live sign-in or reset link
    tmp.replace(path)
    log.warning("no CATALOGUE_SMTP_URL: mail to %s written to %s; link: %s", mail.to, path,
                mail.link or "(none)")
    return path


def _send_smtp(url: str, message: EmailMessage) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigurationError("CATALOGUE_SMTP_URL must look like "
                                 "smtp://user:password@host:587 or smtps://host:465")
    context = ssl.create_default_context()
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(parts.hostname, parts.port or 465,
                                                    timeout=30, context=context)
        else:
            client = smtplib.SMTP(parts.hostname, parts.port or 587, timeout=30)
        with client:
            if parts.scheme == "smtp":
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif parts.username:
                    raise ConfigurationError(
                        f"{parts.hostname} does not offer STARTTLS: refusing to send the "
                        "password in clear; use smtps:// or a server with STARTTLS")
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise ConfigurationError(f"cannot send mail through {parts.hostname}: {exc}") from None


def outbox_messages(settings: Settings) -> list[Path]:
    """The outbox files, oldest first (tests and the ``admin outbox`` command read them)."""
    outbox = settings.data_dir / "outbox"
    return sorted(outbox.glob("*.eml")) if outbox.is_dir() else []
