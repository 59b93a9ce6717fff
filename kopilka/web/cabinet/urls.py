"""/cabinet/: each part of the cabinet keeps its own routes next to its views."""

from kopilka.web.cabinet.views import account, home, start

app_name = "cabinet"
urlpatterns = [
    *home.urlpatterns,  # "" (the home)
    *account.urlpatterns,  # sign-up, sign-in and out, choosing the business
    *start.urlpatterns,  # program templates, the first store, cashier and counter
]
