"""The review form from a purchase's signed link, and the member's side of the dialog (#20)."""

urlpatterns = []
