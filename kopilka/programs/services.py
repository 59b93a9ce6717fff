"""Program configuration: store a validated program, load it (compiled, cached per version)."""

from django.db import transaction
from django.utils.translation import gettext as _
from pydantic import ValidationError

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from kopilka.programs.config import ProgramConfig
from kopilka.programs.engine import CompiledProgram, compile_program
from kopilka.programs.models import Program

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
def save_program(merchant, config: dict, *, actor: Actor) -> Program:
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
    audit.record(
        "programs.program.saved",
        actor=actor,
        merchant=merchant,
        obj=program,
        data={"version": program.version},
    )
    return program


def load(merchant) -> CompiledProgram:
    """The merchant's compiled program, re-validated only when its configuration changed.

    The cache compares the stored document itself, not a version number: ids and versions can
    repeat after a rolled-back transaction, a document cannot lie about its content.
    """
    row = Program.objects.filter(merchant=merchant).values_list("pk", "config").first()
    if row is None:
        raise Conflict(_("This merchant has no loyalty program yet."), field="program")
    pk, config = row
    cached = _cache.get(pk)
    if cached is not None and cached[0] == config:
        return cached[1]
    program = compile_program(ProgramConfig.model_validate(config))
    _cache[pk] = (config, program)
    return program
