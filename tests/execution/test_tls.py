"""The TLS pieces of the trial connection: a certificate per experiment, pinned by trials."""

import socket
import threading

import pytest

pytest.importorskip("cryptography")

from tunesmith.execution import _tls  # noqa: E402


def test_an_identity_is_new_each_time_and_its_certificate_holds_no_key():
    first, second = _tls.new_identity(), _tls.new_identity()
    assert first.certificate != second.certificate
    assert "PRIVATE KEY" not in first.certificate and b"PRIVATE KEY" in first.key
    assert "PRIVATE" not in repr(first)


def _serve(identity, drop_first=0):
    """A TLS server of ``identity`` on 127.0.0.1 that closes its first ``drop_first`` connections
    at once (as a TrialServer sheds idle ones), then answers one handshake with b"ok"."""
    listener = socket.create_server(("127.0.0.1", 0))
    context = _tls.server_context(identity)

    def run():
        with listener:
            for _ in range(drop_first):
                listener.accept()[0].close()
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except OSError:
                pass  # the client refused the certificate

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname(), thread


def test_a_trial_connects_to_the_server_that_shows_the_experiments_certificate():
    identity = _tls.new_identity()
    address, thread = _serve(identity)
    with _tls.connect(address, identity.certificate, timeout=10) as sock:
        assert sock.recv(2) == b"ok" and sock.version() in ("TLSv1.2", "TLSv1.3")
    thread.join(10)


def test_a_trial_refuses_a_server_with_another_certificate():
    address, thread = _serve(_tls.new_identity())
    with pytest.raises(_tls.HandshakeError, match="certificate verify failed"):
        _tls.connect(address, _tls.new_identity().certificate, timeout=10)
    thread.join(10)


def test_a_handshake_the_server_closes_is_tried_again():
    identity = _tls.new_identity()
    address, thread = _serve(identity, drop_first=2)
    with _tls.connect(address, identity.certificate, timeout=10) as sock:
        assert sock.recv(2) == b"ok"
    thread.join(10)
