"""The member base: filters, saved segments, keyset pages, a member's page and its actions (#16)."""

urlpatterns = []
