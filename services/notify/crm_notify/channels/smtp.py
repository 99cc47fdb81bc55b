"""Email delivery over SMTP, using the standard library's smtplib in a worker thread.

smtplib is blocking, so each send runs in `asyncio.to_thread`; the socket timeout bounds
every step, so a hung server cannot pin a thread forever. Replies are classified the SMTP way:
4xx and lost connections are worth retrying, 5xx are not.

A retry after a timeout may deliver the same mail twice (the server may have accepted it just
before the connection dropped). Every message therefore carries a `Message-ID` derived from
the idempotency key and an `X-CRM-Idempotency-Key` header, so receivers and our own inbound
processing can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from typing import Final

from crm_notify.channels.result import SendResult

IDEMPOTENCY_HEADER: Final = "X-CRM-Idempotency-Key"
# Quoted-printable/base64 bodies instead of raw 8-bit: Chinese text then survives servers that
# do not announce 8BITMIME. CRLF line endings as SMTP requires.
_WIRE_POLICY: Final = policy.SMTP.clone(cte_type="7bit")
_IDEMPOTENCY_KEY: Final = re.compile(r"[\x21-\x7e]{1,200}")
_QUEUE_ID: Final = re.compile(r"queued as\s+([A-Za-z0-9._@<>-]+)", re.IGNORECASE)


def message_id_for(idempotency_key: str, domain: str) -> str:
    """Return the stable Message-ID for an idempotency key: same key, same Message-ID."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


class SmtpSender:
    """Send one email per call to a fixed SMTP relay."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        from_addr: str,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        allow_plaintext_auth: bool = False,
        helo_name: str | None = None,
    ) -> None:
        """Configure the relay; refuse to send a password over an unencrypted connection.

        `allow_plaintext_auth` exists for local test servers only. `helo_name` is the name we
        announce in EHLO; by default smtplib looks up this host's FQDN.
        """
        if password is not None and username is None:
            raise ValueError("password given without username")
        if username is not None and not starttls and not allow_plaintext_auth:
            raise ValueError("refusing SMTP login without STARTTLS")
        if not (username or "").isascii() or not (password or "").isascii():
            # smtplib encodes AUTH exchanges as ASCII and would fail mid-send otherwise.
            raise ValueError("SMTP credentials must be ASCII")
        _, address = parseaddr(from_addr)
        local, _, domain = address.rpartition("@")
        if not local or not domain or not address.isascii():
            raise ValueError(f"from_addr {from_addr!r} is not an ASCII email address")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._from_addr = from_addr
        self._envelope_from = address
        self._domain = domain
        self._timeout = timeout
        self._tls_context = tls_context or ssl.create_default_context()
        self._helo_name = helo_name

    def build_message(
        self, *, to: str, subject: str, text: str, html: str | None, idempotency_key: str
    ) -> EmailMessage:
        """Return the message `send` would transmit; raise ValueError for unsafe input."""
        _check_idempotency_key(idempotency_key)
        _recipient_address(to)
        message = EmailMessage(policy=_WIRE_POLICY)
        # Header assignment raises ValueError on CR/LF, which blocks header injection.
        message["From"] = self._from_addr
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id_for(idempotency_key, self._domain)
        message[IDEMPOTENCY_HEADER] = idempotency_key
        # RFC 3834: tells auto-responders not to answer a notification.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    async def send(
        self, *, to: str, subject: str, text: str, html: str | None, idempotency_key: str
    ) -> SendResult:
        """Send one message; never raises for provider or network failures.

        Raise ValueError for a malformed idempotency key (a caller bug); unsafe recipient or
        subject text is reported as a permanent failure.
        """
        _check_idempotency_key(idempotency_key)
        try:
            message = self.build_message(
                to=to, subject=subject, text=text, html=html, idempotency_key=idempotency_key
            )
        except ValueError as exc:
            return SendResult(False, None, retryable=False, error=f"invalid message: {exc}")
        return await asyncio.to_thread(self._deliver, _recipient_address(to), message)

    def _deliver(self, recipient: str, message: EmailMessage) -> SendResult:
        """Run one SMTP transaction (blocking) and classify its outcome."""
        payload = message.as_bytes(policy=_WIRE_POLICY)
        try:
            with smtplib.SMTP(timeout=self._timeout, local_hostname=self._helo_name) as client:
                _expect(client.connect(self._host, self._port), (220,))
                client.ehlo_or_helo_if_needed()
                if self._starttls:
                    client.starttls(context=self._tls_context)
                    client.ehlo()
                if self._username is not None:
                    client.login(self._username, self._password or "")
                _expect(client.mail(self._envelope_from), (250,))
                _expect(client.rcpt(recipient), (250, 251))
                # data() raises only if DATA itself is refused; the final reply is returned.
                _, reply = _expect(client.data(payload), (250,))
        except smtplib.SMTPResponseException as exc:
            return _rejected(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPServerDisconnected as exc:
            return SendResult(False, None, retryable=True, error=f"disconnected: {exc}")
        except smtplib.SMTPException as exc:
            # STARTTLS or AUTH not offered, no usable auth mechanism: configuration problems.
            return SendResult(False, None, retryable=False, error=f"smtp: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return SendResult(False, None, retryable=False, error=f"tls certificate: {exc}")
        except OSError as exc:
            # Refused, reset, timed out, DNS failure: the relay may be back shortly.
            return SendResult(False, None, retryable=True, error=f"network: {exc}")
        queue_id = _QUEUE_ID.search(reply.decode("utf-8", "replace"))
        provider_id = queue_id.group(1) if queue_id else str(message["Message-ID"])
        return SendResult(True, provider_id, retryable=False, error=None)


def _recipient_address(to: str) -> str:
    """Return the single bare address in `to`, or raise ValueError."""
    addresses = getaddresses([to])
    if len(addresses) != 1 or "\n" in to or "\r" in to:
        raise ValueError(f"expected exactly one recipient, got {to!r}")
    address = addresses[0][1]
    local, _, domain = address.rpartition("@")
    # smtplib speaks ASCII only; SMTPUTF8 (internationalised addresses) is not supported.
    if not local or not domain or not address.isascii():
        raise ValueError(f"invalid recipient address {to!r}")
    return address


def _check_idempotency_key(key: str) -> None:
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError("idempotency key must be 1-200 printable ASCII characters")


def _expect(reply: tuple[int, bytes], accepted: tuple[int, ...]) -> tuple[int, bytes]:
    """Return the reply, or raise SMTPResponseException unless its code is in `accepted`."""
    code, text = reply
    if code not in accepted:
        raise smtplib.SMTPResponseException(code, text)
    return reply


def _rejected(code: int, text: bytes | str) -> SendResult:
    """Classify an SMTP error reply: 4xx is transient, anything else permanent."""
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return SendResult(False, None, retryable=400 <= code < 500, error=f"{code} {detail}")
