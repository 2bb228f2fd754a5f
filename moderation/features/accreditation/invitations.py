"""Invitations as e-mails and as files, and the receipt of an application.

A personal link exists in clear only in the answer of the command that
issued it (tokens are stored hashed), so invitations are written right then:
sent through the configured SMTP server, or, with none, handed to the
secretariat as a ZIP of one ``.eml`` file per invitation (it opens as a
ready-to-send draft in common mail programs) plus ``invitations.csv`` with
names and links. In-person participants get a QR code of their link: it is
scanned at the door. Only the standard library's ``email`` and ``smtplib``
and segno (pure Python) are used.

Headers are built from ``email.headerregistry.Address`` objects and text
made one line (``header_text``), never by pasting strings: a name stored
with a line break in it (before such names were refused) cannot add a
header or a recipient.
"""
from __future__ import annotations

import html
import io
import re
import smtplib
import ssl
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.errors import HeaderDefect, HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import segno

from moderation.core.csv import csv_safe, write_csv

MODE_TEXT = {
    "room": "in person, in the room",
    "alternate": "in person, as your organization's alternate",
    "online": "online",
}


@dataclass
class Letter:
    """One invitation, ready to send or to save."""

    participant_id: int
    name: str
    email: str
    organization: str
    mode: str
    link: str
    message: EmailMessage
    filename: str


# Control characters and the Unicode line and paragraph separators: every
# way to end a header line early.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_text(text: str) -> str:
    """``text`` as one header line: line breaks and control characters
    become spaces."""
    return " ".join(_BREAKS.sub(" ", text or "").split())


def address(name: str, addr_spec: str) -> Address:
    """A recipient for a header; ValueError when the address cannot be
    written in one (the e-mail module refuses, it never guesses)."""
    try:
        return Address(display_name=header_text(name), addr_spec=addr_spec)
    except (ValueError, IndexError, HeaderParseError, HeaderDefect) as exc:
        raise ValueError(f"the e-mail address {header_text(addr_spec)[:100]!r} cannot be used") from exc


def writable_address(addr_spec: str) -> bool:
    """Whether an e-mail header can carry this address (checked at entry)."""
    try:
        return address("", addr_spec).addr_spec == addr_spec
    except ValueError:
        return False


def qr_png(link: str, scale: int = 8) -> bytes:
    """The link as a QR code (PNG), error correction M: it survives a
    cracked phone screen or a creased print-out."""
    out = io.BytesIO()
    segno.make(link, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def _mode(invitation: dict[str, Any]) -> str:
    if invitation.get("channel") != "room":
        return "online"
    return "alternate" if invitation.get("alternate") else "room"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:60] or "participant"


def letter(invitation: dict[str, Any], dialogue: dict[str, Any], base_url: str, sender: str,
           index: int = 1, *, strict: bool = True) -> Letter:
    """Write one invitation. ``dialogue``: title, when (text), venue,
    registration path (where travel support is requested). ValueError when
    the e-mail address cannot be written in a header; with ``strict``
    false the letter then has no ``To`` (a draft to complete by hand)."""
    link = base_url.rstrip("/") + invitation["link_path"]
    mode = _mode(invitation)
    # One-line fields stay one line in the text too, whatever was stored.
    name = header_text(invitation["name"])
    title = header_text(dialogue["title"])
    when = header_text(dialogue.get("when") or "")
    venue = header_text(dialogue.get("venue") or "")
    organization = header_text(invitation.get("organization") or "")
    paragraphs = [
        f"Dear {name},",
        f"On behalf of the secretariat, we are pleased to invite you to the {title}"
        + (f", {when}" if when else "") + (f", {venue}" if venue and mode != "online" else "") + "."
        + (f" You are registered on behalf of {organization}." if organization else ""),
        f"You take part {MODE_TEXT[mode]}.",
        "Your personal link opens the dialogue on your phone or laptop: the agenda, the list of speakers "
        "and your written inputs. It is yours alone: please do not share it.",
    ]
    if mode != "online":
        paragraphs.append("Please bring the QR code of this invitation, on your phone or printed: it is scanned "
                          "at the entrance. Participants attending in person bear their own costs of travel "
                          "and accommodation.")
    if mode == "alternate":
        paragraphs.append("As the alternate, you may attend with your organization's in-person participant or "
                          "in their place.")
    if invitation.get("travel_eligible") and dialogue.get("registration_path"):
        paragraphs.append("As a grassroots or victim-led or victim-focused organization, you can tell the "
                          "secretariat that you are interested in travel support on your registration page: "
                          f"{base_url.rstrip('/')}{dialogue['registration_path']} (open your personal link "
                          "first). The secretariat decides case by case.")
    closing = "With kind regards,\nThe secretariat"
    text = "\n\n".join(paragraphs[:1] + paragraphs[1:3] + [f"Your personal link:\n{link}"] + paragraphs[3:]
                       + [closing]) + "\n"
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = header_text(f"Invitation: {title}")
    message["From"] = header_text(sender)
    if invitation.get("email"):
        try:
            message["To"] = address(name, invitation["email"])
        except ValueError:
            if strict:
                raise
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=_domain(message["From"]))
    message.set_content(text)
    qr_cid = make_msgid(domain="invitation")
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[:3])
    body += (f'<p>Your personal link:<br><a href="{html.escape(link)}">{html.escape(link)}</a></p>')
    if mode != "online":
        body += (f'<p><img src="cid:{qr_cid[1:-1]}" width="240" height="240" '
                 f'alt="QR code of your personal link"></p>')
    body += "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[3:])
    body += "<p>" + html.escape(closing).replace("\n", "<br>") + "</p>"
    message.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    if mode != "online":
        message.get_payload()[1].add_related(qr_png(link), maintype="image", subtype="png", cid=qr_cid,
                                             filename="qr-code.png")
    filename = f"{index:03d}-{_slug(name)}.eml"
    return Letter(invitation["participant_id"], name, invitation.get("email", ""), organization, mode, link,
                  message, filename)


def _domain(sender_header) -> str | None:
    addresses = getattr(sender_header, "addresses", ())
    return addresses[0].domain or None if addresses else None


def letters(invitations: Iterable[dict[str, Any]], dialogue: dict[str, Any], base_url: str,
            sender: str) -> list[Letter]:
    return [letter(inv, dialogue, base_url, sender, index) for index, inv in enumerate(invitations, start=1)]


def invitations_zip(items: list[Letter]) -> bytes:
    """One .eml per invitation (an unsent draft) and invitations.csv."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            draft = _copy(item.message)
            draft["X-Unsent"] = "1"   # opens as a draft to send, not as a received message
            archive.writestr(item.filename, draft.as_bytes())
        archive.writestr("invitations.csv", write_csv(
            ((item.name, item.email, item.organization, item.mode, item.link, item.filename) for item in items),
            ["name", "email", "organization", "mode", "link", "file"], cell=csv_safe))
    return out.getvalue()


def _copy(message: EmailMessage) -> EmailMessage:
    from email import message_from_bytes, policy
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def receipt(contact: tuple[str, str], organization: str, applications: list[tuple[str, int, str]],
            sender: str, *, edit_link: str | None, changed: bool) -> EmailMessage:
    """The e-mail to an application's contact person: what was stored and,
    for a new application, the private edit link. ``applications``:
    (dialogue title, reference, deadline text). ValueError when the address
    cannot be written in a header."""
    name, email_address = contact
    organization = header_text(organization)
    lines = [f"Dear {header_text(name)},", ""]
    lines.append(f"The application of {organization} was changed." if changed
                 else f"The secretariat has received the application of {organization}:")
    for title, reference, deadline in applications:
        lines.append(f"- {header_text(title)} (reference {reference}" + (f"; deadline {deadline}" if deadline else "")
                     + ")")
    lines.append("")
    if edit_link:
        lines += ["To change it until the deadline, or until the secretariat decides, open your private edit "
                  "link:", edit_link, "",
                  "Anyone with this link can change your application: please do not share it. Sending the form "
                  "again without it makes a new application.", ""]
    elif changed:
        lines += ["If you did not change it, please write to the secretariat at once.", ""]
    lines += ["With kind regards,", "The secretariat"]
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = header_text(("Application changed: " if changed else "Application received: ")
                                     + organization)
    message["From"] = header_text(sender)
    message["To"] = address(name, email_address)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=_domain(message["From"]))
    message.set_content("\n".join(lines) + "\n")
    return message


@dataclass
class SmtpSettings:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str | None = None
    starttls: bool = True
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config) -> SmtpSettings | None:
        if not config.get("SMTP_HOST"):
            return None
        return cls(host=config["SMTP_HOST"], port=int(config.get("SMTP_PORT") or 587),
                   user=config.get("SMTP_USER") or None, password=config.get("SMTP_PASSWORD") or None,
                   sender=config.get("SMTP_FROM") or config.get("SMTP_USER") or None,
                   starttls=bool(config.get("SMTP_STARTTLS", True)))


def send(settings: SmtpSettings, items: list[Letter]) -> dict[int, str | None]:
    """Send each invitation over one connection. Returns participant id ->
    None (sent) or the reason it was not sent; never raises."""
    results: dict[int, str | None] = {item.participant_id: "no e-mail address" for item in items if not item.email}
    results.update(send_messages(settings, {item.participant_id: item.message for item in items if item.email}))
    return results


def send_messages(settings: SmtpSettings, messages: dict[Any, EmailMessage]) -> dict[Any, str | None]:
    """Send messages over one connection: key -> None (sent) or the reason
    it was not; never raises. A refusal for one message goes on with the
    next; once the connection is lost the rest are not sent."""
    results: dict[Any, str | None] = {}
    if not messages:
        return results
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            for key, message in messages.items():
                try:
                    refused = smtp.send_message(message)
                    results[key] = "refused by the server" if refused else None
                except smtplib.SMTPServerDisconnected:
                    raise
                except (smtplib.SMTPException, UnicodeError, ValueError) as exc:
                    results[key] = _reason(exc)
    except (OSError, smtplib.SMTPException) as exc:
        for key in messages:
            results.setdefault(key, f"the mail server could not be used ({_reason(exc)})")
    return results


def _reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, answer = next(iter(exc.recipients.values()))
        exc = smtplib.SMTPResponseException(code, answer)
    if isinstance(exc, smtplib.SMTPResponseException):
        answer = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return header_text(f"{exc.smtp_code} {answer}")[:200]
    return header_text(str(exc) or exc.__class__.__name__)[:200]
