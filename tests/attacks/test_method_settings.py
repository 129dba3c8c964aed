"""`check_settings` checks only the settings it is given."""
import pytest

from attacks.methods import check_settings
from precision.common.errors import InputError


def test_low_without_high_is_checked_alone():
    check_settings(low=0.05)  # once raised TypeError: 0 < low <= None
    check_settings(high=0.1)
    with pytest.raises(InputError, match="low"):
        check_settings(low=-1.0)


def test_low_above_high_is_refused():
    with pytest.raises(InputError, match="low ≤ high"):
        check_settings(low=0.2, high=0.1)
    check_settings(low=0.1, high=0.1)
