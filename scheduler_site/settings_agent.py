"""Settings for `manage.py runworker`: a worker machine needs none of the master's secrets, no
database and no channel layer; the agent talks to the master over HTTP and WebSocket only."""

from scheduler_site.settings_common import LOGGING  # noqa: F401

SECRET_KEY = "the-agent-signs-nothing"
DEBUG = False
INSTALLED_APPS = ["agent"]
DATABASES: dict = {}
USE_TZ = True
# None: Django leaves the process's TZ alone. Any other value (Django's default is
# "America/Chicago") is written into os.environ["TZ"] at start-up, and tasks inherit what the
# agent's environment holds: a task's clock would follow the agent's settings, not the machine.
TIME_ZONE = None
