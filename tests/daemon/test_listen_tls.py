"""A daemon reachable over a network: `listen`, refused off loopback without TLS or
`insecure_http`; HTTPS with a certificate of its own, which clients verify; and the Host
names `allowed_hosts` adds to the loopback ones."""

from __future__ import annotations

import dataclasses
import datetime
import http.client
import ipaddress
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli.conftest import LEAKY, wfe_process
from tests.conftest import wait_until
from tests.support import api_client
from wfe import errors
from wfe.client import Client
from wfe.config import Settings, paths
from wfe.config_net import server_tls
from wfe.errors import InvalidSettings

V = "/api/v1"


def make_cert(where: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    sans = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    where.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = where / "cert.pem", where / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_file, key_file


def daemon_process(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in LEAKY}
    return subprocess.run([sys.executable, "-m", "wfe.daemon", "--port", "0", *args],
                          env=full | {"WFE_HOME": str(home)} | env, capture_output=True,
                          text=True, timeout=60, check=False)


# ---- settings ---------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.7", "wfe.example"])
def test_a_non_loopback_address_needs_tls_or_insecure_http(home, address):
    with pytest.raises(InvalidSettings, match="set tls_cert and tls_key to serve HTTPS, or"
                                              " insecure_http = true"):
        Settings.load(paths(), env={"WFE_LISTEN": address})
    s = Settings.load(paths(), env={"WFE_LISTEN": address, "WFE_INSECURE_HTTP": "true"})
    assert s.listen == address


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
def test_loopback_addresses_need_nothing(home, address):
    assert Settings.load(paths(), env={"WFE_LISTEN": address}).listen == address


def test_the_old_name_host_is_read_as_listen(home):
    p = paths()
    p.config_dir.mkdir(parents=True)
    p.config_file.write_text('host = "127.0.0.2"\n')
    assert Settings.load(p, env={}).listen == "127.0.0.2"
    assert Settings.load(p, env={"WFE_LISTEN": "127.0.0.3"}).listen == "127.0.0.3"
    p.config_file.write_text('host = "127.0.0.2"\nlisten = "127.0.0.4"\n')
    assert Settings.load(p, env={}).listen == "127.0.0.4"


def test_tls_files_go_in_pairs_and_are_read_from_the_config_dir(home):
    p = paths()
    with pytest.raises(InvalidSettings, match="tls_cert and tls_key go together"):
        Settings.load(p, env={"WFE_TLS_CERT": "cert.pem"})
    s = Settings.load(p, env={"WFE_TLS_CERT": "cert.pem", "WFE_TLS_KEY": "/k/key.pem"})
    assert (s.tls_cert, s.tls_key) == (str(p.config_dir / "cert.pem"), "/k/key.pem")


def test_allowed_hosts_from_the_environment_and_config(home):
    p = paths()
    p.config_dir.mkdir(parents=True)
    p.config_file.write_text('allowed_hosts = ["wfe.example", "10.0.0.5:8443"]\n')
    assert Settings.load(p, env={}).allowed_hosts == ("wfe.example", "10.0.0.5:8443")
    got = Settings.load(p, env={"WFE_ALLOWED_HOSTS": "A.example, [fd00::5]"}).allowed_hosts
    assert got == ("a.example", "[fd00::5]")
    for bad in ("https://wfe.example", "wfe.example:0", "a b", "wfe.example:x"):
        with pytest.raises(InvalidSettings, match="allowed_hosts: not a host name"):
            Settings.load(p, env={"WFE_ALLOWED_HOSTS": bad})


def test_tls_files_that_cannot_be_used_are_one_clear_error(home, tmp_path):
    cert, key = make_cert(tmp_path / "tls")
    base = Settings(tls_cert=str(cert), tls_key=str(key))
    ctx = server_tls(base)
    assert ctx is not None and ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    other_cert, _ = make_cert(tmp_path / "other")
    cases = [(dataclasses.replace(base, tls_key=str(tmp_path / "nope.pem")),
              "tls_key: cannot read .*nope.pem: No such file"),
             (dataclasses.replace(base, tls_cert=str(other_cert)), "not a PEM certificate and"
                                                                    " its private key")]
    for settings, message in cases:
        with pytest.raises(InvalidSettings, match=message):
            server_tls(settings)
    key.chmod(0o644)
    with pytest.raises(InvalidSettings, match=r"tls_key: .* is readable by every user"):
        server_tls(base)


# ---- the daemon refuses, or starts ------------------------------------------------------

def test_the_daemon_refuses_a_non_loopback_address_without_tls(tmp_path):
    home = tmp_path / "home"
    d = daemon_process(home, {}, "--listen", "0.0.0.0")
    assert d.returncode == 78, d.stderr
    assert d.stderr == ("wfe: listen = '0.0.0.0' is not a loopback address: set tls_cert and"
                        " tls_key to serve HTTPS, or insecure_http = true to serve plain HTTP"
                        " to the network\n")
    assert not (home / "daemon.json").exists()
    # The CLI says the same before launching anything: one line, exit 2.
    r = wfe_process({"WFE_HOME": str(home), "WFE_LISTEN": "0.0.0.0"}, "daemon", "start")
    assert r.returncode == errors.EXIT_USAGE and r.stderr.count("\n") == 1, r.stderr
    assert "insecure_http = true" in r.stderr


def test_a_missing_certificate_stops_the_daemon_with_one_line(tmp_path):
    d = daemon_process(tmp_path / "home", {"WFE_TLS_CERT": str(tmp_path / "cert.pem"),
                                           "WFE_TLS_KEY": str(tmp_path / "key.pem")})
    assert d.returncode == 78 and "Traceback" not in d.stderr
    assert d.stderr == f"wfe: tls_cert: cannot read {tmp_path / 'cert.pem'}: No such file or" \
                       " directory\n"


def request(port: int, host: str, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"{V}/me", headers={"Host": host,
                                                 "Authorization": f"Bearer {token}"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_insecure_http_serves_plain_http_on_every_address(daemon_factory):
    d = daemon_factory(WFE_LISTEN="0.0.0.0", WFE_INSECURE_HTTP="1",
                       WFE_ALLOWED_HOSTS="wfe.example").start()
    try:
        port = d.info["port"]
        # A wildcard is reached on loopback from this machine: that is what daemon.json says.
        assert d.url == f"http://127.0.0.1:{port}"
        assert d.client().me()["role"] == "admin"
        assert request(port, "wfe.example", d.token) == 200
        assert request(port, f"wfe.example:{port}", d.token) == 200
        assert request(port, f"evil.example:{port}", d.token) == 403
        assert request(port, f"0.0.0.0:{port}", d.token) == 403
    finally:
        assert d.stop() == 0
    assert "tokens and run data cross the network in clear text" in d.log()


# ---- HTTPS end to end -------------------------------------------------------------------

@pytest.fixture
def tls_daemon(daemon_factory, tmp_path):
    cert, key = make_cert(tmp_path / "tls")
    d = daemon_factory(WFE_LISTEN="0.0.0.0", WFE_TLS_CERT=str(cert), WFE_TLS_KEY=str(key))
    d.start()
    yield d, cert
    assert d.stop() == 0


def test_https_end_to_end(tls_daemon, tmp_path, monkeypatch):
    d, cert = tls_daemon
    port = d.info["port"]
    assert d.url == f"https://127.0.0.1:{port}" and d.info["tls_cert"] == str(cert)
    monkeypatch.setenv("WFE_HOME", str(tmp_path / "elsewhere"))  # no daemon.json to trust
    monkeypatch.setenv("WFE_CA_CERT", str(cert))
    c = Client(d.url, d.token)
    assert c.me()["role"] == "admin"
    c.publish_template(c.create_template(
        {"name": "tls", "steps": [{"name": "hi", "run": "echo over-tls"}]})["id"])
    run = c.start_run("tls")
    wait_until(lambda: c.get_run(run["id"])["status"] == "completed", message="the run")
    stream = c.run_events_stream(run["id"])  # SSE over TLS too
    try:
        kinds = {e.json().get("type") for e in stream if e.data}
    finally:
        stream.close()
    assert "run.completed" in kinds, kinds
    # A CLI elsewhere, told the URL and the certificate.
    r = wfe_process({"WFE_HOME": str(tmp_path / "elsewhere"), "WFE_URL": d.url,
                     "WFE_TOKEN": d.token, "WFE_CA_CERT": str(cert)}, "ls")
    assert r.returncode == 0 and "tls" in r.stdout, r.stderr


def test_the_local_cli_trusts_its_own_daemons_certificate(tls_daemon):
    d, _ = tls_daemon
    r = wfe_process({"WFE_HOME": str(d.home)}, "whoami")
    assert r.returncode == 0, r.stderr
    r = wfe_process({"WFE_HOME": str(d.home)}, "daemon", "status", "--json")
    assert r.returncode == 0 and d.url in r.stdout, r.stderr


def test_plain_http_and_untrusted_clients_fail(tls_daemon, tmp_path, monkeypatch):
    d, _ = tls_daemon
    port = d.info["port"]
    monkeypatch.setenv("WFE_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("WFE_CA_CERT", raising=False)
    with pytest.raises(errors.DaemonUnreachable, match="use an https:// URL"):
        Client(f"http://127.0.0.1:{port}", d.token).me()
    with pytest.raises(errors.DaemonUnreachable, match=r"certificate is not trusted .*WFE_CA_CERT"):
        Client(d.url, d.token).me()
    other, _ = make_cert(tmp_path / "other")
    monkeypatch.setenv("WFE_CA_CERT", str(other))
    with pytest.raises(errors.DaemonUnreachable, match="certificate is not trusted"):
        Client(d.url, d.token).me()
    r = wfe_process({"WFE_HOME": str(tmp_path / "elsewhere"), "WFE_URL": d.url,
                     "WFE_TOKEN": d.token}, "ls")
    assert r.returncode == errors.EXIT_UNREACHABLE and "not trusted" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1


# ---- Host names -------------------------------------------------------------------------

async def test_allowed_hosts_extend_the_host_check(settings):
    allowed = dataclasses.replace(settings, allowed_hosts=("wfe.example", "api.example:8443",
                                                           "fd00::5"))
    async with api_client(allowed) as api:
        port = api.client.port
        for host, want in [("wfe.example", 200), (f"WFE.example:{port}", 200),
                           ("wfe.example:443", 200), ("api.example:8443", 200),
                           ("[fd00::5]:443", 200), (f"127.0.0.1:{port}", 200),
                           ("api.example", 403), ("api.example:443", 403),
                           ("evil.example", 403), ("wfe.example.evil.example", 403),
                           ("127.0.0.1", 403), (f"localhost:{port + 1}", 403)]:
            resp = await api.client.get(f"{V}/me", headers={**api.headers(), "Host": host})
            assert resp.status == want, host
            if want == 403:
                body = await resp.json()
                assert body["error"]["code"] == "forbidden", host


async def test_a_non_loopback_listen_address_is_an_allowed_host(settings):
    bound = dataclasses.replace(settings, listen="192.0.2.7", insecure_http=True)
    async with api_client(bound) as api:
        for host, want in [("192.0.2.7:7390", 200), ("192.0.2.7", 200), ("192.0.2.8", 403)]:
            resp = await api.client.get(f"{V}/me", headers={**api.headers(), "Host": host})
            assert resp.status == want, host
