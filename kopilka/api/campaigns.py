"""Management API for secret-code campaigns (docs/campaigns.md): campaigns, batches with their
statistics, and each batch's plain codes — once."""

from datetime import date, datetime

from django.utils.translation import gettext as _
from ninja import Field, Schema, Status

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import Problem, StrictIn
from kopilka.campaigns import services as campaigns
from kopilka.campaigns.models import Alphabet, Campaign, CodeBatch
from kopilka.core.errors import NotFound

router = merchant_router(tags=["Campaigns"], auth=[ManagementToken(), StaffSession()])
READ = {401: Problem, 403: Problem, 404: Problem, 422: Problem}
WRITE = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class CampaignIn(StrictIn):
    name: str = Field(min_length=1, max_length=200)
    points: int = Field(gt=0, le=10**9, description="Points per code, in the program's minor "
                                                    "units")
    starts_on: date = Field(description="First day, in the merchant's time zone")
    ends_on: date | None = Field(None, description="Last day; null: no end")
    per_member: int | None = Field(None, gt=0, le=100_000,
                                   description="Codes one member may activate")
    per_day: int | None = Field(None, gt=0, le=100_000,
                                description="Codes one member may activate a day")
    validity_days: int | None = Field(None, gt=0, le=3650,
                                      description="Points live this long; null: the program's "
                                                  "rule")
    text: str = Field("", max_length=500, description="Shown to the member after activating")


class BatchOut(Schema):
    id: int
    count: int
    length: int
    alphabet: str
    prefix: str
    check_char: bool
    points: int = Field(description="Points per code")
    created_at: datetime
    downloaded_at: datetime | None = Field(description="When the plain codes were taken; "
                                                       "null: still available, once")
    activated: int = 0
    points_granted: int = 0
    new_members: int = Field(0, description="Members who joined at most a day before "
                                            "activating")


class CampaignOut(Schema):
    id: int
    name: str
    points: int
    starts_on: date
    ends_on: date | None
    per_member: int | None
    per_day: int | None
    validity_days: int | None
    text: str
    batches: list[BatchOut] = []


class BatchIn(StrictIn):
    count: int = Field(gt=0, le=campaigns.MAX_BATCH)
    length: int = Field(8, ge=campaigns.LENGTHS[0], le=campaigns.LENGTHS[1],
                        description="Random characters (prefix and check character not "
                                    "counted)")
    alphabet: str = Field(Alphabet.CLEAR, description=f"{Alphabet.CLEAR.value} (no "
                                                      f"look-alikes) or {Alphabet.DIGITS.value}")
    prefix: str = Field("", max_length=8)
    check_char: bool = False
    points: int | None = Field(None, gt=0, le=10**9, description="null: the campaign's")


class CodesOut(Schema):
    codes: list[str] = Field(description="The plain codes: given once, then only their hashes "
                                         "are kept")


def _batch_out(stats: campaigns.BatchStats) -> dict:
    batch = stats.batch
    return {"id": batch.pk, "count": batch.count, "length": batch.length,
            "alphabet": batch.alphabet, "prefix": batch.prefix, "check_char": batch.check_char,
            "points": batch.points_per_code, "created_at": batch.created_at,
            "downloaded_at": batch.downloaded_at, "activated": stats.activated,
            "points_granted": stats.points, "new_members": stats.new_members}


def _campaign_out(campaign: Campaign, with_batches: bool = True) -> dict:
    out = {field: getattr(campaign, field) for field in (
        "name", "points", "starts_on", "ends_on", "per_member", "per_day", "validity_days",
        "text")}
    out["id"] = campaign.pk
    out["batches"] = [_batch_out(s) for s in campaigns.batch_stats(campaign)] \
        if with_batches else []
    return out


@router.get("/campaigns", response={200: list[CampaignOut], **READ})
@requires("manage_campaigns")
def list_campaigns(request):
    """The merchant's campaigns, newest first (at most 200), without their batches."""
    rows = Campaign.objects.filter(merchant=request.auth.merchant).order_by("-starts_on", "-pk")
    return [_campaign_out(c, with_batches=False) for c in rows[:200]]


@router.post("/campaigns", response={201: CampaignOut, **WRITE})
@requires("manage_campaigns")
def create_campaign(request, payload: CampaignIn):
    principal = request.auth
    created = campaigns.create_campaign(principal.merchant, actor=principal.actor,
                                        **payload.model_dump())
    return Status(201, _campaign_out(created))


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, **READ})
@requires("manage_campaigns")
def get_campaign(request, campaign_id: int):
    """The campaign with each batch's statistics: printed, activated, points, new members."""
    return _campaign_out(campaigns.campaign(request.auth.merchant, campaign_id))


@router.post("/campaigns/{campaign_id}/batches", response={201: BatchOut, **WRITE})
@requires("manage_campaigns")
def create_batch(request, campaign_id: int, payload: BatchIn):
    """Draw new codes; take them with POST /campaigns/batches/{id}/codes (once)."""
    principal = request.auth
    campaign = campaigns.campaign(principal.merchant, campaign_id)
    batch = campaigns.create_batch(campaign, actor=principal.actor, **payload.model_dump())
    return Status(201, _batch_out(campaigns.BatchStats(batch, batch.count, 0, 0, 0)))


@router.post("/campaigns/batches/{batch_id}/codes", response={200: CodesOut, **WRITE})
@requires("manage_campaigns")
def take_codes(request, batch_id: int):
    """The batch's plain codes, once: the answer is the only copy (409 afterwards)."""
    batch = CodeBatch.objects.filter(pk=batch_id, merchant=request.auth.merchant).first()
    if batch is None:
        raise NotFound(_("No such batch."))
    return {"codes": campaigns.take_sheet(batch, actor=request.auth.actor)}
