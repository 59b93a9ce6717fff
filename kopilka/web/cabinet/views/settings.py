"""Settings (#16): stores, staff and allowances, counter devices, POS keys, management tokens,
webhooks, message templates, quiet hours, the SMS balance, the audit log."""

urlpatterns = []
