"""API tokens in the admin: listed and revocable; created only through the API (shown once)."""

from django.contrib import admin

from scheduler_site.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("key_id", "user", "name", "created_at", "last_used_at")
    search_fields = ("user__username", "name", "key_id")
    readonly_fields = ("key_id", "user", "created_at", "last_used_at")
    fields = ("key_id", "user", "name", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False
