"""What the API fuzzer (test_fuzz.py) found, pinned down: each request answers an exact 4xx
problem naming the field (never a 500, never an HTML page) and writes nothing."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from kopilka.members.models import Member
from kopilka.processing.models import Purchase
from kopilka.programs.models import Program

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def send(client, method, url, body):
    return getattr(client, method)(url, body, content_type="application/json")


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    return body


def fields(response):
    return [error["field"] for error in response.json()["errors"]]


def members_with_phone(phone):
    with scopes_disabled():
        return Member.objects.filter(person__phone=phone).count()


# --- the OpenAPI document tells the truth -------------------------------------------------------


FILES = {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def test_openapi_declares_errors_as_problem_json(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                content = set(response.get("content", {}))
                if int(status) >= 400:
                    assert content == {PROBLEM}, (method, path, status)
                elif path.endswith("/file"):  # a download: the file's own type
                    assert content == FILES, (method, path, status)
                else:
                    assert content == {"application/json"}, (method, path, status)


def test_openapi_declares_400_for_unreadable_bodies(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)


def test_openapi_declares_page_limits(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/manage/members", "/api/v1/manage/members/{member_id}/history"):
        [limit] = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)


# --- errors outside the operations are problems too ---------------------------------------------


def test_wrong_method_is_405_problem_with_allow(alice):
    # Was: 405 with a text/html body "Method not allowed".
    response = alice.pos().generic("TRACE", "/api/v1/pos/terminal")
    body = problem(response, 405)
    assert body["type"] == "/problems/method-not-allowed"
    assert response["Allow"] == "GET"
    assert body["detail"] == "Allowed methods: GET."


def test_unknown_api_path_is_404_problem(alice):
    # Was: Django's HTML 404 page.
    for method in ("get", "post"):
        response = send(alice.manage(), method, "/api/v1/manage/nothing-here", {})
        assert problem(response, 404)["type"] == "/problems/not-found"


def test_unreadable_json_is_400_problem(alice):
    response = alice.pos().post("/api/v1/pos/members", b"\x00{", content_type="application/json")
    body = problem(response, 400)
    assert body["type"] == "/problems/http-error"


def test_body_over_the_upload_limit_is_400_problem(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = send(alice.pos(), "post", "/api/v1/pos/members",
                    {"phone": "+79161112233", "comment": "x" * 500})
    assert problem(response, 400)["type"] == "/problems/http-error"
    assert members_with_phone("+79161112233") == 0


def test_a_bug_is_a_500_problem_and_still_reaches_the_test_client(alice, monkeypatch):
    from kopilka.api import manage

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(manage.members, "get_member", broken)
    url = f"/api/v1/manage/members/{alice.member.pk}"
    quiet = Client(raise_request_exception=False,
                   headers={"Authorization": f"Bearer {alice.token}"})
    body = problem(quiet.get(url), 500)
    assert body["type"] == "/problems/server-error"
    assert "boom" not in str(body)
    with pytest.raises(RuntimeError, match="boom"):  # Django's signal: tests see the traceback
        alice.manage().get(url)


# --- input the database cannot hold -------------------------------------------------------------


@pytest.mark.parametrize(("kind", "url"), [("pos", "/api/v1/pos/terminal"),
                                           ("mgt", "/api/v1/manage/merchant")])
def test_a_key_with_a_nul_prefix_is_401(alice, kind, url):
    # Was: 500 on PostgreSQL (the prefix went into the key look-up).
    client = Client(headers={"Authorization": f"Bearer kp_{kind}_{chr(0) * 8}_secret"})
    assert problem(client.get(url), 401)["type"] == "/problems/unauthenticated"


def test_a_merchant_header_with_a_nul_is_401(alice):
    # Was: 500 on PostgreSQL for a logged-in staff member (the header went into a query).
    client = Client()
    client.force_login(alice.owner.user)
    assert client.get("/api/v1/manage/merchant").json()["slug"] == alice.merchant.slug
    response = client.get("/api/v1/manage/merchant", headers={"X-Kopilka-Merchant": "a\x00"})
    assert problem(response, 401)["type"] == "/problems/unauthenticated"


def test_nul_character_in_a_body_names_the_field(alice):
    # Was: SQLite stored it; PostgreSQL answered 500 (text cannot hold NUL).
    response = send(alice.pos(), "post", "/api/v1/pos/members",
                    {"phone": "+79161112233", "first_name": "A\x00"})
    problem(response, 422)
    assert response.json()["errors"] == [
        {"field": "first_name", "message": "Must not contain the NUL character."}
    ]
    assert members_with_phone("+79161112233") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["vip", "a\x00"]}, "tags.1"),
        ({"consents": [{"kind": "messages", "text_version": "v\x00"}]}, "consents.0.text_version"),
    ],
)
def test_nul_character_inside_lists_names_the_field(alice, body, field):
    response = send(alice.pos(), "post", "/api/v1/pos/members", {"phone": "+79161112233", **body})
    problem(response, 422)
    assert fields(response) == [field]
    assert members_with_phone("+79161112233") == 0


def test_nul_character_in_a_sale_names_the_line(alice):
    body = {"receipt_id": "N-1", "member": {"id": alice.member.pk},
            "lines": [{"line_id": "1", "amount": 100, "sku": "a\x00b"}]}
    response = send(alice.pos(), "post", "/api/v1/pos/purchases", body)
    problem(response, 422)
    assert fields(response) == ["lines.0.sku"]
    with scopes_disabled():
        assert not Purchase.objects.filter(receipt_id="N-1").exists()


def test_nul_character_in_query_and_path_names_the_parameter(alice):
    response = alice.pos().get("/api/v1/pos/members/lookup", {"card": "12\x003"})
    problem(response, 422)
    assert fields(response) == ["card"]
    response = send(alice.pos(), "post", "/api/v1/pos/purchases/R%00/refunds", {"refund_id": "1"})
    problem(response, 422)
    assert fields(response) == ["receipt_id"]
    response = send(alice.manage(), "post", "/api/v1/manage/cards/C%00/replace",
                    {"new_number": "77"})
    problem(response, 422)
    assert fields(response) == ["number"]


def test_a_query_parameter_given_twice_is_422_naming_it(alice):
    # Found by the fuzzer: ninja took the last value and answered 200 to another question.
    response = alice.manage().get("/api/v1/manage/purchases?receipt_id=FUZZ-1&receipt_id=x",
                                  HTTP_ACCEPT_LANGUAGE="en")
    problem(response, 422)
    assert response.json()["errors"] == [
        {"field": "receipt_id", "message": "Given more than once: send it once."}]
    response = alice.pos().get(
        "/api/v1/pos/members/lookup?phone=%2B79160000001&phone=%2B79160000001&card=1&card=2")
    problem(response, 422)
    assert fields(response) == ["phone", "card"]
    response = alice.pos().get("/api/v1/pos/members/lookup?phone=%2B79160000001")
    assert response.status_code == 200, response.content  # once is fine


@pytest.mark.parametrize("text", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_program_config_text_must_be_storable(alice, text):
    # Was: NUL stored on SQLite and 500 on PostgreSQL (jsonb takes no \u0000); the surrogate
    # was refused by the program's own validation.
    with scopes_disabled():
        version = Program.objects.get(merchant=alice.merchant).version
    config = {"type": "bonus", "tiers": [{"code": "base", "name": f"Base{text}",
                                          "accrual": {"kind": "percent", "percent": "5"}}]}
    response = send(alice.manage(), "put", "/api/v1/manage/program", {"config": config})
    problem(response, 422)
    assert fields(response) == ["config.tiers.0.name"]
    with scopes_disabled():
        assert Program.objects.get(merchant=alice.merchant).version == version


def test_lone_surrogate_in_a_text_field_is_422(alice):
    response = alice.pos().post("/api/v1/pos/members",
                                '{"phone": "+79161112233", "first_name": "\\ud800"}',
                                content_type="application/json")
    problem(response, 422)
    assert response.json()["errors"] == [
        {"field": "first_name", "message": "Must be valid Unicode text."}
    ]


def test_quantity_beyond_the_column_is_422(alice):
    # Was: 500 (OverflowError on SQLite, "integer out of range" on PostgreSQL).
    body = {"receipt_id": "Q-1", "member": {"id": alice.member.pk},
            "lines": [{"line_id": "1", "amount": 100, "quantity": 2**70}]}
    response = send(alice.pos(), "post", "/api/v1/pos/purchases", body)
    problem(response, 422)
    assert response.json()["errors"] == [
        {"field": "lines.0.quantity", "message": "Must be at most 1000000."}
    ]
    with scopes_disabled():
        assert not Purchase.objects.filter(receipt_id="Q-1").exists()


def test_transfer_points_are_bounded(alice):
    body = {"from_member_id": alice.member.pk, "to_member_id": alice.member.pk + 1,
            "points": 10**12 + 1, "key": "t1"}
    response = send(alice.manage(), "post", "/api/v1/manage/transfers", body)
    problem(response, 422)
    assert fields(response) == ["points"]


@pytest.mark.parametrize("path", ["/members", "/members/{member_id}/history"])
def test_a_cursor_of_non_ascii_digits_is_422(alice, path):
    # Was: 500 ("²".isdigit() is true, int("²") raises).
    url = "/api/v1/manage" + path.format(member_id=alice.member.pk)
    response = alice.manage().get(url, {"cursor": "²"})
    problem(response, 422)
    assert fields(response) == ["cursor"]


@pytest.mark.parametrize("path", ["/members", "/members/{member_id}/history"])
def test_a_huge_cursor_is_just_past_the_end(alice, path):
    url = "/api/v1/manage" + path.format(member_id=alice.member.pk)
    assert alice.manage().get(url, {"cursor": "9" * 40}).status_code == 200


def test_page_limit_out_of_range_is_a_translated_422(alice):
    response = alice.manage("ru").get("/api/v1/manage/members", {"limit": 201})
    problem(response, 422)
    assert response.json()["errors"] == [
        {"field": "limit", "message": "Должно быть не больше 200."}
    ]


def test_member_ids_beyond_64_bits_are_404(alice):
    response = alice.manage().get(f"/api/v1/manage/members/{2**64}")
    assert problem(response, 404)["type"] == "/problems/not-found"
    body = {"member": {"id": 2**64}, "lines": [{"line_id": "1", "amount": 100}]}
    problem(send(alice.pos(), "post", "/api/v1/pos/quote", body), 404)


def test_an_empty_member_reference_names_it(alice):
    body = {"member": {"qr": ""}, "lines": [{"line_id": "1", "amount": 100}]}
    response = send(alice.pos(), "post", "/api/v1/pos/quote", body)
    problem(response, 422)
    assert fields(response) == ["member.qr"]


# --- null clears a profile field ----------------------------------------------------------------


def test_patch_email_null_clears_it(alice):
    # Was: 500 (IntegrityError: the email column holds no NULL).
    url = f"/api/v1/manage/members/{alice.member.pk}"
    assert send(alice.manage(), "patch", url, {"email": "a@example.com"}).json()["email"] == (
        "a@example.com"
    )
    response = send(alice.manage(), "patch", url, {"email": None, "gender": None})
    assert response.status_code == 200, response.content
    assert (response.json()["email"], response.json()["gender"]) == ("", "")


def test_register_with_email_null(alice):
    # Was: 409 "This phone number is already registered." for a new phone.
    response = send(alice.manage(), "post", "/api/v1/manage/members",
                    {"phone": "+79161112233", "email": None, "gender": None})
    assert response.status_code == 201, response.content
    assert response.json()["email"] == ""


# --- the time of a sale ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [
        # Was: 500 (TypeError: can't compare offset-naive and offset-aware datetimes).
        ("2024-01-01T10:00:00", "Must have a time zone offset (RFC 3339)."),
        # Was: 500 (OverflowError: date value out of range).
        ("0001-01-01T00:00:00+05:00", "Must be at least 2000-01-01T00:00:00Z."),
        ("1999-12-31T23:59:59Z", "Must be at least 2000-01-01T00:00:00Z."),
    ],
)
@pytest.mark.parametrize("url", ["/api/v1/pos/quote", "/api/v1/pos/purchases"])
def test_a_sale_time_out_of_range_is_422(alice, url, occurred_at, message):
    body = {"receipt_id": "T-1", "member": {"id": alice.member.pk},
            "lines": [{"line_id": "1", "amount": 100}], "occurred_at": occurred_at}
    if url.endswith("quote"):
        del body["receipt_id"]
    response = send(alice.pos(), "post", url, body)
    problem(response, 422)
    assert response.json()["errors"] == [{"field": "occurred_at", "message": message}]
    with scopes_disabled():
        assert not Purchase.objects.exists()


def test_a_sale_time_with_a_far_offset_is_kept_as_the_same_instant(alice):
    # Was: 500 on PostgreSQL ("time zone displacement out of range": it keeps ±15:59 at most).
    body = {"receipt_id": "T-2", "member": {"id": alice.member.pk},
            "lines": [{"line_id": "1", "amount": 100}], "occurred_at": "2020-01-01T23:30:00+23:00"}
    response = send(alice.pos(), "post", "/api/v1/pos/purchases", body)
    assert response.status_code == 201, response.content
    with scopes_disabled():
        purchase = Purchase.objects.get(receipt_id="T-2")
    assert purchase.occurred_at.isoformat() == "2020-01-01T00:30:00+00:00"


@pytest.mark.parametrize("url", [
    "/api/v1/manage/refunds?purchase_id=99999999999999999999",
    "/api/v1/manage/refunds?member_id=9223372036854775808",
    "/api/v1/manage/purchases?store_id=99999999999999999999",
    "/api/v1/manage/messages?member_id=18446744073709551615",
])
def test_ids_beyond_64_bits_are_refused_not_500(alice, url):
    response = alice.manage().get(url)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    field = url.split("?")[1].split("=")[0]
    assert [error["field"] for error in response.json()["errors"]] == [field]
