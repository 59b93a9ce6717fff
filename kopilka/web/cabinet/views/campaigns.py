"""Secret-code campaigns, promo codes and targeted offers (#18)."""

urlpatterns = []
