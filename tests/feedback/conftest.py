import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _in_russian():
    """Services speak the caller's language; these tests read their Russian (the default),
    whatever an earlier test on the same worker left active."""
    with translation.override("ru"):
        yield
