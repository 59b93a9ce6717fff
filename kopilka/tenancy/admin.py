from django.contrib import admin

from kopilka.tenancy.models import ApiToken, Invitation, Merchant, Staff, Store, Terminal


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0
    fields = ["name", "address", "active"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "timezone", "language", "status", "created_at"]
    list_filter = ["status", "currency", "language"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]
    inlines = [StoreInline]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["name", "merchant", "address", "active"]
    list_filter = ["active"]
    search_fields = ["name", "merchant__name"]
    list_select_related = ["merchant"]


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role", "active", "created_at"]
    list_filter = ["role", "active"]
    search_fields = ["user__email", "merchant__name"]
    list_select_related = ["user", "merchant"]
    raw_id_fields = ["user"]


class KeyAdmin(admin.ModelAdmin):
    """Keys are created through the CLI/API (the secret is shown once); here only inspected or
    revoked."""

    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    exclude = ["key_hash"]
    list_filter = ["revoked_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Terminal)
class TerminalAdmin(KeyAdmin):
    list_display = ["name", "merchant", "store", "key_prefix", "last_used_at", "revoked_at"]
    list_select_related = ["merchant", "store"]


@admin.register(ApiToken)
class ApiTokenAdmin(KeyAdmin):
    list_display = ["name", "merchant", "staff", "key_prefix", "last_used_at", "revoked_at"]
    list_select_related = ["merchant", "staff__user"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made through the API (the key goes by email and is shown nowhere);
    here they are only inspected."""

    list_display = ["email", "merchant", "role", "status", "created_at", "expires_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "merchant__name"]
    list_select_related = ["merchant"]
    exclude = ["key_hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
