"""SMS and enterprise-chat delivery through provider HTTP webhooks, signed Standard-Webhooks style.

Each request carries `webhook-id` (our idempotency key, stable across retries so the receiver
can dedupe), `webhook-timestamp` (Unix seconds) and `webhook-signature`
("v1," + base64 HMAC-SHA256 over "{id}.{timestamp}.{body}"). A secret written "whsec_<base64>"
is base64-decoded into the key, as the Standard Webhooks libraries do; any other secret is used
as its UTF-8 bytes.

Known limit of the SSRF guard: it resolves the host before sending and httpx resolves it again,
so a DNS answer that changes in between (rebinding) is not caught; egress network policy must
back it up.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import re
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from crm_notify.channels.result import SendResult

# No "." so "{id}.{timestamp}.{body}" cannot be re-split into a different id and timestamp.
_WEBHOOK_ID: Final = re.compile(r"[\x21-\x2d\x2f-\x7e]{1,200}")
_MAX_RESPONSE_BYTES: Final = 64 * 1024
_RETRYABLE_STATUS: Final = frozenset({408, 429})


class WebhookUrlError(ValueError):
    """A webhook URL we refuse to call; `transient` marks a DNS failure worth retrying."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def signing_key(secret: str | bytes) -> bytes:
    """Return the HMAC key for a secret ("whsec_<base64>" is decoded, other text is UTF-8)."""
    if isinstance(secret, bytes):
        return secret
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    return secret.encode("utf-8")


def sign(secret: str | bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Return the "v1,<base64>" signature of one request."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_signature(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance_s: int = 300,
) -> bool:
    """Return whether a received request is authentic and fresh; never raise on bad input.

    Header names are matched case-insensitively. Any of several space-separated signatures
    may match (senders list two while rotating secrets). Timestamps more than `tolerance_s`
    away from `now`, in either direction, are rejected to stop replays.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    if not _WEBHOOK_ID.fullmatch(webhook_id) or not raw_timestamp.isascii():
        return False
    if not raw_timestamp.isdigit() or abs(now.timestamp() - int(raw_timestamp)) > tolerance_s:
        return False
    try:
        expected = sign(secret, webhook_id, int(raw_timestamp), body).encode("ascii")
    except ValueError:
        return False
    # Compare every candidate so timing does not reveal which one matched.
    matched = False
    for candidate in lowered.get("webhook-signature", "").split():
        matched |= hmac.compare_digest(candidate.encode("utf-8", "replace"), expected)
    return matched


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Raise WebhookUrlError unless `url` is safe to call from inside our network.

    Requires https and no credentials in the URL. Unless `allow_private` (local tests only,
    which also permits plain http), every address the host resolves to must be public: no
    loopback, private, link-local (cloud metadata), shared, multicast or reserved ranges.
    """
    host, port = _parse_url(url, allow_http=allow_private)
    if allow_private:
        return
    for address in _resolve(host, port):
        if not _is_public(address):
            raise WebhookUrlError(f"host {host!r} resolves to non-public address {address}")


def _parse_url(url: str, *, allow_http: bool) -> tuple[str, int]:
    """Check the URL's form and return its host and port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise WebhookUrlError("webhook url must use https")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("webhook url must not carry credentials")
    host = parts.hostname
    if not host:
        raise WebhookUrlError("webhook url has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise WebhookUrlError("webhook url has an invalid port") from None
    return host, port


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookUrlError(f"cannot resolve host {host!r}: {exc}", transient=True) from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class WebhookSender:
    """POST signed JSON payloads to one provider endpoint."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        timeout: float,
        allow_private: bool = False,
        clock: Callable[[], float] = time.time,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """Check the URL's form now; its addresses are checked again on every send."""
        _parse_url(url, allow_http=allow_private)  # Form only; addresses are resolved per send.
        signing_key(secret)  # Fail now on a malformed "whsec_" secret, not on first send.
        self._url = url
        self._secret = secret
        self._allow_private = allow_private
        self._clock = clock
        # No redirects (a 30x to an internal host would bypass the URL check) and no proxy
        # settings from the environment unless the caller passes its own client.
        self._client = client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False
        )
        self._owns_client = client is None

    async def __aenter__(self) -> WebhookSender:
        """Return self; the HTTP client is closed on exit."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the HTTP client if this sender created it."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this sender created it."""
        if self._owns_client:
            await self._client.aclose()

    async def send(self, *, idempotency_key: str, payload: Mapping[str, Any]) -> SendResult:
        """POST one payload; never raises for provider or network failures."""
        if not _WEBHOOK_ID.fullmatch(idempotency_key):
            raise ValueError("idempotency key must be 1-200 printable ASCII characters, no '.'")
        if not self._allow_private:
            try:
                await asyncio.to_thread(check_webhook_url, self._url, allow_private=False)
            except WebhookUrlError as exc:
                return SendResult(False, None, retryable=exc.transient, error=str(exc))
        body = json.dumps(
            payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "content-type": "application/json",
            "webhook-id": idempotency_key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._secret, idempotency_key, timestamp, body),
        }
        try:
            async with self._client.stream(
                "POST", self._url, content=body, headers=headers
            ) as response:
                head = await _read_limited(response)
        except httpx.UnsupportedProtocol as exc:
            return SendResult(False, None, retryable=False, error=f"http: {exc}")
        except httpx.TransportError as exc:
            # Timeouts included: the provider may have received it; webhook-id lets it dedupe.
            return SendResult(False, None, retryable=True, error=f"{type(exc).__name__}: {exc}")
        return _classify(response, head)


async def _read_limited(response: httpx.Response) -> bytes:
    """Read at most _MAX_RESPONSE_BYTES of the body; a provider cannot exhaust our memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:_MAX_RESPONSE_BYTES]


def _classify(response: httpx.Response, body: bytes) -> SendResult:
    status = response.status_code
    if 200 <= status < 300:
        return SendResult(True, _provider_id(body), retryable=False, error=None)
    error = f"HTTP {status}"
    if status in _RETRYABLE_STATUS or status >= 500:
        retry_after = response.headers.get("retry-after", "")
        delay = float(retry_after) if retry_after.isdigit() else None
        return SendResult(False, None, retryable=True, error=error, retry_after_s=delay)
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    return SendResult(False, None, retryable=False, error=error)


def _provider_id(body: bytes) -> str | None:
    """Return the provider's message id from a JSON reply ({"id": …} or {"message_id": …})."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    for key in ("id", "message_id"):
        value = parsed.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None
