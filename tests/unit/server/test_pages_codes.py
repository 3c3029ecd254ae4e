"""The code page's words for user code formats (``deviceflow.server.pages.codes``)."""

from __future__ import annotations

from deviceflow.server.dialects.microsoft import USER_CODE as MICROSOFT
from deviceflow.server.pages.codes import code_hint, describe_format, example_code, shape_problem
from deviceflow.server.settings import UserCodeFormat

RFC = UserCodeFormat()


def test_examples_follow_the_mask_and_use_only_the_alphabet() -> None:
    for fmt in (RFC, MICROSOFT, UserCodeFormat(charset="0123456789", mask="XXX.XXX.XXXX")):
        example = example_code(fmt)
        assert len(example) == len(fmt.mask)
        assert all(
            c in fmt.charset if m == "X" else c == m for c, m in zip(example, fmt.mask, strict=True)
        )
    assert any(c.isdigit() for c in example_code(MICROSOFT))  # letters and digits, shown


def test_an_alphabet_missing_many_characters_lists_none() -> None:
    fmt = UserCodeFormat(charset="BCDFGHJKLM", mask="XXXXXXXXXX")
    assert describe_format(fmt) == f"10 letters, like {example_code(fmt)}"


def test_a_hint_without_separators_does_not_mention_them() -> None:
    hint = code_hint([MICROSOFT])
    assert "Dashes" not in hint.text and hint.placeholder == "XXXXXXXXX"


def test_shape_problems() -> None:
    assert shape_problem("BCDFGHJK", [RFC]) is None
    assert shape_problem("BCDFGHJ", [RFC]) == "You typed 7 letters and digits; a code has 8."
    assert shape_problem("BCDFGHJ", [RFC, MICROSOFT]) == (
        "You typed 7 letters and digits; a code has 8 or 9."
    )
    assert shape_problem("BADFEHJK", [RFC]) == (
        "A code never contains A or E: check those characters on your device."
    )
    assert shape_problem("BADFEHJK", [RFC, MICROSOFT]) is not None  # 8: only RFC codes count
    assert shape_problem("ABCDEFGH2", [RFC, MICROSOFT]) is None
