"""The program, tiers and rules editors with the engine's live preview; versions and roll
back (#16)."""

urlpatterns = []
