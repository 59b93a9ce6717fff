from django.contrib import admin

from kopilka.core.models import AuditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that change only through services (ledger, purchases, the audit log)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log is append-only, also for operators."""

    list_display = ["created_at", "merchant", "actor_label", "action", "object_type", "object_id"]
    list_filter = ["action", "actor_kind"]
    search_fields = ["action", "actor_label", "object_id"]
    date_hierarchy = "created_at"
    list_select_related = ["merchant"]
