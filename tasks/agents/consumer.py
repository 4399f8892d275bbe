"""The agent WebSocket (`/ws/agent/`, node token): nudges and desired state down; heartbeats,
reports and log chunks up. It parses frames with `agent.protocol` (the frame shapes are listed
there), calls the gateway / the log store / the heartbeat batcher, and answers. A frame the
protocol refuses is answered with an `error` frame; the connection stays up.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from agent import protocol
from agent.protocol import UpFrame
from scheduler_site import groups
from scheduler_site.consumers import Consumer
from scheduler_site.dbthreads import db_call
from tasks.agents import gateway
from tasks.agents.desired import desired_for_node
from tasks.agents.heartbeats import batcher
from tasks.logs.store import store_chunks

log = logging.getLogger("tasks.agents")
REJOIN_EVERY = 3600.0


class AgentConsumer(Consumer):
    gauge = "agent"

    async def connect(self) -> None:
        self.node = self.scope.get("node")
        if self.node is None:
            await self.close(code=4401)
            return
        await self.join(groups.node_group(self.node.pk))
        self.joined = time.monotonic()
        log.info("agent connected", extra={"node": self.node.name})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        kind = None
        try:
            kind, frame = protocol.parse_up(text_data if text_data is not None else bytes_data)
            answer = await self.HANDLERS[kind](self, frame)
        except protocol.ProtocolError as error:
            answer = protocol.error(error.message, frame=None if kind is None else kind.value)
        if answer is not None:
            await self.send(text_data=protocol.dumps(answer))

    async def handler_failed(self, error: Exception) -> None:
        """The frame broke something on our side: say so; the agent resends what is unacknowledged."""
        await self.send(text_data=protocol.dumps(protocol.error("the master could not handle this frame")))

    # -- frames from the agent -------------------------------------------------------------

    async def on_sync(self, frame: dict) -> dict:
        return protocol.desired_frame(await db_call(desired_for_node)(self.node.pk))

    async def on_heartbeat(self, frame: dict) -> dict:
        """Without `tasks`: the light, batched heartbeat; answered with the node's generation, and the
        agent asks for its desired state (`sync`) when that is newer than what it has. With
        `tasks`: the full heartbeat, as over HTTP."""
        if "tasks" not in frame:
            cpu, mem = protocol.parse_usage(frame)
            gpu = protocol.parse_gpu_usage(frame)
            if time.monotonic() - self.joined > REJOIN_EVERY:  # channel layers expire memberships after a day
                await self.channel_layer.group_add(self.group, self.channel_name)
                self.joined = time.monotonic()
            generation, status, draining = await batcher.beat(self.node.pk, cpu, mem, gpu)
            return protocol.heartbeat_ack(generation=generation, node_status=status, draining=draining)
        beat = protocol.parse_heartbeat(frame)
        answer = await db_call(gateway.handle_heartbeat)(
            self.node, cpu_usage=beat.cpu_usage, mem_usage=beat.mem_usage, gpu_usage=beat.gpu_usage,
            reports=beat.reports
        )
        return protocol.heartbeat_answer(answer, heartbeat_interval=settings.SCHEDULER_HEARTBEAT_INTERVAL)

    async def on_report(self, frame: dict) -> dict:
        reports = protocol.parse_reports(frame.get("reports"))
        return protocol.verdicts_frame(await db_call(gateway.apply_reports)(self.node, reports))

    async def on_logs(self, frame: dict) -> dict:
        chunks = protocol.parse_chunks(frame.get("chunks"))
        acked, stale = await db_call(store_chunks)(self.node.pk, chunks)
        return protocol.log_ack(acked=acked, stale=stale)

    HANDLERS = {UpFrame.SYNC: on_sync, UpFrame.HEARTBEAT: on_heartbeat, UpFrame.REPORT: on_report,
                UpFrame.LOGS: on_logs}

    # -- messages from the channel layer ---------------------------------------------------

    async def node_desired(self, message: dict) -> None:
        """This node's desired state changed: pass it on as read after the change committed."""
        await self.send(text_data=protocol.dumps(protocol.desired_frame(message["desired"])))
