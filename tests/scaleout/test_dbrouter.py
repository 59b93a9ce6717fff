"""The read-replica router (kopilka/core/dbrouter.py): which reads go to `replica`.

The router's decisions, with and without a replica configured. A real primary and streaming
replica (two PostgreSQL clusters) are driven by scripts/replica_drill.sh, whose run is in
docs/operations.md, "Read replica".
"""

import pytest
from django.conf import settings
from django.db import transaction
from django.test import RequestFactory

from kopilka.core import dbrouter
from kopilka.members.models import Member
from kopilka.processing.models import Purchase

router = dbrouter.ReplicaRouter()


@pytest.fixture
def with_replica(monkeypatch):
    """As if KOPILKA_REPLICA_URL were set (settings then add the `replica` alias)."""
    monkeypatch.setattr(dbrouter, "configured", lambda: True)


def test_without_a_replica_everything_stays_on_default():
    assert "replica" not in settings.DATABASES
    with dbrouter.replica_reads():
        assert router.db_for_read(Member) is None
    assert router.db_for_write(Member) is None


def test_only_reads_inside_replica_reads_go_to_the_replica(with_replica):
    assert router.db_for_read(Purchase) is None
    with dbrouter.replica_reads():
        assert router.db_for_read(Purchase) == "replica"
        assert router.db_for_write(Purchase) is None
    assert router.db_for_read(Purchase) is None
    assert router.allow_migrate("replica", "processing") is False
    assert router.allow_migrate("default", "processing") is True


@pytest.mark.django_db(transaction=True)
def test_a_read_inside_a_transaction_reads_its_own_writes_on_default(with_replica):
    with dbrouter.replica_reads():
        with transaction.atomic():
            assert router.db_for_read(Purchase) is None
        assert router.db_for_read(Purchase) == "replica"


@pytest.mark.parametrize(("method", "path", "replica"), [
    ("GET", "/api/v1/manage/analytics/figures", True),
    ("HEAD", "/api/v1/manage/analytics/figures", True),
    ("POST", "/api/v1/manage/analytics/figures", False),
    ("GET", "/api/v1/pos/members/lookup", False),
    ("GET", "/no/such/page", False),
])
def test_the_middleware_sends_analytics_gets_to_the_replica(with_replica, method, path,
                                                           replica):
    seen = []

    def view(request):
        seen.append(router.db_for_read(Purchase))
        return "answer"

    request = RequestFactory().generic(method, path)
    assert dbrouter.ReplicaReadsMiddleware(view)(request) == "answer"
    assert seen == ["replica" if replica else None]
    assert router.db_for_read(Purchase) is None  # nothing leaks to the next request
