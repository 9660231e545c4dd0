"""TLS contexts for mutual TLS between the gateway and the servers.

:func:`server_context` is how a process listens (``auth.tls`` on a server, ``auth.gateway_tls`` on the
gateway): TLS 1.2 or newer, its certificate chain, and, with ``client_cert_required``, a handshake that
refuses every client without a certificate signed by ``ca_file``. :func:`client_context` is how the
gateway dials ``https://`` servers (``auth.upstream_tls``): it verifies the server against ``ca_file``
(host name included) and presents its own certificate.

The files are read when the context is built, before anything listens or connects. Whatever is wrong
with them (not PEM, an encrypted key without its password, the wrong password, a key that does not
belong to the certificate, an expired certificate) is a :class:`TlsSetupError` naming the setting and
the file, never OpenSSL's "PEM lib"; an encrypted key never prompts for a password on the terminal.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import SecretStr

from mesh.config import ConfigError
from mesh.security.settings import TlsClientSettings, TlsListenerSettings

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2

# Python's asyncio server drops a refused handshake without sending the TLS alert, and in TLS 1.3 the
# client's handshake is over before the server judges its certificate: the client only sees the
# connection close unanswered. Clients of https:// upstreams add this to such an error.
CLIENT_CERTIFICATE_REFUSED_HINT = (
    "the server closed the TLS connection without answering, which is how a server requiring client "
    "certificates refuses a client presenting none or one it does not trust: check auth.upstream_tls.cert_file "
    "and key_file on the gateway and auth.tls.ca_file on the server"
)


class TlsSetupError(ConfigError):
    """A TLS file cannot be used; the message names the setting, the file and what is wrong with it."""


def server_context(tls: TlsListenerSettings, *, setting: str = "auth.tls") -> ssl.SSLContext:
    """The context a listener wraps its connections in; :class:`TlsSetupError` if a file is unusable."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    load_certificate_chain(context, tls.cert_file, tls.key_file, tls.key_password, setting=setting)
    if tls.ca_file is not None:
        load_trusted_cas(context, tls.ca_file, setting=setting)
    if tls.client_cert_required:
        context.verify_mode = ssl.CERT_REQUIRED
    elif tls.ca_file is not None:
        context.verify_mode = ssl.CERT_OPTIONAL  # a certificate, if presented, must still verify
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(tls: TlsClientSettings, *, setting: str = "auth.upstream_tls") -> ssl.SSLContext:
    """The context the gateway dials servers with: verify them (and their host name), present its certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default
    context.minimum_version = MINIMUM_VERSION
    if tls.ca_file is not None:
        load_trusted_cas(context, tls.ca_file, setting=setting)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if tls.cert_file is not None and tls.key_file is not None:
        load_certificate_chain(context, tls.cert_file, tls.key_file, tls.key_password, setting=setting)
    return context


def load_trusted_cas(context: ssl.SSLContext, ca_file: Path, *, setting: str) -> None:
    """Trust the CA certificates in ``ca_file``."""
    _read_certificates(ca_file, f"{setting}.ca_file")
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError(f"{setting}.ca_file: {ca_file} cannot be used as a CA bundle: {exc}") from None


def load_certificate_chain(
    context: ssl.SSLContext, cert_file: Path, key_file: Path, password: SecretStr | None, *, setting: str
) -> None:
    """Present ``cert_file`` with ``key_file``; every problem is explained before OpenSSL sees the files."""
    certificates = _read_certificates(cert_file, f"{setting}.cert_file")
    leaf = certificates[0]
    expires = leaf.not_valid_after_utc
    if expires <= datetime.datetime.now(datetime.UTC):
        raise TlsSetupError(f"{setting}.cert_file: the certificate in {cert_file} expired on {expires:%Y-%m-%d}")
    key = _read_private_key(key_file, password, f"{setting}.key_file", f"{setting}.key_password")
    if _public_bytes(key) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise TlsSetupError(
            f"{setting}.key_file: the key in {key_file} does not belong to the certificate in {cert_file} "
            f"(subject {leaf.subject.rfc4514_string()}); pair each certificate with its own key"
        )
    secret = password.get_secret_value().encode() if password is not None else b""
    try:
        # A callable password: OpenSSL never falls back to prompting on the terminal.
        context.load_cert_chain(str(cert_file), str(key_file), password=lambda: secret)
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError(f"{setting}: {cert_file} with {key_file} cannot be loaded: {exc}") from None


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsSetupError(f"{setting}: {path} cannot be read: {exc.strerror}") from None


def _read_certificates(path: Path, setting: str) -> list[x509.Certificate]:
    data = _read(path, setting)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise TlsSetupError(
            f"{setting}: {path} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block; "
            f"convert DER with `openssl x509 -inform der -in FILE -out FILE.pem`)"
        )
    return certificates


def _read_private_key(path: Path, password: SecretStr | None, setting: str, password_setting: str) -> PrivateKeyTypes:
    data = _read(path, setting)
    if b"PRIVATE KEY-----" not in data:
        raise TlsSetupError(
            f"{setting}: {path} holds no PEM private key (expected a -----BEGIN ... PRIVATE KEY----- block)"
        )
    secret = password.get_secret_value().encode() if password is not None else None
    try:
        return serialization.load_pem_private_key(data, password=secret)
    except TypeError:
        if secret is None:
            raise TlsSetupError(f"{setting}: the key in {path} is encrypted; set {password_setting}") from None
        # A password for a key that is not encrypted: harmless, the key loads without it.
        return serialization.load_pem_private_key(data, password=None)
    except ValueError:
        if secret is not None and b"ENCRYPTED" in data:
            raise TlsSetupError(f"{password_setting}: wrong password for the key in {path}") from None
        raise TlsSetupError(f"{setting}: the private key in {path} cannot be parsed (damaged or unsupported)") from None


def _public_bytes(key: PrivateKeyTypes) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
