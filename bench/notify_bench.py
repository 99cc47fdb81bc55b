"""Push delivery rate and 100,000-recipient campaign fan-out of the notification service.

The service runs pinned to CPU 0 on SQLite; the load generator runs on CPU 1. Measures:

- push_delivery: a backlog of messages for 1,000 recipients is streamed to 4 app streams
  (250 recipients each, 100 messages per response) and acknowledged page by page; the rate is
  messages received *and acknowledged* per second (acknowledged = delivered in the store).
- stream_anchor: a do-nothing server-streaming server (this module with --anchor), pinned the
  same way, yielding pages of the same PushMessage shape: what the transport alone allows.
- fanout: one campaign to 100,000 explicitly listed recipients on the push channel, from the
  CreateCampaign call until every message (with its push sequence) is in the store.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

from bench.tools import LOAD_CPU, ROOT, Measurement, start_pinned, summary, wait_ready
from crm.notify.v1 import (
    campaign_pb2,
    common_pb2,
    message_pb2,
    notify_service_pb2,
    notify_service_pb2_grpc,
    template_pb2,
)
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port

SERVICE = "crm.notify.v1.NotificationService"
RECIPIENTS = [f"staff/b{i:04d}" for i in range(1000)]
STREAMS = 4
PAGE = 100
FANOUT_RECIPIENTS = 100_000
BODY = "尊敬的客户：贷款市场报价利率（LPR）调整，一年期 3.45%，五年期以上 3.95%。"


def _push_message(index: int) -> message_pb2.PushMessage:
    return message_pb2.PushMessage(
        message=f"messages/{uuid.uuid4().hex}",
        recipient=RECIPIENTS[index % len(RECIPIENTS)],
        sequence=index,
        category=common_pb2.CATEGORY_SERVICE,
        urgency=common_pb2.URGENCY_NORMAL,
        subject="利率调整通知",
        body=BODY,
        locale="zh-CN",
        campaign=f"campaigns/{uuid.uuid4().hex}",
    )


async def _anchor_server(port: int) -> None:
    """Serve StreamMessages that yields prebuilt pages forever (the transport's ceiling)."""
    page = notify_service_pb2.StreamMessagesResponse(
        messages=[_push_message(i) for i in range(PAGE)]
    )

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        while True:
            yield page

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "StreamMessages": grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=notify_service_pb2.StreamMessagesRequest.FromString,
                response_serializer=notify_service_pb2.StreamMessagesResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def _anchor_rate(address: str, seconds: float) -> Measurement:
    """Read the anchor's pages from STREAMS streams for `seconds`."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
        counts = [0] * STREAMS
        stop_at = time.monotonic() + seconds

        async def read(index: int) -> None:
            call = stub.StreamMessages(notify_service_pb2.StreamMessagesRequest())
            async for page in call:
                counts[index] += len(page.messages)
                if time.monotonic() > stop_at:
                    break
            call.cancel()

        started = time.monotonic()
        await asyncio.gather(*(read(i) for i in range(STREAMS)))
        return Measurement(sum(counts), time.monotonic() - started, 0.0, 0.0)


class Bench:
    """Calls into one running notification service."""

    def __init__(self, address: str, kit: IdentityKit) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = notify_service_pb2_grpc.NotificationServiceStub(self.channel)
        self.ops = kit.metadata("staff/ops-bench", Role.OPS)
        self.app = kit.metadata("systems/mobile-banking", Role.SYSTEM)
        self.acked = dict.fromkeys(RECIPIENTS, 0)

    async def template(self) -> None:
        """Create the benchmark template."""
        await self.stub.CreateTemplate(
            notify_service_pb2.CreateTemplateRequest(
                template_id="bench-rate",
                template=template_pb2.Template(
                    category=common_pb2.CATEGORY_SERVICE,
                    variables=[
                        template_pb2.TemplateVariable(
                            name="n", type=template_pb2.VARIABLE_TYPE_STRING
                        )
                    ],
                    variants=[
                        template_pb2.TemplateVariant(
                            locale="zh-CN", subject="利率调整通知 {{ n }}", body=BODY
                        )
                    ],
                ),
            ),
            metadata=self.ops,
        )

    async def campaign(self, recipients: list[str], tag: str) -> str:
        """Create a push campaign to `recipients`; return its name."""
        created = await self.stub.CreateCampaign(
            notify_service_pb2.CreateCampaignRequest(
                campaign=campaign_pb2.Campaign(
                    template="templates/bench-rate",
                    variables={"n": tag},
                    recipient_list=campaign_pb2.RecipientList(
                        recipients=[campaign_pb2.CampaignRecipient(recipient=r) for r in recipients]
                    ),
                    channels=[common_pb2.CHANNEL_PUSH],
                ),
                request_id=str(uuid.uuid4()),
            ),
            metadata=self.ops,
            timeout=120,
        )
        return str(created.name)

    async def dispatched(self, names: list[str]) -> None:
        """Wait until every named campaign has written all its messages.

        Polls ListCampaigns, which returns states without counting messages per state, so the
        wait itself costs the server next to nothing.
        """
        pending = set(names)
        while pending:
            page = await self.stub.ListCampaigns(
                notify_service_pb2.ListCampaignsRequest(page_size=500), metadata=self.ops
            )
            pending -= {
                c.name for c in page.campaigns if c.state == campaign_pb2.CAMPAIGN_STATE_DISPATCHED
            }
            if pending:
                await asyncio.sleep(0.2)

    async def drain(self, per_recipient: int) -> Measurement:
        """Stream and acknowledge until every recipient acknowledged `per_recipient` more."""
        targets = {r: self.acked[r] + per_recipient for r in RECIPIENTS}
        groups = [RECIPIENTS[i::STREAMS] for i in range(STREAMS)]
        received = 0

        async def consume(group: list[str]) -> None:
            nonlocal received
            call = self.stub.StreamMessages(
                notify_service_pb2.StreamMessagesRequest(
                    cursors=[
                        message_pb2.PushCursor(recipient=r, after_sequence=self.acked[r])
                        for r in group
                    ],
                    page_size=PAGE,
                ),
                metadata=self.app,
            )
            async for page in call:
                top: dict[str, int] = {}
                for message in page.messages:
                    top[message.recipient] = max(top.get(message.recipient, 0), message.sequence)
                received += len(page.messages)
                if top:
                    reply = await self.stub.AcknowledgeMessages(
                        notify_service_pb2.AcknowledgeMessagesRequest(
                            acknowledgements=[
                                message_pb2.PushAcknowledgement(recipient=r, sequence=s)
                                for r, s in top.items()
                            ]
                        ),
                        metadata=self.app,
                    )
                    for ack in reply.acknowledged:
                        self.acked[ack.recipient] = ack.sequence
                if all(self.acked[r] >= targets[r] for r in group):
                    break
            call.cancel()

        started = time.monotonic()
        await asyncio.gather(*(consume(g) for g in groups))
        return Measurement(received, time.monotonic() - started, 0.0, 0.0)


async def run(*, reps: int = 3, per_recipient: int = 20, seconds: float = 4.0) -> dict[str, Any]:
    """Run the benchmark and return its results."""
    os.sched_setaffinity(0, {LOAD_CPU})
    tmp = Path(tempfile.mkdtemp(prefix="crm-notify-bench-"))
    kit = IdentityKit.create(tmp / "identity")
    anchor_port, notify_port = free_port(), free_port()
    anchor = start_pinned(
        ["-m", "bench.notify_bench", "--anchor", str(anchor_port)], {}, tmp / "anchor.log"
    )
    env = {
        **kit.env("notify"),
        "GRPC_PORT": str(notify_port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/notify.db",
        "LOG_LEVEL": "info",
        "CAMPAIGN_INTERVAL_SECONDS": "0.05",
    }
    service = start_pinned(["-m", "crm_notify"], env, tmp / "notify.log")
    try:
        await wait_ready(f"127.0.0.1:{anchor_port}")  # No health service: UNIMPLEMENTED = up.
        await wait_ready(f"127.0.0.1:{notify_port}", SERVICE)
        return await _measure(kit, anchor_port, notify_port, reps, per_recipient, seconds)
    finally:
        for proc in (anchor, service):
            proc.terminate()
            proc.wait(30)


async def _measure(
    kit: IdentityKit,
    anchor_port: int,
    notify_port: int,
    reps: int,
    per_recipient: int,
    seconds: float,
) -> dict[str, Any]:
    bench = Bench(f"127.0.0.1:{notify_port}", kit)
    await bench.template()
    runs: dict[str, list[Measurement]] = {"stream_anchor": [], "push_delivery": [], "fanout": []}
    backlog: list[float] = []
    create_s: list[float] = []
    for rep in range(reps):
        runs["stream_anchor"].append(await _anchor_rate(f"127.0.0.1:{anchor_port}", seconds))
        started = time.monotonic()
        names = [await bench.campaign(RECIPIENTS, f"{rep}-{i}") for i in range(per_recipient)]
        await bench.dispatched(names)
        backlog.append(len(RECIPIENTS) * per_recipient / (time.monotonic() - started))
        runs["push_delivery"].append(await bench.drain(per_recipient))
        fanout_recipients = [f"staff/f{rep}-{i:06d}" for i in range(FANOUT_RECIPIENTS)]
        started = time.monotonic()
        name = await bench.campaign(fanout_recipients, f"fanout-{rep}")
        created = time.monotonic()
        await bench.dispatched([name])
        runs["fanout"].append(Measurement(FANOUT_RECIPIENTS, time.monotonic() - started, 0.0, 0.0))
        create_s.append(created - started)
    await bench.channel.close()
    out: dict[str, Any] = {name: summary(values) for name, values in runs.items()}
    out["push_delivery_ratio"] = round(
        out["push_delivery"]["rate_per_s"] / out["stream_anchor"]["rate_per_s"], 3
    )
    fanout_best = sorted(runs["fanout"], key=lambda m: m.rate)[len(runs["fanout"]) // 2]
    out["fanout_100k_seconds"] = round(fanout_best.seconds, 2)
    out["fanout_create_call_seconds"] = [round(s, 2) for s in create_s]
    out["backlog_fill_msgs_per_s"] = [round(b, 1) for b in backlog]
    out["shape"] = {
        "recipients": len(RECIPIENTS),
        "streams": STREAMS,
        "page_size": PAGE,
        "messages_per_rep": len(RECIPIENTS) * per_recipient,
        "fanout_recipients": FANOUT_RECIPIENTS,
    }
    return out


def write_results(results: dict[str, Any]) -> Path:
    """Write results as JSON and a short Markdown table."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notify.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| measure | per second | runs |", "|---|---|---|"]
    for name, unit in (
        ("stream_anchor", "msgs"),
        ("push_delivery", "msgs"),
        ("fanout", "recipients"),
    ):
        r = results[name]
        lines.append(f"| {name} ({unit}) | {r['rate_per_s']} | {r['runs_per_s']} |")
    lines.append(
        f"\nPush delivered (streamed + acknowledged) / transport anchor: "
        f"**{results['push_delivery_ratio']}**"
    )
    lines.append(
        "\n100,000-recipient campaign fan-out into the store: "
        f"**{results['fanout_100k_seconds']} s** "
        f"(median; CreateCampaign call alone: {results['fanout_create_call_seconds']} s)"
    )
    lines.append(f"\nBacklog fill through campaigns (msgs/s): {results['backlog_fill_msgs_per_s']}")
    lines.append(f"\nShape: {results['shape']}")
    path = folder / "notify.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--anchor":
        import uvloop

        uvloop.run(_anchor_server(int(sys.argv[2])))
    else:
        outcome = asyncio.run(run())
        print(write_results(outcome).read_text())
