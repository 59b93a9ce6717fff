from django.contrib import admin

from kopilka.core.admin import ReadOnlyAdmin
from kopilka.messaging.models import Message, Settings, Template


@admin.register(Template)
class TemplateAdmin(ReadOnlyAdmin):
    list_display = ["event", "language", "channel", "merchant", "enabled", "updated_at"]
    list_filter = ["event", "language", "channel", "enabled"]
    list_select_related = ["merchant"]


@admin.register(Settings)
class SettingsAdmin(ReadOnlyAdmin):
    list_display = ["merchant", "transactional", "quiet_from", "quiet_to", "updated_at"]
    list_select_related = ["merchant"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    # The recipient and text are personal data: operators see the delivery state, not them.
    list_display = ["event", "channel", "merchant", "status", "attempts", "parts", "cost",
                    "provider", "created_at"]
    fields = ["merchant", "member", "event", "channel", "language", "status", "attempts",
              "next_attempt_at", "provider", "provider_id", "parts", "cost", "error",
              "created_at", "sent_at", "delivered_at"]
    list_filter = ["status", "channel", "event"]
    list_select_related = ["merchant"]
    search_fields = ["provider_id"]
    date_hierarchy = "created_at"
