"""JSON log lines: personal data only masked, secrets redacted, trace ids and levels present."""

from __future__ import annotations

import io
import json

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from crm.client.v1 import client_pb2
from crm_runtime.logging import configure_logging, get_logger

ID_NUMBER = "110105199003071239"
MOBILE = "13812345678"
MASKED_ID = "110105********1239"
MASKED_MOBILE = "138****5678"


@pytest.fixture
def log_output():
    """Route configured logging into a buffer; restore structlog's defaults afterwards."""
    def configure(level: str = "debug") -> io.StringIO:
        buffer = io.StringIO()
        configure_logging(level=level, service="pii-test", stream=buffer, cache=False)
        return buffer

    yield configure
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


class TestJsonLogs:
    def test_canaries_in_fields_and_event_text_are_masked(self, log_output):
        """ID and mobile numbers appear only masked, wherever they were put."""
        buffer = log_output()
        log = get_logger("kyc")
        log.info(f"verified {ID_NUMBER} by sms to {MOBILE}", holder=ID_NUMBER,
                 contact=MOBILE, contact_number=int(MOBILE), e164=f"+86{MOBILE}",
                 people=[{"note": f"id {ID_NUMBER}"}], recipients={MOBILE},
                 person=client_pb2.KeyPerson(id_number=ID_NUMBER, mobile_number=MOBILE))
        raw = buffer.getvalue()
        assert ID_NUMBER not in raw
        assert MOBILE not in raw
        (line,) = _lines(buffer)
        assert line["event"] == f"verified {MASKED_ID} by sms to {MASKED_MOBILE}"
        assert line["holder"] == MASKED_ID
        assert line["contact"] == MASKED_MOBILE
        assert line["contact_number"] == MASKED_MOBILE
        assert line["e164"] == f"+86{MASKED_MOBILE}"
        assert line["people"] == [{"note": f"id {MASKED_ID}"}]
        assert MASKED_ID in str(line["person"])

    def test_exception_text_is_masked(self, log_output):
        """An exception whose message holds an ID number is logged masked."""
        buffer = log_output()
        try:
            raise ValueError(f"no client for id {ID_NUMBER}, mobile {MOBILE}")
        except ValueError:
            get_logger("kyc").exception("lookup failed")
        raw = buffer.getvalue()
        assert ID_NUMBER not in raw
        assert MOBILE not in raw
        (line,) = _lines(buffer)
        assert MASKED_ID in str(line["exception"])
        assert line["level"] == "error"

    def test_secrets_redacted(self, log_output):
        """Values under secret keys never reach the output."""
        buffer = log_output()
        get_logger("auth").info("login", password="hunter2-canary",
                                database_url="postgresql://u:pw-canary@db/x",
                                headers={"authorization": "Bearer jwt-canary"})
        raw = buffer.getvalue()
        for canary in ("hunter2-canary", "pw-canary", "jwt-canary"):
            assert canary not in raw
        (line,) = _lines(buffer)
        assert line["password"] == "[redacted]"
        assert line["headers"] == {"authorization": "[redacted]"}

    def test_line_shape(self, log_output):
        """One JSON object per line with level, UTC timestamp, service and component."""
        buffer = log_output()
        log = get_logger("shape")
        log.info("first", n=1)
        log.warning("second", n=2)
        first, second = _lines(buffer)
        assert (first["event"], first["level"], first["n"]) == ("first", "info", 1)
        assert second["level"] == "warning"
        assert first["service"] == "pii-test"
        assert first["component"] == "shape"
        assert str(first["timestamp"]).endswith("Z")

    def test_level_filter(self, log_output):
        """Below the configured level nothing is written."""
        buffer = log_output("warning")
        log = get_logger("quiet")
        log.info("hidden")
        log.debug("hidden too")
        log.error("shown")
        assert [line["event"] for line in _lines(buffer)] == ["shown"]

    def test_trace_ids_inside_a_span(self, log_output):
        """Inside a span the line carries its trace and span ids; outside it does not."""
        buffer = log_output()
        log = get_logger("traced")
        tracer = TracerProvider().get_tracer("tests")
        with tracer.start_as_current_span("work") as span:
            log.info("inside")
        log.info("outside")
        inside, outside = _lines(buffer)
        context = span.get_span_context()
        assert inside["trace_id"] == format(context.trace_id, "032x")
        assert inside["span_id"] == format(context.span_id, "016x")
        assert "trace_id" not in outside
