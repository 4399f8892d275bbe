"""The worker agent. A plain Python package: it talks to the master only over HTTP and WebSocket
and never imports Django's ORM; `manage.py runworker` only parses arguments and starts it.

    config      what the agent is (name, capacity, labels, master, state dir)
    state       the state dir: node identity and a record of every process it started
    client      HTTP to the master: register, heartbeat, leave
    link        the agent WebSocket: nudges and answers down; reports and log chunks up
    protocol    the agent protocol's vocabulary, frame builders and parsers (shared with the master)
    node_agent  the agent itself: registration, heartbeats, wiring the parts below, exit codes
    ledger      the attempts it holds (ended, unconfirmed starts, spools, records) and the decisions
    reconcile   pure: desired assignments + what runs here -> what to start, kill, report
    spawning    starts a task's process: its session, output files, environment, CPUs
    reaping     watches running processes: exit, output cuts, timeout, kill escalation
    limits      memory limits (cgroup v2 or a watchdog), CPU pinning, usage metering
    shipper     sends due reports and spooled output over the link
    spool       per-attempt output files the process writes, cut into numbered chunks, acknowledged
    loops       the guard of every thread loop (log and go on; exit 70 when it keeps failing)
    guardian    a tiny process that kills every task if the agent dies
"""
