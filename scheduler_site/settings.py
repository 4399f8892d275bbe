"""Django settings, read from the environment in this one place (see README.md, 'Settings')."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from scheduler_site.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_seconds,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# The cluster join token: agents present it once to register. It lives only here, in memory.
SCHEDULER_JOIN_TOKEN = env_str("SCHEDULER_JOIN_TOKEN", required=True)
if len(SCHEDULER_JOIN_TOKEN) < 16:
    raise ImproperlyConfigured("SCHEDULER_JOIN_TOKEN must be at least 16 characters long.")

# Node health timers, in seconds (fractions allowed so tests can run with short timers).
SCHEDULER_HEARTBEAT_INTERVAL = env_seconds("SCHEDULER_HEARTBEAT_INTERVAL", 3.0)
SCHEDULER_UNHEALTHY_AFTER = env_seconds("SCHEDULER_UNHEALTHY_AFTER", 10.0)
SCHEDULER_OFFLINE_AFTER = env_seconds("SCHEDULER_OFFLINE_AFTER", 30.0)
if not SCHEDULER_HEARTBEAT_INTERVAL < SCHEDULER_UNHEALTHY_AFTER < SCHEDULER_OFFLINE_AFTER:
    raise ImproperlyConfigured(
        "SCHEDULER_HEARTBEAT_INTERVAL < SCHEDULER_UNHEALTHY_AFTER < SCHEDULER_OFFLINE_AFTER must hold "
        f"(got {SCHEDULER_HEARTBEAT_INTERVAL}, {SCHEDULER_UNHEALTHY_AFTER}, {SCHEDULER_OFFLINE_AFTER})."
    )
# How often the sweeper looks at heartbeats and runs the safety-net placement pass.
SCHEDULER_SWEEP_INTERVAL = env_seconds(
    "SCHEDULER_SWEEP_INTERVAL", min(1.0, SCHEDULER_HEARTBEAT_INTERVAL / 2)
)
# Placement scorer: best_fit packs nodes (the default); worst_fit spreads tasks.
SCHEDULER_SCORER = env_choice("SCHEDULER_SCORER", "best_fit", ("best_fit", "worst_fit"))
# Grace period between SIGTERM and SIGKILL when an agent stops a task.
SCHEDULER_KILL_GRACE = env_seconds("SCHEDULER_KILL_GRACE", 5.0)
# Stored log bytes per task; output past the cap is acknowledged and counted, not stored.
SCHEDULER_LOG_MAX_BYTES_PER_TASK = env_int(
    "SCHEDULER_LOG_MAX_BYTES_PER_TASK", 256 * 1024 * 1024, minimum=1024
)
# HTTP requests a master holds beyond the ones its threads serve; past that it answers 503 with
# Retry-After at once (scheduler_site/http_handler.py).
SCHEDULER_HTTP_MAX_QUEUED = env_int("SCHEDULER_HTTP_MAX_QUEUED", 64, minimum=0)
# WebSocket handshakes a master works on at once; past that a socket is closed at once with 4503
# "try again later" (scheduler_site/ws_gate.py).
SCHEDULER_WS_MAX_CONNECTING = env_int("SCHEDULER_WS_MAX_CONNECTING", 64, minimum=1)
# When set, /metrics requires `Authorization: Bearer <token>`.
SCHEDULER_METRICS_TOKEN = env_str("SCHEDULER_METRICS_TOKEN", "")
# Logs of tasks finished longer ago than this are removed by `manage.py prunelogs`.
SCHEDULER_LOG_RETENTION_DAYS = env_int("SCHEDULER_LOG_RETENTION_DAYS", 7, minimum=0)
# -- many users (issue 17) --
# Fair share: an owner's recent usage (CPU-seconds) halves every this many seconds (Slurm's
# PriorityDecayHalfLife); the sweeper decays the figures at most every SCHEDULER_FAIR_SHARE_DECAY_EVERY.
SCHEDULER_FAIR_SHARE_HALF_LIFE = env_seconds("SCHEDULER_FAIR_SHARE_HALF_LIFE", 3600.0)
SCHEDULER_FAIR_SHARE_DECAY_EVERY = env_seconds("SCHEDULER_FAIR_SHARE_DECAY_EVERY", 60.0)
# Preemption (off by default): a pending task may evict running tasks whose priority is lower by at
# least SCHEDULER_PREEMPTION_GAP when that is the only way it can run.
SCHEDULER_PREEMPTION = env_bool("SCHEDULER_PREEMPTION", False)
# The agents' lease on their tasks (agent/lease.py): with it on, an agent that no master has answered
# for OFFLINE less one heartbeat stops its tasks before the masters requeue them (no task runs to the
# end twice on a frozen or cut-off node), at the price of stopping every task when all masters are
# down that long. Off by default, as Nomad's stop_after_client_disconnect: a master restart must not
# kill the cluster's work.
SCHEDULER_TASK_LEASE = env_bool("SCHEDULER_TASK_LEASE", False)
SCHEDULER_PREEMPTION_GAP = env_int("SCHEDULER_PREEMPTION_GAP", 1, minimum=1)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by the master: /api/docs/ needs no internet
    "agent",  # before channels: its `runworker` is the product's, not Channels'
    "channels",
    "scheduler_site",
    "nodes",
    "tasks",
    "tasks.history",
]

MIDDLEWARE = [  # Django's own, declared sync-only: one thread hop per request (see the module)
    "scheduler_site.middleware.RefuseMethods",
    "scheduler_site.middleware.Security",
    "scheduler_site.middleware.Session",
    "scheduler_site.middleware.Common",
    "scheduler_site.middleware.Csrf",
    "scheduler_site.middleware.Authentication",
    "scheduler_site.middleware.Messages",
    "scheduler_site.middleware.XFrameOptions",
]

ROOT_URLCONF = "scheduler_site.urls"
ASGI_APPLICATION = "scheduler_site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_from_url(url: str) -> dict:
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so two
        # writers queue on the busy timeout instead of failing to upgrade a read lock.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 60
        # A file, not memory, so a test's real master and agents share it; one per test run.
        config["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"mini-scheduler-test-{os.getpid()}.sqlite3")}
    elif engine == "django.db.backends.postgresql":
        # Under ASGI every request runs in a thread of its own, so per-thread persistent
        # connections would mean a new connection per request; a pool hands them out instead.
        config["CONN_MAX_AGE"] = 0
        # Each connection is checked as the pool hands it out (CONN_HEALTH_CHECKS with a pool is
        # psycopg_pool's check_connection, one empty round trip): after a database restart the
        # pool's dead connections are replaced instead of failing a request each. A request that
        # waits longer than the timeout for a connection answers 503 + Retry-After.
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {"pool": {"min_size": 2, "max_size": env_int("SCHEDULER_DB_POOL_SIZE", 20, minimum=2),
                                      "timeout": env_seconds("SCHEDULER_DB_POOL_TIMEOUT", 10.0)}}
    else:
        raise ImproperlyConfigured(f"DATABASE_URL: unsupported database {engine!r} (use sqlite or postgres).")
    return config


VAR_DIR.mkdir(exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)
DATABASES = {
    "default": _database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'scheduler.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://.")
    # channels-redis waits for messages in 5 s blocking pops; redis-py 8 gives up reading after
    # 5 s by default, which turned every quiet receive into an error that dropped the socket. The
    # read timeout must outlast the pop (and still notice a Redis that went silent).
    # Each master process keeps at most SCHEDULER_REDIS_POOL_SIZE connections to Redis; an operation
    # finding them all busy waits for one (up to SCHEDULER_REDIS_POOL_TIMEOUT s) instead of failing
    # (scheduler_site/redis_layer.py; sizing in docs/deployment.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "scheduler_site.redis_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{
                    "address": REDIS_URL,
                    "socket_timeout": 15,
                    "socket_connect_timeout": 15,  # a master busy with a crowd answers Redis late
                    "max_connections": env_int("SCHEDULER_REDIS_POOL_SIZE", 100, minimum=2),
                    "timeout": env_seconds("SCHEDULER_REDIS_POOL_TIMEOUT", 30.0),
                }],
                "capacity": 2000,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "scheduler_site.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 2000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # `collectstatic` target; the master serves from the finders (static_asgi)
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.is_dir() else []

LOGIN_URL = "/admin/login/"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the dashboard reads it to send X-CSRFToken
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):  # behind a TLS-terminating proxy you trust
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "scheduler_site.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "scheduler_site.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scheduler_site.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "scheduler_site.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "mini-scheduler API",
    "DESCRIPTION": "Submit shell commands with CPU and memory requests; watch them run.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",  # 3.1: propertyNames (env names, label keys) and plain JSON Schema
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "scheduler_site.openapi.postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "scheduler_site.statuses.TASK_STATUS_CHOICES",
        "NodeStatusEnum": "scheduler_site.statuses.NODE_STATUS_CHOICES",
    },
}

from scheduler_site.settings_common import LOG_LEVEL, LOGGING  # noqa: E402, F401
