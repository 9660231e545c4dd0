"""JWT verification: what is accepted, and every forged, stale or confused token that is refused."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

from mesh.security.settings import JwtSettings
from mesh.security.tokens import TokenError, TokenVerifier, mint_token, roles_from_claim

pytestmark = pytest.mark.anyio

SECRET = "s" * 64  # long enough for HS512, which one test signs with
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "roles": ["reader"], "iat": now, "exp": now + 300, **extra}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_an_hs256_token_with_the_configured_secret_gives_the_subject_and_roles() -> None:
    verifier = TokenVerifier(JwtSettings(secret=SecretStr(SECRET)))
    principal = await verifier.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))
    assert (principal.subject, principal.roles, principal.method) == ("alice", ("reader",), "jwt")


async def test_a_minted_development_token_verifies_with_audience_and_issuer() -> None:
    settings = JwtSettings(secret=SecretStr(SECRET), audience="mcp-suite", issuer="https://issuer.example")
    token = mint_token(SECRET, subject="bob", roles=["admin"], audience="mcp-suite", issuer="https://issuer.example")
    principal = await TokenVerifier(settings).verify(token)
    assert principal.subject == "bob" and principal.roles == ("admin",)


async def test_an_rs256_token_verifies_with_the_public_key() -> None:
    verifier = TokenVerifier(JwtSettings(public_key=RSA_PUBLIC_PEM))
    principal = await verifier.verify(jwt.encode(claims(), RSA_KEY, algorithm="RS256"))
    assert principal.subject == "alice"


@pytest.mark.parametrize(
    ("token_claims", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "https://evil.example"}, "another issuer"),
    ],
)
async def test_stale_or_misaddressed_tokens_are_refused(token_claims: dict[str, Any], reason: str) -> None:
    settings = JwtSettings(secret=SecretStr(SECRET), audience="mcp-suite", issuer="https://issuer.example")
    base = claims(aud="mcp-suite", iss="https://issuer.example")
    token = jwt.encode({**base, **token_claims}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match=reason):
        await TokenVerifier(settings).verify(token)


async def test_a_token_without_exp_is_refused() -> None:
    token = jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="'exp'"):
        await TokenVerifier(JwtSettings(secret=SecretStr(SECRET))).verify(token)


async def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = jwt.encode(claims(), "x" * 40, algorithm="HS256")
    with pytest.raises(TokenError, match="signature"):
        await TokenVerifier(JwtSettings(secret=SecretStr(SECRET))).verify(token)


async def test_alg_none_is_refused_even_when_none_is_listed_nowhere() -> None:
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    with pytest.raises(TokenError, match="not accepted"):
        await TokenVerifier(JwtSettings(secret=SecretStr(SECRET))).verify(token)


async def test_alg_none_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="none"):
        JwtSettings(secret=SecretStr(SECRET), algorithms=("none",))


async def test_key_confusion_an_hs256_token_signed_with_the_rsa_public_key_is_refused() -> None:
    header = b64({"alg": "HS256", "typ": "JWT"})
    payload = b64(claims())
    import hashlib
    import hmac

    mac = hmac.new(RSA_PUBLIC_PEM.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(TokenError, match="no HMAC secret"):
        await TokenVerifier(JwtSettings(public_key=RSA_PUBLIC_PEM)).verify(forged)


async def test_an_es256_token_is_refused_when_the_configured_key_is_rsa() -> None:
    token = jwt.encode(claims(), EC_KEY, algorithm="ES256")
    with pytest.raises(TokenError, match="does not fit"):
        await TokenVerifier(JwtSettings(public_key=RSA_PUBLIC_PEM)).verify(token)


async def test_an_algorithm_outside_the_configured_list_is_refused() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    with pytest.raises(TokenError, match="not accepted"):
        await TokenVerifier(JwtSettings(secret=SecretStr(SECRET), algorithms=("HS256",))).verify(token)


async def test_garbage_is_not_a_token() -> None:
    for garbage in ("", "a.b.c", "eyJ.eyJ.", "not a token at all"):
        with pytest.raises(TokenError):
            await TokenVerifier(JwtSettings(secret=SecretStr(SECRET))).verify(garbage)


async def test_es256_keys_come_from_a_jwks_document_by_kid_and_are_cached() -> None:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    fetches = 0

    def jwks_double(request: httpx.Request) -> httpx.Response:
        nonlocal fetches
        fetches += 1
        return httpx.Response(200, json={"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(jwks_double)) as http:
        verifier = TokenVerifier(JwtSettings(jwks_url="https://idp.example/jwks"), http=http)
        token = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "k1"})
        assert (await verifier.verify(token)).subject == "alice"
        assert (await verifier.verify(token)).subject == "alice"
        unknown = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "k2"})
        with pytest.raises(TokenError, match="key id"):
            await verifier.verify(unknown)
    assert fetches == 1  # cached; an unknown kid does not refetch within 30 s


def test_roles_come_from_a_list_or_a_space_separated_string() -> None:
    assert roles_from_claim(["a", "b", 3]) == ("a", "b")
    assert roles_from_claim("a b,c") == ("a", "b", "c")
    assert roles_from_claim({"a": 1}) == ()


def test_a_short_hs256_secret_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtSettings(secret=SecretStr("short"))


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    decoded: list[str] = []
    real = jwt.decode

    def decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", decode)
    return decoded


async def test_a_token_that_verified_is_trusted_again_without_re_verifying_for_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded = counting_decodes(monkeypatch)
    clock = Clock()
    verifier = TokenVerifier(JwtSettings(secret=SecretStr(SECRET)), clock=clock)
    token = jwt.encode(claims(exp=int(clock.now) + 3600), SECRET, algorithm="HS256")
    first = await verifier.verify(token)
    clock.now += 59
    again = await verifier.verify(token)
    assert again == first and len(decoded) == 1
    clock.now += 2  # past the minute: checked in full again
    await verifier.verify(token)
    assert len(decoded) == 2


async def test_a_remembered_token_is_not_trusted_past_its_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = counting_decodes(monkeypatch)
    clock = Clock()
    verifier = TokenVerifier(JwtSettings(secret=SecretStr(SECRET)), clock=clock)
    token = jwt.encode(claims(exp=int(clock.now) + 10), SECRET, algorithm="HS256")
    await verifier.verify(token)
    clock.now += 11  # inside the minute, but past exp: the cache must not answer
    await verifier.verify(token)  # (the real clock is still before exp, so the full check passes)
    assert len(decoded) == 2


async def test_a_refused_token_is_not_remembered_and_is_refused_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = counting_decodes(monkeypatch)
    verifier = TokenVerifier(JwtSettings(secret=SecretStr(SECRET)))
    forged = jwt.encode(claims(), "another-secret-" + "x" * 30, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(TokenError, match="signature"):
            await verifier.verify(forged)
    assert len(decoded) == 2
