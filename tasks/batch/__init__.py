"""Batch workloads (issue 16): retries with backoff (`retries`), dependencies between tasks
(`dependencies`), arrays (`arrays`, parsed by `array_spec`), the holds that keep such tasks PENDING
(`holds`, registered by `tasks.apps`) and the dry run (`plan`)."""
