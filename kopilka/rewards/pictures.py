"""Item pictures: whatever image the owner uploads is decoded by Pillow and written again as
WebP in a few sizes under the default storage (the data dir, or any storage backend). Only
those re-encoded files are ever served, with their own content type: no uploaded bytes reach a
browser, so an "image" that is really HTML or SVG cannot run anything."""

import secrets
from io import BytesIO

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from kopilka.core.errors import InvalidInput
from kopilka.rewards.models import PICTURE_SIZES

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
CONTENT_TYPE = "image/webp"


def path(merchant_id: int, token: str, size: int) -> str:
    return f"rewards/{merchant_id}/{token}-{size}.webp"


def store(merchant_id: int, upload) -> str:
    """Decode, resize and store the upload; the token naming the stored sizes."""
    if upload.size > MAX_BYTES:
        raise InvalidInput(_("The picture is too large: at most 8 MB."), field="picture")
    try:
        with Image.open(upload) as image:
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(_("The picture has too many pixels."), field="picture")
            image.load()
            picture = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise InvalidInput(_("This file is not a picture (JPEG, PNG or WebP)."),
                           field="picture") from None
    token = secrets.token_hex(16)
    for size in PICTURE_SIZES:
        copy = picture.copy()
        copy.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = BytesIO()
        copy.save(out, "WEBP", quality=82)
        default_storage.save(path(merchant_id, token, size), ContentFile(out.getvalue()))
    return token


def remove(merchant_id: int, token: str) -> None:
    for size in PICTURE_SIZES:
        default_storage.delete(path(merchant_id, token, size))


def open_picture(merchant_id: int, token: str, size: int):
    """The stored file (a storage File) or None."""
    if not token or size not in PICTURE_SIZES:
        return None
    name = path(merchant_id, token, size)
    if not default_storage.exists(name):
        return None
    return default_storage.open(name, "rb")
