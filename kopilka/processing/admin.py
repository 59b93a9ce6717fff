from django.contrib import admin

from kopilka.core.admin import ReadOnlyAdmin, ReadOnlyInline
from kopilka.processing.models import Purchase, PurchaseLine, Refund


class LineInline(ReadOnlyInline):
    model = PurchaseLine
    fields = ["line_id", "sku", "product_group", "quantity", "amount", "discount",
              "points_money", "accrual", "refunded_amount"]
    readonly_fields = fields


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = ["receipt_id", "merchant", "member", "total", "discount", "points_spent",
                    "points_accrued", "refunded_amount", "occurred_at"]
    list_select_related = ["merchant", "member__person"]
    search_fields = ["receipt_id"]
    date_hierarchy = "occurred_at"
    inlines = [LineInline]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["refund_id", "purchase", "amount", "points_reversed", "points_returned",
                    "points_unrecovered", "occurred_at"]
    list_select_related = ["purchase"]
