from django import forms
from django.utils.translation import gettext_lazy as _

from kopilka.web.forms import Form


class PhoneForm(Form):
    phone = forms.CharField(
        label=_("Phone number"), max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel",
                                      "autofocus": True, "placeholder": "+7 916 123-45-67"}))


class CodeForm(Form):
    phone = forms.CharField(widget=forms.HiddenInput, max_length=30)
    code = forms.CharField(
        label=_("Code from the SMS"), max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                      "autofocus": True, "pattern": "[0-9]*"}))


class ConfirmCodeForm(Form):
    code = forms.CharField(
        label=_("Code from the SMS"), max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                      "autofocus": True, "pattern": "[0-9]*"}))
