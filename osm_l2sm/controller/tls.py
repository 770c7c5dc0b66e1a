"""The project CA and the certificates of the OpenFlow channel: the controller's, and one per switch whose common
name is its node name (the controller binds the switch's datapath id to that name).

Keys are written 0600 and never leave the directory they are made in.
"""
from __future__ import annotations

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from osm_l2sm.errors import L2smError
from osm_l2sm.files import write_atomic

CA_NAME = "osm-l2sm switch CA"
CONTROLLER_NAME = "osm-l2sm controller"
VALID_DAYS = 3650  # the CA and its certificates live as long as the installation; rotate by issuing anew


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate a little clock skew between nodes
            .not_valid_after(now + datetime.timedelta(days=days)))


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ensure_ca(cert_path: str, key_path: str, days: int = VALID_DAYS) -> None:
    """Make a self-signed CA at ``cert_path``/``key_path`` unless both exist already."""
    if os.path.exists(cert_path) and os.path.exists(key_path):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name(CA_NAME), _name(CA_NAME), key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    write_atomic(key_path, _key_pem(key), mode=0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _load_ca(cert_path: str, key_path: str):
    try:
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError) as err:
        raise L2smError(f"cannot read the CA ({cert_path}, {key_path}): {err}") from err
    return cert, key


def issue(ca_cert: str, ca_key: str, common_name: str, cert_path: str, key_path: str,
          days: int = VALID_DAYS) -> None:
    """A new key and a certificate for ``common_name`` signed by the CA, usable by either end of a TLS channel
    (a switch is the client, the controller the server)."""
    if not common_name:
        raise L2smError("a certificate needs a non-empty common name")
    issuer, signer = _load_ca(ca_cert, ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name(common_name), issuer.subject, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(signer, hashes.SHA256()))
    write_atomic(key_path, _key_pem(key), mode=0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def peer_common_name(peer_cert: dict | None) -> str | None:
    """The subject common name of a verified peer certificate as :meth:`ssl.SSLSocket.getpeercert` gives it."""
    for rdn in (peer_cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None
