"""The agent WebSocket (`/ws/agent/`, node token): nudges and desired state down; heartbeats,
reports and log chunks up. It validates frames, calls `agent_gateway` / the log store, and answers.

Frames are JSON objects with a `type`:
  up:   sync | heartbeat {cpu_usage, mem_usage[, tasks]} | report {reports} | logs {chunks}
  down: desired {generation, assignments} (on sync, and pushed whenever it changes)
        | heartbeat_ack {generation, node_status, draining} | heartbeat {... desired, verdicts}
        | verdicts {verdicts, ... desired} | log_ack {acked, stale} | error {detail}
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings

from nodes.heartbeat_batcher import batcher
from nodes.serializers import HeartbeatSerializer, ReportSerializer
from scheduler_site import groups, metrics
from scheduler_site.consumers import Consumer
from scheduler_site.dbthreads import db_call
from tasks import agent_gateway
from tasks.logs.store import STREAMS, IncomingChunk, store_chunks

log = logging.getLogger("tasks.agents")
MAX_CHUNKS_PER_FRAME = 2000
REJOIN_EVERY = 3600.0
MAX_CHUNK_CHARS = 1024 * 1024


class BadFrame(ValueError):
    pass


def parse_chunks(raw: object) -> list[IncomingChunk]:
    """Validate log chunks by hand: this is the hot path, too hot for a DRF serializer."""
    if not isinstance(raw, list) or len(raw) > MAX_CHUNKS_PER_FRAME:
        raise BadFrame(f"chunks must be a list of at most {MAX_CHUNKS_PER_FRAME}")
    chunks = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadFrame("each chunk must be an object")
        task, attempt, seq, stream, data, ts = (item.get(k) for k in ("task", "attempt", "seq", "stream", "data", "ts"))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (task, attempt, seq)):
            raise BadFrame("task, attempt and seq must be integers")
        if task < 1 or attempt < 1 or seq < 0 or seq >= 2**31:
            raise BadFrame("task and attempt must be positive, seq non-negative")
        if stream not in STREAMS:
            raise BadFrame("stream must be stdout or stderr")
        if not isinstance(data, str) or len(data) > MAX_CHUNK_CHARS:
            raise BadFrame(f"data must be a string of at most {MAX_CHUNK_CHARS} characters")
        if not isinstance(ts, int | float) or isinstance(ts, bool):
            raise BadFrame("ts must be a number")
        chunks.append(IncomingChunk(task=task, attempt=attempt, seq=seq, stream=stream, data=data, ts=float(ts)))
    return chunks


def _percent(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise BadFrame("cpu_usage and mem_usage must be percentages (0-100) or null")
    return float(value)


def reports_from(validated: list[dict]) -> list[agent_gateway.Report]:
    return [
        agent_gateway.Report(task=r["task"], attempt=r["attempt"], state=r["state"], exit_code=r["exit_code"],
                             reason=r["reason"], at=r["at"], message=r["message"])
        for r in validated
    ]


class AgentConsumer(Consumer):
    async def connect(self) -> None:
        self.node = self.scope.get("node")
        if self.node is None:
            await self.close(code=4401)
            return
        self.group = groups.node_group(self.node.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.joined = time.monotonic()
        await self.accept()
        metrics.WEBSOCKETS.labels("agent").inc()
        log.info("agent connected", extra={"node": self.node.name})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            metrics.WEBSOCKETS.labels("agent").dec()
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data if text_data is not None else bytes_data)
            if not isinstance(frame, dict):
                raise BadFrame("a frame must be a JSON object")
            kind = frame.get("type")
            handler = self.HANDLERS.get(kind)
            if handler is None:
                raise BadFrame(f"unknown frame type {kind!r}")
            answer = await handler(self, frame)
        except (BadFrame, ValueError) as error:
            answer = {"type": "error", "detail": str(error)}
        if answer is not None:
            await self.send(text_data=json.dumps(answer))

    # -- frames from the agent -------------------------------------------------------------

    async def on_sync(self, frame: dict) -> dict:
        return {"type": "desired", **await db_call(agent_gateway.desired_for_node)(self.node.pk)}

    async def on_heartbeat(self, frame: dict) -> dict:
        """Without `tasks`: the light, batched heartbeat; answered with the node's generation, and the
        agent asks for its desired state (`sync`) when that is newer than what it has. With
        `tasks`: the full heartbeat, as over HTTP."""
        if "tasks" not in frame:
            cpu, mem = _percent(frame.get("cpu_usage")), _percent(frame.get("mem_usage"))
            if time.monotonic() - self.joined > REJOIN_EVERY:  # channel layers expire memberships after a day
                await self.channel_layer.group_add(self.group, self.channel_name)
                self.joined = time.monotonic()
            generation, status, draining = await batcher.beat(self.node.pk, cpu, mem)
            return {"type": "heartbeat_ack", "generation": generation, "node_status": status, "draining": draining}
        form = HeartbeatSerializer(data={k: v for k, v in frame.items() if k != "type"})
        if not form.is_valid():
            raise BadFrame(json.dumps(form.errors))
        data = form.validated_data
        answer = await db_call(agent_gateway.handle_heartbeat)(
            self.node, cpu_usage=data["cpu_usage"], mem_usage=data["mem_usage"], reports=reports_from(data["tasks"])
        )
        return {"type": "heartbeat", "heartbeat_interval": settings.SCHEDULER_HEARTBEAT_INTERVAL, **answer}

    async def on_report(self, frame: dict) -> dict:
        form = ReportSerializer(data=frame.get("reports"), many=True)
        if not form.is_valid():
            raise BadFrame(json.dumps(form.errors))
        answer = await db_call(agent_gateway.apply_reports)(self.node, reports_from(form.validated_data))
        return {"type": "verdicts", **answer}

    async def on_logs(self, frame: dict) -> dict:
        chunks = parse_chunks(frame.get("chunks"))
        acked, stale = await db_call(store_chunks)(self.node.pk, chunks)
        return {"type": "log_ack", "acked": acked, "stale": stale}

    HANDLERS = {"sync": on_sync, "heartbeat": on_heartbeat, "report": on_report, "logs": on_logs}

    # -- messages from the channel layer ---------------------------------------------------

    async def node_desired(self, message: dict) -> None:
        """This node's desired state changed: pass it on as read after the change committed."""
        await self.send(text_data=json.dumps({"type": "desired", **message["desired"]}))
