"""JWT bearer tokens: verification pinned per key type, and development tokens for ``mcp-suite token``.

The ``alg`` in a token's header selects the key, and each key accepts only its own family:

- an HMAC algorithm (HS256/384/512) is verified with ``auth.jwt.secret`` and nothing else, so an
  HS256 token "signed" with the RSA public key as secret (key confusion) finds no secret to match;
- RS*/PS* need an RSA key, ES* an EC key, EdDSA an Ed25519/Ed448 key, from ``public_key`` or the
  JWKS document at ``jwks_url`` (fetched with httpx, cached, refetched at most every 30 s for an
  unknown ``kid``);
- ``none`` is never accepted, nor any algorithm outside ``auth.jwt.algorithms``.

``exp`` and ``sub`` are required; ``exp``/``nbf`` are checked with ``leeway_seconds`` of skew;
``aud`` and ``iss`` are checked when configured (with no ``audience`` configured a token's ``aud`` is
not looked at: configure one whenever the issuer serves more than this gateway).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from mesh.security.principal import Principal
from mesh.security.settings import HS_ALGORITHMS, JwtSettings

_KEY_TYPES: dict[str, tuple[type[Any], ...]] = {
    "RS": (rsa.RSAPublicKey,),
    "PS": (rsa.RSAPublicKey,),
    "ES": (ec.EllipticCurvePublicKey,),
    "Ed": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}
_JWKS_MIN_REFETCH_SECONDS = 30.0
VERIFIED_CACHE_SECONDS = 60.0  # a verified token is trusted this long at most (and never past its exp)
VERIFIED_CACHE_SIZE = 4096


class TokenError(Exception):
    """The token is refused; the message says why without echoing the token."""


def _family(alg: str) -> str:
    return alg[:2]


class JwksCache:
    """Signing keys of a JWKS URL by ``kid``: refreshed after ``ttl``, or early (rate-limited) on an unknown kid."""

    def __init__(self, url: str, ttl: float, http: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.ttl = ttl
        self._http = http
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = anyio.Lock()

    async def key(self, kid: str | None) -> Any:
        now = time.monotonic()
        stale = now - self._fetched_at > self.ttl
        unknown = kid not in self._keys and now - self._fetched_at > _JWKS_MIN_REFETCH_SECONDS
        if stale or unknown:
            async with self._lock:
                if time.monotonic() - self._fetched_at > min(self.ttl, _JWKS_MIN_REFETCH_SECONDS) or stale:
                    await self._fetch()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        found = self._keys.get(kid or "")
        if found is None:
            raise TokenError("the token's key id is not in the JWKS document")
        return found

    async def _fetch(self) -> None:
        try:
            if self._http is not None:
                response = await self._http.get(self.url, timeout=5.0)
            else:
                async with httpx.AsyncClient(trust_env=False) as http:
                    response = await http.get(self.url, timeout=5.0)
            response.raise_for_status()
            keyset = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            self._fetched_at = time.monotonic()  # do not hammer a failing JWKS endpoint
            if not self._keys:
                raise TokenError(f"the JWKS document cannot be fetched ({type(exc).__name__})") from None
            return
        self._keys = {k.key_id or "": k.key for k in keyset.keys}
        self._fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies bearer JWTs against the configured keys; :meth:`verify` gives a :class:`Principal`."""

    def __init__(
        self, settings: JwtSettings, http: httpx.AsyncClient | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self._clock = clock
        # SHA-256 of a token that verified -> (its principal, until when to trust that without verifying
        # again). A client sends the same token on every call; checking its signature and claims each
        # time was a third of what security cost a gateway call.
        self._verified: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._secret = settings.secret.get_secret_value().encode() if settings.secret else None
        self._public_key: Any = None
        if settings.public_key:
            self._public_key = load_pem_public_key(settings.public_key.encode())
        self._jwks = JwksCache(settings.jwks_url, settings.jwks_cache_seconds, http) if settings.jwks_url else None
        self._allowed = frozenset(settings.algorithms)

    def __bool__(self) -> bool:
        return self.settings.configured

    async def _key_for(self, alg: str, kid: str | None) -> Any:
        if alg in HS_ALGORITHMS:
            if self._secret is None:
                raise TokenError(f"{alg} tokens are not accepted here (no HMAC secret is configured)")
            return self._secret
        accepted = _KEY_TYPES.get(_family(alg))
        if accepted is None:
            raise TokenError(f"algorithm {alg!r} is not accepted")
        key = self._public_key
        if key is None and self._jwks is not None:
            key = await self._jwks.key(kid)
        if key is None:
            raise TokenError(f"{alg} tokens are not accepted here (no public key or JWKS URL is configured)")
        if not isinstance(key, accepted):
            raise TokenError(f"the configured key does not fit algorithm {alg}")
        return key

    async def verify(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        cached = self._verified.get(digest)
        if cached is not None:
            principal, until = cached
            if now < until:
                return principal
            del self._verified[digest]
        principal = await self._verify(token)
        assert principal.expires_at is not None  # exp is a required claim
        self._verified[digest] = (principal, min(now + VERIFIED_CACHE_SECONDS, principal.expires_at))
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("the bearer token is not a well-formed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none" or alg not in self._allowed:
            raise TokenError(f"algorithm {alg!r} is not accepted; accepted: {', '.join(sorted(self._allowed))}")
        kid = header.get("kid")
        key = await self._key_for(alg, kid if isinstance(kid, str) else None)
        s = self.settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_seconds,
                options={"require": ["exp", "sub"], "verify_aud": s.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("the token is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise TokenError("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenError("the token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(f"the token lacks the required claim {exc.claim!r}") from None
        except jwt.InvalidSignatureError:
            raise TokenError("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"the token is invalid ({type(exc).__name__})") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenError("the token's 'sub' must be a non-empty string")
        return Principal(
            subject=subject,
            roles=roles_from_claim(claims.get(s.roles_claim)),
            method="jwt",
            issuer=claims.get("iss") if isinstance(claims.get("iss"), str) else None,
            expires_at=int(claims["exp"]),
            claims={k: v for k, v in claims.items() if k in ("iss", "aud", "iat", "jti", "azp", "client_id")},
        )


def roles_from_claim(value: Any) -> tuple[str, ...]:
    """A list of strings, or one space/comma-separated string; anything else is no roles."""
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", " ").split() if part)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str) and v)
    return ()


def mint_token(
    secret: str,
    *,
    subject: str,
    roles: Sequence[str],
    ttl_seconds: int = 3600,
    audience: str | None = None,
    issuer: str | None = None,
    roles_claim: str = "roles",
    now: float | None = None,
) -> str:
    """A development HS256 token for ``subject`` with ``roles``, valid for ``ttl_seconds``."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        roles_claim: list(roles),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
    }
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")
