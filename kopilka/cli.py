"""The `kopilka` command: run the platform and do the operator's chores.

    kopilka up [--demo]             migrate, (demo data), web server + background worker
    kopilka worker [--no-tick]      the background worker alone (for separate worker hosts)
    kopilka tick [--at T] [--every S]  the periodic work that is due (up and worker run it)
    kopilka smpp-receipts           SMPP delivery receipts (beside the worker, SMPP only)
    kopilka create-merchant NAME --owner-email EMAIL [...]
    kopilka create-terminal --merchant SLUG --store NAME
    kopilka verify-ledger [--merchant SLUG]
    kopilka sms-topup SLUG AMOUNT [--note TEXT]
    kopilka billing top-up SLUG AMOUNT [--note TEXT] [--payment-id ID]
    kopilka manage ...              any Django management command

Errors are one line on stderr and a non-zero exit: 1 for a refused operation, 2 for bad usage
or configuration. Messages from the platform come in the operator's language, taken from the
locale environment (LC_ALL, LC_MESSAGES, LANG): ru* -> Russian, uk* -> Ukrainian, anything else
(LANG=C included) -> English. The command's own output stays English so scripts can read it.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

COMMANDS = {}
# What setup_django() switches on for one command (the operator's language); main() undoes it,
# so in-process callers such as tests get their own language back.
_session = contextlib.ExitStack()


def command(name: str, help: str):
    def register(func):
        COMMANDS[name] = (func, help)
        return func

    return register


def fail(message: str, code: int = 1):
    print(f"kopilka: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def operator_language(environ=None) -> str:
    """The operator's language from the POSIX locale variables, in POSIX order of precedence:
    the first non-empty of LC_ALL, LC_MESSAGES, LANG. ru*/uk* -> ru/uk, anything else -> en."""
    environ = os.environ if environ is None else environ
    value = next(
        (environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), ""
    )
    code = value.strip().lower()
    for language in ("ru", "uk"):
        if code.startswith(language):
            return language
    return "en"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kopilka.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
    except ImproperlyConfigured as error:
        fail(str(error), 2)
    from django.utils import translation

    _session.enter_context(translation.override(operator_language()))


def run_service(func):
    """Turn a DomainError from a service into a one-line message and exit code 1."""
    from kopilka.core.errors import DomainError

    try:
        return func()
    except DomainError as error:
        where = f" ({error.field})" if error.field else ""
        fail(f"{error.detail}{where}")


# --- up / worker --------------------------------------------------------------------------


WEB_SERVERS = ("gunicorn", "granian")


def web_server_command(host: str, port: int) -> list[str]:
    """The web server `kopilka up` runs: gunicorn (the default) or granian, chosen with
    KOPILKA_WEB_SERVER; the same processes and threads either way. Granian costs less CPU per
    commit and copes with slow clients, but exits when a process dies twice within 5.5 s, and
    the web-kill fault run ended with no server: docs/benchmarks.md, "The web server"."""
    from django.conf import settings

    server = os.environ.get("KOPILKA_WEB_SERVER", "").strip().lower() or "gunicorn"
    if server not in WEB_SERVERS:
        fail(f"KOPILKA_WEB_SERVER={server!r}: use one of {', '.join(WEB_SERVERS)}", 2)
    sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    cores = os.cpu_count() or 1
    # SQLite allows one writer at a time: one process with threads queues writes in-process
    # instead of processes fighting over the file lock. PostgreSQL: 2-4 processes per 2 cores.
    workers = os.environ.get("KOPILKA_WEB_WORKERS") or ("1" if sqlite else str(min(4, 2 * cores)))
    threads = os.environ.get("KOPILKA_WEB_THREADS") or ("8" if sqlite else "1")
    if server == "granian":
        return granian_command(host, port, workers, threads)
    return gunicorn_command(host, port, workers, threads)


def granian_command(host: str, port: int, workers: str, threads: str) -> list[str]:
    # granian against gunicorn on the POS load, same processes: docs/benchmarks.md, "The web
    # server". Each process listens on its own socket (SO_REUSEPORT): the kernel spreads the
    # connections over them evenly.
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host,
        "--port", str(port), "--workers", workers, "--blocking-threads", threads, "--no-ws",
        # No access log of granian's: Kopilka writes one line per request itself, with the
        # route's name instead of the path and query (which may hold a phone number).
        "--no-access-log",
        # A process that dies (killed, out of memory) is replaced, as gunicorn does; a crash
        # loop (the same process again within 5.5 s) stops granian, and with it `kopilka up`.
        "--respawn-failed-workers",
        # SIGTERM: requests in flight finish, for up to 10 s.
        "--workers-kill-timeout", "10",
        # Memory stays bounded whatever makes it grow (gunicorn's --max-requests below): a
        # process found above 512 MiB (checked every 30 s) is replaced by a new one, then
        # stopped like on SIGTERM.
        "--workers-max-rss", "512",
        "kopilka.wsgi:application",
    ]


def gunicorn_command(host: str, port: int, workers: str, threads: str) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "kopilka.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", workers, "--threads", threads,
        # No access log of gunicorn's: Kopilka writes one line per request itself, with the
        # route's name instead of the path and query (which may hold a phone number).
        "--worker-class", "gthread", "--graceful-timeout", "10",
        # A worker is replaced after about 20 000 requests (finishing the one it serves):
        # a 10-minute soak grew busy workers' RSS by ~230 KiB/min with no Python objects
        # accumulating (allocator fragmentation), so memory stays bounded whatever causes it.
        "--max-requests", "20000", "--max-requests-jitter", "2000",
        # gunicorn's control socket is one path per OS user (~/.gunicorn/gunicorn.ctl):
        # two servers of the same user would share it. Kopilka does not use it.
        "--no-control-socket",
    ]


def worker_command() -> list[str]:
    """The worker of the configured tasks backend: django-tasks-db's, or a Celery worker."""
    from django.conf import settings

    from kopilka.core.taskqueue import uses_celery

    if uses_celery(settings.TASKS):
        command = [sys.executable, "-m", "celery", "-A", "kopilka", "worker", "--loglevel", "INFO"]
        # Celery names every worker `celery@<host>`: a second `kopilka worker` on the same host
        # then dies on RabbitMQ (RESOURCE_LOCKED on the node's pidbox queue). A name of its own
        # per process, unless the operator chose one (CELERY_WORKER_HOSTNAME or -n).
        if not os.environ.get("CELERY_WORKER_HOSTNAME"):
            command += ["--hostname", f"kopilka-{os.getpid()}@%h"]
        return command
    return [sys.executable, "-m", "django", "db_worker", "--no-reload", "--interval", "1"]


def ticker_command() -> list[str]:
    return [sys.executable, "-m", "kopilka.cli", "tick", "--every", "60", "--quiet"]


def run_children(commands: dict[str, list[str]]) -> int:
    """Run the named processes side by side until Ctrl-C or SIGTERM, or until one of them exits
    on its own (a crash): then stop the others. 0 after a requested stop; after a crash the
    exit code of the process that stopped (1 if it stopped with 0: it should not stop)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kopilka.settings"}
    stop_requested = []

    def request_stop(signum, _frame):
        stop_requested.append(signum)

    # A flag, not an exception: an exception could land anywhere, in the middle of stopping
    # the children too. Ctrl-C reaches the children as well (the terminal signals the whole
    # process group); SIGTERM from a service manager reaches this process only.
    previous = {signum: signal.signal(signum, request_stop)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    children = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
    exit_code = 0
    try:
        stopped = None
        while not stop_requested and stopped is None:
            time.sleep(0.2)
            stopped = next((name for name, child in children.items()
                            if child.poll() is not None), None)
        if stopped is not None and not stop_requested:
            # The children get the terminal's Ctrl-C at the same moment as this process; on a
            # busy machine one of them may be seen gone before this process has run its
            # handler. A moment's grace tells that apart from a crash.
            time.sleep(0.5)
        if stop_requested:
            print("\nkopilka: stopping...", file=sys.stderr, flush=True)
        else:
            code = children[stopped].returncode
            exit_code = code if code > 0 else 1
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else (
                f"stopped on its own (exit code {code})")
            print(f"kopilka: the {stopped} {how}; shutting down the others",
                  file=sys.stderr, flush=True)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stop_requested:
        print("kopilka: stopped", file=sys.stderr, flush=True)
    return exit_code


def public_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches `kopilka up --host H --port P`."""
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"  # a wildcard address is where it listens, not where to go
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@command("up", "migrate, optionally create demo data, serve the web app and run the worker")
def cmd_up(argv):
    parser = argparse.ArgumentParser(prog="kopilka up", description=cmd_up_doc)
    parser.add_argument(
        "--demo", action="store_true", help="create demo data once and print the logins"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    # Links in mail and messages (an invitation, the wallet link in a welcome SMS) name this
    # server: this process (the demo's messages) and its children use the address it listens
    # on unless the operator set the public one. Before Django reads its settings.
    os.environ.setdefault("KOPILKA_PUBLIC_URL", public_url(args.host, args.port))
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if args.demo:
        from kopilka import demo

        print(demo.ensure_demo(base_url=f"http://{args.host}:{args.port}"))
    print(f"Kopilka is starting on http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
    share_metrics()
    return run_children({"web server": web_server_command(args.host, args.port),
                         "worker": worker_command(), "tick": ticker_command()})


def share_metrics() -> None:
    """The children count into one directory, emptied now, so that a scrape of /metrics on any
    web worker adds up every process's counters (kopilka/core/metrics.py)."""
    from django.conf import settings

    from kopilka.core import metrics

    shared = metrics.multiprocess_dir() or settings.DATA_DIR / "metrics"
    metrics.prepare_multiprocess_dir(shared)
    os.environ[metrics.MULTIPROC_ENV] = str(shared)


cmd_up_doc = ("Run Kopilka: the web server (gunicorn, or granian with "
              "KOPILKA_WEB_SERVER=granian), the background worker and a tick every minute, "
              "side by side.")


@command("worker", "run the background worker only")
def cmd_worker(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka worker",
        description="Run the task worker (django-tasks-db's, or Celery's with "
                    "KOPILKA_TASKS_BACKEND=celery) and a tick every minute beside it.",
    )
    parser.add_argument("--no-tick", action="store_true",
                        help="run no tick: cron or celery beat runs it (docs/operations.md)")
    args = parser.parse_args(argv)
    setup_django()
    children = {"worker": worker_command()}
    if not args.no_tick:
        children["tick"] = ticker_command()
    return run_children(children)


# How far ahead of now `tick --at` may be without --allow-future.
FUTURE_SLACK_MINUTES = 5


@command("tick", "do the periodic work that is due (deliveries left behind, clean-ups)")
def cmd_tick(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka tick",
        description="One idempotent pass over the periodic work that is due; safe to repeat "
                    "and to overlap. Cron or celery beat can call it instead of the worker.",
    )
    parser.add_argument("--at", help="the moment to run for (RFC 3339 with offset); default now")
    parser.add_argument("--allow-future", action="store_true",
                        help=f"accept an --at more than {FUTURE_SLACK_MINUTES} minutes ahead of "
                             "now (tests, rehearsals on a copy): it expires points early")
    parser.add_argument("--every", type=int, metavar="SECONDS",
                        help="repeat every SECONDS until stopped")
    parser.add_argument("--quiet", action="store_true",
                        help="print only when something was done; no progress")
    parser.add_argument("--progress", action="store_true",
                        help="show each job's counts and time on stderr as it finishes "
                             "(the default on a terminal, unless --quiet)")
    args = parser.parse_args(argv)
    if args.every is not None and (args.every < 1 or args.at):
        parser.error("--every needs a positive number of seconds and no --at")
    at = None
    if args.at:
        from datetime import datetime

        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            parser.error(f"--at {args.at!r} is not a date and time (RFC 3339)")
        if at.tzinfo is None:
            parser.error("--at needs a time zone offset, e.g. 2026-11-23T09:00:00+03:00")
    if args.allow_future and not args.at:
        parser.error("--allow-future goes with --at")
    setup_django()
    import logging

    from django.db import DatabaseError, close_old_connections

    from kopilka.core import clock

    if at is not None and not args.allow_future:
        # A moment in the future expires points and sends birthday gifts early for every
        # merchant, and the days it runs are then claimed: refuse it unless asked for. The
        # few minutes of slack absorb clock skew between the cron host and this one.
        now = clock.now()
        if at - now > timedelta(minutes=FUTURE_SLACK_MINUTES):
            fail(f"--at {args.at} is more than {FUTURE_SLACK_MINUTES} minutes ahead of now "
                 f"({now.isoformat(timespec='seconds')}); a tick in the future "
                 f"expires points and sends messages early for every merchant. Pass "
                 f"--allow-future if that is meant (a rehearsal on a copy of the data)", 2)

    from kopilka.automation import progress, tick

    if args.progress or (sys.stderr.isatty() and not args.quiet):
        # The progress lines say what the automation log's info lines say, and more.
        automation_log = logging.getLogger("kopilka.automation")
        _session.callback(automation_log.setLevel, automation_log.level)
        automation_log.setLevel(logging.WARNING)
        _session.enter_context(progress.shown_by(_print_progress))
    if args.every is None:
        _print_tick(tick.run(at), args.quiet)
        return 0
    while True:
        close_old_connections()  # a long-lived loop: drop connections the database closed
        try:
            _print_tick(tick.run(), args.quiet)
        except DatabaseError:
            # The database is away for a moment (a restart): the next tick catches up. The
            # loop must not die, or `up` would stop the web server with it.
            logging.getLogger("kopilka.tick").exception("tick failed; retrying next time")
        time.sleep(args.every)


def _print_progress(line: str) -> None:
    print(f"kopilka tick: {line}", file=sys.stderr, flush=True)


def _print_tick(done: dict[str, int], quiet: bool) -> None:
    if not quiet or any(done.values()):
        print("; ".join(f"{name}: {count}" for name, count in done.items()), flush=True)


@command("smpp-receipts", "receive SMPP delivery receipts (run beside the worker)")
def cmd_smpp_receipts(argv):
    argparse.ArgumentParser(
        prog="kopilka smpp-receipts",
        description="Stay bound to the SMSC as a receiver (KOPILKA_SMS_OPTIONS) and mark SMS "
                    "delivered or failed as its delivery receipts come; reconnects with backoff. "
                    "Run one beside the worker when KOPILKA_SMS_BACKEND=smpp; SIGTERM or "
                    "Ctrl-C stops it.",
    ).parse_args(argv)
    setup_django()
    import threading

    from django.core.exceptions import ImproperlyConfigured

    from kopilka.messaging import receipts
    from kopilka.messaging.backends.smpp import ReceiptListener

    try:
        listener = ReceiptListener.from_settings()
    except (ImproperlyConfigured, TypeError, ValueError) as error:
        fail(str(error), 2)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    backend = listener.backend
    print(f"Receiving delivery receipts from {backend.host}:{backend.port} as "
          f"{backend.system_id} (SIGTERM or Ctrl-C stops)", flush=True)
    listener.run(stop)
    receipts.later.retry()  # what still waits for its message gets one last try
    done = receipts.counts
    print(f"kopilka: stopped; receipts: {done['updated']} applied, {done['unchanged']} "
          f"changed nothing, {done['unknown']} for unknown messages, "
          f"{receipts.later.waiting()} still waiting", flush=True)
    return 0


# --- operator chores ----------------------------------------------------------------------


@command("create-merchant", "create a merchant with its owner; prints the password and API token")
def cmd_create_merchant(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka create-merchant",
        description="Create a merchant and its owner account. The owner's initial password "
        "and a management API token are printed once; only hashes are stored.",
    )
    parser.add_argument("name", help="merchant name, e.g. 'Coffee Point'")
    parser.add_argument("--owner-email", required=True, help="owner's email (login)")
    parser.add_argument("--currency", default="RUB", help="ISO 4217 code (RUB)")
    parser.add_argument("--timezone", default="Europe/Moscow", help="IANA zone (Europe/Moscow)")
    parser.add_argument("--language", default="ru", help="ru, uk or en (ru)")
    parser.add_argument("--country", default=None, help="phone region, e.g. RU (from currency)")
    parser.add_argument("--slug", default=None, help="short name used in URLs (from the name)")
    args = parser.parse_args(argv)
    setup_django()
    from kopilka.core.actor import Actor
    from kopilka.tenancy import services

    def create():
        from django.db import transaction
        from django_scopes import scope

        from kopilka.programs import services as programs

        with transaction.atomic():
            created = services.create_merchant(
                args.name, owner_email=args.owner_email, currency=args.currency,
                timezone=args.timezone, language=args.language, country=args.country,
                slug=args.slug, actor=Actor.cli(),
            )
            # A starting program (5 % bonus, up to 50 % payable) so the first sale works at
            # once; the owner adapts it in the cabinet or with PUT /api/v1/manage/program.
            with scope(merchant=created.merchant):
                programs.save_program(created.merchant, programs.DEFAULT_PROGRAM,
                                      actor=Actor.cli())
        return created

    created = run_service(create)
    merchant = created.merchant
    print(f"Merchant:  {merchant.name} (slug: {merchant.slug})")
    print(f"Owner:     {created.owner.user.email}")
    if created.owner_password:
        print(f"Password:  {created.owner_password}   (shown once; change it after logging in)")
    else:
        print("Password:  unchanged (this owner already has an account)")
    print(f"API token: {created.api_token}   (shown once)")
    return 0


@command("create-terminal", "create a POS terminal in a store; prints its API key")
def cmd_create_terminal(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka create-terminal",
        description="Create a POS terminal (the store is created if it does not exist yet). "
        "The key is printed once; only its hash is stored.",
    )
    parser.add_argument("--merchant", required=True, help="merchant slug")
    parser.add_argument("--store", required=True, help="store name")
    parser.add_argument("--name", default="", help="terminal name (default: '<store> POS')")
    args = parser.parse_args(argv)
    setup_django()
    from kopilka.core.actor import Actor
    from kopilka.tenancy import services

    def create():
        merchant = services.get_merchant(args.merchant)
        return services.create_terminal(
            merchant, store_name=args.store, name=args.name, actor=Actor.cli()
        )

    terminal, key = run_service(create)
    print(f"Terminal: {terminal.name} in {terminal.store.name}")
    print(f"POS key:  {key}   (shown once)")
    return 0


@command("sms-topup", "add money to a merchant's SMS balance; releases held messages")
def cmd_sms_topup(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka sms-topup",
        description="Record money a merchant paid for SMS (it arrives outside Kopilka): the "
        "balance grows by AMOUNT, a debt is paid first, and the held messages the balance now "
        "pays for are sent. Audited.",
    )
    parser.add_argument("merchant", metavar="SLUG", help="merchant slug")
    parser.add_argument("amount", metavar="AMOUNT",
                        help="minor units of the billing currency (KOPILKA_SMS_CURRENCY), "
                        "e.g. 150000 for 1500.00")
    parser.add_argument("--note", default="", help="a reference: invoice, payment id")
    args = parser.parse_args(argv)
    amount = args.amount.strip()
    if not (amount.isascii() and amount.lstrip("-").isdigit()):
        parser.error(f"AMOUNT {args.amount!r} is not a whole number of minor units "
                     "(e.g. 150000 for 1500.00)")
    setup_django()
    from django_scopes import scope

    from kopilka.core.actor import Actor
    from kopilka.messaging import billing
    from kopilka.tenancy import services

    def top_up():
        merchant = services.get_merchant(args.merchant)
        with scope(merchant=merchant):
            done = billing.top_up(merchant, int(amount), note=args.note, actor=Actor.cli())
        return merchant, done

    merchant, done = run_service(top_up)
    entry = done.entry
    print(f"Merchant: {merchant.slug}")
    print(f"Topped up: {entry.amount} ({billing.plain_money(entry.amount)})")
    print(f"Balance:  {entry.balance_after} ({billing.plain_money(entry.balance_after)}); "
          f"free parts left: {entry.free_parts_after}")
    print(f"Released: {done.released} held messages")
    return 0


@command("billing", "the operator's billing: `billing top-up SLUG AMOUNT` records a payment")
def cmd_billing(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka billing",
        description="The operator's subscription billing (docs/billing.md).",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    top_up = actions.add_parser(
        "top-up", help="record money a merchant paid: the balance grows by AMOUNT, a debt is "
        "paid first and a read-only cabinet opens again once nothing is owed. Audited.")
    top_up.add_argument("merchant", metavar="SLUG", help="merchant slug")
    top_up.add_argument("amount", metavar="AMOUNT",
                        help="minor units of the billing currency, e.g. 918000 for 9180.00")
    top_up.add_argument("--note", default="", help="a reference: invoice, bank transfer")
    top_up.add_argument("--payment-id", default="",
                        help="records this payment once: the same id again is refused")
    args = parser.parse_args(argv)
    amount = args.amount.strip()
    if not (amount.isascii() and amount.lstrip("-").isdigit()):
        parser.error(f"AMOUNT {args.amount!r} is not a whole number of minor units "
                     "(e.g. 918000 for 9180.00)")
    setup_django()
    from django_scopes import scope

    from kopilka.billing import services as billing
    from kopilka.core.actor import Actor
    from kopilka.tenancy import services

    def record():
        merchant = services.get_merchant(args.merchant)
        with scope(merchant=merchant):
            return merchant, billing.top_up(merchant, int(amount), note=args.note,
                                            key=args.payment_id, actor=Actor.cli())

    merchant, entry = run_service(record)
    print(f"Merchant: {merchant.slug}")
    print(f"Topped up: {entry.amount} ({billing.plain_money(entry.amount)})")
    print(f"Balance:  {entry.balance_after} ({billing.plain_money(entry.balance_after)})")
    return 0


@command("verify-ledger", "re-prove every ledger invariant; names the first broken row")
def cmd_verify_ledger(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka verify-ledger",
        description="Re-check the hash chain, the sequence, the cached balances and every lot "
        "of each points account. Exits 1 and names the first broken row of each broken account.",
    )
    parser.add_argument("--merchant", default=None, help="merchant slug (default: all)")
    args = parser.parse_args(argv)
    setup_django()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    try:
        call_command("verify_ledger", merchant=args.merchant)
    except CommandError as error:
        fail(str(error))
    return 0


@command("analytics", "analytics rebuild: re-derive the figures' roll-up from the raw rows")
def cmd_analytics(argv):
    parser = argparse.ArgumentParser(
        prog="kopilka analytics",
        description="rebuild: compute the analytics roll-up (docs/analytics.md) again from "
        "purchases, refunds and members, replacing what is kept. Run it after restoring a "
        "backup, bulk-loading rows or changing a merchant's time zone.",
    )
    parser.add_argument("action", choices=["rebuild"])
    parser.add_argument("--merchant", default=None, help="merchant slug (default: all)")
    args = parser.parse_args(argv)
    setup_django()
    from django_scopes import scopes_disabled

    from kopilka.analytics import rollup
    from kopilka.tenancy import services
    from kopilka.tenancy.models import Merchant

    def rebuild():
        with scopes_disabled():
            if args.merchant is not None:
                return rollup.rebuild([services.get_merchant(args.merchant)])
            return rollup.rebuild(Merchant.objects.order_by("pk"))

    for slug, cells in run_service(rebuild).items():
        print(f"{slug}: {cells} cells")
    return 0


@command("manage", "run a Django management command (kopilka manage help)")
def cmd_manage(argv):
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kopilka manage", *argv])
    return 0


def print_help() -> None:
    print(__doc__.strip().splitlines()[0])
    print("\nusage: kopilka COMMAND [options]   (kopilka COMMAND --help for details)\n")
    for name, (_, help_text) in COMMANDS.items():
        print(f"  {name:<17} {help_text}")


def main(argv: list[str] | None = None) -> int:
    with _session:
        return _main(sys.argv[1:] if argv is None else argv)


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print_help()
        return 0
    if argv[0] in ("-V", "--version"):
        from kopilka import __version__

        print(f"kopilka {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        fail(f"unknown command {name!r}; see 'kopilka --help'", 2)
    func, _ = COMMANDS[name]
    return func(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
