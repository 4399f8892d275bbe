"""Test-run defaults for settings that production requires; loaded with -p before Django starts."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("SCHEDULER_JOIN_TOKEN", "test-join-token-0123456789abcdef")
