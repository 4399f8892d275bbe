"""Settings shared by the master and the agent: structured logging."""

import sys

from scheduler_site.env import env_choice

LOG_LEVEL = env_choice("SCHEDULER_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "scheduler_site.logformat.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        name: {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False}
        for name in ("scheduler", "nodes", "tasks", "agent")
    },
}
