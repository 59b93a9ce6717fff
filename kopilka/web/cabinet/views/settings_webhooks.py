"""Settings: settings_webhooks (to come)."""

urlpatterns = []
