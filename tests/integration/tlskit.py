"""tlskit: a throwaway PKI made with openssl for the TLS tests: CAs,
server and client certificates (an expired one through `openssl ca`), and
server-side ssl contexts."""

import ssl
import subprocess


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def self_signed(directory, name):
    """A self-signed EC P-256 certificate for 127.0.0.1, valid two days:
    (directory/name.crt, directory/name.key), the key mode 0600."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    res = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
         str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True,
        timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    key.chmod(0o600)
    return cert, key


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-subj", f"/CN=qiflow test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_cert(d, name, ca, san, start=None, end=None, usage="serverAuth"):
    """A certificate signed by ca, naming san, for usage (serverAuth or
    clientAuth); start/end as YYYYMMDDHHMMSSZ give it other dates (openssl
    ca, for an expired one)."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", "/CN=qiflow test server", cwd=d)
    (d / f"{name}.ext").write_text(
        f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
        f"extendedKeyUsage={usage}\n")
    if start is None:
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
                "-CAkey", f"{ca}.key", "-CAcreateserial", "-days", "1",
                "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=d)
        return
    (d / "db").mkdir(exist_ok=True)
    (d / "db" / "index.txt").write_text("")
    (d / "db" / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=test\n[test]\ndir=db\ndatabase=db/index.txt\n"
        "serial=db/serial\nnew_certs_dir=db\ndefault_md=sha256\n"
        "policy=any\nunique_subject=no\n[any]\ncommonName=supplied\n")
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", f"{ca}.pem",
            "-keyfile", f"{ca}.key", "-in", f"{name}.csr", "-out",
            f"{name}.pem", "-startdate", start, "-enddate", end,
            "-extfile", f"{name}.ext", "-notext", cwd=d)


def server_context(d, name, client_ca=None):
    """A server context presenting d/name.pem; with client_ca, a client
    certificate signed by d/client_ca.pem is required (mutual TLS)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / f"{name}.pem", d / f"{name}.key")
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(d / f"{client_ca}.pem")
    return ctx
