"""The master's side of the agent protocol, in one package (the vocabulary and frame shapes are
`agent.protocol`, shared with the agent):

    views        HTTP: register (join token), heartbeat and leave (node token)
    serializers  the HTTP bodies, delegating their rules to `agent.protocol`
    consumer     the agent WebSocket: frames in, `gateway` / the log store / the batcher, frames out
    heartbeats   light WebSocket heartbeats written in batches (`nodes.health.record_heartbeats`)
    gateway      reports applied under fencing (start, exit, lost), desired state and verdicts out
    desired      reads: each node's desired assignments with its generation
    fencing      a report counts only from the node holding the task's current attempt

It lives in `tasks` because applying a report moves a task; node health writes stay in
`nodes.health` and are called from here.
"""
