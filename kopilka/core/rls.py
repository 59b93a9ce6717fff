"""PostgreSQL row-level security: a second line of tenant isolation, behind KOPILKA_RLS=on.

The first line is django-scopes: a query on a tenant model outside a merchant's scope raises.
It does not guard raw SQL, `_base_manager`, a join through an unscoped model, or a scope
entered for the wrong merchant and then forgotten. Row-level security does, in the database:

- `install()` (run after every `migrate` when KOPILKA_RLS=on; `uninstall()` when it is off
  and a policy is left) enables RLS on every table with
  a `merchant` column — found from the models, so a new tenant table is covered by the next
  migrate — except `EXEMPT` (the identity tables read to find out who is calling, before any
  scope exists), with one policy: a row is visible and writable when its merchant is the
  connection's `kopilka.merchant` setting, or when that setting is `*` (scopes disabled on
  purpose: the tick, the admin, the CLI). With no setting (no scope entered) nothing is seen.
- `connect()` (on every new connection) adds an execute wrapper that keeps `kopilka.merchant`
  equal to the django-scopes scope of the code running the query: the merchant's id inside
  `access.enter` / `scope(merchant=...)`, `*` inside `scopes_disabled()`, empty otherwise.
  It costs one `set_config` round trip when the scope changes, none otherwise; a rollback
  (which undoes a `set_config` made inside it) makes the next query set it again.
- The application connects as a role that is neither a superuser, nor the tables' owner, nor
  has BYPASSRLS (policies do not apply to those); migrations run as the owner. See
  docs/operations.md, "Row-level security".
"""

from django.apps import apps
from django.conf import settings
from django.db import connections
from django_scopes import get_scope

SETTING = "kopilka.merchant"
POLICY = "kopilka_tenant"
ALL = "*"
# Read before a scope exists, to find the caller (its terminal, staff member, token, device):
# a policy here would hide the caller from itself. So are the one-row-per-merchant tables (a
# one-to-one `merchant`: the program, the messaging settings, ...), joined to the caller in
# the same query (tenancy.access's merchant context). django-scopes and the views guard them.
# App labels or model labels.
EXEMPT = {"tenancy"}


def enabled() -> bool:
    return getattr(settings, "KOPILKA_RLS", False)


def tenant_tables() -> list[tuple[str, str]]:
    """(table, merchant column) of every model with a `merchant` field, outside EXEMPT."""
    found = set()
    for model in apps.get_models(include_auto_created=True):
        if ({model._meta.app_label, model._meta.label_lower} & EXEMPT or model._meta.proxy
                or not model._meta.managed):
            continue
        field = next((f for f in model._meta.concrete_fields if f.name == "merchant"), None)
        if field is not None and not field.one_to_one:
            found.add((model._meta.db_table, field.column))
    return sorted(found)


def wanted() -> str:
    """The `kopilka.merchant` setting for the code running now."""
    current = get_scope()
    if not current.get("_enabled", True):
        return ALL
    merchant = current.get("merchant")
    if merchant is None:
        return ""
    return str(getattr(merchant, "pk", merchant))


def install(using: str = "default", app_role: str | None = None) -> int:
    """Enable RLS and (re)create the policy on every tenant table; grant `app_role` the data
    (not the schema). Idempotent. Returns how many tables it covers."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return 0
    tables = tenant_tables()
    check = (f"current_setting('{SETTING}', true) = '{ALL}' OR "
             f"{{column}}::text = current_setting('{SETTING}', true)")
    with connection.cursor() as cursor:
        for table, column in tables:
            quoted = connection.ops.quote_name(table)
            rule = check.format(column=connection.ops.quote_name(column))
            cursor.execute(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {quoted}")
            cursor.execute(f"CREATE POLICY {POLICY} ON {quoted} USING ({rule}) "
                           f"WITH CHECK ({rule})")
        if app_role:
            role = connection.ops.quote_name(app_role)
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
                           f"public TO {role}")
            cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    return len(tables)


def uninstall(using: str = "default") -> int:
    """Drop the policies and disable RLS where it is on (KOPILKA_RLS turned off). Returns how
    many tables had it."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relrowsecurity AND relkind = 'r' "
                       "AND relnamespace = 'public'::regnamespace")
        protected = {row[0] for row in cursor.fetchall()}
        tables = [table for table, _column in tenant_tables() if table in protected]
        for table in tables:
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {quoted}")
            cursor.execute(f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY")
    return len(tables)


# Statements that must come first in their transaction, or run in an aborted one: the setting
# waits for the next statement.
_NOT_BEFORE = ("ROLLBACK", "SET TRANSACTION")


def _keep_in_step(execute, sql, params, many, context):
    connection = context["connection"]
    value = wanted()
    if connection.kopilka_rls_merchant != value and not connection.needs_rollback \
            and not sql.lstrip()[:15].upper().startswith(_NOT_BEFORE):
        with connection.connection.cursor() as raw:
            raw.execute("SELECT set_config(%s, %s, false)", [SETTING, value])
        connection.kopilka_rls_merchant = value
        connection.kopilka_rls_sets = getattr(connection, "kopilka_rls_sets", 0) + 1
    return execute(sql, params, many, context)


def watch(connection) -> None:
    """Keep `kopilka.merchant` in step with the scope on this connection (idempotent)."""
    if connection.vendor != "postgresql":
        return
    connection.kopilka_rls_merchant = None
    if _keep_in_step not in connection.execute_wrappers:
        connection.execute_wrappers.append(_keep_in_step)
    if not getattr(connection, "kopilka_rls_rollbacks", False):
        # A rollback (of the transaction or a savepoint) undoes a set_config made inside it.
        for name in ("_rollback", "_savepoint_rollback"):
            original = getattr(connection, name)

            def forget(*args, _original=original, **kwargs):
                try:
                    return _original(*args, **kwargs)
                finally:
                    connection.kopilka_rls_merchant = None

            setattr(connection, name, forget)
        connection.kopilka_rls_rollbacks = True


def on_connection_created(sender, connection, **kwargs) -> None:
    if enabled():
        watch(connection)


def on_post_migrate(sender, using="default", **kwargs) -> None:
    """`migrate` makes the database match KOPILKA_RLS: the policies (re)installed when on,
    removed where present when off."""
    if sender.label != "core":
        return
    if enabled():
        install(using, getattr(settings, "KOPILKA_RLS_ROLE", "") or None)
    else:
        uninstall(using)
