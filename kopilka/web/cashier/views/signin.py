"""Signing the device in for a store, and the cashiers switching on it with their PIN."""

from django.http import HttpResponse
from django.urls import path


def device(request):  # a manager signs this device in for a store (e-mail + password)
    return HttpResponse("This device is not a counter yet.")


def switch(request):  # who is at the counter: choose yourself, enter your PIN
    return HttpResponse("Who is at the counter?")


def set_pin(request):  # a staff member signs in with e-mail + password and chooses a PIN
    raise NotImplementedError


def lock(request):  # POST: the cashier steps away; the device stays signed in
    raise NotImplementedError


def sign_out_device(request):  # POST by a manager: this device is no counter any more
    raise NotImplementedError


urlpatterns = [
    path("device/", device, name="device"),
    path("switch/", switch, name="switch"),
    path("pin/", set_pin, name="pin"),
    path("lock/", lock, name="lock"),
    path("device/sign-out/", sign_out_device, name="device-sign-out"),
]
