"""TLS for the trial connection, with a certificate made per experiment and pinned by trials.

When the cluster's own traffic is encrypted (a Dask scheduler at ``tls://``), the trial
connection is too. The driver makes a fresh self-signed certificate and key for each
experiment (:func:`new_identity`); the key never leaves the driver's memory, and the
certificate, which is public, travels to trial processes with their attempts. A trial
trusts that one certificate and nothing else (no CA store, no host names): a server that
cannot prove it holds the key does not get the attempt's ticket. The ticket, results and
decisions then cross the network encrypted.

This module imports :mod:`ssl` and ``cryptography``; it is imported only where TLS is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import socket
import ssl
import tempfile
import time

from tunesmith._imports import try_import

__all__ = ["WOULD_BLOCK", "HandshakeError", "Identity", "client_context", "connect", "new_identity", "server_context",
           "wrap_client"]

#: What a non-blocking TLS socket raises when it must wait for the other side.
WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

_VALID_FOR = datetime.timedelta(days=30)  # longer than any experiment; a resumed one makes a new identity
_HANDSHAKE_TRIES = 5


class HandshakeError(ConnectionError):
    """The TLS handshake with the driver failed: it showed another certificate, or kept closing."""


@dataclasses.dataclass(frozen=True)
class Identity:
    """The driver's TLS identity for one experiment: ``certificate`` is public, ``key`` is not."""

    certificate: str  # PEM
    key: bytes = dataclasses.field(repr=False)  # PEM, unencrypted; held by the driver only


def new_identity() -> Identity:
    """A fresh self-signed certificate (ECDSA P-256) and its key."""
    try_import("cryptography", extra="dask", needed_by="TLS on the trial connection")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tunesmith trial server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + _VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return Identity(certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem)


def server_context(identity: Identity) -> ssl.SSLContext:
    """The TrialServer's context: TLS 1.2 or later, and no session tickets.

    Without tickets a trial's reads never process a post-handshake message, so its main
    thread may read while its heartbeat thread writes (one reader, one writer).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.num_tickets = 0
    context.options |= ssl.OP_NO_TICKET
    # load_cert_chain reads files only: the key is on disk, readable by this user alone, for
    # the moment it takes to load it.
    folder = tempfile.mkdtemp(prefix="tunesmith-tls-")
    cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    try:
        for path, data in ((cert_path, identity.certificate.encode()), (key_path, identity.key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        context.load_cert_chain(cert_path, key_path)
    finally:
        for path in (cert_path, key_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        os.rmdir(folder)
    return context


def client_context(certificate: str) -> ssl.SSLContext:
    """A trial's context: it trusts exactly ``certificate`` (PEM) and checks no host name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # the driver's address may be any of its own; the pin is the check
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=certificate)
    return context


def wrap_client(sock: socket.socket, certificate: str) -> ssl.SSLSocket:
    """Handshake on a connected blocking ``sock``; the TLS socket, once the server showed ``certificate``.

    Raises:
        ssl.SSLCertVerificationError: The server showed another certificate.
        OSError: The handshake failed otherwise (``ssl.SSLError``, a reset, a timeout).
    """
    tls = client_context(certificate).wrap_socket(sock)
    if tls.getpeercert(binary_form=True) != ssl.PEM_cert_to_DER_cert(certificate):
        tls.close()
        raise ssl.SSLCertVerificationError("the trial server showed a certificate other than the experiment's")
    return tls


def connect(address: tuple[str, int], certificate: str, timeout: float) -> ssl.SSLSocket:
    """A trial's TLS connection to the driver at ``address``, which must show ``certificate``.

    A connection the server closes during the handshake is tried again, a few times: a
    server flooded with idle connections sheds the oldest that has sent nothing, which may
    be a trial's that has not yet sent its hello. No ticket is lost: nothing was sent.

    Raises:
        HandshakeError: The server showed another certificate, or the handshake failed
            every time.
        OSError: The driver cannot be reached.
    """
    for attempt in range(_HANDSHAKE_TRIES):
        sock = socket.create_connection(address, timeout=timeout)
        try:
            return wrap_client(sock, certificate)
        except (ConnectionError, ssl.SSLEOFError) as exc:  # closed by the server
            sock.close()
            if attempt == _HANDSHAKE_TRIES - 1:
                raise HandshakeError(f"{exc} ({_HANDSHAKE_TRIES} tries)") from exc
            time.sleep(0.05 * 2**attempt)
        except OSError as exc:  # another certificate, not TLS, a timeout: trying again would not help
            sock.close()
            raise HandshakeError(str(exc)) from exc
    raise AssertionError("unreachable")
