"""Item pictures: re-encoded to WebP in PICTURE_SIZES by kopilka/core/images.py, one folder
per merchant."""

from kopilka.core import images
from kopilka.rewards.models import PICTURE_SIZES

CONTENT_TYPE = images.CONTENT_TYPE


def _folder(merchant_id: int) -> str:
    return f"rewards/{merchant_id}"


def store(merchant_id: int, upload) -> str:
    """Decode, resize and store the upload; the token naming the stored sizes."""
    return images.store(_folder(merchant_id), upload, PICTURE_SIZES)


def remove(merchant_id: int, token: str) -> None:
    images.remove(_folder(merchant_id), token, PICTURE_SIZES)


def open_picture(merchant_id: int, token: str, size: int):
    """The stored file (a storage File) or None."""
    return images.open_stored(_folder(merchant_id), token, size, PICTURE_SIZES)
