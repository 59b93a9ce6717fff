"""The API docs page (/api/v1/docs): Swagger UI from this site, never a CDN, so it works offline
and under the Content-Security-Policy; off unless settings.API_DOCS (off in production)."""

import re

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

ATTRIBUTE = re.compile(r'\b(?:src|href)="([^"]*)"')


def test_docs_page_references_only_this_site_and_its_files_are_served(tmp_path, client):
    with override_settings(API_DOCS=True, STATIC_ROOT=tmp_path):
        page = client.get("/api/v1/docs")
        assert page.status_code == 200
        html = page.content.decode()
        links = ATTRIBUTE.findall(html)
        assert sorted(links) == [
            "/static/ninja/favicon.png", "/static/ninja/favicon.svg",
            "/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js",
            "/static/ninja/swagger-ui.css",
        ]
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
        # No script that a CSP without 'unsafe-inline' would block: each <script> either
        # loads a file from here or is JSON data (Swagger UI's settings).
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io
        assert "default-src 'self'" in page["Content-Security-Policy"]

        # The files, as `kopilka up` serves them: collected, then served by whitenoise.
        call_command("collectstatic", interactive=False, verbosity=0)
        fresh = Client()  # whitenoise indexes STATIC_ROOT when the middleware starts
        sizes = {}
        for link in links:
            response = fresh.get(link)
            assert response.status_code == 200, link
            sizes[link] = len(b"".join(response.streaming_content))
        assert sizes["/static/ninja/swagger-ui-bundle.js"] > 1_000_000
        assert all(size > 0 for size in sizes.values())


def test_docs_page_is_off_unless_switched_on(client):
    with override_settings(API_DOCS=False):
        response = client.get("/api/v1/docs")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        # The OpenAPI document stays: clients are generated from it.
        assert client.get("/api/v1/openapi.json").status_code == 200



def test_the_openapi_document_has_no_key_twice(client):
    """Python's json keeps the last of two equal keys; Swagger UI refuses the document
    ("duplicated mapping key"). A `"200"` in an operation's openapi_extra beside ninja's own
    200 once did that."""
    import json

    twice = []

    def strict(pairs):
        keys = [key for key, _value in pairs]
        twice.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(pairs)

    json.loads(client.get("/api/v1/openapi.json").content, object_pairs_hook=strict)
    assert twice == []


def test_no_two_api_schemas_share_a_name():
    """Two `EntryOut` classes in two routers became one component of the OpenAPI document:
    one route then promised the other's fields (the fuzz test found it)."""
    import ast
    from pathlib import Path

    import kopilka.api

    names = []
    for module in Path(kopilka.api.__file__).parent.glob("*.py"):
        names += [node.name for node in ast.parse(module.read_text()).body
                  if isinstance(node, ast.ClassDef)
                  and any(getattr(base, "id", "") in ("Schema", "StrictIn") for base in node.bases)]
    assert sorted({name for name in names if names.count(name) > 1}) == []
