"""Signing the device in for a store, and the cashiers switching on it with their PIN."""

from django.http import HttpResponse
from django.urls import path


def device(request):  # replaced by the device sign-in
    return HttpResponse("This device is not a counter yet.")


def switch(request):  # replaced by the cashier switch
    return HttpResponse("Who is at the counter?")


urlpatterns = [
    path("device/", device, name="device"),
    path("switch/", switch, name="switch"),
]
