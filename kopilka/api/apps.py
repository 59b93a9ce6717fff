from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "kopilka.api"
    label = "api"
    verbose_name = "API"
