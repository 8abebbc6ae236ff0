//! The -sV fast path against real daemons in a target namespace, scanned with
//! `tcprax -sT -sV -oJ -` from the scanner namespace:
//!
//! - Exim with TLS on connect (465) and its default strict ALPN: named smtps, Exim, its version,
//!   with a JARM-like fingerprint (the first handshake offers no ALPN, so Exim accepts it);
//! - redis (answers our generic lines with `-ERR unknown command`, and `INFO server` with its
//!   version): named redis, with the version;
//! - a VNC greeting (`RFB 003.008`, a fake: the greeting is all -sV reads): vnc, no version,
//!   extrainfo "protocol 3.8";
//! - Go servers without a `Server` header: Prometheus' node exporter (product from its landing
//!   page), InfluxDB (`X-Influxdb-Version`), nats-server's monitoring port (Go's default 404,
//!   in the answer to `/favicon.ico`); and nats-server's client port (its `INFO` greeting);
//! - Python's http.server answering without `Server`: product from `X-Powered-By`, the realm in
//!   extrainfo;
//! - nginx serving a generated favicon on HTTP and HTTPS: `favicon_mmh3` as Python's mmh3
//!   computes it, h2 learnt by the second handshake, the fingerprint of its TLS stack;
//! - a TLS 1.0-only `openssl s_server`: its fingerprint from the hand-made hellos alone;
//! - CPE names and `matched_by: "builtin"` wherever the built-in table named a product.
//!
//! Packages: exim4-daemon-light, redis-server, prometheus-node-exporter, influxdb, nats-server,
//! nginx-light (or nginx), python3, openssl.
mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use tcprax_lab::servers::fastpath::{self, PYTHON_HTTP_POWERED_BY, PYTHON_HTTP_REALM};
use tcprax_lab::servers::{self, Behaviour, start_fake_at};
use tcprax_lab::testbed::TARGET_V4;

const SMTPS: u16 = 465;
const REDIS: u16 = 6379;
const VNC: u16 = 5900;
const NODE_EXPORTER: u16 = 9100;
const PYTHON_HTTP: u16 = 8080;
const NGINX_HTTP: u16 = 8081;
const NGINX_HTTPS: u16 = 8443;
const INFLUXDB: u16 = 8086;
const NATS: u16 = 4222;
const NATS_MONITOR: u16 = 8222;
const TLS10: u16 = 10443;

/// A favicon-like file of 1000 bytes: a 20-byte ICO-like header, then a fixed byte pattern.
fn favicon() -> Vec<u8> {
    let mut icon = vec![
        0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0xc2, 0x03, 0, 0, 22, 0,
    ];
    icon.extend((0..980u32).map(|i| (i * 7 % 251) as u8));
    icon
}

/// `favicon()`'s hash, computed once by hand with Python 3.11.7 and mmh3 5.3.1 (pip):
/// `mmh3.hash(base64.encodebytes(bytes([0,0,1,0,1,0,16,16,0,0,1,0,32,0,0xc2,3,0,0,22,0]
/// + [i * 7 % 251 for i in range(980)])))`.
const FAVICON_MMH3: i64 = -309_393_699;

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v[key].as_str()
}

#[test]
fn sv_fast_path_against_real_daemons() {
    let Some(sv) = common::sv_target("trxsvfp", 1, "svfast", &["target.tcprax.test"]) else {
        return;
    };
    let (tb, rt, place, dir, cert) = (&sv.tb, &sv.rt, &sv.place, &sv.dir, &sv.cert);
    // Exim gives up root with `-C` and binds 465 as Debian-exim: let anyone bind low ports in
    // the throw-away target namespace.
    tb.target_sh("sysctl -qw net.ipv4.ip_unprivileged_port_start=0")
        .expect("sysctl in the target namespace");
    let _exim = fastpath::start_exim_smtps_at(dir, cert, place, SMTPS);
    let _daemons = [
        fastpath::start_redis_at(dir, place, REDIS),
        fastpath::start_node_exporter_at(dir, place, NODE_EXPORTER),
        fastpath::start_python_http_at(dir, place, PYTHON_HTTP),
        fastpath::start_nginx_favicon_at(dir, cert, place, (NGINX_HTTP, NGINX_HTTPS), &favicon()),
        fastpath::start_influxdb_at(dir, place, INFLUXDB),
        fastpath::start_nats_at(dir, place, NATS, NATS_MONITOR),
        servers::start_tls10_at(dir, cert, place, TLS10),
    ];
    let _vnc = rt.block_on(start_fake_at(
        Behaviour::Banner("RFB 003.008\n"),
        place,
        VNC,
    ));

    let ports = [
        SMTPS,
        REDIS,
        VNC,
        NODE_EXPORTER,
        PYTHON_HTTP,
        NGINX_HTTP,
        NGINX_HTTPS,
        INFLUXDB,
        NATS,
        NATS_MONITOR,
        TLS10,
    ];
    let list = ports.map(|p| p.to_string()).join(",");
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sT",
            "-sV",
            &TARGET_V4.to_string(),
            "-p",
            &list,
            "-oJ",
            "-",
        ])
        .output()
        .expect("run tcprax");
    eprintln!(
        "-sV: {} s",
        common::json_summary(&out)["service_detection_s"]
    );
    let by_port: BTreeMap<u64, Value> = common::json_ports(&out)
        .into_iter()
        .filter_map(|v| Some((v["port"].as_u64()?, v["service"].clone())))
        .collect();
    for (port, service) in &by_port {
        eprintln!("{port}: {service}");
    }
    let svc = |port: u16| -> &Value {
        by_port
            .get(&u64::from(port))
            .unwrap_or_else(|| panic!("no result for port {port}"))
    };

    // 1. SMTPS with strict ALPN.
    let exim = svc(SMTPS);
    let exim_version = fastpath::exim_version();
    assert_eq!(s(exim, "class"), Some("tls-server-initiated"), "{exim}");
    assert_eq!(s(exim, "service"), Some("smtps"), "{exim}");
    assert_eq!(s(exim, "product"), Some("Exim"), "{exim}");
    assert_eq!(s(exim, "version"), Some(exim_version.as_str()), "{exim}");
    assert_eq!(s(exim, "matched_by"), Some("builtin"), "{exim}");
    assert_eq!(s(exim, "hostname"), Some("tcprax.test"), "{exim}");
    assert_eq!(
        exim["cpe"],
        serde_json::json!([format!("cpe:/a:exim:exim:{exim_version}")]),
        "{exim}"
    );
    assert!(
        exim["tls"]["alpn"].is_null(),
        "strict ALPN agrees on none: {exim}"
    );

    // 2. redis.
    let redis = svc(REDIS);
    assert_eq!(s(redis, "service"), Some("redis"), "{redis}");
    assert_eq!(
        s(redis, "product"),
        Some("Redis key-value store"),
        "{redis}"
    );
    assert_eq!(s(redis, "matched_by"), Some("builtin"), "{redis}");
    let redis_version = fastpath::redis_version();
    assert_eq!(s(redis, "version"), Some(redis_version.as_str()), "{redis}");
    assert_eq!(
        redis["cpe"],
        serde_json::json!([format!("cpe:/a:redislabs:redis:{redis_version}")]),
        "{redis}"
    );

    // 3. VNC: the protocol revision is extrainfo, not a version.
    let vnc = svc(VNC);
    assert_eq!(s(vnc, "service"), Some("vnc"), "{vnc}");
    assert!(vnc["version"].is_null(), "{vnc}");
    assert_eq!(s(vnc, "extrainfo"), Some("protocol 3.8"), "{vnc}");

    // 4. HTTP without a Server header.
    let go = svc(NODE_EXPORTER);
    assert_eq!(s(go, "class"), Some("http"), "{go}");
    assert_eq!(s(go, "product"), Some("Prometheus Node Exporter"), "{go}");
    let node_version = fastpath::node_exporter_version();
    if let Some(v) = s(go, "version") {
        assert_eq!(v, node_version, "{go}");
    }
    let php = svc(PYTHON_HTTP);
    let (product, version) = PYTHON_HTTP_POWERED_BY
        .split_once('/')
        .unwrap_or((PYTHON_HTTP_POWERED_BY, ""));
    assert_eq!(s(php, "product"), Some(product), "{php}");
    assert_eq!(s(php, "version"), Some(version), "{php}");
    assert_eq!(
        s(php, "extrainfo"),
        Some(format!("realm \"{PYTHON_HTTP_REALM}\"").as_str()),
        "{php}"
    );
    assert_eq!(
        php["cpe"],
        serde_json::json!([format!("cpe:/a:php:php:{version}")]),
        "{php}"
    );

    // InfluxDB: X-Influxdb-Version (its body is Go's 404); nats-server: its INFO greeting, and
    // Go's 404 on its monitoring port (the answer to /favicon.ico: its / page is its own).
    let influx = svc(INFLUXDB);
    let influx_version = fastpath::influxdb_version();
    assert_eq!(s(influx, "product"), Some("InfluxDB"), "{influx}");
    assert_eq!(
        s(influx, "version"),
        Some(influx_version.as_str()),
        "{influx}"
    );
    assert_eq!(
        influx["cpe"],
        serde_json::json!([format!("cpe:/a:influxdata:influxdb:{influx_version}")]),
        "{influx}"
    );
    let nats = svc(NATS);
    assert_eq!(s(nats, "class"), Some("tcp-server-initiated"), "{nats}");
    assert_eq!(s(nats, "service"), Some("nats"), "{nats}");
    assert_eq!(s(nats, "product"), Some("NATS Server"), "{nats}");
    assert_eq!(
        s(nats, "version"),
        Some(fastpath::nats_version().as_str()),
        "{nats}"
    );
    let monitor = svc(NATS_MONITOR);
    assert_eq!(s(monitor, "class"), Some("http"), "{monitor}");
    assert_eq!(
        s(monitor, "product"),
        Some("Golang net/http server"),
        "{monitor}"
    );
    assert!(
        monitor.get("favicon_mmh3").is_none(),
        "a 404 has no hash: {monitor}"
    );

    // 5. favicon hash on HTTP and HTTPS; h2 learnt over TLS.
    let plain = svc(NGINX_HTTP);
    let tls = svc(NGINX_HTTPS);
    assert_eq!(s(plain, "product"), Some("nginx"), "{plain}");
    assert_eq!(
        plain["favicon_mmh3"].as_i64(),
        Some(FAVICON_MMH3),
        "{plain}"
    );
    assert_eq!(s(tls, "class"), Some("https"), "{tls}");
    assert_eq!(tls["favicon_mmh3"].as_i64(), Some(FAVICON_MMH3), "{tls}");
    assert_eq!(tls["tls"]["alpn"].as_str(), Some("h2"), "{tls}");

    // 6. The TLS fingerprint: present, well formed, and different for GnuTLS (Exim) and
    // OpenSSL (nginx).
    let fp = |v: &Value| -> String {
        let f = v["tls"]["jarm"]
            .as_str()
            .unwrap_or_else(|| panic!("no jarm: {v}"));
        assert_eq!(f.len(), 62, "{f}");
        assert!(f.bytes().all(|b| b.is_ascii_hexdigit()), "{f}");
        f.to_owned()
    };
    // A TLS 1.0-only openssl s_server (rustls refuses it: the hand-made hellos still see it).
    let old = svc(TLS10);
    assert_eq!(old["tls"]["version"].as_str(), Some("TLSv1.0"), "{old}");
    let (gnutls, openssl, openssl10) = (fp(exim), fp(tls), fp(old));
    assert_ne!(gnutls, openssl);
    assert_ne!(openssl, openssl10);
    assert!(
        openssl10[..30].contains('b'),
        "a TLS 1.0 answer: {openssl10}"
    );
    assert!(plain["tls"].is_null(), "{plain}");
}
