"""Benchmark: rendering a billing statement and its reconciliation statement as PDF
(WeasyPrint) and the statement as XLSX (XlsxWriter), by the number of entries.

Not a test, and no database: the statements are built in memory from unsaved entries (a daily
debit every day, a top-up every 30 days). Run:
    .venv/bin/python bench/bench_billing_pdf.py [--rows 31 400 2000]
Prints one line per size: entries, pages, seconds for the PDF, the act and the XLSX.
"""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kopilka.settings")

import django  # noqa: E402

django.setup()

from django.utils import translation  # noqa: E402

from kopilka.billing import statements  # noqa: E402
from kopilka.billing.models import Entry  # noqa: E402
from kopilka.tenancy.models import Merchant  # noqa: E402


def made(rows: int) -> statements.Statement:
    merchant = Merchant(name="Кофейня Ёжик", slug="ezhik", timezone="Europe/Moscow")
    start = date(2026, 1, 1)
    balance, entries = 0, []
    for n in range(rows):
        day = start + timedelta(days=n)
        amount = 200_000 if n % 30 == 0 else -6_000
        balance += amount
        entries.append(Entry(kind="payment" if amount > 0 else "daily", amount=amount,
                             balance_after=balance, day=day, note="Каждый день",
                             created_at=datetime.combine(day, datetime.min.time(),
                                                         tzinfo=UTC)))
    return statements.Statement(merchant=merchant, start=start, end=entries[-1].day,
                                opening=0, entries=entries)


def timed(work, *args) -> tuple[float, object]:
    began = time.perf_counter()
    result = work(*args)
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[31, 400, 2000])
    args = parser.parse_args()
    translation.activate("ru")
    statements.pdf(made(5))  # warm: fonts and WeasyPrint's imports
    for rows in args.rows:
        found = made(rows)
        pdf_s, document = timed(statements.document, found)
        write_s, _pdf = timed(document.write_pdf)
        act_s, _act = timed(statements.pdf, found, "billing/act.html")
        xlsx_s, _xlsx = timed(statements.xlsx, found)
        print(f"entries {rows:5d}: pages {len(document.pages):3d}; statement PDF "
              f"{pdf_s + write_s:6.2f} s; act PDF {act_s:6.2f} s; XLSX {xlsx_s:5.2f} s")


if __name__ == "__main__":
    main()
