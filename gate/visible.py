"""Whether free text a person must have written is really there, and shows as written.

A waiver's ``reason`` and ``approved_by`` are what a reviewer reads; a text of
zero-width spaces, format characters, combining marks alone or blank
"letters" (the Hangul fillers, the Braille blank) looks empty and must count as
empty. A bidirectional control (U+202E …) can make a text display as another
(an approver's address shown reversed), so it is refused in such fields.
"""

from __future__ import annotations

import unicodedata

# Letters and symbols that render as nothing: Hangul fillers, the Braille blank,
# Khmer inherent vowels, the Mongolian vowel separator.
_BLANK = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x17B4, 0x17B5, 0x180E})
# Characters that change the display order of the text around them.
_BIDI = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _codepoint(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def is_visible(ch: str) -> bool:
    """A letter or digit that shows (categories L and N, minus the blank ones)."""
    return unicodedata.category(ch)[0] in "LN" and ord(ch) not in _BLANK


def text_problem(text: str, *, identity: bool = False) -> str | None:
    """Why ``text`` does not count as written text; None when it does.

    It must hold at least one visible letter or digit and no bidirectional
    control or control character (tab and newline aside). An ``identity`` (who
    approved) must also hold no invisible character at all: no format
    character (zero-width space, joiner), no blank letter, no line break.
    """
    if not any(is_visible(ch) for ch in text):
        return "holds no visible letter or digit (only spaces, invisible or format characters)"
    for ch in text:
        cp, cat = ord(ch), unicodedata.category(ch)
        if cp in _BIDI:
            return (f"holds {_codepoint(ch)}, a bidirectional control that changes how the "
                    "text is shown")
        if cat == "Cc" and ch not in _ALLOWED_CONTROLS:
            return f"holds the control character {_codepoint(ch)}"
        if identity and (cat in ("Cf", "Cc", "Co", "Cn", "Cs", "Zl", "Zp") or cp in _BLANK):
            return f"holds the invisible character {_codepoint(ch)}"
    return None
