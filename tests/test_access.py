"""Engineer password: salted scrypt hash, set on first use, verified, changed."""

from __future__ import annotations

import pytest

from inspection_station.core.settings import access
from inspection_station.core.settings.access import AccessError
from inspection_station.core.settings.model import Settings


def test_hash_format_and_verify():
    stored = access.hash_password("s3cret")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(access.DEFAULT_N), "8", "1")
    assert access.verify_password("s3cret", stored)
    assert not access.verify_password("s3cret ", stored)
    assert not access.verify_password("", stored)


def test_salted_hashes_differ():
    assert access.hash_password("same") != access.hash_password("same")


@pytest.mark.parametrize("stored", ["", "garbage", "scrypt$x$8$1$aa$bb", "md5$1$1$1$AA==$AA==", "scrypt$16$8$1$!!$AA=="])
def test_malformed_hash_never_matches(stored):
    assert not access.verify_password("anything", stored)


def test_cheap_parameters_travel_with_the_hash():
    stored = access.hash_password("abcd", n=2**4, r=1, p=1)
    assert stored.startswith("scrypt$16$1$1$")
    assert access.verify_password("abcd", stored)


def test_first_use_then_change():
    s = Settings()
    assert not access.is_password_set(s.station.engineer_password_hash)
    with pytest.raises(AccessError, match="differ"):
        access.set_initial_password(s, "abcd", "abce")
    with pytest.raises(AccessError, match="at least"):
        access.set_initial_password(s, "ab", "ab")
    s1 = access.set_initial_password(s, "abcd", "abcd")
    assert access.verify_password("abcd", s1.station.engineer_password_hash)
    with pytest.raises(AccessError, match="already set"):
        access.set_initial_password(s1, "other", "other")
    with pytest.raises(AccessError, match="current password is wrong"):
        access.change_password(s1, "wrong", "newpw", "newpw")
    s2 = access.change_password(s1, "abcd", "newpw", "newpw")
    assert access.verify_password("newpw", s2.station.engineer_password_hash)
    assert not access.verify_password("abcd", s2.station.engineer_password_hash)
