"""The parse contract every space keeps: printable ASCII only, one error type, one spelling per arch."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogate_nas.errors import InvalidArchitectureError
from surrogate_nas.spaces import SPACES, get_space

NB = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
NBG = "0012:gcn-gat-skip-sage"


@pytest.mark.parametrize(
    "space, text, fragment",
    [
        ("nas-bench-graph", "²000:gcn-gcn-gcn-gcn", "character '²'"),  # was a plain ValueError from int()
        ("nas-bench-graph", "٠٠١٢:gcn-gat-skip-sage", "character '٠'"),  # Arabic-Indic digits were accepted
        ("nas-bench-graph", "0012:gcn-gat-skip-sage\x00", "character '\\\\x00'"),
        ("nb201", NB.replace("~0|+", "~0\n|+", 1), "character '\\\\n'"),  # an embedded newline was accepted
        ("nb201", NB.replace("~0|", "~00|", 1), "malformed edge 'nor_conv_3x3~00'"),  # '~00' was accepted
        ("nb201", NB.replace("~0|", "~٠|", 1), "character '٠'"),
        ("nb201", NB.replace("none", "nоne", 1), "character 'о'"),  # Cyrillic o
    ],
)
def test_non_ascii_and_noncanonical_spellings_are_refused(space, text, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment):
        get_space(space).parse(text)


def test_surrounding_ascii_whitespace_is_ignored_other_whitespace_is_not():
    sp = get_space("nb201")
    assert sp.format(sp.parse(f" \t{NB}\r\n")) == NB
    with pytest.raises(InvalidArchitectureError, match="character"):
        sp.parse(NB + "\u2003")  # em space


def test_key_lookup_takes_ascii_digits_only():
    sp = get_space("nas-bench-graph")
    key = sp.canonical(sp.parse(NBG))
    assert sp.from_key(key) == sp.from_key(int(key))
    for bad in ("١٢", " 12", "1_2", True):
        with pytest.raises(InvalidArchitectureError, match="key"):
            sp.from_key(bad)


@pytest.mark.parametrize("name", SPACES.names())
@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=60) | st.text(alphabet="|+~0123:-_abcdefghijklmnopqrstuvwxyz٠²\n ", max_size=90))
def test_parse_of_any_text_is_the_one_spelling_or_the_documented_error(name, text):
    sp = get_space(name)
    try:
        arch = sp.parse(text)
    except InvalidArchitectureError:
        return
    # accepted text is exactly the canonical spelling (up to surrounding ASCII whitespace)
    assert sp.format(arch) == text.strip(" \t\r\n")


_FIRST_501: dict[str, list] = {}  # sp.enumerate() builds every architecture: once per space, not per example


@pytest.mark.parametrize("name", SPACES.names())
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_valid_strings_raise_only_the_documented_error(name, data):
    sp = get_space(name)
    if name not in _FIRST_501:
        _FIRST_501[name] = sp.enumerate()[:501]
    s = sp.format(_FIRST_501[name][data.draw(st.integers(0, 500))])
    i = data.draw(st.integers(0, len(s)))
    text = s[:i] + data.draw(st.text(max_size=3)) + s[i + 1:]
    try:
        arch = sp.parse(text)
    except InvalidArchitectureError:
        return
    assert sp.format(arch) == text.strip(" \t\r\n")
