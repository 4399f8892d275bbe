"""URL map: API v1 (every path with or without a trailing slash), admin, docs, health, dashboard.

Part of the composition root (with `asgi` and `routing`): the one place in `scheduler_site` that
imports the apps above it (`nodes`, `tasks`) to wire their views."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from nodes import views as node_views
from scheduler_site import auth_views, health, spa
from scheduler_site.api_root import ApiRootView
from scheduler_site.metrics import metrics_view
from scheduler_site.permissions import IsUser
from tasks import quota_views
from tasks import views as task_views
from tasks.agents import views as agent_views
from tasks.history import views as history_views
from tasks.logs import views as log_views

ID = r"(?P<pk>[^/]+)"
handler500 = "scheduler_site.errors.server_error"


def api(route: str, view, name: str):
    return re_path(rf"^api/v1/{route}/?$", view.as_view(), name=name)


urlpatterns = [
    re_path(r"^api/v1/?$", ApiRootView.as_view(), name="api-root"),
    api("auth/token", auth_views.TokenView, "auth-token"),
    api("auth/login", auth_views.LoginView, "auth-login"),
    api("auth/logout", auth_views.LogoutView, "auth-logout"),
    api("auth/me", auth_views.MeView, "auth-me"),
    api("tasks", task_views.TaskListView, "task-list"),
    api("tasks/plan", task_views.TaskPlanView, "task-plan"),
    api(rf"tasks/{ID}", task_views.TaskDetailView, "task-detail"),
    api(rf"tasks/{ID}/cancel", task_views.TaskCancelView, "task-cancel"),
    api(rf"tasks/{ID}/rerun", task_views.TaskRerunView, "task-rerun"),
    api(rf"tasks/{ID}/logs", log_views.TaskLogView, "task-logs"),
    api(rf"tasks/{ID}/logs/raw", log_views.TaskRawLogView, "task-logs-raw"),
    api(rf"tasks/{ID}/logs/search", log_views.TaskLogSearchView, "task-logs-search"),
    api(rf"arrays/{ID}", task_views.ArrayDetailView, "array-detail"),
    api(rf"arrays/{ID}/cancel", task_views.ArrayCancelView, "array-cancel"),
    api("quotas", quota_views.QuotaListView, "quota-list"),
    api("quotas/me", quota_views.MyQuotaView, "quota-me"),
    api(rf"quotas/{ID}", quota_views.QuotaDetailView, "quota-detail"),
    api("metrics/history", history_views.HistoryView, "metrics-history"),
    api("nodes", node_views.NodeListView, "node-list"),
    api(rf"nodes/{ID}", node_views.NodeDetailView, "node-detail"),
    api(rf"nodes/{ID}/drain", node_views.NodeDrainView, "node-drain"),
    api(rf"nodes/{ID}/undrain", node_views.NodeUndrainView, "node-undrain"),
    api("internal/register", agent_views.RegisterView, "internal-register"),
    api(rf"internal/nodes/{ID}/heartbeat", agent_views.HeartbeatView, "internal-heartbeat"),
    api(rf"internal/nodes/{ID}/leave", agent_views.LeaveView, "internal-leave"),
    # Nothing anonymous: the schema and its docs are for signed-in users too.
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(permission_classes=[IsUser]), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[IsUser]),
            name="docs"),
    re_path(r"^healthz/?$", health.healthz, name="healthz"),
    re_path(r"^metrics/?$", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    re_path(r"^api/", spa.api_not_found),
    re_path(r"^(?!static/|admin/|ws/|metrics).*$", spa.index, name="dashboard"),
]
