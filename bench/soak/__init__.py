"""The fault-injection soak (`bench/chaos.py`): a private PostgreSQL, Redis and nginx, two masters,
two sweepers and five agents in network namespaces of their own, a mixed workload, seeded faults,
a recorder of everything the harness saw, and a checker of the invariants afterwards.

Modules, one job each: `services` (private PostgreSQL / Redis / nginx), `netns` (the agents'
namespaces and partitions), `cluster` (the scheduler's processes), `api` (the recorded HTTP client),
`workload` (task kinds and the submit/cancel loop), `faults` (the seeded schedule and its
injector), `sampler` (allocation samples over SQL), `checker` (the invariants), `report` (tables),
`overload` (the 100k-pending / 1k-subscriber probe). The harness drives the system through
processes, HTTP and SQL only: it imports nothing of the scheduler's own packages.
"""
