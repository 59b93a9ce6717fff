"""Settings: settings_audit (to come)."""

urlpatterns = []
