"""Read-only views of the ledger for platform operators. Balances change only through the
processing services, never by hand in the admin."""

from django.contrib import admin

from kopilka.core.admin import ReadOnlyAdmin, ReadOnlyInline
from kopilka.ledger.models import Account, Entry, Lot


class LotInline(ReadOnlyInline):
    model = Lot
    fields = ["kind", "amount", "remaining", "available_at", "expires_at", "activated"]
    readonly_fields = fields


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["member", "merchant", "available", "pending", "tier_code", "lifetime_spend",
                    "purchase_count", "last_purchase_at"]
    list_select_related = ["member__person", "merchant"]
    list_filter = ["tier_code"]
    raw_id_fields = ["member"]
    inlines = [LotInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["account", "seq", "kind", "available_delta", "pending_delta", "cause_type",
                    "cause_id", "occurred_at"]
    list_filter = ["kind", "cause_type"]
    list_select_related = ["account"]
    date_hierarchy = "occurred_at"
