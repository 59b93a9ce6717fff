from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

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


class SendForm(Form):
    """Points to a friend: typed as shown ("12.50"), sent in minor units. `key` makes a
    repeated submit (a double tap, a reload) the same transfer, not a second one."""

    phone = forms.CharField(
        label=_("Friend's phone number"), max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}))
    points = forms.CharField(
        label=_("Points"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    # Shown once a code was sent, where the program confirms transfers by code.
    code = forms.CharField(
        label=_("Code from the SMS"), max_length=8, required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))

    def __init__(self, *args, precision: int, with_code: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision
        if not with_code:
            del self.fields["code"]

    def clean_points(self) -> int:
        text = self.cleaned_data["points"].strip().replace(",", ".").replace(" ", "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value <= 0:
            raise forms.ValidationError(_("Enter a number of points above zero."))
        minor = value.scaleb(self.precision)
        if minor != minor.to_integral_value():
            raise forms.ValidationError(
                ngettext("At most %(places)s digit after the point.",
                         "At most %(places)s digits after the point.", self.precision)
                % {"places": self.precision} if self.precision else
                _("Points are whole numbers here."))
        if minor > 10**15:
            raise forms.ValidationError(_("Enter a number of points above zero."))
        return int(minor)


class JoinForm(Form):
    """Self-registration at a shop (MEM-5). Signed in, the wallet knows the phone: the form
    drops it and the code; `hide_phone` is offered only to a person with an alias."""

    phone = forms.CharField(
        label=_("Phone number"), max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel",
                                      "placeholder": "+7 916 123-45-67"}))
    code = forms.CharField(
        label=_("Code from the SMS"), max_length=8, required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                      "pattern": "[0-9]*"}))
    first_name = forms.CharField(label=_("First name (if you like)"), max_length=100,
                                 required=False,
                                 widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    birth_date = forms.DateField(
        label=_("Birthday (if you like: a gift on the day)"), required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"))
    personal_data = forms.BooleanField(
        label=_("I agree that the shop processes my personal data for its loyalty program"),
        error_messages={"required": _("Without this consent the shop cannot give you a card.")})
    messages = forms.BooleanField(
        label=_("Send me messages about offers and my points"), required=False)
    hide_phone = forms.BooleanField(
        label=_("Show the shop only my alias, not my phone number"), required=False)

    def __init__(self, *args, signed_in: bool, alias: str = "", code_sent: bool = False,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if signed_in:
            del self.fields["phone"], self.fields["code"]
        elif not code_sent:
            del self.fields["code"]
        else:
            self.fields["code"].required = True
            self.fields["code"].widget.attrs["autofocus"] = True
        if not alias:
            del self.fields["hide_phone"]


class AliasForm(Form):
    alias = forms.CharField(
        label=_("Alias"), max_length=20,
        help_text=_("3 to 16 letters, digits, “_” or “.”, starting with a letter."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none",
                                      "spellcheck": "false", "autofocus": True}))
    code = forms.CharField(
        label=_("Code from the SMS"), max_length=8, required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                      "pattern": "[0-9]*"}))
