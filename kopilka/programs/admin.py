from django.contrib import admin

from kopilka.programs.models import Program


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    """Shown to operators; merchants change their program through the API (validated)."""

    list_display = ["merchant", "version", "updated_at"]
    readonly_fields = ["merchant", "config", "version", "updated_at"]

    def has_add_permission(self, request):
        return False
