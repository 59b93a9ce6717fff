"""Settings: settings_messages (to come)."""

urlpatterns = []
