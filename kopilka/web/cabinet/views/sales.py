"""Sales and refunds: lists with filters and totals, a purchase's page (#16)."""

urlpatterns = []
