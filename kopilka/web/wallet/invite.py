"""The member's referral code, link and QR; invitations to invite-only programs (#18)."""

urlpatterns = []
