"""Cluster history: a compact, bounded time series of usage vs allocation (cluster and per node),
queue depth, task outcomes and placement latency, recorded by the sweeper and read by the
dashboard's charts (`GET /api/v1/metrics/history`)."""
