from django.urls import path

from kopilka.messaging import views

urlpatterns = [
    path("u/<str:token>", views.unsubscribe, name="messaging-unsubscribe"),
]
