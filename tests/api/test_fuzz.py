"""Property-based fuzzing of the whole HTTP API with Schemathesis.

Every operation of the OpenAPI document is called in-process (WSGI) with generated input, valid
and invalid, as alice: her POS key for /pos/*, her management (owner) token for /manage/*. The
house rules checked on every answer:

- never a 5xx;
- the status code is one the operation declares, and the body matches the declared schema;
- input the schema forbids is refused with a 4xx;
- every error is RFC 9457 `application/problem+json` with `type`, `title` and `status`.

Random ids and phones would almost always answer 404, so alice's shop is seeded (members with
points, a plastic card, purchases through her terminal) and about half of the references in
the valid cases are steered onto those objects (always to valid values, so a valid case stays
valid); the rest stay as generated. The steering is a pure function of the generated case, so
Hypothesis can still replay and shrink what it finds.

Bounded (`MAX_EXAMPLES` per operation plus Schemathesis' deterministic coverage cases) so the
file runs in about a minute; what it found is pinned by deterministic tests in
test_robustness.py.
"""

import copy
import json
import os
import zlib

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

import kopilka.wsgi
from kopilka.programs.config import ProgramConfig
from kopilka.programs.services import DEFAULT_PROGRAM

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# More for a deeper hunt: KOPILKA_FUZZ_EXAMPLES=500 pytest tests/api/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("KOPILKA_FUZZ_EXAMPLES", "30"))
PROGRAM = {
    **DEFAULT_PROGRAM,
    "welcome_bonus": 500,
    "transfers": {"enabled": True},
    "tiers": [
        {"code": "standard", "name": "Standard", "accrual": {"kind": "percent", "percent": "5"}},
        {"code": "gold", "name": "Gold", "threshold": 1_000_000,
         "accrual": {"kind": "percent", "percent": "10"}},
    ],
}
PROGRAM_KEYS = [field.alias or name for name, field in ProgramConfig.model_fields.items()]

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", kopilka.wsgi.application)


@schemathesis.check
def problem_json_errors(ctx, response, case):
    """Errors are RFC 9457 problem+json: the content type, and type/title/status in the body."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.split(";")[0].strip() == "application/problem+json", (
        f"error {response.status_code} answered as {content_type!r}, not problem+json"
    )
    body = json.loads(response.content)
    assert body.get("status") == response.status_code, f"status in the body: {body!r}"
    assert str(body.get("type", "")).startswith("/problems/"), f"problem type: {body!r}"
    assert body.get("title"), f"problem without a title: {body!r}"
    for error in body.get("errors") or []:
        assert set(error) == {"field", "message"}, f"field error shape: {error!r}"
    return True


def _mutates_the_authorization(case) -> bool:
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    names = [getattr(data, "parameter", None)]
    for mutation in getattr(data, "mutations", None) or []:
        names += [mutation.parameter, *map(str, mutation.path)]
    return any(str(name).lower() == "authorization" for name in names if name)


@schemathesis.check
def negative_data_refused(ctx, response, case):
    """Schemathesis' negative-data check, except for cases whose invalid part was the
    Authorization header: `test_api` replaces it with alice's real key, so what is sent is not
    the invalid request Schemathesis counted on (with a query object that serialises to a
    valid string beside it, such a case was answered 200 and failed the suite at random)."""
    if case.meta is not None and _mutates_the_authorization(case):
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_refused,
    problem_json_errors,
]


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    """Every case goes out with alice's one POS key or one token, hundreds a minute: the rate
    limits would answer most of them with 429 and the operations would go untested."""
    settings.RATE_LIMITS = {"pos": "0", "manage": "0"}


@pytest.fixture
def in_test_transaction(world):
    """Requests go straight to the WSGI handler, which closes "old" database connections at the
    start and end of each request; inside the test's transaction that would throw it away
    ("the connection is closed"). Django's own test client does the same as this while it
    calls the handler, and connects the receiver again after each request: so this comes
    after `world`, which uses that client."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def world(alice):
    """Alice's shop with something to find: two members with points, a plastic card and
    three purchases through her terminal (receipts FUZZ-1..3)."""

    def call(client, method, url, body=None):
        response = getattr(client, method)(url, body, content_type="application/json")
        assert response.status_code in (200, 201), response.json()
        return response.json()

    manage, pos = alice.manage(), alice.pos()
    call(manage, "put", "/api/v1/manage/program", {"config": PROGRAM})
    other = call(manage, "post", "/api/v1/manage/members",
                 {"phone": "+79160000077", "first_name": "Other"})
    member_ids = [alice.member.pk, other["id"]]
    for member_id in member_ids:
        call(manage, "post", f"/api/v1/manage/members/{member_id}/adjustments",
             {"points": 100_000, "reason": "seed", "key": f"seed-{member_id}"})
    call(manage, "post", f"/api/v1/manage/members/{alice.member.pk}/cards", {"number": "CARD1"})
    receipts = {
        "FUZZ-1": (alice.member.pk, 1_000, [60_000, 40_000]),
        "FUZZ-2": (other["id"], 0, [10_000, 2_500, 99]),
        "FUZZ-3": (alice.member.pk, 20_000, [45_000]),
    }
    for receipt_id, (member_id, points, amounts) in receipts.items():
        call(pos, "post", "/api/v1/pos/purchases", {
            "receipt_id": receipt_id, "member": {"id": member_id}, "points_to_spend": points,
            "lines": [{"line_id": str(n), "amount": amount}
                      for n, amount in enumerate(amounts, start=1)],
        })
    return {
        "member_id": member_ids,
        "from_member_id": member_ids,
        "to_member_id": member_ids,
        "id": member_ids,
        "staff_id": [alice.owner.pk],
        "receipt_id": list(receipts),
        "number": ["CARD1", "79160000001"],
        "card": ["CARD1", "79160000001"],
        "phone": ["+79160000001", "+79160000077", "8 916 000-00-77"],
        "tier": ["standard", "gold", None],
        "store": ["Main"],
    }


def _pick(seed, name, value, choices):
    """Half of the values stay as generated; the others become a known reference."""
    digest = zlib.crc32(f"{seed}:{name}".encode())
    if digest % 2:
        return value
    return choices[(digest // 2) % len(choices)]


def _steer_dict(seed, container, known):
    for name, choices in known.items():
        if name in container and isinstance(container[name], (int, str)):
            template = next(choice for choice in choices if choice is not None)
            if type(container[name]) is type(template):
                container[name] = _pick(seed, name, container[name], choices)


def _whole_numbers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def steer(case, known):
    if case.meta is None or case.meta.generation.mode is not schemathesis.GenerationMode.POSITIVE:
        return  # invalid input is refused before any look-up: nothing to steer
    seed = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    for container in (case.path_parameters, case.query):
        if isinstance(container, dict):
            _steer_dict(seed, container, known)
    if not isinstance(case.body, dict):
        return
    # JSON Schema counts 2649.0 as an integer; the API takes integers strictly (StrictInt), so
    # such a value only ever meets a 422 on the first field: send it as 2649.
    case.body = body = _whole_numbers(case.body)
    # Not a receipt id in a body: that would mostly re-send a receipt with other contents.
    _steer_dict(seed, body, {name: v for name, v in known.items() if name != "receipt_id"})
    # New members and cards need numbers nobody has yet (random text is rarely a valid one).
    fresh = {"phone": f"+7916{seed % 10**7:07d}", "number": f"C{seed}", "new_number": f"N{seed}"}
    for name, value in fresh.items():
        if isinstance(body.get(name), str):
            body[name] = _pick(seed, f"fresh-{name}", body[name], [value])
    member = body.get("member")
    if isinstance(member, dict):
        # A sale names its member by exactly one reference (the schema cannot say so): keep
        # the first one generated, or take a known member.
        given = {name: value for name, value in member.items() if value is not None}
        first = dict(list(given.items())[:1])
        _steer_dict(seed, first, known)
        references = [{"id": known["id"][0]}, {"phone": known["phone"][1]}, {"card": "CARD1"}]
        body["member"] = _pick(seed, "member", first, references) if first else references[0]
    if case.path.endswith("/program") and isinstance(body.get("config"), dict):
        # Random objects are refused at their first unknown key: put the generated values
        # under the program's own keys instead, on top of a valid program.
        values = list(body["config"].values())
        keys = sorted(PROGRAM_KEYS)
        config = copy.deepcopy(PROGRAM)
        for n, value in enumerate(values):
            config[keys[(seed + n) % len(keys)]] = value
        body["config"] = _pick(seed, "config", body["config"], [config, config, PROGRAM])


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case, alice, world, in_test_transaction):
    steer(case, world)
    # Alice's POS key for /pos/*, her owner's management token for /manage/*: these replace
    # the random bearer tokens Schemathesis generates (its "no credentials" cases still go
    # without any, and must get a 401).
    key = alice.pos_key if case.path.startswith("/api/v1/pos/") else alice.token
    case.call_and_validate(
        headers={"Authorization": f"Bearer {key}", "Accept-Language": "en"}, checks=CHECKS
    )
