"""The OpenAPI document tells the truth to tools, not only to people.

It must validate as OpenAPI (openapi-spec-validator), and a client generated from it by a
third-party generator (openapi-python-client) must run the cashier flow against a live server:
register a member, quote, purchase (and its retry), refund in two parts, look the member up.
The generated code is used as it comes out; the test only finds its functions by method and
path, so renaming a view does not break it.
"""

import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client
from django_scopes import scope
from openapi_spec_validator import validate

from kopilka.core.actor import Actor
from kopilka.programs import services as programs
from kopilka.tenancy import services as tenancy

PACKAGE = "kopilka_client"
# No post-generation hooks: by default the generator runs `ruff` over its output, which only
# formats it and would tie the test to a ruff on PATH.
GENERATOR_CONFIG = f"package_name_override: {PACKAGE}\npost_hooks: []\n"


@pytest.fixture(scope="module")
def document(django_db_setup, django_db_blocker) -> dict:
    """The document as the server serves it (built once: it takes a second or two)."""
    with django_db_blocker.unblock():
        response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_openapi_document_is_valid_openapi(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises, naming the offending place, when it is not


def test_query_parameters_carry_single_examples(document):
    """The regression: the audit log's `action` and `object_type` were declared with a list as
    the parameter's `examples`, which OpenAPI wants as a map of Example objects."""
    parameters = {
        parameter["name"]: parameter
        for parameter in document["paths"]["/api/v1/manage/audit"]["get"]["parameters"]
    }
    assert parameters["action"]["example"] == "members.member.registered"
    assert parameters["object_type"]["example"] == "members.member"
    assert "examples" not in parameters["action"]
    assert "examples" not in parameters["object_type"]


def generator() -> str:
    """The generator's console script beside this Python (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("openapi-python-client")
    found = str(beside) if beside.exists() else shutil.which("openapi-python-client")
    assert found, "openapi-python-client is a test dependency: pip install -e '.[test]'"
    return found


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory, document):
    """Generate the client from the document the server serves, into a fresh directory (nothing
    is cached between runs), and import it."""
    workdir = tmp_path_factory.mktemp("openapi-client")
    (workdir / "openapi.json").write_text(json.dumps(document))
    (workdir / "config.yaml").write_text(GENERATOR_CONFIG)
    started = time.monotonic()
    result = subprocess.run(
        [generator(), "generate", "--path", str(workdir / "openapi.json"),
         "--output-path", str(workdir / PACKAGE), "--meta", "none",
         "--config", str(workdir / "config.yaml"), "--fail-on-warning"],
        capture_output=True, text=True, timeout=300,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"openapi-python-client generated the client in {seconds:.1f} s", file=sys.stderr)
    sys.path.insert(0, str(workdir))
    try:
        package = importlib.import_module(PACKAGE)
        yield GeneratedClient(package, workdir / PACKAGE)
    finally:
        sys.path.remove(str(workdir))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


class GeneratedClient:
    """Finds a generated endpoint module by the method and path it calls."""

    def __init__(self, package, root: Path):
        self.package = package
        self.root = root
        self.modules: dict[tuple[str, str], str] = {}
        for source in sorted((root / "api").rglob("*.py")):
            text = source.read_text()
            method = re.search(r'"method": "(\w+)"', text)
            url = re.search(r'"url": "([^"]+)"', text)
            if method and url:
                dotted = ".".join(source.relative_to(root.parent).with_suffix("").parts)
                self.modules[(method.group(1), url.group(1))] = dotted

    def endpoint(self, method: str, path: str):
        return importlib.import_module(self.modules[(method, path)])

    def call(self, method: str, path: str, *, client, body: dict | None = None, **params):
        """Call the endpoint's `sync_detailed`, building the body with its own model class."""
        module = self.endpoint(method, path)
        if body is not None:
            body_type = inspect.signature(module.sync_detailed).parameters["body"].annotation
            params["body"] = body_type.from_dict(body)
        return module.sync_detailed(client=client, **params)

    def authenticated(self, base_url: str, token: str):
        return self.package.AuthenticatedClient(
            base_url=base_url, token=token, raise_on_unexpected_status=True,
            headers={"Accept-Language": "en"},
        )


LINES = [
    {"line_id": "1", "amount": 35000, "product_group": "coffee"},
    {"line_id": "2", "amount": 15000, "sku": "CROISSANT"},
]


@pytest.mark.slow
def test_a_generated_client_runs_the_cashier_flow(generated_client, live_server):
    actor = Actor.cli()
    created = tenancy.create_merchant("Client Coffee", owner_email="gen@example.com", actor=actor)
    merchant = created.merchant
    _, pos_key = tenancy.create_terminal(merchant, store_name="Main", actor=actor)
    with scope(merchant=merchant):
        # Standard tier: 5 %, at most 50 % of a check in points; a welcome bonus to spend.
        programs.save_program(
            merchant, {**programs.DEFAULT_PROGRAM, "welcome_bonus": 5000}, actor=actor
        )
    gen = generated_client
    pos = gen.authenticated(live_server.url, pos_key)

    answer = gen.call("get", "/api/v1/pos/terminal", client=pos)
    assert answer.status_code == 200
    assert answer.parsed.merchant.slug == merchant.slug

    # Problems come back as the generated Problem model, naming the field.
    answer = gen.call("post", "/api/v1/pos/members", client=pos, body={"phone": "123"})
    assert answer.status_code == 422
    assert answer.parsed.type_ == "/problems/validation"
    # `errors` items are declared as free-form objects, so the model gives them by key.
    assert [error["field"] for error in answer.parsed.errors] == ["phone"]

    answer = gen.call(
        "post", "/api/v1/pos/members", client=pos,
        body={"phone": "+7 916 555-44-33", "first_name": "Мария",
              "consents": [{"kind": "personal_data", "text_version": "2026-01"}]},
    )
    assert answer.status_code == 201, answer.content
    member = answer.parsed
    assert member.phone == "+7916***4433"
    assert (member.available, member.pending, member.tier) == (5000, 0, "standard")

    sale = {"member": {"id": member.id}, "points_to_spend": 1000, "lines": LINES}
    answer = gen.call("post", "/api/v1/pos/quote", client=pos, body=sale)
    assert answer.status_code == 200, answer.content
    quote = answer.parsed
    assert (quote.total, quote.max_redeem_points, quote.points_spent, quote.payable) == (
        50000, 25000, 1000, 49000)
    # 5 % of what is paid in money, per line: 34 300 -> 1 715, 14 700 -> 735.
    assert quote.accrual_points == 2450
    assert [(line.redeem_points, line.accrual_points) for line in quote.lines] == [
        (700, 1715), (300, 735)]

    purchase = {**sale, "receipt_id": "0001-000123", "payment_method": "card"}
    answer = gen.call("post", "/api/v1/pos/purchases", client=pos, body=purchase,
                      idempotency_key="0001-000123")
    assert answer.status_code == 201, answer.content
    bought = answer.parsed
    assert (bought.points_spent, bought.points_accrued, bought.available, bought.replayed) == (
        1000, 2450, 6450, False)

    # The retry after a lost answer: the same figures, nothing twice.
    answer = gen.call("post", "/api/v1/pos/purchases", client=pos, body=purchase)
    assert answer.status_code == 200
    assert (answer.parsed.purchase_id, answer.parsed.available, answer.parsed.replayed) == (
        bought.purchase_id, 6450, True)

    refunds = "/api/v1/pos/purchases/{receipt_id}/refunds"
    answer = gen.call("post", refunds, client=pos, receipt_id="0001-000999",
                      body={"refund_id": "RET-0"})
    assert answer.status_code == 404

    # Line 2, then the rest: accrual taken back and spent points returned line by line.
    answer = gen.call("post", refunds, client=pos, receipt_id="0001-000123",
                      body={"refund_id": "RET-1", "lines": {"2": 15000}})
    assert answer.status_code == 201, answer.content
    refund = answer.parsed
    assert (refund.amount, refund.points_reversed, refund.points_returned,
            refund.points_unrecovered, refund.available) == (15000, 735, 300, 0, 6015)

    answer = gen.call("post", refunds, client=pos, receipt_id="0001-000123",
                      body={"refund_id": "RET-2"})
    assert answer.status_code == 201, answer.content
    refund = answer.parsed
    assert (refund.amount, refund.points_reversed, refund.points_returned,
            refund.available) == (35000, 1715, 700, 5000)

    answer = gen.call("get", "/api/v1/pos/members/lookup", client=pos, phone="89165554433")
    assert answer.status_code == 200
    card = answer.parsed
    # Exactly the welcome bonus again; the refunded sale still counts as a purchase.
    assert (card.id, card.available, card.pending, card.lifetime_spend, card.purchase_count) == (
        member.id, 5000, 0, 0, 1)
