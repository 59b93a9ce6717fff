from django.contrib import admin

from kopilka.core.admin import ReadOnlyAdmin, ReadOnlyInline
from kopilka.webhooks.models import Attempt, Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    # The signing secret is not shown: it belongs to the merchant and its receiver.
    list_display = ["url", "merchant", "active", "created_at"]
    fields = ["merchant", "url", "description", "events", "active", "created_at"]
    list_filter = ["active"]
    list_select_related = ["merchant"]
    search_fields = ["url"]


class AttemptInline(ReadOnlyInline):
    model = Attempt
    fields = ["started_at", "duration_ms", "status_code", "error", "response_body"]
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "event_id", "merchant", "endpoint", "status", "attempts",
                    "next_attempt_at", "created_at"]
    list_filter = ["status", "event"]
    list_select_related = ["merchant", "endpoint"]
    search_fields = ["event_id"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
