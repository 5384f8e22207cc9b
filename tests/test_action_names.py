"""NTU RGB+D action names from the package's reference table."""

import pytest

from data_pipeline.action_names import ACTION_NAMES, TWO_PERSON_ACTIONS, action_name, is_two_person


def test_names_cover_ntu120_in_label_order():
    assert len(ACTION_NAMES) == 120
    assert action_name(0) == "drink water"  # label 0 = A001
    assert action_name(7) == "sitting down"
    assert action_name(58) == "walking towards each other"  # last NTU60 class pair: A059, A060
    assert action_name(119).startswith("finger-guessing game")
    assert all(isinstance(n, str) and n for n in ACTION_NAMES)
    assert len(set(ACTION_NAMES)) == 120


@pytest.mark.parametrize("bad", [-1, 120, 1000])
def test_out_of_range_label_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"out of range.*0\.\.119"):
        action_name(bad)


def test_two_person_actions():
    assert TWO_PERSON_ACTIONS == set(range(50, 61)) | set(range(106, 121))
    assert is_two_person(58) and is_two_person(120)
    assert not is_two_person(49) and not is_two_person(61) and not is_two_person(105)
    assert action_name(49) == "punching/slapping other person"
