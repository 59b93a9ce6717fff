from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kopilka.core.phones import mask_phone
from kopilka.members.models import Card, Consent, Member, Person, Relative


@admin.display(description=_("phone"))
def masked_phone(obj):
    """Lists show masked numbers; the full number is on the detail page only."""
    person = obj if isinstance(obj, Person) else obj.person
    return mask_phone(str(person.phone))


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = [masked_phone, "verified_at", "created_at"]
    search_fields = ["phone"]


class CardInline(admin.TabularInline):
    model = Card
    extra = 0
    fields = ["number", "kind", "status", "issued_at"]
    readonly_fields = ["issued_at"]


class RelativeInline(admin.TabularInline):
    model = Relative
    extra = 0
    fields = ["name", "relation", "birth_date"]


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    fields = ["kind", "text_version", "channel", "granted_at", "revoked_at"]
    readonly_fields = fields


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["__str__", masked_phone, "merchant", "status", "registered_at"]
    list_filter = ["status", "registered_via", "gender"]
    search_fields = ["person__phone", "first_name", "last_name", "email"]
    list_select_related = ["person", "merchant"]
    raw_id_fields = ["person", "registered_by"]
    readonly_fields = ["registered_at", "registered_via"]
    inlines = [CardInline, RelativeInline, ConsentInline]


@admin.register(Card)
class CardAdmin(admin.ModelAdmin):
    list_display = ["number", "kind", "status", "merchant", "member"]
    list_filter = ["kind", "status"]
    search_fields = ["number"]
    list_select_related = ["merchant", "member__person"]
    raw_id_fields = ["member", "replaced_by"]
