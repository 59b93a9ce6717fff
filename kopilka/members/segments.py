"""Saved member filters (#16): the cabinet's member list narrows the base by its filters, and
the owner saves them under a name; the targeted offers send to a segment's members.

A segment keeps the list's own fields as JSON (`FIELDS`), relative ones as such: "aged 25 to
35" and "last purchase 30 or more days ago" mean other people next month, as they should.
`to_filter` turns them into members.services.MemberFilter for today in the merchant's time
zone, so the list, the API and a segment narrow by one code:

    rows = segments.members(segment)          # a queryset of Member, person and account joined
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.members import services
from kopilka.members.models import Member, Segment
from kopilka.tenancy.models import Merchant, Staff

TEXT, NUMBER, DAY = "text", "number", "day"
# Every field a segment may hold, and its kind: text, a non-negative integer (money and points
# in minor units, years, days, counts), or a date (ISO 8601, in the merchant's time zone).
FIELDS = {
    "find": TEXT, "gender": TEXT, "tier": TEXT, "tag": TEXT, "status": TEXT,
    "age_min": NUMBER, "age_max": NUMBER,
    "average_min": NUMBER, "average_max": NUMBER,
    "spend_min": NUMBER, "spend_max": NUMBER,
    "purchases_min": NUMBER, "purchases_max": NUMBER,
    "balance_min": NUMBER, "balance_max": NUMBER,
    "idle_days_min": NUMBER, "idle_days_max": NUMBER,  # days since the last purchase
    "registered_from": DAY, "registered_to": DAY,  # both inclusive
}
GENDERS = {"female": Member.Gender.FEMALE, "male": Member.Gender.MALE,
           "unknown": Member.Gender.UNKNOWN}
MAX_NUMBER = 10**15


def clean(filters: dict) -> dict:
    """The filters without empty values, checked against FIELDS (InvalidInput naming the
    field otherwise)."""
    if not isinstance(filters, dict):
        raise InvalidInput(_("Filters must be an object."), field="filters")
    kept = {}
    for field, value in filters.items():
        kind = FIELDS.get(field)
        if kind is None:
            raise InvalidInput(_("Unknown field %(field)r.") % {"field": field}, field=field)
        if value is None or value == "":
            continue
        if kind == NUMBER and not (type(value) is int and 0 <= value <= MAX_NUMBER):
            raise InvalidInput(_("Enter a whole number, 0 or more."), field=field)
        if kind == DAY:
            try:
                day = date.fromisoformat(value)
            except (TypeError, ValueError):
                raise InvalidInput(_("Enter a valid date."), field=field) from None
            if not 1970 <= day.year <= 2200:
                raise InvalidInput(_("Enter a date between 1970 and 2200."), field=field)
        if kind == TEXT and not (isinstance(value, str) and len(value) <= 100):
            raise InvalidInput(_("Enter at most 100 characters."), field=field)
        if field == "gender" and value not in GENDERS:
            raise InvalidInput(_("gender must be female, male or unknown."), field=field)
        kept[field] = value
    return kept


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def to_filter(merchant: Merchant, filters: dict, today: date | None = None
              ) -> services.MemberFilter:
    """The MemberFilter of `filters` (as `clean` keeps them) on `today` (default: today in
    the merchant's time zone)."""
    zone = ZoneInfo(merchant.timezone)
    today = today or clock.now().astimezone(zone).date()
    wanted = clean(filters)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone)

    bounds: dict = {}
    for field in ("find", "tier", "tag", "status", "spend_min", "spend_max", "purchases_min",
                  "purchases_max", "average_min", "average_max", "balance_min", "balance_max"):
        if field in wanted:
            bounds[field] = wanted[field]
    if "gender" in wanted:
        bounds["gender"] = GENDERS[wanted["gender"]]
    if "age_min" in wanted:  # aged N or more: born on today N years ago or earlier
        bounds["born_to"] = _years_before(today, wanted["age_min"]) + timedelta(days=1)
    if "age_max" in wanted:  # aged M or less: born after today M + 1 years ago
        bounds["born_from"] = _years_before(today, min(wanted["age_max"], 9000) + 1) \
            + timedelta(days=1)
    if "idle_days_min" in wanted:  # the last purchase N or more days ago
        days = min(wanted["idle_days_min"], 100_000)
        bounds["last_purchase_to"] = midnight(today - timedelta(days=days - 1))
    if "idle_days_max" in wanted:  # ... and M or fewer days ago
        days = min(wanted["idle_days_max"], 100_000)
        bounds["last_purchase_from"] = midnight(today - timedelta(days=days))
    if "registered_from" in wanted:
        bounds["registered_from"] = midnight(date.fromisoformat(wanted["registered_from"]))
    if "registered_to" in wanted:
        bounds["registered_to"] = midnight(date.fromisoformat(wanted["registered_to"])
                                           + timedelta(days=1))
    return services.MemberFilter(**bounds)


def search(merchant: Merchant, filters: dict, today: date | None = None):
    """The merchant's members matching `filters` (a queryset, person and account joined)."""
    return services.search_members(merchant, to_filter(merchant, filters, today))


def members(segment: Segment, today: date | None = None):
    """The segment's members as of `today`: what a targeted offer sends to."""
    return search(segment.merchant, segment.filters, today)


@transaction.atomic
def save_segment(merchant: Merchant, *, name: str, filters: dict, by: Staff | None,
                 actor: Actor) -> Segment:
    """Save the filters under `name` (a new segment, or the one of that name replaced)."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Give the segment a name."), field="name")
    if len(name) > 100:
        raise InvalidInput(_("A name has at most 100 characters."), field="name")
    kept = clean(filters)
    if not kept:
        raise InvalidInput(_("Choose at least one filter to save."), field="filters")
    segment = Segment.objects.filter(merchant=merchant, name=name).first()
    created = segment is None
    try:
        with transaction.atomic():
            if created:
                segment = Segment.objects.create(merchant=merchant, name=name, filters=kept,
                                                 created_by=by, created_at=clock.now())
            else:
                segment.filters = kept
                segment.save(update_fields=["filters"])
    except IntegrityError:  # saved under this name a moment ago by someone else
        raise Conflict(_("A segment with this name already exists."), field="name") from None
    audit.record("members.segment.saved", actor=actor, merchant=merchant, obj=segment,
                 data={"name": name, "filters": kept, "created": created})
    return segment


@transaction.atomic
def delete_segment(segment: Segment, *, actor: Actor) -> None:
    audit.record("members.segment.deleted", actor=actor, merchant=segment.merchant,
                 obj=segment, data={"name": segment.name, "filters": segment.filters})
    segment.delete()
