"""Password rules (NIST SP 800-63B-4, security matrix row A-01). No Flask here."""

import unicodedata

import pytest

from casemgr.domain.passwords import (
    PasswordPolicy,
    WeakPassword,
    check_password,
    common_passwords,
    normalize,
    normalize_login,
)

POLICY = PasswordPolicy(min_length=15)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # no digits or capitals: fine
        "x" * 14 + "y",
        "ü" * 7 + "passage-of-time",
        "a" * 63 + "b",
        "word " * 40,  # a 200-character passphrase
    ],
)
def test_long_passphrases_without_composition_rules_are_accepted(password):
    check_password(password, policy=POLICY, blocklist=set())


@pytest.mark.parametrize("password", ["short", "fourteen chars"])
def test_too_short_is_refused_with_the_minimum(password):
    with pytest.raises(WeakPassword, match="at least 15 characters"):
        check_password(password, policy=POLICY)


def test_too_long_is_refused():
    with pytest.raises(WeakPassword, match="at most"):
        check_password("x" * 600 + "y", policy=POLICY)


def test_the_bundled_list_is_loaded_and_used():
    assert len(common_passwords()) > 20000
    assert "password" in common_passwords()
    long_common = sorted(p for p in common_passwords() if len(p) >= 15)[0]
    with pytest.raises(WeakPassword, match="commonly used"):
        check_password(long_common, policy=POLICY)


def test_common_password_check_ignores_case():
    with pytest.raises(WeakPassword, match="commonly used"):
        check_password("PASSWORD12345678", policy=POLICY, blocklist={"password12345678"})


@pytest.mark.parametrize("word", ["nurse1", "Riverbend Recovery"])
def test_login_or_facility_name_inside_the_password_is_refused(word):
    with pytest.raises(WeakPassword, match="Do not include"):
        check_password(
            f"my {word.upper()} passphrase here",
            policy=POLICY,
            context_words=[word],
            blocklist=set(),
        )


def test_repeated_single_character_is_refused():
    with pytest.raises(WeakPassword, match="repeated"):
        check_password("a" * 20, policy=POLICY, blocklist=set())


def test_nfc_and_nfd_forms_normalise_to_the_same_password():
    composed = "café de la gare au matin"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert normalize(composed) == normalize(decomposed)


def test_login_names_fold_case_and_compatibility_forms():
    assert normalize_login("ｎurse1") == normalize_login("NURSE1 ") == "nurse1"
