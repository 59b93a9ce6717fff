"""The `data` object of each event, built from the objects the operation just wrote.

Ids, money in minor units, points in the program's unit, balances after the operation, tier
codes and RFC 3339 times; never a full phone number (masked, as the POS sees it). The shapes are
documented with examples in docs/webhooks.md: add fields freely, never rename or remove one.
"""

from datetime import datetime

from kopilka.core.phones import mask_phone


def member_registered(member, *, tier: str, welcome_points: int) -> dict:
    return {
        "member_id": member.pk,
        "phone": mask_phone(str(member.person.phone)),
        "registered_via": member.registered_via,
        "tier": tier,
        "welcome_points": welcome_points,
        "available": welcome_points,  # the welcome bonus is spendable at once
        "occurred_at": member.registered_at,
    }


def purchase_committed(purchase, *, available: int, pending: int) -> dict:
    return {
        "purchase_id": purchase.pk,
        "member_id": purchase.member_id,
        "receipt_id": purchase.receipt_id,
        "store_id": purchase.store_id,
        "terminal_id": purchase.terminal_id,
        "total": purchase.total,
        "discount": purchase.discount,
        "points_spent": purchase.points_spent,
        "points_spent_money": purchase.points_spent_money,
        "points_accrued": purchase.points_accrued,
        "tier": purchase.tier_after,
        "available": available,
        "pending": pending,
        "occurred_at": purchase.occurred_at,
    }


def purchase_refunded(purchase, refund, *, tier: str, available: int, pending: int) -> dict:
    return {
        "refund_id": refund.refund_id,
        "purchase_id": purchase.pk,
        "member_id": purchase.member_id,
        "receipt_id": purchase.receipt_id,
        "amount": refund.amount,
        "points_reversed": refund.points_reversed,
        "points_returned": refund.points_returned,
        "points_unrecovered": refund.points_unrecovered,
        "refunded_total": purchase.refunded_amount,
        "tier": tier,
        "available": available,
        "pending": pending,
        "occurred_at": refund.occurred_at,
    }


def tier_changed(member_id: int, *, before: str, after: str, manual: bool, cause: str,
                 at: datetime) -> dict:
    """`cause`: purchase, refund or manual (staff assigned it, or handed the member back to
    automatic tiers)."""
    return {"member_id": member_id, "tier_before": before, "tier": after, "manual": manual,
            "cause": cause, "occurred_at": at}


def points_adjusted(adjustment, member_id: int, *, available: int, pending: int) -> dict:
    return {
        "adjustment_id": adjustment.pk,
        "member_id": member_id,
        "points": adjustment.points,
        "reason": adjustment.reason,
        "staff_id": adjustment.staff_id,
        "available": available,
        "pending": pending,
        "occurred_at": adjustment.occurred_at,
    }


def points_transferred(transfer, *, sender_id: int, recipient_id: int, sender_available: int,
                       recipient_available: int) -> dict:
    return {
        "transfer_id": transfer.pk,
        "from_member_id": sender_id,
        "to_member_id": recipient_id,
        "points": transfer.points,
        "from_available": sender_available,
        "to_available": recipient_available,
        "occurred_at": transfer.occurred_at,
    }


def points_expiring(member_id: int, *, points: int, last_day, at: datetime) -> dict:
    """`last_day`: the last local day (the merchant's zone) the points can be spent; they are
    gone at the next local midnight."""
    return {
        "member_id": member_id,
        "points": points,
        "last_day": last_day.isoformat(),
        "occurred_at": at,
    }
