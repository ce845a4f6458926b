"""OCI request signatures (draft-cavage-http-signatures, RSA-SHA256), verified like the service does.

The emulator owns one key pair (kept in its state folder so that a restart keeps written configs valid) and
trusts any extra public keys dropped into ``<state>/keys/*.pem``. A missing, malformed or wrong signature,
or a body that does not match ``x-content-sha256``, is a 401 NotAuthenticated.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TENANCY = "ocid1.tenancy.oc1..aaaaaaaamdremulator"
USER = "ocid1.user.oc1..aaaaaaaamdremulator"
_PAIR_RE = re.compile(r'(\w+)="([^"]*)"')


class SignatureError(Exception):
    pass


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

    def verify(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        """Raise SignatureError unless the request is signed by a trusted key; ``headers`` lower-cased."""
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Signature "):
            raise SignatureError("the request is not signed")
        fields = dict(_PAIR_RE.findall(authorization))
        for required in ("keyId", "signature", "headers"):
            if required not in fields:
                raise SignatureError(f"the signature has no {required}")
        if fields.get("algorithm", "rsa-sha256") != "rsa-sha256":
            raise SignatureError("only rsa-sha256 signatures are supported")
        fingerprint = fields["keyId"].rsplit("/", 1)[-1]
        key = self.trusted.get(fingerprint)
        if key is None:
            raise SignatureError(f"unknown key {fields['keyId']}")
        lines = []
        for name in fields["headers"].split():
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
        claimed = headers.get("x-content-sha256")
        if claimed is not None and "x-content-sha256" in fields["headers"].split():
            actual = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if claimed != actual:
                raise SignatureError("x-content-sha256 does not match the body")
