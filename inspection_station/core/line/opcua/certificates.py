"""The OPC UA server's application certificate and the trust list of client certificates.

Folder layout (`[line] opcua_pki_dir`, default `<data root>/opcua`):

    own/cert.der    the station's self-signed application certificate (made at first start)
    own/key.pem     its private key, 0600, written atomically (never readable by others)
    trusted/        client certificates (DER or PEM) an engineer copied here: only these may
                    connect with Sign / SignAndEncrypt
    rejected/       certificates of clients that tried and were refused (to review, then move)

Every file is read through core/regular_files.py (a FIFO or device is refused, never opened).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from inspection_station.core import paths
from inspection_station.core.atomic import atomic_write_bytes
from inspection_station.core.errors import StationError
from inspection_station.core.regular_files import read_bytes_limited

MAX_CERT_BYTES = 64 << 10
CERT_DAYS = 3650  # a station's life on the line; replace by deleting own/ (a new thumbprint)


@dataclass(frozen=True)
class ServerIdentity:
    cert_path: Path
    key_path: Path
    trusted: Path
    rejected: Path
    application_uri: str
    thumbprint: str  # SHA-1 of the DER certificate, hex, as OPC UA clients show it


def pki_dir(configured: str) -> Path:
    return Path(configured) if configured else paths.station_data_dir() / "opcua"  # machine-wide: the GUI and the service share it


def application_uri(station: str) -> str:
    return f"urn:inspection-station:{station}"


def thumbprint(der: bytes) -> str:
    return hashlib.sha1(der).hexdigest()  # noqa: S324 - the OPC UA thumbprint IS SHA-1 (Part 6)


def server_identity(folder: Path, station: str, host: str) -> ServerIdentity:
    """The station's certificate (made on first use) and the trust-list folders."""
    own, trusted, rejected = folder / "own", folder / "trusted", folder / "rejected"
    for d in (own, trusted, rejected):
        d.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = own / "cert.der", own / "key.pem"
    uri = application_uri(station)
    if not cert_path.exists() or not key_path.exists():
        _make_certificate(cert_path, key_path, station, uri, host)
    der = read_bytes_limited(cert_path, MAX_CERT_BYTES, "OPC UA certificate")
    read_bytes_limited(key_path, MAX_CERT_BYTES, "OPC UA private key")  # present, regular, readable
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise StationError(f"{cert_path}: not a DER certificate ({exc}); delete own/ to make a new one") from None
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    if uri not in names.get_values_for_type(x509.UniformResourceIdentifier):
        raise StationError(f"{cert_path}: made for another station (not {uri}); delete own/ to make a new one")
    return ServerIdentity(cert_path, key_path, trusted, rejected, uri, thumbprint(der))


def _make_certificate(cert_path: Path, key_path: Path, station: str, uri: str, host: str) -> None:
    from asyncua.crypto.cert_gen import generate_private_key, generate_self_signed_app_certificate

    key = generate_private_key()
    alt: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri), x509.DNSName(socket.gethostname())]
    for name in {host, "127.0.0.1", "localhost"}:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = generate_self_signed_app_certificate(
        key, f"inspection-station {station}", {"organizationName": "Inspection Station"}, alt,
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], days=CERT_DAYS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    atomic_write_bytes(key_path, pem, backup=False, mode=0o600)
    atomic_write_bytes(cert_path, cert.public_bytes(serialization.Encoding.DER), backup=False)


def certificate_summary(configured: str) -> str:
    """One line for the Line tab: the certificate's thumbprint and the trust-list folder."""
    folder = pki_dir(configured)
    cert = folder / "own" / "cert.der"
    try:
        der = read_bytes_limited(cert, MAX_CERT_BYTES, "OPC UA certificate")
    except StationError:
        return (f"OPC UA: no certificate yet (made at the server's first start in {folder / 'own'}); "
                f"client certificates to trust go to {folder / 'trusted'}")
    return (f"OPC UA certificate thumbprint (SHA-1): {thumbprint(der)} — client certificates to trust "
            f"go to {folder / 'trusted'}; refused ones are kept in {folder / 'rejected'}")


def trusted_certificates(folder: Path) -> list[x509.Certificate]:
    """The client certificates in the trust list (a file that is no certificate is skipped)."""
    out = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            data = read_bytes_limited(path, MAX_CERT_BYTES, "client certificate")
        except StationError:
            continue
        try:
            out.append(x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                       else x509.load_der_x509_certificate(data))
        except ValueError:
            continue
    return out


def valid_now(cert: x509.Certificate) -> bool:
    now = datetime.datetime.now(datetime.UTC)
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
