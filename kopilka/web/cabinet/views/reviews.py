"""Reviews: the list, the dialog with the member, quality per cashier and store (#20)."""

urlpatterns = []
