"""A cash register's side of Kopilka's POS API, in plain Python (the standard library only).

The flows of docs/integrations.md, runnable:

    python examples/pos_client.py --url http://127.0.0.1:8000 --key kp_pos_... \\
        --phone "+7 916 123-45-67"

looks the customer up, quotes a two-line check spending up to 1 000 points, prints the check
with the points shown as a discount on each line, commits it (and retries it, as a till does
when an answer is lost: nothing happens twice), refunds one line, and uploads a sale kept while
the network was down. tests/ops/test_example_client.py runs it against a live server.

Copy what you need: `Kopilka` (the calls, with safe retries), `printed_check` (the points as
line discounts), `sell` (quote → commit, checked) and `OfflineQueue` (sales kept on the device).
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime


class Problem(Exception):
    """Kopilka said no (a problem+json answer): `status`, `type`, `detail`, the whole `body`."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body
        self.type = body.get("type", "")
        self.detail = body.get("detail") or body.get("title") or str(body)
        super().__init__(f"{status} {self.type}: {self.detail}")


class Unreachable(Exception):
    """No answer after the retries: keep the sale and send it again later (it is safe)."""


class Kopilka:
    """The POS API for one terminal key. Every write is idempotent (the receipt id, the refund
    id, and an Idempotency-Key header), so a call whose answer is lost is simply sent again."""

    def __init__(self, url: str, key: str, *, language: str = "en", timeout: float = 10,
                 attempts: int = 3):
        self.base = url.rstrip("/") + "/api/v1/pos"
        self.headers = {"Authorization": f"Bearer {key}", "Accept-Language": language,
                        "Content-Type": "application/json"}
        self.timeout, self.attempts = timeout, attempts

    def call(self, method: str, path: str, body: dict | None = None, *,
             query: dict | None = None, idempotency_key: str | None = None) -> dict:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as error:
                answer = json.loads(error.read() or b"{}")
                if error.code == 429 or error.code >= 500:  # busy or down: wait, send again
                    if attempt < self.attempts:
                        time.sleep(float(error.headers.get("Retry-After") or attempt))
                        continue
                    raise Unreachable(f"{error.code} after {attempt} attempts") from error
                raise Problem(error.code, answer) from None
            except (urllib.error.URLError, TimeoutError) as error:
                if attempt == self.attempts:
                    raise Unreachable(str(error)) from error
                time.sleep(attempt)
        raise AssertionError("unreachable")

    # --- the four calls of a sale -------------------------------------------------------------

    def lookup(self, *, phone: str | None = None, card: str | None = None,
               qr: str | None = None) -> dict:
        query = {name: value for name, value in (("phone", phone), ("card", card), ("qr", qr))
                 if value}
        return self.call("GET", "/members/lookup", query=query)

    def quote(self, member: dict, lines: list[dict], points: int = 0) -> dict:
        return self.call("POST", "/quote", {"member": member, "lines": lines,
                                            "points_to_spend": points})

    def commit(self, receipt_id: str, member: dict, lines: list[dict], points: int = 0, *,
               payment_method: str = "", occurred_at: datetime | None = None,
               code: str | None = None) -> dict:
        body = {"receipt_id": receipt_id, "member": member, "lines": lines,
                "points_to_spend": points, "payment_method": payment_method}
        if occurred_at is not None:
            body["occurred_at"] = occurred_at.isoformat()  # with its UTC offset
        if code:
            body["code"] = code
        return self.call("POST", "/purchases", body, idempotency_key=receipt_id)

    def refund(self, receipt_id: str, refund_id: str, *, lines: dict[str, int] | None = None,
               amount: int | None = None) -> dict:
        body = {"receipt_id": receipt_id, "refund_id": refund_id}
        if lines is not None:
            body["lines"] = lines
        if amount is not None:
            body["amount"] = amount
        # /refunds with the receipt id in the body: any receipt id, no path encoding to get
        # wrong. Refund ids repeat across purchases, so the header key joins the two.
        return self.call("POST", "/refunds", body, idempotency_key=f"{receipt_id}/{refund_id}")


# --- the check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckLine:
    line_id: str
    amount: int  # the line's price, minor units
    discount: int  # the program's own discount (discount and hybrid programs)
    paid_with_points: int  # the points' money value on this line: a discount on the check
    to_pay: int


def printed_check(quote: dict) -> list[CheckLine]:
    """The check as the fiscal register prints it: the points paid are a discount spread over
    the lines in proportion to their amounts — Kopilka's own split (`redeem_money` per line),
    which a refund of the line follows too. The lines add up to the quote's totals exactly."""
    check = [CheckLine(line_id=line["line_id"], amount=line["amount"],
                       discount=line["discount"], paid_with_points=line["redeem_money"],
                       to_pay=line["amount"] - line["discount"] - line["redeem_money"])
             for line in quote["lines"]]
    assert sum(line.paid_with_points for line in check) == quote["points_spent_money"]
    assert sum(line.to_pay for line in check) == quote["payable"]
    return check


class QuoteOutdated(Exception):
    """The purchase spent other points than the quote (the balance moved in between, e.g. a
    second till): the printed split is not the purchase's; quote again before printing."""


def sell(pos: Kopilka, receipt_id: str, member: dict, lines: list[dict], wish: int = 0, *,
         payment_method: str = "", code: str | None = None
         ) -> tuple[list[CheckLine], dict]:
    """Quote → commit, for a customer who wants to pay `wish` points: the check to print and
    the purchase. Commits exactly the points the quote allowed, so the split printed is the
    split recorded."""
    quote = pos.quote(member, lines, wish)
    check = printed_check(quote)
    purchase = pos.commit(receipt_id, member, lines, quote["points_spent"],
                          payment_method=payment_method, code=code)
    if purchase["points_spent"] != quote["points_spent"]:
        raise QuoteOutdated(f"quoted {quote['points_spent']}, spent {purchase['points_spent']}")
    return check, purchase


# --- sales kept while the network is down -------------------------------------------------------


@dataclass
class OfflineQueue:
    """Sales made without the network: accrual only (spending points needs the server), each
    with its receipt id and its moment. `upload` sends them in order; a sale sent before is a
    replay (the receipt id), never a second sale."""

    sales: list[dict] = field(default_factory=list)
    refused: list[tuple[dict, str]] = field(default_factory=list)

    def keep(self, receipt_id: str, member: dict, lines: list[dict], at: datetime,
             payment_method: str = "") -> None:
        if at.tzinfo is None:
            raise ValueError("keep the moment with its UTC offset")
        self.sales.append({"receipt_id": receipt_id, "member": member, "lines": lines,
                           "occurred_at": at, "payment_method": payment_method})

    def upload(self, pos: Kopilka) -> list[dict]:
        """Send what is kept: the purchases made; refused sales move to `refused` with the
        reason (no such member, a wrong clock, the receipt id reused) for a person to fix;
        when the server cannot be reached the rest stays for the next try."""
        done = []
        while self.sales:
            sale = self.sales[0]
            try:
                done.append(pos.commit(sale["receipt_id"], sale["member"], sale["lines"],
                                       occurred_at=sale["occurred_at"],
                                       payment_method=sale["payment_method"]))
            except Problem as problem:
                self.refused.append((sale, problem.detail))
            except Unreachable:
                break
            self.sales.pop(0)
        return done


# --- the demonstration ------------------------------------------------------------------------


def money(minor: int) -> str:
    return f"{minor / 100:,.2f}".replace(",", " ")


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Kopilka's address")
    parser.add_argument("--key", required=True, help="a POS terminal key (kp_pos_...)")
    parser.add_argument("--phone", required=True, help="a member's phone number")
    parser.add_argument("--receipt", default=f"DEMO-{int(time.time())}",
                        help="the receipt id to sell under (unique per terminal)")
    args = parser.parse_args(argv)
    pos = Kopilka(args.url, args.key)

    member = pos.lookup(phone=args.phone)
    print(f"member {member['id']}: {member['available']} points, tier {member['tier']}",
          file=out)
    ref = {"id": member["id"]}
    lines = [{"line_id": "1", "amount": 35000, "product_group": "coffee"},
             {"line_id": "2", "amount": 15000, "sku": "CROISSANT"}]
    check, purchase = sell(pos, args.receipt, ref, lines, wish=1000, payment_method="card")
    for line in check:
        print(f"line {line.line_id}: {money(line.amount)} − points {money(line.paid_with_points)}"
              f" = {money(line.to_pay)}", file=out)
    print(f"purchase {purchase['purchase_id']}: spent {purchase['points_spent']}, "
          f"accrued {purchase['points_accrued']}, balance {purchase['available']}", file=out)
    again = pos.commit(args.receipt, ref, lines, purchase["points_spent"], payment_method="card")
    # The same answer again (the Idempotency-Key's kept answer): the same purchase, once.
    print(f"sent again: purchase {again['purchase_id']}, balance {again['available']}",
          file=out)
    refund = pos.refund(args.receipt, "RET-1", lines={"2": 15000})
    print(f"refund of line 2: {refund['points_reversed']} accrued points taken back, "
          f"{refund['points_returned']} spent points returned, balance {refund['available']}",
          file=out)
    queue = OfflineQueue()
    queue.keep(f"{args.receipt}-OFF", ref, [{"line_id": "1", "amount": 20000}],
               at=datetime.now().astimezone())
    uploaded = queue.upload(pos)
    print(f"offline sale uploaded: accrued {uploaded[0]['points_accrued']}, "
          f"balance {uploaded[0]['available']}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
