"""OCI request signatures (draft-cavage-http-signatures, RSA-SHA256), verified like the service does.

The emulator owns one key pair (kept in its state folder so that a restart keeps written configs valid) and
trusts any extra public keys dropped into ``<state>/keys/*.pem``. ``Verifier.verify`` needs only the request
line and headers, so a request is refused before a byte of its body is read. It answers 401
NotAuthenticated (``SignatureError``) for: no signature, a malformed one, an unknown key, a signature that
does not match, one that does not cover ``(request-target)``, ``host`` and ``date`` (or ``x-date``), a JSON
body whose ``x-content-sha256``, ``content-length`` and ``content-type`` are not signed, and a signed date
more than ``CLOCK_SKEW_SECONDS`` away from the emulator's clock. Once the body is read, ``check_body`` refuses
a body that does not match a signed ``x-content-sha256``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TENANCY = "ocid1.tenancy.oc1..aaaaaaaamdremulator"
USER = "ocid1.user.oc1..aaaaaaaamdremulator"
#: OCI accepts a signed date up to five minutes away from its clock
CLOCK_SKEW_SECONDS = 300.0
#: what the SDK signs for a body it can hash (JSON); raw uploads (objects, artifacts) sign no body header
BODY_HEADERS = ("x-content-sha256", "content-length", "content-type")
_PAIR_RE = re.compile(r'(\w+)="([^"]*)"')


class SignatureError(Exception):
    pass


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out: what was signed, for the body check and replay detection."""

    signature: str
    signed_headers: tuple[str, ...]
    signed_at: float  # epoch seconds of the signed date

    @property
    def covers_body(self) -> bool:
        return "x-content-sha256" in self.signed_headers


@dataclass
class KeyPair:
    private_pem: bytes
    public_key: rsa.RSAPublicKey
    fingerprint: str

    @staticmethod
    def generate() -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return KeyPair.from_private_pem(pem)

    @staticmethod
    def from_private_pem(pem: bytes) -> KeyPair:
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        public = key.public_key()
        return KeyPair(pem, public, fingerprint_of(public))

    @staticmethod
    def load_or_create(directory: Path | None) -> KeyPair:
        if directory is None:
            return KeyPair.generate()
        path = directory / "emulator_key.pem"
        if path.exists():
            return KeyPair.from_private_pem(path.read_bytes())
        pair = KeyPair.generate()
        directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pair.private_pem)
        path.chmod(0o600)
        return pair

    @property
    def key_id(self) -> str:
        return f"{TENANCY}/{USER}/{self.fingerprint}"


def fingerprint_of(public: rsa.RSAPublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.md5(der).hexdigest()  # OCI key fingerprints are MD5 by definition
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


class Verifier:
    def __init__(self, trusted: dict[str, rsa.RSAPublicKey]) -> None:
        self.trusted = trusted  # fingerprint -> public key

    @staticmethod
    def for_state(own: KeyPair, directory: Path | None) -> Verifier:
        trusted = {own.fingerprint: own.public_key}
        if directory is not None and (directory / "keys").is_dir():
            for pem in sorted((directory / "keys").glob("*.pem")):
                key = serialization.load_pem_public_key(pem.read_bytes())
                if isinstance(key, rsa.RSAPublicKey):
                    trusted[fingerprint_of(key)] = key
        return Verifier(trusted)

    def verify(
        self, method: str, target: str, headers: dict[str, str], now: float, body_signed: bool = False
    ) -> Verified:
        """Check a request's signature on its request line and headers (``headers`` lower-cased).

        ``body_signed``: the request carries a JSON body, whose hash, length and type must be signed.
        """
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Signature "):
            raise SignatureError("the request is not signed")
        fields = dict(_PAIR_RE.findall(authorization))
        for required in ("keyId", "signature", "headers"):
            if required not in fields:
                raise SignatureError(f"the signature has no {required}")
        if fields.get("algorithm", "rsa-sha256") != "rsa-sha256":
            raise SignatureError("only rsa-sha256 signatures are supported")
        signed = tuple(fields["headers"].split())
        date_header = "x-date" if "x-date" in signed else "date"
        needed = ["(request-target)", "host", date_header, *(BODY_HEADERS if body_signed else ())]
        uncovered = [name for name in needed if name not in signed]
        if uncovered:
            raise SignatureError(f"the signature does not cover {', '.join(uncovered)}")
        fingerprint = fields["keyId"].rsplit("/", 1)[-1]
        key = self.trusted.get(fingerprint)
        if key is None:
            raise SignatureError(f"unknown key {fields['keyId']}")
        lines = []
        for name in signed:
            if name == "(request-target)":
                lines.append(f"(request-target): {method.lower()} {target}")
            elif name in headers:
                lines.append(f"{name}: {headers[name]}")
            else:
                raise SignatureError(f"signed header {name} is missing")
        try:
            key.verify(
                base64.b64decode(fields["signature"]),
                "\n".join(lines).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError) as exc:
            raise SignatureError("the signature does not match") from exc
        signed_at = _epoch(headers[date_header], date_header)
        if abs(now - signed_at) > CLOCK_SKEW_SECONDS:
            raise SignatureError(
                f"the signed {date_header} is {now - signed_at:+.0f}s away from the service's clock; "
                f"at most {CLOCK_SKEW_SECONDS:.0f}s of clock skew is allowed"
            )
        return Verified(fields["signature"], signed, signed_at)


def check_body(verified: Verified, headers: dict[str, str], sha256_b64: str) -> None:
    """Refuse a body that does not match the ``x-content-sha256`` the signature covers."""
    if verified.covers_body and headers.get("x-content-sha256") != sha256_b64:
        raise SignatureError("x-content-sha256 does not match the body")


def _epoch(value: str, name: str) -> float:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise SignatureError(f"the {name} header {value!r} is not an HTTP date") from exc
    if parsed.tzinfo is None:  # RFC 7231 dates are GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
