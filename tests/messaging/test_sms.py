"""SMS part counting and segmentation: what the operator bills."""

import pytest

from kopilka.messaging import sms


@pytest.mark.parametrize(("text", "encoding", "parts"), [
    ("a" * 160, "gsm7", 1),
    ("a" * 161, "gsm7", 2),
    ("a" * 306, "gsm7", 2),  # 2 × 153
    ("a" * 307, "gsm7", 3),
    ("б" * 70, "ucs2", 1),
    ("б" * 71, "ucs2", 2),
    ("б" * 134, "ucs2", 2),  # 2 × 67
    ("б" * 135, "ucs2", 3),
    ("a" * 159 + "ж", "ucs2", 3),  # one Cyrillic letter turns the whole text into UCS-2
    ("€" * 80, "gsm7", 1),  # extension characters take two septets each
    ("€" * 81, "gsm7", 2),
    ("😀" * 35, "ucs2", 1),  # outside the BMP: two UTF-16 units each
    ("😀" * 36, "ucs2", 2),
    ("", "gsm7", 1),
])
def test_parts_are_counted_exactly(text, encoding, parts):
    segmented = sms.segment(text)
    assert (segmented.encoding, len(segmented.parts), sms.count_parts(text)) == (
        encoding, parts, parts)
    assert "".join(segmented.parts) == text


def test_parts_are_cut_between_characters():
    # 152 plain characters then "€": the escape pair would straddle the 153-septet boundary,
    # so it opens the second part.
    text = "a" * 152 + "€" + "b" * 10
    first, second = sms.segment(text).parts
    assert (first, second) == ("a" * 152, "€" + "b" * 10)
    emoji = "б" * 66 + "😀" + "б" * 10  # the surrogate pair would straddle 67 units
    assert sms.segment(emoji).parts == ("б" * 66, "😀" + "б" * 10)


def test_encoding_gives_the_octets_smpp_carries():
    assert sms.encode("@A€{", "gsm7") == bytes((0x00, 0x41, 0x1B, 0x65, 0x1B, 0x28))
    assert sms.encode("§¿à", "gsm7") == bytes((0x5F, 0x60, 0x7F))
    assert sms.encode("Да", "ucs2") == "Да".encode("utf-16-be") == b"\x04\x14\x04\x30"
