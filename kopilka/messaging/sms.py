"""SMS encoding and segmentation (3GPP TS 23.038 / 23.040).

A text that fits the GSM 7-bit default alphabet travels as GSM-7: 160 septets in one message,
153 per part once it needs several (a 6-octet concatenation header takes 7 septets). Anything
else — Cyrillic included — travels as UCS-2: 70 UTF-16 code units in one message, 67 per part.
Characters of the GSM extension table (€, [, ], {, }, ...) take two septets (escape + code).

Parts are cut between characters, never inside an escape pair or a UTF-16 surrogate pair, so
every part decodes on its own. The part count is what the operator bills, so the outbox
records it when a message is queued.
"""

from dataclasses import dataclass

GSM7 = "gsm7"
UCS2 = "ucs2"

# The GSM 03.38 default alphabet, in code order (0x1B is the escape to the extension table).
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_BASIC_CODES = {char: code for code, char in enumerate(_BASIC) if char != "\x1b"}
_EXTENSION_CODES = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C,
                    "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}

LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}  # (one message, each part of several)


@dataclass(frozen=True)
class Segmented:
    encoding: str  # GSM7 or UCS2
    parts: tuple[str, ...]  # the text of each part, in order


def _gsm_width(char: str) -> int | None:
    """Septets the character takes in GSM-7, or None when GSM-7 cannot carry it."""
    if char in _BASIC_CODES:
        return 1
    if char in _EXTENSION_CODES:
        return 2
    return None


def _ucs2_width(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1  # a surrogate pair


def encoding_of(text: str) -> str:
    return GSM7 if all(_gsm_width(char) is not None for char in text) else UCS2


def segment(text: str) -> Segmented:
    encoding = encoding_of(text)
    width = _gsm_width if encoding == GSM7 else _ucs2_width
    single, part_size = LIMITS[encoding]
    if sum(width(char) for char in text) <= single:
        return Segmented(encoding, (text,))
    parts, current, used = [], [], 0
    for char in text:
        size = width(char)
        if used + size > part_size:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += size
    parts.append("".join(current))
    return Segmented(encoding, tuple(parts))


def count_parts(text: str) -> int:
    return len(segment(text).parts)


def encode(text: str, encoding: str) -> bytes:
    """The octets of a part for SMPP's short_message: GSM-7 unpacked (one septet per octet,
    the SMSC packs them), UCS-2 as UTF-16 big-endian."""
    if encoding == UCS2:
        return text.encode("utf-16-be")
    out = bytearray()
    for char in text:
        if char in _BASIC_CODES:
            out.append(_BASIC_CODES[char])
        else:
            out += bytes((0x1B, _EXTENSION_CODES[char]))
    return bytes(out)
