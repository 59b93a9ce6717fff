"""Forms for the browser faces render through Kopilka's own templates (no crispy-forms).

Derive a face's forms from `Form` / `ModelForm` here: `{{ form }}` then renders
web/forms/form.html, and each field web/forms/field.html, which picks one include per kind of
widget (web/forms/fields/*.html). The renderer is set per form class, not globally, so the
operator admin keeps Django's own templates.
"""

from django import forms
from django.forms.renderers import DjangoTemplates


class FormRenderer(DjangoTemplates):
    form_template_name = "web/forms/form.html"
    field_template_name = "web/forms/field.html"


class KopilkaFormMixin:
    default_renderer = FormRenderer
    # Django adds aria-invalid and aria-describedby itself; these classes let CSS mark the field.
    error_css_class = "field--error"
    required_css_class = "field--required"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")  # labels stand above their fields: no colon
        super().__init__(*args, **kwargs)


class Form(KopilkaFormMixin, forms.Form):
    pass


class ModelForm(KopilkaFormMixin, forms.ModelForm):
    pass
