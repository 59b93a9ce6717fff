"""The wallet's own rows: sign-in links sent by SMS, and each person's session generation.

A wallet session is a signed cookie naming the person and their generation (signin.py); "sign
out everywhere" raises the generation, so every cookie issued before stops working at once
without a server-side session per device.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SignInLink(models.Model):
    """A single-use, short-lived link `/m/<token>`: the token itself is never stored, only its
    SHA-256 (it is random and long enough that a keyed hash would add nothing)."""

    person = models.ForeignKey("members.Person", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in link")
        verbose_name_plural = _("sign-in links")

    def __str__(self):
        return f"link {self.pk}"


class SessionGeneration(models.Model):
    """The person's current wallet session generation: cookies of an older one are void."""

    person = models.OneToOneField("members.Person", on_delete=models.CASCADE, primary_key=True,
                                  related_name="+")
    generation = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("wallet session generation")
        verbose_name_plural = _("wallet session generations")

    def __str__(self):
        return f"{self.person_id}: {self.generation}"
