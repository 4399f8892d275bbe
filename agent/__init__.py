"""The worker agent. A plain Python package: it talks to the master only over HTTP and WebSocket
and never imports Django's ORM; `manage.py runworker` only parses arguments and starts it.

    config      what the agent is (name, capacity, labels, master, state dir)
    state       the state dir: node identity and a record of every process it started
    client      HTTP to the master: register, heartbeat, leave
    link        the agent WebSocket: nudges and answers down; reports and log chunks up
    executor    runs commands in their own sessions; exit, timeout, memory limit
    spool       per-attempt output files the process writes, cut into numbered chunks, acknowledged
    reconcile   pure: desired assignments + what runs here -> what to start, kill, report
    guardian    a tiny process that kills every task if the agent dies
    worker      the agent itself, wiring the above
"""
