"""Forms of the faces render through Kopilka's templates: one include per kind of widget,
labels without a colon, errors tied to their field for screen readers."""

import re

from django import forms
from django.utils import translation

from kopilka.web.forms import Form


class SaleForm(Form):
    phone = forms.CharField(label="Phone", help_text="Any format")
    amount = forms.IntegerField(label="Amount", min_value=1)
    consent = forms.BooleanField(label="Consents to messages", required=False)
    payment = forms.ChoiceField(label="Payment", widget=forms.RadioSelect,
                                choices=[("card", "Card"), ("cash", "Cash")])
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        raise forms.ValidationError("The shift is closed.")


def squash(html: str) -> str:
    """One space between words; class lists sorted (Django builds them from a set)."""
    html = re.sub(r'class="([^"]*)"',
                  lambda match: 'class="{}"'.format(" ".join(sorted(match.group(1).split()))),
                  html)
    return " ".join(html.split())


def test_unbound_form():
    with translation.override("en"):
        html = squash(str(SaleForm()))
    assert ('<div class="field field--required"> '
            '<label for="id_phone" class="field--required">Phone</label> '
            '<p class="field__help" id="id_phone_helptext">Any format</p> '
            '<input type="text" name="phone" required aria-describedby="id_phone_helptext" '
            'id="id_phone"> </div>') in html
    assert ('<div class="field field--check"> <label class="check" for="id_consent">'
            '<input type="checkbox" name="consent" id="id_consent"> '
            '<span>Consents to messages</span></label> </div>') in html
    assert ('<fieldset class="field field--choices field--required"> '
            '<legend class="field--required">Payment</legend> <div id="id_payment">') in html
    assert '<input type="hidden" name="token" id="id_token">' in html
    assert "banner" not in html


def test_bound_form_with_errors():
    with translation.override("en"):
        form = SaleForm({"phone": "", "amount": "0", "payment": "card"})
        html = squash(str(form))
    assert html.startswith(
        '<div class="banner banner--error" role="alert"> <p>The shift is closed.</p> </div>')
    assert ('<div class="field field--error field--required"> '
            '<label for="id_amount" class="field--required">Amount</label> '
            '<input type="number" name="amount" value="0" min="1" required '
            'aria-invalid="true" aria-describedby="id_amount_error" id="id_amount"> '
            '<ul class="errorlist" id="id_amount_error"><li>Ensure this value is greater than '
            'or equal to 1.</li></ul> </div>') in html
    assert 'aria-describedby="id_phone_helptext id_phone_error"' in html
