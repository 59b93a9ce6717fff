import pytest

from tests.webhooks.tools import serve


@pytest.fixture
def receiver():
    with serve() as state:
        yield state
