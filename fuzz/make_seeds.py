#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/TARGET/.

Every seed is built here from scratch: the inputs of the parsers' own unit tests (banners, port
and target specs, TLS flights, TCP packets) and one certificate assembled as DER by hand, so the
output is the same on every run and needs nothing but Python. Files named `crash-*` or `slow-*`
in seeds/ are inputs the fuzzer found (kept as regression seeds) and are never touched here.

    python3 fuzz/make_seeds.py
"""
import hashlib
import ipaddress
import pathlib
import struct

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"


def write(target, items):
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("seed-*"):
        old.unlink()
    for item in items:
        data = item.encode() if isinstance(item, str) else bytes(item)
        # Content-addressed names, like libFuzzer's own corpus files.
        (folder / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


# --- TCP/IP -------------------------------------------------------------------------------


def ones_sum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def tcp_packet(src, dst, sport, dport, seq, ack, flags, window, options=b"", payload=b""):
    src, dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    off = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0)
    tcp += options + payload
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(tcp), 6)
    csum = 0xFFFF - ones_sum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    if src.version == 4:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0)
        ip += src.packed + dst.packed
        ip = ip[:10] + struct.pack("!H", 0xFFFF - ones_sum(ip)) + ip[12:]
    else:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + src.packed + dst.packed
    return ip + tcp


def wire_tcp():
    mss = bytes([2, 4, 0x05, 0xB4])
    v4, v6 = ("198.18.0.1", "198.18.0.2"), ("2001:2::1", "2001:2::2")
    syn, rst, synack, ack = 0x02, 0x04, 0x12, 0x10
    seeds = [
        tcp_packet(*v4, 61000, 80, 0x01020304, 0, syn, 64240, mss),
        tcp_packet(*v4, 61001, 22, 7, 0, rst, 0),
        tcp_packet(*v6, 65535, 1, 42, 0, syn, 64240, mss),
        tcp_packet(*v6, 61000, 8080, 0xFFFFFFFF, 0, rst, 0),
        # Replies: SYN-ACK with the options Linux sends, RST-ACK, a bare ACK with data.
        tcp_packet(v4[1], v4[0], 80, 61000, 99, 0x01020305, synack, 65160,
                   mss + bytes([4, 2, 8, 10]) + bytes(8) + bytes([1, 3, 3, 7])),
        tcp_packet(v6[1], v6[0], 22, 61000, 0, 43, rst | ack, 0),
        tcp_packet(*v4, 61000, 80, 1, 1, ack, 502, b"", b"GET / HTTP/1.0\r\n\r\n"),
    ]
    # The TCP part alone: the target also wraps its input into IPv4 and IPv6 packets.
    seeds += [p[20:] for p in seeds[:2]] + [p[40:] for p in seeds[2:4]]
    return seeds


# --- DER certificate ------------------------------------------------------------------------


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + struct.pack("!H", n)
    return bytes([tag]) + length + content


def seq(*parts):
    return der(0x30, b"".join(parts))


def oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.insert(0, 0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(chunk)
    return der(0x06, out)


def name(cn, org=None):
    rdns = []
    if org:
        rdns.append(der(0x31, seq(oid("2.5.4.10"), der(0x0C, org.encode()))))
    rdns.append(der(0x31, seq(oid("2.5.4.3"), der(0x0C, cn.encode()))))
    return seq(*rdns)


def certificate(subject_cn, issuer_cn, sans):
    ecdsa_sha256 = seq(oid("1.2.840.10045.4.3.2"))
    spki = seq(
        seq(oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")),
        der(0x03, b"\0\x04" + bytes(range(1, 65))),
    )
    general_names = b"".join(
        der(0x87, ipaddress.ip_address(s[3:]).packed) if s.startswith("IP:") else der(0x82, s.encode())
        for s in sans
    )
    san_ext = seq(oid("2.5.29.17"), der(0x04, seq(general_names)))
    tbs = seq(
        der(0xA0, der(0x02, b"\x02")),
        der(0x02, b"\x01\x23\x45\x67"),
        ecdsa_sha256,
        name(issuer_cn, "tcprax tests"),
        seq(der(0x17, b"240101000000Z"), der(0x18, b"20991231235959Z")),
        name(subject_cn, "tcprax tests"),
        spki,
        der(0xA3, seq(san_ext)),
    )
    # Nobody checks the signature here: a fixed value of the right shape will do.
    signature = seq(der(0x02, b"\x01" * 32), der(0x02, b"\x02" * 32))
    return seq(tbs, ecdsa_sha256, der(0x03, b"\0" + signature))


CERT = certificate("tcprax.test", "tcprax.test", ["tcprax.test", "IP:198.18.0.2", "IP:2001:2::2"])
CERT_CA = certificate("host.tcprax.test", "Test CA", ["host.tcprax.test"])


def cert():
    # The raw-search test's bytes: issuer CN, subject CN (PrintableString), a BMPString CN, and a
    # truncated last occurrence.
    raw = bytes([0x30, 0x82, 0x01, 0x00, 0xA0, 0x03])
    raw += bytes([0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x07]) + b"Test CA"
    raw += bytes([0x31, 0x00, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x0B]) + b"tcprax.test"
    raw += bytes([0x06, 0x03, 0x55, 0x04, 0x03, 0x1E, 0x04, 0x00, ord("h"), 0x00, ord("i")])
    raw += bytes([0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x40, ord("x")])
    return [CERT, CERT_CA, CERT[: len(CERT) // 2], raw, b"not a certificate"]


# --- TLS ------------------------------------------------------------------------------------


def u24(n):
    return struct.pack("!I", n)[1:]


def flight(version, suite, extensions=b"", cert=None, done=True, split=None):
    """ServerHello (+ Certificate) (+ ServerHelloDone) in handshake records: one, or two with
    the handshake bytes cut at `split`."""
    hello = struct.pack("!H", version) + b"\xaa" * 32 + b"\0" + struct.pack("!H", suite) + b"\0"
    if extensions:
        hello += struct.pack("!H", len(extensions)) + extensions
    hs = b"\x02" + u24(len(hello)) + hello
    if cert is not None:
        hs += b"\x0b" + u24(len(cert) + 6) + u24(len(cert) + 3) + u24(len(cert)) + cert
    if done:
        hs += b"\x0e\0\0\0"
    pieces = [hs] if split is None else [hs[:split], hs[split:]]
    record = struct.pack("!H", min(version, 0x0303))
    return b"".join(b"\x16" + record + struct.pack("!H", len(p)) + p for p in pieces)


def tls_reply():
    tls13 = flight(0x0303, 0x1302, bytes([0x00, 0x2B, 0x00, 0x02, 0x03, 0x04]), done=False)
    return [
        flight(0x0301, 0xC014, cert=CERT),
        flight(0x0303, 0xC02F, bytes([0xFF, 0x01, 0x00, 0x01, 0x00]), cert=CERT_CA),
        flight(0x0300, 0x000A),
        # TLS 1.3: ChangeCipherSpec, then encrypted records.
        tls13 + bytes([0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x02, 0xAB, 0xCD]),
        flight(0x0302, 0x002F, cert=b"\x30" * 300, split=40),
        bytes([0x15, 0x03, 0x00, 0x00, 0x02, 0x02, 0x28]),
        b"HTTP/1.1 400 Bad Request\r\n",
        b"SSH-2.0-x",
        bytes([0x16, 0x03, 0x01, 0x00, 0x04, 0x0B, 0, 0, 0]),
    ]


# --- Banners --------------------------------------------------------------------------------


def patterns():
    return [
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
        b"SSH-2.0-dropbear_2022.83\r\n",
        b"SSH-2.0-libssh_0.10\r\n",
        b"220 (vsFTPd 3.0.3)\r\n",
        b"220 ProFTPD 1.3.8 Server ready\r\n",
        b"500 OOPS: vsftpd: refusing to run\r\n",
        b"220 mx.example ESMTP Exim 4.96 Mon, 01 Jan 2024\r\n",
        b"220 mx.example ESMTP Postfix (Debian/GNU)\r\n",
        b"+OK Dovecot (Debian) ready.\r\n",
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready.\r\n",
        b"HTTP/1.1 200 OK\r\nDate: x\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n"
        b"<html><TITLE>\n Welcome  to\tnginx! </title></html>",
        b"HTTP/1.1 404 Not Found\r\nserver: Apache/2.4.57 (Debian)\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nServer: lighttpd\r\n\r\n",
        b"8.0.36\x00\x01\x00\x00\x00abcdefgh\x00\xff\xf7",
        b"5.5.5-10.11.6-MariaDB-0+deb12u1\x00\x03\x00",
        b"RFB 003.008\n",
        b"ERROR\r\nERROR\r\nVERSION 1.6.18\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
        b"$3000\r\n# Server\r\nredis_version:7.0.15\r\n",
        b"\xff\xfd\x18\xff\xfd\x20",
        b"\x00\x01\x02 hello",
    ]


# --- Grammars -------------------------------------------------------------------------------

PORTS = ["22", "80-90", "22,80-90,443", "-", "1024-", "-100", " 22 , 80 - 81 ", "1,3,5-6,65535",
         "443,22,80-82,81,22", "65530-", "90-80", "1-2-3", "65536", "0", "22,,80", "T:80", "+80",
         "99999999999999999999"]

SPECS = ["198.18.0.2", "198.18.0.0/24", "198.18.0.1-20", "198.18.0.1-198.18.0.20",
         "198.18.0.250-198.18.1.2", "2001:db8::1-2001:db8::ff", "2001:db8::1-ff", "[2001:db8::2]",
         "2001:db8::/64", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "::/0", "0.0.0.0/0",
         "localhost", "localhost/30", "no-such-host.invalid", "198.18.0.300", "198.18.0.0/33",
         "198.18.0.0/-1", "198.18.0.1-256", "198.18.0.1-2001:db8::1", "a..b", "198.18.0.77/30"]

FILES = [
    ("198.18.0.0/24", "198.18.0.7", "", ""),
    ("", "", "# lab hosts\n\n198.18.0.1  # gateway\n198.18.0.4/31 198.18.0.9,198.18.0.10\n   \nlocalhost\n",
     "198.18.0.0/30 # infra\n"),
    ("198.18.0.0-3,198.18.0.8/30", "198.18.0.1,198.18.0.9", "2001:db8::/120", "2001:db8::10-2001:db8::20\n"),
    ("", "", "198.18.0.1\n# ok\n198.18.0.0/33\n", ""),
    ("198.18.0.0/28", "", "", "198.18.0.0/29\n198.18.0.8-15\n"),
]

# tcprax report: JSON lines as -oJ writes them, and nmap XML (tcprax's -oX, nmap's with ssl-cert).
REPORT_JSONL = "\n".join([
    '{"type":"plan","tcprax":"0.1.0","scan_type":"syn","targets":[{"spec":"example.test","resolved":"198.18.0.2","addresses":1}],"port_count":3,"ports":"22,80,443","concurrency":128,"rate":10000,"service_detection":true}',
    '{"type":"port","addr":"198.18.0.2","port":22,"state":"open","reason":"syn-ack","rtt_us":210,"ttl":64,"name":"example.test","service":{"class":"tcp-server-initiated","service":"ssh","product":"OpenSSH","version":"9.2p1","title":null,"response":"SSH-2.0-OpenSSH_9.2p1","tls":null}}',
    '{"type":"port","addr":"198.18.0.2","port":443,"state":"open","reason":"syn-ack","rtt_us":1500,"ttl":64,"service":{"class":"https","service":"http","product":"<b>nginx</b>","extrainfo":"<i>x</i>","version":"1.24.0","title":null,"response":"","tls":{"version":"TLSv1.3","cipher":null,"alpn":"h2","certificate":{"subject_cn":"example.test","sans":["example.test"],"issuer":"CN=example.test","not_before":"2025-01-01T00:00:00Z","not_after":"2026-01-01T00:00:00Z","self_signed":true,"sha256":"ab"}}}}',
    '{"type":"port","addr":"2001:db8::1","port":80,"state":"filtered","reason":"no-response","rtt_us":null,"ttl":null}',
    '{"type":"port","addr":"198.18.1.9","port":80,"state":"unreachable","reason":"send-failed","errno":13,"error":"Permission denied","rtt_us":null,"ttl":null}',
    '{"type":"summary","elapsed_s":1.5,"ports_scanned":4,"open":2,"closed":0,"filtered":1,"unreachable":1,"skipped":0,"probes_sent":6,"interrupted":false,"service_detection_s":0.25,"xdp":null}',
]) + "\n"

REPORT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -sV --script ssl-cert 198.18.0.2" start="1" version="7.93">
<scaninfo type="syn" protocol="tcp" numservices="3" services="22,80,443"/>
<host><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<hostnames><hostname name="t.example" type="user"/></hostnames>
<ports><extraports state="closed" count="1"><extrareasons reason="reset" count="1" proto="tcp"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1" method="probed" conf="10"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" tunnel="ssl" method="probed" conf="10"/>
<script id="ssl-cert" output="x"><table key="subject"><elem key="commonName">a.test</elem></table>
<table key="issuer"><elem key="commonName">a &amp; b</elem></table>
<table key="extensions"><table><elem key="name">X509v3 Subject Alternative Name</elem><elem key="value">DNS:a.test, IP Address:198.18.0.2</elem></table></table>
<table key="validity"><elem key="notAfter">2026-01-01T00:00:00</elem></table><elem key="sha1">ab</elem></script></port>
</ports></host>
<runstats><finished time="2" elapsed="1.00" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"""


MERGE_LINES = [
    '{"type":"plan","tcprax":"0.1.0","scan_type":"syn","targets":[{"spec":"example.test","resolved":"198.18.0.2","addresses":1},'
    '{"spec":"2001:db8::/64","resolved":null,"addresses":18446744073709551616}],"port_count":3,"ports":"22,80,443",'
    '"concurrency":128,"rate":10000,"service_detection":true,"exclude":["198.18.0.7"],"retries":2,"seed":7,'
    '"shard":{"index":2,"count":3},"include_broadcast":false}',
    '{"type":"plan","tcprax":"0.1.0","scan_type":"connect","targets":[],"port_count":1,"ports":"22","concurrency":1,'
    '"rate":null,"service_detection":false}',
    '{"type":"port","addr":"198.18.0.2","port":22,"state":"open","reason":"syn-ack","rtt_us":210,"ttl":64,'
    '"name":"example.test","service":{"class":"tcp-server-initiated","service":"ssh","product":"OpenSSH",'
    '"version":"9.2p1","title":null,"response":"SSH-2.0-OpenSSH_9.2p1\\r\\n","tls":null,"extrainfo":"protocol 2.0",'
    '"cpe":["cpe:/a:openbsd:openssh:9.2p1"],"matched_by":"builtin"}}',
    '{"type":"port","addr":"198.18.0.2","port":443,"state":"open","reason":"syn-ack","rtt_us":1500,"ttl":64,'
    '"service":{"class":"https","service":"http","product":"nginx","version":"1.24.0","title":"t","response":"",'
    '"tls":{"version":"TLSv1.3","cipher":"TLS13_AES_256_GCM_SHA384","alpn":"h2","certificate":{"subject_cn":"x",'
    '"sans":["x","y"],"issuer":"CN=x","not_before":"2025-01-01T00:00:00Z","not_after":null,"self_signed":true,'
    '"sha256":"ab"},"jarm":"j"},"favicon_mmh3":-5}}',
    '{"type":"port","addr":"198.18.5.15","port":22,"state":"unreachable","reason":"send-failed","errno":13,'
    '"error":"Permission denied","rtt_us":null,"ttl":null}',
    '{"type":"port","addr":"2001:db8::1","port":80,"state":"filtered","reason":"no-response","rtt_us":null,"ttl":null}',
    '{"type":"summary","elapsed_s":1.5,"ports_scanned":4,"open":2,"closed":1,"filtered":1,"unreachable":0,"skipped":0,'
    '"probes_sent":6,"interrupted":false,"service_detection_s":0.25,"xdp":{"seen":9,"matched":4,"passed":5,'
    '"ringbuf_full":0,"bad_cookie":0,"repeats":0}}',
    '{"type":"summary","elapsed_s":0,"ports_scanned":0,"open":0,"closed":0,"filtered":0,"probes_sent":0,'
    '"interrupted":true,"service_detection_s":null,"xdp":null}',
]


def main():
    write("wire_tcp", wire_tcp())
    write("tls_reply", tls_reply())
    write("cert", cert())
    write("patterns", patterns())
    write("ports", PORTS)
    write("target_spec", SPECS)
    write("target_files", ["\0".join(parts).rstrip("\0") for parts in FILES])
    write("merge_lines", MERGE_LINES)
    write("report", [REPORT_JSONL, REPORT_XML, REPORT_JSONL[:300], REPORT_XML[:500]])


if __name__ == "__main__":
    main()
