"""The root page, the places registry, the htmx conventions, the language switch and the JS
catalogue, through Django's test client."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.utils import translation

from kopilka.web import places
from kopilka.web.htmx import render_page


def get(path="/", language="en", **headers):
    return Client(headers={"Accept-Language": language, **headers}).get(path)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "docs_title", "skip"),
    [
        ("ru", "Документация API", "Перейти к содержимому"),
        ("uk", "Документація API", "Перейти до вмісту"),
        ("en", "API documentation", "Skip to content"),
    ],
)
def test_root_page_in_each_language(language, docs_title, skip):
    response = get(language=language)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert f'<a class="skip-link" href="#main">{skip}</a>' in html
    assert f'<h2 class="card__title">{docs_title}</h2>' in html
    assert 'href="/api/v1/docs"' in html
    assert 'href="/admin/"' not in html  # the operator admin is for superusers only
    assert re.search(r'<meta name="csrf-token" content="\w{32,}">', html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # No inline script or style: every script comes from this site by src.
    assert re.findall(r"<script(?![^>]*\ssrc=)", html) == []
    assert "style=" not in html and "<style" not in html
    assert response["Vary"].startswith("HX-Request")


@pytest.mark.django_db
def test_superuser_sees_the_operator_admin():
    user = get_user_model().objects.create_superuser("op@example.com", "op@example.com", "pw-1")
    client = Client(headers={"Accept-Language": "ru"})
    client.force_login(user)
    html = client.get("/").content.decode()
    assert '<a class="card card--link" href="/admin/">' in html
    assert "Администрирование платформы" in html
    assert "Вход для оператора" not in html  # already signed in


@pytest.mark.django_db
def test_root_page_no_longer_redirects():
    assert get().status_code == 200
    assert Client().head("/").status_code == 200  # monitors and link checkers
    assert Client().post("/").status_code == 405


@pytest.mark.django_db
def test_a_place_is_listed_once_its_url_exists_and_the_visitor_may_use_it():
    request = RequestFactory().get("/")
    request.user = get_user_model()(is_superuser=False)
    keys = [entry.place.key for entry in places.for_request(request)]
    assert keys == ["cashier", "cabinet", "wallet", "api-docs"]  # signed in: no sign-up
    try:
        places.register(places.Place(key="test-wallet", url_name="wallet:nowhere",
                                     title="Wallet", description="", order=20))
        places.register(places.Place(key="test-cabinet", url_name="health", title="Cabinet",
                                     description="", order=5))
        places.register(places.Place(key="test-hidden", url_name="health", title="Hidden",
                                     description="", order=15, visible=lambda request: False))
        # The wallet's URL is not installed: not listed. The hidden one is not for this visitor.
        assert [(e.place.key, e.url) for e in places.for_request(request)] == [
            ("test-cabinet", "/health"), ("cashier", "/cashier/"), ("cabinet", "/cabinet/"),
            ("wallet", "/my/"),
            ("api-docs", "/api/v1/docs"),
        ]
    finally:
        for key in ("test-wallet", "test-cabinet", "test-hidden"):
            places._places.pop(key)


@pytest.mark.django_db
def test_htmx_request_gets_the_fragment_and_history_restore_the_page():
    page = get()
    fragment = get(HX_Request="true")
    restore = get(HX_Request="true", HX_History_Restore_Request="true")
    assert "<html" in page.content.decode()
    assert "<html" not in fragment.content.decode()
    assert '<h1 class="page-title">Kopilka</h1>' in fragment.content.decode()
    assert restore.content == page.content.replace(  # the same page; only the token differs
        re.search(rb'content="(\w+)"', page.content).group(1),
        re.search(rb'content="(\w+)"', restore.content).group(1),
    ).replace(
        re.search(rb'value="(\w{32,})"', page.content).group(1),
        re.search(rb'value="(\w{32,})"', restore.content).group(1),
    )
    for response in (page, fragment, restore):
        assert "HX-Request" in response["Vary"]


def test_render_page_status_and_vary():
    request = RequestFactory().post("/", headers={"HX-Request": "true"})
    from django_htmx.middleware import HtmxDetails

    request.htmx = HtmxDetails(request)
    request.user = get_user_model()()
    with translation.override("en"):
        response = render_page(request, "web/home.html", {"places": []}, status=422)
    assert response.status_code == 422
    assert response["Vary"] == "HX-Request"
    assert "<html" not in response.content.decode()


@pytest.mark.django_db
def test_language_switch_sets_the_language_for_the_next_pages():
    client = Client(headers={"Accept-Language": "ru"})
    page = client.get("/").content.decode()
    assert '<button type="submit" name="language" value="uk" lang="uk"' in page
    response = client.post("/i18n/setlang/", {"language": "uk", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.cookies["django_language"].value == "uk"
    html = client.get("/").content.decode()
    assert '<html lang="uk">' in html
    assert re.search(r'value="uk" lang="uk"\s+title="Українська" aria-label="Українська"\s+'
                     r'aria-current="true">Укр</button>', html)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("ru", "На сервере что-то пошло не так. Попробуйте ещё раз через минуту."),
        ("uk", "На сервері щось пішло не так. Спробуйте ще раз за хвилину."),
        ("en", "Something went wrong on the server. Try again in a minute."),
    ],
)
def test_javascript_catalogue(language, text):
    page = get("/", language=language).content.decode()
    url = re.search(r'<script src="(/jsi18n/[^"]+)"', page).group(1)
    assert url.startswith(f"/jsi18n/{language}-")  # a language switch is a new URL
    response = get(url, language=language)
    assert response.status_code == 200
    assert "max-age=31536000" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/javascript")
    catalogue = json.loads(
        re.search(r"const newcatalog = (\{.*?\});", response.content.decode(), re.S).group(1)
    )
    english = "Something went wrong on the server. Try again in a minute."
    assert catalogue[english] == text


@pytest.mark.django_db
def test_django_messages_become_toasts():
    from django.contrib.messages import constants, get_messages
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore

    request = RequestFactory().get("/")
    request.user = get_user_model()()
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request._messages.add(constants.SUCCESS, "Sale saved.")
    request._messages.add(constants.ERROR, "The shift is closed.")
    with translation.override("uk"):
        html = " ".join(render_page(request, "web/home.html", {"places": []}).content.decode()
                        .split())
    assert ('<div class="toast toast--success" role="status"> <p class="toast__text">Sale saved.'
            '</p> <button type="button" class="toast__close" data-dismiss="toast" '
            'aria-label="Закрити">&times;</button> </div>') in html
    assert '<div class="toast toast--error" role="alert"> <p class="toast__text">The shift' in html
    assert get_messages(request).used  # the middleware drops them after this response


@pytest.mark.django_db
def test_a_missing_page_is_the_sites_own_404_in_the_visitors_language(client):
    response = client.get("/no-such-page/", headers={"Accept-Language": "ru"})
    assert response.status_code == 404
    text = response.content.decode()
    assert "Не найдено" in text and "На главную" in text
    assert 'href="/"' in text


def test_the_500_page_renders_without_a_request():
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("en"):
        text = render_to_string("500.html")
    assert "Something went wrong on the server. Try again in a minute." in text
