#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (run from anywhere). It rewrites the
seeds it makes and leaves other files there alone (reproducers of fixed findings, kept as seeds).

Seeds are small, valid or nearly valid inputs of each parser, so the fuzzer starts from the
format's shape. Binary seeds (runner frames, the CSV reader's option bytes) are easier to make
here than by hand. Every seed must pass the replay of `make test`: never add a crashing input."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


# ---- csv_reader: the file, then 7 option bytes read from the end (FuzzedDataProvider order):
# compute_sha256, max_row_bytes (2), buffer_size (2), encoding, delimiter.
def csv_options(delimiter=0, encoding=0, sha=1):
    # Integers are taken from the end, the last byte first.
    return bytes([sha, 0x00, 0x04, 0x00, 0x00, encoding, delimiter])


def csv_seeds():
    sample = os.path.join(ROOT, "examples", "autoscuola-rossi", "data")
    for i, name in enumerate(sorted(os.listdir(sample))):
        with open(os.path.join(sample, name), "rb") as f:
            head = b"".join(f.readlines()[:4])
        write("csv_reader", name, head + csv_options(delimiter=i % 5, encoding=i % 3))
    write("csv_reader", "quoted.csv",
          b'id,name,note\r\n1,"Rossi, Anna","riga uno\r\nriga due"\r\n2,"di ""Bianchi""",\r\n'
          + csv_options(delimiter=1))
    write("csv_reader", "bom_tab.csv",
          b"\xef\xbb\xbfid\tnome\n1\tLuc\xc3\xa0\n\n2\tZo\xc3\xab\n" + csv_options(delimiter=3))
    write("csv_reader", "cp1252.csv",
          b"id|nome|attivo\n1|Niccol\xf2|s\xec\n2|\x80uro|no\n" + csv_options(delimiter=4, encoding=1))
    write("csv_reader", "unterminated.csv",
          b'id;nota\n1;"aperta\n2;chiusa\n' + csv_options(delimiter=2, encoding=2))
    write("csv_reader", "invalid_utf8.csv",
          b"id,v\n1,\xff\xfe\xc0\xaf\n2,\xed\xa0\x80\n" + csv_options(delimiter=1))
    write("csv_reader", "long_row.csv",
          b"id,v\n1," + b"x" * 3000 + b"\n2,y\n" + csv_options(delimiter=1))


# ---- push_body: request bodies of POST /api/hub/ingest.
def push_seeds():
    write("push_body", "students.json",
          '{"data":[{"entity":"student","externalId":"S1","companyId":"c","firstName":"A",'
          '"age":17,"ratio":1.5,"active":false,"email":null,"sourceUpdatedAt":"2025-01-01"}],'
          '"companyId":"c","sourceSystem":"s","stream":"students","cursor":null}')
    write("push_body", "two_records.json",
          '{"companyId":"acme","sourceSystem":"gestionale","cursor":"42","data":['
          '{"entity":"case","externalId":"P1","status":"open","licenseCategory":"B"},'
          '{"entity":"payment","externalId":"\\u00e8\\ud83d\\ude00","amountCents":"100"}]}')
    write("push_body", "empty.json", '{"companyId":"c","sourceSystem":"s","data":[]}')
    write("push_body", "nested.json",
          '{"companyId":"c","sourceSystem":"s","data":[{"entity":"student","externalId":"1",'
          '"x":{"y":[1,2]}}]}')
    write("push_body", "duplicate.json", '{"companyId":"c","companyId":"d","sourceSystem":"s"}')


# ---- signature: secret, webhook-id, webhook-timestamp, webhook-signature lines, then the body.
def signature_seeds():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    write("signature", "valid_shape",
          f"{secret}\nmsg_2KWPBgLlAfxdpx2AI54pPJ85f4W\n1764000000\n"
          "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=\n{\"data\":[]}")
    write("signature", "two_signatures",
          f"{secret}\nid\n1764000100\nv1a,abc v1,AAAA v2,x\nbody\nwith lines")
    write("signature", "bare_base64", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nid\n999\nv1,\n")
    write("signature", "empty", "\n\n\n\n")


def base64_seeds():
    for name, text in [("empty", ""), ("one", "QQ=="), ("two", "QUI="), ("three", "QUJD"),
                       ("secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), ("bad_pad", "QR=="),
                       ("binary", "/+8AAQ==")]:
        write("base64", name, text)


def cidr_seeds():
    for name, text in [("v4", "10.0.0.0/8\n10.1.2.3"), ("v4_host", "192.168.1.17\n192.168.1.17"),
                       ("v4_odd", "172.16.5.4/12\n172.31.255.255"),
                       ("v6", "2001:db8::/32\n2001:db8::1"), ("v6_host", "::1\n::1"),
                       ("mapped", "::ffff:10.1.2.3/128\n10.1.2.3"), ("all", "0.0.0.0/0\n8.8.8.8"),
                       ("v6_all", "::/0\nfe80::1"), ("bad", "10.0.0.0/33\n10.0.0.1")]:
        write("cidr", name, text)


# ---- runner protocol frames: [u32 length LE][u8 type][body].
def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def s(v): v = v.encode() if isinstance(v, str) else v; return u32(len(v)) + v
def opt(v): return u8(0) if v is None else u8(1) + s(v)
def frame(kind, body=b""): return u32(len(body) + 1) + u8(kind) + body
def status(code=0, message=""): return u8(code) + s(message)


def record(entity, external_id, fields, updated=None, origin=None, operation=0):
    body = u8(operation) + opt(entity) + opt(external_id) + opt(updated) + opt(origin)
    body += u32(len(fields))
    for name, value in fields:
        body += opt(name) + opt(value)
    return body


HELLO = frame(1, u32(0x52474C52) + u16(1) + u16(0) + u32(64 << 20))
LOADED = frame(3, s("csv") + s("1.0.0") + s("Reglo") + s("CSV files") + u32(2) + s("student")
               + s("case") + s("{}") + s("/fuzz/libplugin.so") + u16(1) + u16(0) + u8(0))
OK = frame(2, status() + u32(0))
STREAMS = frame(4, u32(2) + s("student") + s("case"))
SOURCE = record("allievi", "1", [("nome", "Giulia"), ("note", None)], "2025-01-01T09:00:00Z",
                "allievi.csv:2")
CANONICAL = record("student", "1", [("firstName", "Giulia"), ("email", None)],
                   "2025-01-01T09:00:00Z", "allievi.csv:2")
PULL = (frame(6, CANONICAL) + frame(5, SOURCE + u8(1) + status()) + frame(7, s("c1") + u64(1))
        + frame(8, s("allievi.csv:3") + s("a warning")) + frame(9, u8(2) + s("a log line"))
        + frame(10) + frame(5, SOURCE + u8(0) + status(5, "unmappable")) + OK)
MAP = frame(6, CANONICAL) + OK


def protocol_seeds():
    write("protocol", "session", HELLO + LOADED + OK + OK + OK + STREAMS + PULL + MAP + OK)
    write("protocol", "error_result", frame(2, status(3, "cannot read data/allievi.csv") + u32(500)))
    write("protocol", "hub_requests", frame(64, s("/x/lib.so")) + frame(65, s('{"a":1}'))
          + frame(70, s("student") + opt("cursor") + u8(3)) + frame(71, SOURCE)
          + frame(73, status(2, "refused")) + frame(75, u8(1)) + frame(74))
    write("protocol", "split_frame", HELLO[:3])


def process_connector_seeds():
    # Replies in the order the harness asks: start (hello, load), create, authenticate, health
    # check, list streams, pull, map, destroy.
    write("process_connector", "session",
          HELLO + LOADED + OK + OK + OK + STREAMS + PULL + MAP + OK)
    write("process_connector", "logs_and_failures",
          HELLO + frame(9, u8(1) + s("loading")) + LOADED + frame(2, status(3, "bad config") + u32(0))
          + frame(2, status(4, "denied") + u32(1000)) + OK + frame(2, status(7, "down") + u32(0)))
    write("process_connector", "wrong_version", frame(1, u32(0x52474C52) + u16(2) + u16(0) + u32(0)))
    write("process_connector", "ends_early", HELLO + LOADED)


# ---- validation: entity, externalId, sourceUpdatedAt lines, then name=value lines.
def validation_seeds():
    write("validation", "student",
          "student\n1\n2025-01-01T09:00:00+01:00\nfirstName=Giulia\nlastName=Ferrari\n"
          "fiscalCode=FRRGLI06C54D643H\nbirthDate=2006-03-14\nemail=giulia.ferrari@outlook.it\n"
          "phone=+39 347 1234567\nnote=prima lezione\nemail2")
    write("validation", "case", "case\nP1\n\nstudentExternalId=1\nlicenseCategory=B\nstatus=open\n"
          "openedAt=2024-10-07")
    write("validation", "appointment",
          "appointment\nA1\n2025-02-10T19:07:29Z\nkind=lesson\nstartsAt=2025-02-10T09:00\n"
          "endsAt=2025-02-10T10:00:00.250-02:30\nstatus=completed")
    write("validation", "payment", "payment\n7\n2025-02-10\namountCents=12000\ncurrency=eur\n"
          "paidAt=2025-02-10T10:05:00Z\nstatus=paid")
    write("validation", "instructor", "instructor\n2\n\nlicenseCategories=B,BE,C\nactive=true\n"
          "fiscalCode=LCUNCL79D02D643O")
    write("validation", "bad", "lorry\n\n31/12/2025\n\xff=\xfe")


def config_seeds():
    with open(os.path.join(ROOT, "examples", "autoscuola-rossi", "hub.json"), "rb") as f:
        write("config", "autoscuola-rossi.json", f.read())
    write("config", "minimal.json",
          '{\n  // comments are allowed\n  "store": "sqlite:var/hub.db",\n  "plugins_dir": "../plugins",\n'
          '  "sources": [\n    {"id": "rossi", "company_id": "autoscuola-rossi", "source_system": "csv",'
          ' "connector": "csv", "options": {"delimiter": ";"}}\n  ]\n}')
    write("config", "ingest.json",
          '{"store": "postgres://hub:s3cret@db.example.com:6543/reglo", "plugins_dir": "p", "sources": [],'
          ' "ingest": {"listen": "[::]:9000", "tls_certificate_file": "tls/c.pem",'
          ' "tls_private_key_file": "tls/k.pem", "max_records": 50, "body_timeout_seconds": 2.5,'
          ' "rate_limit": {"requests_per_second": 0.5, "burst": 3}}}')
    write("config", "engine.json",
          '{"store": "sqlite:hub.db", "plugins_dir": "p", "engine": {"runner_memory_limit_mb": 256},'
          ' "sources": [{"id": "b", "company_id": "c", "source_system": "s", "connector": "csv",'
          ' "isolation": "process", "interval_seconds": 60, "enabled": false}]}')
    write("agent_config", "agent.json",
          '{"plugins_dir": "plugins",\n "hub": {"url": "https://hub:8471/", "api_key": "rgk_x",'
          ' "signing_secret": "whsec_x", "timeout_seconds": 5},\n'
          ' "spool": {"dir": "/var/spool/reglo", "max_bytes": 10000}, "batch_records": 200,\n'
          ' "interval_seconds": 3600, "backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.3,\n'
          ' "sources": [{"id": "a", "company_id": "c", "source_system": "s", "connector": "csv"}]}')
    write("agent_config", "no_hub.json", '{"plugins_dir": "p", "sources": []}')
    write("agent_config", "tls.json",
          '{"plugins_dir": "p", "sources": [], "hub": {"url": "http://x:1", "api_key": "k",'
          ' "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "ca_file": "ca.pem",'
          ' "tls_verify": false}}')


if __name__ == "__main__":
    csv_seeds()
    push_seeds()
    signature_seeds()
    base64_seeds()
    cidr_seeds()
    protocol_seeds()
    process_connector_seeds()
    validation_seeds()
    config_seeds()
