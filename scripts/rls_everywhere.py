"""A pytest plugin for an experiment: every database test runs as a role that is neither a
superuser nor the tables' owner, under the row-level security policies (kopilka/core/rls.py),
to find the code that reads or writes a tenant table outside its merchant's scope. Not part
of the suite; docs/operations.md ("Row-level security") has a run's figures:

    PYTHONPATH=scripts DATABASE_URL=postgres://postgres@127.0.0.1:5432/kopilka_rlsx \\
        .venv/bin/python -m pytest -p rls_everywhere -m "not slow" -n 2 tests/api tests/members

Afterwards: `DROP ROLE kopilka_rls_experiment` (the test databases are dropped by pytest).
"""

import contextlib

import pytest
from django.db import connection
from django.test import override_settings

ROLE = "kopilka_rls_experiment"


@pytest.fixture(autouse=True)
def _under_rls(request):
    if "db" not in request.fixturenames and "transactional_db" not in request.fixturenames:
        yield
        return
    from kopilka.core import rls

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                       f"'{ROLE}') THEN CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS; "
                       f"END IF; END $$")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    with override_settings(KOPILKA_RLS=True):
        rls.install(app_role=ROLE)
        rls.watch(connection)
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {ROLE}")
        try:
            yield
        finally:
            if rls._keep_in_step in connection.execute_wrappers:
                connection.execute_wrappers.remove(rls._keep_in_step)
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
