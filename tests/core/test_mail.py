"""The console mail transport prints a mail a person can read: a Russian text is not hidden in
base64 (the demo's staff invitation carries its key in such a text)."""

import io

from django.core.mail import EmailMessage

from kopilka.core.mail import EmailBackend

TEXT = ("Здравствуйте! Вас пригласили работать кассиром в «Демо Кофейня» — это приглашение "
        "действует семь дней.\nКлюч приглашения: kp_inv_1234abcd_QnDjqjSI9t0ye3wyAmex8R7G\n")


def test_a_russian_mail_is_printed_as_readable_text_with_its_headers():
    stream = io.StringIO()
    mail = EmailMessage("Приглашение", TEXT, "kopilka@localhost", ["kassa@example.com"])
    assert "base64" in mail.message().as_string()  # what Django's own console would print
    assert EmailBackend(stream=stream).send_messages([mail]) == 1
    printed = stream.getvalue()
    assert "Вас пригласили работать кассиром в «Демо Кофейня»" in printed
    assert "kp_inv_1234abcd_QnDjqjSI9t0ye3wyAmex8R7G" in printed
    assert "Content-Transfer-Encoding: 8bit" in printed
    assert "To: kassa@example.com" in printed and "MIME-Version: 1.0" in printed
    assert printed.endswith("\n" + "-" * 79 + "\n")


def test_the_console_is_the_transport_without_a_mail_host():
    from kopilka.messaging.conf import mailer_settings

    assert mailer_settings({}) == {"BACKEND": "kopilka.core.mail.EmailBackend"}
    # Production without a mail host keeps the backend `check --deploy` knows to refuse.
    assert mailer_settings({"KOPILKA_ENV": "production"}) == {
        "BACKEND": "django.core.mail.backends.console.EmailBackend"}
