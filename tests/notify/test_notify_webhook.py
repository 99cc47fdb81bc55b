"""Tests for signed webhook delivery, signature checks and the SSRF guard."""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from webhook_receiver import WebhookReceiver

from crm_notify.channels.webhook import (
    WebhookSender,
    WebhookUrlError,
    check_webhook_url,
    sign,
    verify_signature,
)

SECRET = "whsec_" + base64.b64encode(b"test-secret-0123456789abcdef").decode()
PAYLOAD = {"to": "+8613812345678", "text": "您的贷款利率已调整为3.65%。", "template": "RATE_CHANGE"}


@pytest.fixture
async def receiver_factory():
    """Start receivers on 127.0.0.1:0 and close them after the test."""
    receivers = []

    async def start(**kwargs):
        receiver = WebhookReceiver(secret=kwargs.pop("secret", SECRET), **kwargs)
        url = await receiver.start()
        receivers.append(receiver)
        return receiver, url

    yield start
    for receiver in receivers:
        await receiver.close()


def _sender(url, **kwargs):
    kwargs.setdefault("timeout", 2.0)
    return WebhookSender(url, kwargs.pop("secret", SECRET), allow_private=True, **kwargs)


class TestDelivery:
    async def test_signed_payload_is_delivered(self, receiver_factory):
        """A 2xx from a receiver that verified the signature counts as delivered."""
        receiver, url = await receiver_factory()
        async with _sender(url) as sender:
            result = await sender.send(idempotency_key="msg-1:sms", payload=PAYLOAD)
        assert result.accepted and not result.retryable and result.error is None
        assert result.provider_message_id == "prov-1"
        assert receiver.deliveries == {"msg-1:sms": PAYLOAD}
        assert receiver.bad_signatures == 0

    async def test_transient_failures_then_success(self, receiver_factory):
        """Two 503s are retryable; the third attempt lands exactly one delivery."""
        receiver, url = await receiver_factory(fail_times=2, fail_status=503)
        async with _sender(url) as sender:
            results = [await sender.send(idempotency_key="m-2", payload=PAYLOAD) for _ in range(3)]
        assert [(r.accepted, r.retryable) for r in results] == [(False, True), (False, True),
                                                                (True, False)]
        assert results[0].error == "HTTP 503"
        assert receiver.attempts == ["m-2"] * 3 and len(receiver.deliveries) == 1

    @pytest.mark.parametrize(
        ("status", "retryable"),
        [(408, True), (429, True), (500, True), (502, True), (400, False), (401, False),
         (404, False), (410, False), (422, False), (302, False)],
    )
    async def test_status_classification(self, receiver_factory, status, retryable):
        """408, 429 and 5xx are retryable; other 4xx and unfollowed redirects are not."""
        _, url = await receiver_factory(fail_times=1, fail_status=status,
                                        fail_headers=["Location: http://169.254.169.254/"])
        async with _sender(url) as sender:
            result = await sender.send(idempotency_key="m-3", payload=PAYLOAD)
        assert (result.accepted, result.retryable) == (False, retryable)
        assert result.error is not None and result.error.startswith(f"HTTP {status}")

    async def test_retry_after_is_reported(self, receiver_factory):
        """A 429 with Retry-After passes the provider's requested delay on."""
        _, url = await receiver_factory(fail_times=1, fail_status=429,
                                        fail_headers=["Retry-After: 7"])
        async with _sender(url) as sender:
            result = await sender.send(idempotency_key="m-4", payload=PAYLOAD)
        assert result.retryable and result.retry_after_s == 7.0

    async def test_lost_answer_retry_is_deduplicated(self, receiver_factory):
        """A retry after a lost answer reuses the webhook-id, so the receiver keeps one copy."""
        receiver, url = await receiver_factory(lose_answer_times=1)
        async with _sender(url) as sender:
            first = await sender.send(idempotency_key="m-5", payload=PAYLOAD)
            second = await sender.send(idempotency_key="m-5", payload=PAYLOAD)
        assert first.retryable and second.accepted
        assert len(receiver.deliveries) == 1 and receiver.duplicates == 1

    async def test_timeout_is_retryable_and_deduplicated(self, receiver_factory):
        """A slow answer times out (retryable); the retry is recognised as a duplicate."""
        receiver, url = await receiver_factory(delay_s=1.0, delay_times=1)
        async with _sender(url, timeout=0.3) as sender:
            first = await sender.send(idempotency_key="m-6", payload=PAYLOAD)
            second = await sender.send(idempotency_key="m-6", payload=PAYLOAD)
        assert not first.accepted and first.retryable
        assert first.error is not None and "Timeout" in first.error
        assert second.accepted
        assert len(receiver.deliveries) == 1 and receiver.duplicates == 1

    async def test_connection_refused_is_retryable(self):
        """Nobody listening is a transient network failure."""
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        async with _sender(f"http://127.0.0.1:{port}/hook") as sender:
            result = await sender.send(idempotency_key="m-7", payload=PAYLOAD)
        assert not result.accepted and result.retryable

    async def test_stale_timestamp_is_rejected_by_receiver(self, receiver_factory):
        """A request signed ten minutes ago fails verification and is not retried."""
        receiver, url = await receiver_factory()
        async with _sender(url, clock=lambda: time.time() - 600) as sender:
            result = await sender.send(idempotency_key="m-8", payload=PAYLOAD)
        assert (result.accepted, result.retryable, result.error) == (False, False, "HTTP 401")
        assert receiver.bad_signatures == 1 and receiver.deliveries == {}

    async def test_wrong_secret_is_rejected_by_receiver(self, receiver_factory):
        """A sender with another secret is refused."""
        receiver, url = await receiver_factory()
        async with _sender(url, secret="not-the-secret") as sender:
            result = await sender.send(idempotency_key="m-9", payload=PAYLOAD)
        assert result.error == "HTTP 401" and receiver.deliveries == {}

    async def test_idempotency_key_must_be_safe(self, receiver_factory):
        """Keys with dots, spaces or non-ASCII raise instead of producing ambiguous signatures."""
        _, url = await receiver_factory()
        async with _sender(url) as sender:
            for key in ("", "a.b", "a b", "键"):
                with pytest.raises(ValueError, match="idempotency key"):
                    await sender.send(idempotency_key=key, payload=PAYLOAD)


class TestVerifySignature:
    NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)

    def _headers(self, body: bytes, *, ts=None, webhook_id="msg-1", secret=SECRET):
        ts = int(self.NOW.timestamp()) if ts is None else ts
        return {"Webhook-Id": webhook_id, "Webhook-Timestamp": str(ts),
                "Webhook-Signature": sign(secret, webhook_id, ts, body)}

    def test_standard_webhooks_reference_vector(self):
        """Our signature matches the Standard Webhooks reference example."""
        body = b'{"test": 2432232314}'
        assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                    1614265330, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    def test_valid_and_case_insensitive(self):
        """A fresh, correct signature verifies whatever the header-name case."""
        body = json.dumps(PAYLOAD).encode()
        headers = self._headers(body)
        assert verify_signature(SECRET, headers, body, now=self.NOW)
        lowered = {k.lower(): v for k, v in headers.items()}
        assert verify_signature(SECRET, lowered, body, now=self.NOW)

    def test_tampering_and_wrong_secret_fail(self):
        """A changed body, id or secret fails verification."""
        body = b'{"a":1}'
        headers = self._headers(body)
        assert not verify_signature(SECRET, headers, b'{"a":2}', now=self.NOW)
        assert not verify_signature("other", headers, body, now=self.NOW)
        assert not verify_signature(SECRET, {**headers, "Webhook-Id": "msg-2"}, body, now=self.NOW)

    @pytest.mark.parametrize("skew", [timedelta(seconds=301), timedelta(seconds=-301)])
    def test_stale_or_future_timestamps_fail(self, skew):
        """Timestamps more than the tolerance away from now, either way, fail."""
        body = b"{}"
        headers = self._headers(body, ts=int((self.NOW + skew).timestamp()))
        assert not verify_signature(SECRET, headers, body, now=self.NOW)
        assert verify_signature(SECRET, headers, body, now=self.NOW, tolerance_s=400)

    def test_rotated_secrets_any_signature_matches(self):
        """With two signatures listed (secret rotation), either secret verifies."""
        body = b"{}"
        ts = int(self.NOW.timestamp())
        both = f"{sign('old-secret', 'm', ts, body)} {sign(SECRET, 'm', ts, body)}"
        headers = {"webhook-id": "m", "webhook-timestamp": str(ts), "webhook-signature": both}
        assert verify_signature(SECRET, headers, body, now=self.NOW)
        assert verify_signature("old-secret", headers, body, now=self.NOW)
        assert not verify_signature("third", headers, body, now=self.NOW)

    @pytest.mark.parametrize("broken", [
        {"webhook-timestamp": "abc"}, {"webhook-timestamp": "١٧٠٠"}, {"webhook-timestamp": ""},
        {"webhook-id": ""}, {"webhook-signature": ""}, {"webhook-signature": "v1,@@@"},
    ])
    def test_malformed_headers_fail_without_raising(self, broken):
        """Missing or garbage headers return False instead of raising."""
        body = b"{}"
        headers = {k.lower(): v for k, v in self._headers(body).items()} | broken
        assert not verify_signature(SECRET, headers, body, now=self.NOW)

    def test_malformed_whsec_secret_fails_without_raising(self):
        """A receiver configured with an undecodable whsec_ secret rejects instead of crashing."""
        body = b"{}"
        assert not verify_signature("whsec_***", self._headers(body), body, now=self.NOW)


class TestSsrfGuard:
    @pytest.mark.parametrize("url", [
        "https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook",
        "https://172.16.0.9/hook", "https://192.168.1.1/hook", "https://169.254.169.254/latest",
        "https://100.64.0.1/hook", "https://0.0.0.0/hook", "https://[::1]/hook",
        "https://[fe80::1]/hook", "https://[fd00::1]/hook", "https://[::ffff:127.0.0.1]/hook",
        "https://2130706433/hook", "https://224.0.0.1/hook",
    ])
    def test_internal_addresses_are_blocked(self, url):
        """Loopback, private, link-local, shared, multicast and disguised forms are refused."""
        with pytest.raises(WebhookUrlError, match="non-public"):
            check_webhook_url(url, allow_private=False)

    @pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "https://[2001:4860:4860::8888]:8443/x"])
    def test_public_literals_pass(self, url):
        """Public IP literals pass without any lookup."""
        check_webhook_url(url, allow_private=False)

    @pytest.mark.parametrize(("url", "message"), [
        ("http://8.8.8.8/hook", "https"), ("ftp://8.8.8.8/x", "https"),
        ("https://user:pw@8.8.8.8/hook", "credentials"), ("https:///nohost", "no host"),
        ("https://8.8.8.8:99999/x", "port"),
    ])
    def test_malformed_urls(self, url, message):
        """Non-https, embedded credentials, missing hosts and bad ports are refused."""
        with pytest.raises(WebhookUrlError, match=message):
            check_webhook_url(url, allow_private=False)

    def test_allow_private_permits_local_http(self):
        """Tests may target http://127.0.0.1 with allow_private."""
        check_webhook_url("http://127.0.0.1:8080/hook", allow_private=True)
        with pytest.raises(WebhookUrlError):
            check_webhook_url("ftp://127.0.0.1/hook", allow_private=True)

    async def test_sender_refuses_internal_target_without_sending(self, receiver_factory):
        """Without allow_private, a sender never reaches an internal address."""
        receiver, url = await receiver_factory()
        with pytest.raises(WebhookUrlError, match="https"):
            WebhookSender(url, SECRET, timeout=1.0)
        https_url = url.replace("http://", "https://")
        async with WebhookSender(https_url, SECRET, timeout=1.0) as sender:
            result = await sender.send(idempotency_key="m-10", payload=PAYLOAD)
        assert (result.accepted, result.retryable) == (False, False)
        assert result.error is not None and "non-public" in result.error
        assert receiver.attempts == []
