"""Secret masking and sealing, without a daemon."""

from __future__ import annotations

import base64
import json
import os
import threading
from urllib.parse import quote, quote_plus

import pytest

from wfe.daemon.secrets import (
    MASK,
    OFF_LOOP_BYTES,
    Masker,
    Sealer,
    SecretUnavailable,
    hide_sealed,
    input_context,
    mask_outcome,
    open_inputs,
    seal_inputs,
    seal_inputs_async,
    secret_forms,
)
from wfe.engine.spec import Variable

SECRET = "s3cr3t/+tok=en&ü\"x"


def encodings(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""), quote(secret), quote_plus(secret),
        base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
    ]


@pytest.mark.parametrize("form", encodings(SECRET))
def test_each_encoded_form_is_masked_inside_text(form):
    m = Masker([SECRET])
    out = m.text(f"before {form} after")
    assert out == f"before {MASK} after"


@pytest.mark.parametrize("prefix", [b"", b"u", b"us", b"user:"])
def test_base64_of_a_longer_string_holding_the_secret_is_masked(prefix):
    # e.g. an Authorization: Basic header printed by curl -v
    encoded = base64.b64encode(prefix + SECRET.encode() + b"@host").decode()
    masked = Masker([SECRET]).text(encoded)
    assert MASK in masked
    for start in range(len(masked)):  # no leftover piece decodes back to the secret
        chunk = masked[start:].split(MASK)[0]
        chunk = chunk[: len(chunk) // 4 * 4]
        assert SECRET.encode() not in base64.b64decode(chunk + "==", validate=False)


def test_nested_values_keys_and_non_strings():
    m = Masker([SECRET, 424242])
    value = {"a": [SECRET, {"b": f"x{SECRET}y"}], SECRET: 1, "n": "id 424242", "k": 7}
    assert m.value(value) == {"a": [MASK, {"b": f"x{MASK}y"}], MASK: 1, "n": f"id {MASK}",
                              "k": 7}
    # After masking, the JSON form carries no trace of the secret either.
    assert SECRET not in json.dumps(m.value(value)) and json.dumps(SECRET)[1:-1] not in \
        json.dumps(m.value(value))


def test_object_secret_masks_its_json_and_its_strings():
    m = Masker([{"user": "admin", "password": "hunter2hunter2"}])
    assert m.text('{"user":"admin","password":"hunter2hunter2"}') == MASK
    assert m.text("pw=hunter2hunter2") == f"pw={MASK}"


def test_longest_form_wins_and_nothing_without_secrets():
    m = Masker(["abc", "abcdef"])
    assert m.text("abcdef abc") == f"{MASK} {MASK}"
    empty = Masker([])
    assert not empty and empty.text("abc") == "abc" and empty.value({"a": 1}) == {"a": 1}
    assert not Masker(["", None, True])
    assert secret_forms("") == set()


def test_file_is_masked_in_place_and_stays_private(tmp_path):
    log = tmp_path / "step.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, f"token={SECRET}\nb64={base64.b64encode(SECRET.encode()).decode()}\n".encode()
             + b"\xff binary tail")
    os.close(fd)
    m = Masker([SECRET])
    assert m.file(log) is True
    data = log.read_bytes()
    assert data == f"token={MASK}\nb64={MASK}\n".encode() + b"\xff binary tail"
    assert log.stat().st_mode & 0o777 == 0o600
    assert m.file(log) is False  # already clean: not rewritten
    assert m.file(tmp_path / "missing.log") is False


RUN, OTHER_RUN = "0b5e7c1e-0000-4000-8000-000000000001", "0b5e7c1e-0000-4000-8000-000000000002"
CTX = input_context(RUN, "token")


def test_sealer_round_trip_and_tamper(tmp_path):
    key_file = tmp_path / "secret.key"
    s = Sealer.load_or_create(key_file)
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = s.seal({"v": SECRET}, CTX)
    assert sealed.startswith("wfe-sealed:v2:")
    assert SECRET not in sealed and "s3cr3t" not in sealed
    assert s.seal(SECRET, CTX) != s.seal(SECRET, CTX)  # a fresh nonce each time
    assert Sealer.load_or_create(key_file).unseal(sealed, CTX) == {"v": SECRET}
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    for bad in (flipped, "wfe-sealed:v1:", "wfe-sealed:v1:!!", "wfe-sealed:v2:AAAA",
                "wfe-sealed:v9:AAAA", "plain", 3):
        with pytest.raises(ValueError):
            s.unseal(bad, CTX)
    with pytest.raises(ValueError):
        Sealer(b"another key").unseal(sealed, CTX)


def test_a_sealed_value_opens_only_where_it_was_sealed(tmp_path):
    """Associated data binds a value to its run and variable: copied elsewhere, it fails."""
    s = Sealer.load_or_create(tmp_path / "k")
    sealed = s.seal(SECRET, CTX)
    for elsewhere in (input_context(OTHER_RUN, "token"), input_context(RUN, "password")):
        with pytest.raises(ValueError, match="does not verify"):
            s.unseal(sealed, elsewhere)
    variables = {"token": Variable(secret=True)}
    stored = seal_inputs(variables, {"token": SECRET}, s, RUN)
    assert open_inputs(stored, s, RUN, {"token"})[0] == {"token": SECRET}
    with pytest.raises(SecretUnavailable):  # swapped into another run
        open_inputs(stored, s, OTHER_RUN, {"token"})
    with pytest.raises(SecretUnavailable):  # swapped into another variable
        open_inputs({"password": stored["token"]}, s, RUN, {"password"})


def test_values_sealed_by_the_v1_format_still_open():
    """Sealed with the key bytes(range(32)) by the HMAC counter-mode code of 0.1, before
    AES-GCM: runs waiting across an upgrade keep their secrets."""
    s = Sealer(bytes(range(32)))
    v1 = ("wfe-sealed:v1:uNbvXh4LcyRboGk5DBX7uGharXKdWWo8y22SGmhNSn-udaHT4xu1GWsHISOvWNiYCfka5"
          "AuwJkVdVIOlG09OirPtfi8OibggIOPgQ7S8wDE3nBMY")
    assert s.unseal(v1, CTX) == {"token": "hunter2-s3cr3t", "n": [1, 2]}
    single = ("wfe-sealed:v1:2eIyJlMWtW0oSrZBWotDW_Y-OYtATA05NBOKlO9js10_HAGOxzUSNFOQgQ3C7GUa"
              "SChSdfsg-9URk1D2ZMhcIQ")
    plain, masker = open_inputs({"token": single}, s, RUN, {"token"})
    assert plain == {"token": "hunter2-s3cr3t"} and masker.text("hunter2-s3cr3t") == MASK
    with pytest.raises(ValueError, match="does not verify"):
        Sealer(bytes(32)).unseal(v1, CTX)


def test_run_inputs_sealed_opened_and_hidden(tmp_path):
    s = Sealer.load_or_create(tmp_path / "k")
    variables = {"token": Variable(secret=True), "who": Variable()}
    stored = seal_inputs(variables, {"token": SECRET, "who": "ada"}, s, RUN)
    assert stored["who"] == "ada" and SECRET not in json.dumps(stored)
    assert hide_sealed(stored) == {"token": MASK, "who": "ada"}
    plain, masker = open_inputs(stored, s, RUN)
    assert plain == {"token": SECRET, "who": "ada"}
    assert masker.text(f"x {SECRET}") == f"x {MASK}" and masker.text("ada") == "ada"
    # Text that merely looks sealed is kept as given, and masks nothing.
    plain, masker = open_inputs({"who": "wfe-sealed:v1:AAAA"}, s, RUN)
    assert plain == {"who": "wfe-sealed:v1:AAAA"} and not masker


async def test_large_secrets_are_sealed_off_the_loop(tmp_path):
    s = Sealer.load_or_create(tmp_path / "k")
    variables = {"blob": Variable(secret=True)}
    big = "x" * (OFF_LOOP_BYTES + 1)
    loop_thread = threading.get_ident()
    seen = []
    real = s.seal

    def seal(value, context):
        seen.append(threading.get_ident())
        return real(value, context)

    s.seal = seal
    stored = await seal_inputs_async(variables, {"blob": big}, s, RUN)
    await seal_inputs_async(variables, {"blob": "small"}, s, RUN)
    assert seen[0] != loop_thread and seen[1] == loop_thread
    assert open_inputs(stored, s, RUN, {"blob"})[0] == {"blob": big}


async def test_mask_outcome_masks_fields_and_log(tmp_path):
    log = tmp_path / "a.log"
    log.write_text(f"echo {SECRET}\n")
    outcome = {"status": "failed", "output": {"k": SECRET}, "error": f"bad {SECRET}",
               "log_tail": SECRET, "exit_code": 1, "log_path": str(log)}
    got = await mask_outcome(Masker([SECRET]), outcome)
    assert got == {**outcome, "output": {"k": MASK}, "error": f"bad {MASK}", "log_tail": MASK}
    assert log.read_text() == f"echo {MASK}\n"
    assert outcome["error"] == f"bad {SECRET}"  # the caller's dict is left alone
    assert await mask_outcome(Masker([]), outcome) is outcome


def test_a_secret_that_does_not_open_is_refused_not_passed_on(tmp_path):
    s = Sealer.load_or_create(tmp_path / "k")
    stored = seal_inputs({"token": Variable(secret=True)}, {"token": SECRET}, s, RUN)
    other = Sealer.load_or_create(tmp_path / "another")  # as if secret.key were replaced
    with pytest.raises(SecretUnavailable) as err:
        open_inputs(stored, other, RUN, {"token"})
    assert err.value.name == "token"
    with pytest.raises(SecretUnavailable):
        open_inputs(stored, None, RUN, {"token"})
    # The same text under a variable that is not secret is the user's own text.
    plain, _ = open_inputs(stored, other, RUN, {"who"})
    assert plain == stored
