"""Program configuration: store a validated program, load it (compiled, cached per version)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _
from pydantic import ValidationError

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.programs import versions
from kopilka.programs.config import ProgramConfig
from kopilka.programs.engine import (
    Basket,
    BasketLine,
    CompiledProgram,
    MemberState,
    Quote,
    QuoteContext,
    compile_program,
    quote,
)
from kopilka.programs.models import Program
from kopilka.tenancy import access

# A small starting program so a new merchant can sell at once: 5 % bonus, up to 50 % of a
# check payable with points. The owner adapts it in the cabinet.
DEFAULT_PROGRAM = {
    "type": "bonus",
    "max_redeem_percent": "50",
    "tiers": [
        {"code": "standard", "name": "Standard", "accrual": {"kind": "percent", "percent": "5"}}
    ],
}

_cache: dict[int, tuple[dict, CompiledProgram]] = {}


def validate(config: dict) -> ProgramConfig:
    try:
        return ProgramConfig.model_validate(config)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        # The field path is kept as it is (it names the mistake); the explanation is
        # Pydantic's or programs/config.py's and stays English for now. Only the frame around
        # them is a message, so a translation may reorder or reword it.
        raise InvalidInput(
            # Translators: field is a path in the program configuration (tiers.0.accrual),
            # message is the validator's explanation, in English.
            _("%(field)s: %(message)s") % {"field": field, "message": first["msg"]},
            field=field,
        ) from None


@transaction.atomic
def save_program(merchant, config: dict, *, actor: Actor,
                 restored_from: int | None = None) -> Program:
    validated = validate(config)
    stored = validated.model_dump(mode="json", by_alias=True)
    program = Program.objects.select_for_update().filter(merchant=merchant).first()
    if program is None:
        program = Program.objects.create(merchant=merchant, config=stored, updated_at=clock.now())
    else:
        program.config = stored
        program.version += 1
        program.updated_at = clock.now()
        program.save(update_fields=["config", "version", "updated_at"])
    access.context(merchant)["program"] = program  # load() must see this one
    audit.record(
        "programs.program.saved",
        actor=actor,
        merchant=merchant,
        obj=program,
        data={"version": program.version},
    )
    versions.record(program, actor=actor, restored_from=restored_from)
    return program


def load(merchant) -> CompiledProgram:
    """The merchant's compiled program, re-validated only when its configuration changed.

    The cache compares the stored document itself, not a version number: ids and versions can
    repeat after a rolled-back transaction, a document cannot lie about its content. The row
    comes from the merchant context (tenancy.access): joined when the API authenticated, read
    once per entered request or job otherwise.
    """
    program = access.context(merchant)["program"]
    if program is None:
        raise Conflict(_("This merchant has no loyalty program yet."), field="program")
    pk, config = program.pk, program.config
    cached = _cache.get(pk)
    if cached is not None and cached[0] == config:
        return cached[1]
    program = compile_program(ProgramConfig.model_validate(config))
    _cache[pk] = (config, program)
    return program


# --- trying a configuration before saving it -------------------------------------------------

LATEST_TRIAL = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TrialSale:
    """A basket to try a configuration on, and the member and moment to imagine."""

    lines: tuple[BasketLine, ...]
    tier: str | None = None  # None: the tier a new member starts in
    birthday: bool = False  # the member's birthday is on the sale's (local) day
    occurred_at: datetime | None = None  # None: now; the future is allowed here
    points_to_spend: int = 0  # the member is imagined to have these points
    tags: tuple[str, ...] = ()
    payment_method: str = ""


def try_program(merchant, config: dict, sale: TrialSale | None) -> tuple[ProgramConfig,
                                                                         Quote | None]:
    """Validate a configuration and, given a basket, quote it with the pure engine as that
    configuration would: the owner sees what a change does before saving it. Writes and
    reads nothing; errors name the field as save_program's do (`basket.*` for the basket)."""
    validated = validate(config)
    if sale is None:
        return validated, None
    program = compile_program(validated)
    tier = sale.tier if sale.tier is not None else program.start_tier
    if tier not in program.tiers:
        raise InvalidInput(_("No tier %(tier)r.") % {"tier": tier}, field="basket.tier")
    ids = [line.line_id for line in sale.lines]
    if len(set(ids)) != len(ids):
        raise InvalidInput(_("Line ids must be unique within a purchase."), field="basket.lines")
    at = sale.occurred_at or clock.now()
    if at >= LATEST_TRIAL:  # expiry dates computed from later moments leave the calendar
        raise InvalidInput(_("Must be less than %(lt)s.") % {"lt": "2100-01-01T00:00:00Z"},
                           field="basket.occurred_at")
    today = at.astimezone(ZoneInfo(merchant.timezone)).date()
    member = MemberState(
        tier_code=tier, available_points=sale.points_to_spend,
        birth_date=date(2000, today.month, today.day) if sale.birthday else None,  # leap year
        tags=frozenset(sale.tags),
    )
    context = QuoteContext(at=at, tz=merchant.timezone, payment_method=sale.payment_method or None,
                           points_to_spend=sale.points_to_spend)
    return validated, quote(program, member, Basket(sale.lines), context)
