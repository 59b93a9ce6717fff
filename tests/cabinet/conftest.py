import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_signup_counts():
    """Every test signs up from 127.0.0.1: the per-address sign-up count starts at zero."""
    cache.clear()
    yield
    cache.clear()
