//! -sV against the fast subset of the benchmark's zoo (`tcprax_lab::servers::zoo`): real Debian
//! daemons that start in well under two seconds, each in a target namespace of its own test,
//! scanned with `tcprax -sT -sV 198.18.0.2 -p PORT -oJ -` from the scanner namespace. What
//! tcprax reports is scored against the port's ground truth (service name, product, and the
//! upstream version of the installed package, read with dpkg-query) with the benchmark's own
//! matching rules (`zoo::score`, docs/benchmark-sv.md).
//!
//! Each test names the parts (service, product, version) one daemon must get right; parts no
//! client can read without logging in (Dovecot's version, git daemon's) are not asked for.
//!
//! Packages (TEST_PACKAGES in xtask/src/setup.rs): redis-server, memcached, mosquitto, git,
//! prometheus-node-exporter, dnsmasq-base, dovecot-imapd, dovecot-pop3d, beanstalkd,
//! exim4-daemon-light, ngircd.
mod common;

use std::net::IpAddr;
use tcprax_lab::servers::zoo::score::{Answer, Score, score};
use tcprax_lab::servers::zoo::{self, Animal, Exhibit};
use tcprax_lab::servers::{Place, TempDir, TestCert};
use tcprax_lab::testbed::TARGET_V4;

/// The parts of an answer a test requires.
#[derive(Clone, Copy, Debug)]
enum Part {
    Service,
    Product,
    Version,
}

/// Start `animal` alone in a fresh testbed, scan its ports with -sT -sV, and return each port's
/// truth with tcprax's answer. None: not root (the skip message is printed).
fn scan(animal: Animal) -> Option<Vec<(Exhibit, Answer, serde_json::Value)>> {
    let tb = common::testbed("trxzoo")?;
    let dir = TempDir::new("zoo-test");
    let place = Place::netns(&tb.target_ns, IpAddr::V4(TARGET_V4));
    let cert = TestCert::generate_for(&dir, "zoo.tcprax.test", &["zoo.tcprax.test"], &[]);
    let zoo = zoo::start_zoo(&dir, &cert, &place, &[animal]);
    if let Some((_, why)) = zoo.failed.first() {
        panic!(
            "{animal:?} did not start (packages: {:?}): {why}",
            animal.packages()
        );
    }
    let ports = zoo
        .ports()
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = tb
        .scanner_command(common::bin())
        .args([
            "-sT",
            "-sV",
            &TARGET_V4.to_string(),
            "-p",
            &ports,
            "-oJ",
            "-",
        ])
        .output()
        .expect("run tcprax");
    let reported = common::json_ports(&out);
    Some(
        zoo.exhibits
            .iter()
            .map(|e| {
                let v = reported
                    .iter()
                    .find(|v| v["port"] == e.port)
                    .unwrap_or_else(|| panic!("port {} not reported: {reported:?}", e.port))
                    .clone();
                assert_eq!(v["state"], "open", "{v}");
                let s = &v["service"];
                let field = |k: &str| s[k].as_str().map(str::to_owned);
                let answer = Answer {
                    service: field("service"),
                    product: field("product"),
                    version: field("version"),
                };
                (e.clone(), answer, v)
            })
            .collect(),
    )
}

/// Every port of `animal` must get `parts` right.
fn check(animal: Animal, parts: &[Part]) {
    let Some(results) = scan(animal) else {
        return;
    };
    for (exhibit, answer, json) in results {
        let Score {
            service,
            product,
            version,
        } = score(&exhibit.truth, &answer);
        for part in parts {
            let ok = match part {
                Part::Service => service,
                Part::Product => product,
                Part::Version => version,
            };
            assert!(
                ok,
                "{} on port {}: {part:?} wrong; want {:?} (from {} {}), tcprax said {answer:?}: {json}",
                exhibit.label,
                exhibit.port,
                exhibit.truth,
                exhibit.truth.package,
                exhibit.truth.package_version
            );
        }
    }
}

use Part::{Product, Service, Version};

#[test]
fn memcached_is_named_with_product_and_version() {
    check(Animal::Memcached, &[Service, Product, Version]);
}

#[test]
fn redis_is_named_redis() {
    check(Animal::Redis, &[Service, Product]);
}

/// The zoo's Redis runs with protected mode off, as a Redis a network scan really reaches does:
/// in protected mode it answers `-DENIED ...` and no tool can read its version.
#[test]
fn redis_version() {
    check(Animal::Redis, &[Version]);
}

#[test]
fn dovecot_imaps_and_pop3s_are_named_dovecot() {
    // Dovecot tells no version before login: service and product are all there is.
    check(Animal::Dovecot, &[Service, Product]);
}

#[test]
fn node_exporter_is_http() {
    check(Animal::NodeExporter, &[Service]);
}

/// The landing page names the exporter; the version comes from `/metrics` (a follow-up).
#[test]
fn node_exporter_product_and_version() {
    check(Animal::NodeExporter, &[Product, Version]);
}

#[test]
fn exim_smtps_is_named_with_version() {
    check(Animal::Exim, &[Service, Product, Version]);
}

#[test]
fn dnsmasq_is_named_with_version() {
    check(Animal::Dnsmasq, &[Service, Product, Version]);
}

/// Named by nmap's MQTT probe; product and version from the retained `$SYS/broker/version`
/// (a follow-up: CONNECT and SUBSCRIBE).
#[test]
fn mosquitto_is_mqtt_with_version() {
    check(Animal::Mosquitto, &[Service, Product, Version]);
}

/// git daemon is silent until asked in its own protocol: a git-upload-pack pkt-line names it
/// (nmap's file has a line only for a misconfigured git daemon).
#[test]
fn git_daemon_is_git() {
    check(Animal::Git, &[Service]);
}

/// nmap's probe file has no line for beanstalkd: named by its `UNKNOWN_COMMAND` answer to the
/// generic lines, the version from `stats` (a follow-up).
#[test]
fn beanstalkd_is_named_with_version() {
    check(Animal::Beanstalkd, &[Service, Product, Version]);
}

/// ngIRCd says nothing until a client registers and answers our generic lines with the 451
/// numeric; nmap's Help probe line names it (sent as the file writes it, `HELP\r\n`). Its
/// version is told only after registration (a follow-up: NICK and USER).
#[test]
fn ngircd_is_irc_with_version() {
    check(Animal::Ngircd, &[Service, Product, Version]);
}
