from django.contrib import admin

from kopilka.codes.models import OneTimeCode
from kopilka.core.admin import ReadOnlyAdmin


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ReadOnlyAdmin):
    # The phone is personal data and the hash is of no use to anyone: neither is shown.
    list_display = ["purpose", "merchant", "created_at", "expires_at", "attempts_left",
                    "used_at", "replaced_at"]
    fields = ["merchant", "purpose", "member", "attempts_left", "created_at", "expires_at",
              "used_at", "replaced_at", "terminal", "ip", "message"]
    list_filter = ["purpose"]
    list_select_related = ["merchant"]
    date_hierarchy = "created_at"
