"""Uploaded pictures (reward items, merchant logos): whatever image an owner uploads is decoded
by Pillow and written again as WebP in a few sizes under the default storage (the data dir, or
any storage backend). Only those re-encoded files are ever served, with their own content
type: no uploaded bytes reach a browser, so an "image" that is really HTML or SVG cannot run
anything. A picture is named by a random token; `folder` keeps each kind and merchant apart."""

import secrets
from io import BytesIO

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from kopilka.core.errors import InvalidInput

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
CONTENT_TYPE = "image/webp"


def path(folder: str, token: str, size: int) -> str:
    return f"{folder}/{token}-{size}.webp"


def store(folder: str, upload, sizes: tuple[int, ...], *, field: str = "picture",
          keep_alpha: bool = False) -> str:
    """Decode, resize and store the upload in each of `sizes` (the longer side, px); the token
    naming them. `keep_alpha` keeps transparency (a logo on a coloured band)."""
    if upload.size > MAX_BYTES:
        raise InvalidInput(_("The picture is too large: at most 8 MB."), field=field)
    try:
        with Image.open(upload) as image:
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(_("The picture has too many pixels."), field=field)
            image.load()
            picture = ImageOps.exif_transpose(image).convert("RGBA" if keep_alpha else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise InvalidInput(_("This file is not a picture (JPEG, PNG or WebP)."),
                           field=field) from None
    token = secrets.token_hex(16)
    for size in sizes:
        copy = picture.copy()
        copy.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = BytesIO()
        copy.save(out, "WEBP", quality=82)
        default_storage.save(path(folder, token, size), ContentFile(out.getvalue()))
    return token


def remove(folder: str, token: str, sizes: tuple[int, ...]) -> None:
    for size in sizes:
        default_storage.delete(path(folder, token, size))


def open_stored(folder: str, token: str, size: int, sizes: tuple[int, ...]):
    """The stored file (a storage File) or None."""
    if not token or size not in sizes:
        return None
    name = path(folder, token, size)
    if not default_storage.exists(name):
        return None
    return default_storage.open(name, "rb")
