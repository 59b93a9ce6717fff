"""The members an inactivity chain's segment holds, as a query condition on `Member`.

Segments are filters in SQL, so a chain's due members are found by the database whatever the
member count: new (never bought), one-time (exactly one purchase), regular (two or more), VIP
(lifetime spend at least X, or a tag), a tier, a tag, or all. A member's tags are a JSON list;
"has this tag" is written per database because Django's JSON `contains` does not work on
SQLite.
"""

import json

from django.db.models import BooleanField, F, Func, Q

from kopilka.programs import config


class HasTag(Func):
    """True when the member's `tags` list holds `tag` exactly."""

    output_field = BooleanField()

    def __init__(self, tag: str):
        super().__init__(F("tags"))
        self.tag = tag

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return (f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = %s)",
                [*params, self.tag])

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} @> %s::jsonb)", [*params, json.dumps([self.tag])]

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(f"member tags are not queried on {connection.vendor}")


def members_in(segment: config.Segment) -> Q:
    """The condition on Member (with its account) that holds exactly the segment's members."""
    match segment.kind:
        case "new":
            return Q(account__purchase_count=0)
        case "one_time":
            return Q(account__purchase_count=1)
        case "regular":
            return Q(account__purchase_count__gte=2)
        case "vip":
            vip = Q()
            if segment.min_spend is not None:
                vip |= Q(account__lifetime_spend__gte=segment.min_spend)
            if segment.tag is not None:
                vip |= Q(HasTag(segment.tag))
            return vip
        case "tier":
            return Q(account__tier_code=segment.tier)
        case "tag":
            return Q(HasTag(segment.tag))
        case "all":
            return Q()
    raise AssertionError(f"unknown segment {segment.kind!r}")  # pragma: no cover
