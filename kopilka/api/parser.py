"""Query strings under /api/v1/: a parameter given twice is refused, never silently one of them.

django-ninja hands a single-valued parameter the last of its values (`?receipt_id=a&receipt_id=b`
filters by "b"), so the client gets an answer to a question it did not ask. No operation takes
a list in its query string, so a repeated parameter is always a client error: 422 naming it
(`problems.FIELD_MESSAGES["query_repeated"]`), like any other invalid parameter.
"""

from ninja.errors import ValidationError
from ninja.parser import Parser


class SingleValueQueryParser(Parser):
    def parse_querydict(self, data, list_fields, request):
        if data is request.GET:  # forms (inbound SMS callbacks) keep ninja's reading
            repeated = [key for key in data if key not in list_fields
                        and len(data.getlist(key)) > 1]
            if repeated:
                raise ValidationError([
                    {"loc": ("query", key), "type": "query_repeated",
                     "msg": "Given more than once."}
                    for key in repeated
                ])
        return super().parse_querydict(data, list_fields, request)
