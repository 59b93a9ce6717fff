"""{% js_catalogue_url %}: the cacheable URL of the JavaScript catalogue (web/catalogue.py)."""

from django import template

from kopilka.web.catalogue import catalogue_url

register = template.Library()


@register.simple_tag
def js_catalogue_url() -> str:
    return catalogue_url()
