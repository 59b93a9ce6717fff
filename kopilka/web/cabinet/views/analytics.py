"""The 17 figures with charts, the points liability, the program simulator, exports (#17)."""

urlpatterns = []
