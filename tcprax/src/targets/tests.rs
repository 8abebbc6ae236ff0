//! Unit tests of the target grammar, exclusions and lazy enumeration.
use super::*;
use std::io::Write;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn set(specs: &[&str]) -> TargetSet {
    set_ex(specs, &[])
}

fn set_ex(specs: &[&str], exclude: &[&str]) -> TargetSet {
    let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
    let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
    TargetSet::parse(&specs, &[], &exclude, &[]).unwrap()
}

fn err(specs: &[&str], exclude: &[&str]) -> TargetError {
    let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
    let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
    TargetSet::parse(&specs, &[], &exclude, &[]).expect_err("should fail")
}

fn kind(spec: &str) -> TargetErrorKind {
    parse_spec(spec).expect_err(spec)
}

fn addrs(set: &TargetSet) -> Vec<String> {
    set.iter().map(|a| a.to_string()).collect()
}

/// A temp file removed on drop, so failing tests leave nothing behind.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, contents: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("tcprax-targets-{}-{tag}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(contents.as_bytes())
            .unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn ipv4_literal() {
    let s = set(&["198.18.0.2"]);
    assert_eq!(s.len(), 1);
    assert_eq!(addrs(&s), ["198.18.0.2"]);
    assert_eq!(
        s.infos(),
        [TargetInfo {
            spec: "198.18.0.2".into(),
            resolved: Some(v4("198.18.0.2")),
            addresses: 1
        }]
    );
    assert_eq!(s.name_of(&v4("198.18.0.2")), None);
}

#[test]
fn ipv6_literal_with_and_without_brackets() {
    let s = set(&["2001:db8::1", "[2001:db8::2]"]);
    assert_eq!(addrs(&s), ["2001:db8::1", "2001:db8::2"]);
}

#[test]
fn host_name_is_resolved_and_remembered() {
    let s = set(&["localhost"]);
    assert_eq!(s.len(), 1);
    let addr = s.get(0).unwrap();
    assert!(addr.is_loopback(), "{addr}");
    assert_eq!(s.name_of(&addr).as_deref(), Some("localhost"));
    let info = &s.infos()[0];
    assert_eq!(
        (info.spec.as_str(), info.resolved, info.addresses),
        ("localhost", Some(addr), 1)
    );
}

/// Regression: reports used to take a host name from any one-address spec that was not an
/// address literal, so "198.18.0.1-1", "[2001:db8::2]" or "-iL one.txt" printed as names.
#[test]
fn only_host_names_name_an_address() {
    let f = TempFile::new("one-address", "198.18.0.3\n");
    let s = TargetSet::parse(
        &["198.18.0.1-1".into(), "[2001:db8::2]".into()],
        std::slice::from_ref(&f.0),
        &[],
        &[],
    )
    .unwrap();
    let named: Vec<IpAddr> = s.iter().filter(|a| s.name_of(a).is_some()).collect();
    assert_eq!(named, [] as [IpAddr; 0]);
    assert_eq!(s.infos()[2].addresses, 1);
}

#[test]
fn cidr_covers_network_and_broadcast() {
    let s = set(&["198.18.0.0/24"]);
    assert_eq!(s.len(), 256);
    assert_eq!(s.get(0), Some(v4("198.18.0.0")));
    assert_eq!(s.get(255), Some(v4("198.18.0.255")));
    assert_eq!(s.get(256), None);
    assert_eq!(
        s.infos()[0],
        TargetInfo {
            spec: "198.18.0.0/24".into(),
            resolved: None,
            addresses: 256
        }
    );
}

#[test]
fn cidr_host_bits_are_masked() {
    let s = set(&["198.18.0.77/30"]);
    assert_eq!(
        addrs(&s),
        ["198.18.0.76", "198.18.0.77", "198.18.0.78", "198.18.0.79"]
    );
}

#[test]
fn cidr_extremes() {
    assert_eq!(set(&["198.18.0.9/32"]).len(), 1);
    assert_eq!(set(&["0.0.0.0/0"]).len(), 1 << 32);
    assert_eq!(set(&["2001:db8::5/128"]).len(), 1);
    assert_eq!(set(&["2001:db8::/64"]).len(), 1 << 64);
    assert_eq!(set(&["::/1"]).len(), 1 << 127);
    assert_eq!(set(&["localhost/30"]).len(), 4);
}

#[test]
fn ipv6_cidr() {
    let s = set(&["2001:db8::ff/126"]);
    assert_eq!(
        addrs(&s),
        [
            "2001:db8::fc",
            "2001:db8::fd",
            "2001:db8::fe",
            "2001:db8::ff"
        ]
    );
}

#[test]
fn slash_eight_is_lazy() {
    // 16.7M addresses: only feasible if nothing is materialised.
    let s = set(&["10.0.0.0/8"]);
    assert_eq!(s.len(), 1 << 24);
    assert_eq!(s.get((1 << 24) - 1), Some(v4("10.255.255.255")));
    assert_eq!(s.iter().nth(65536), Some(v4("10.1.0.0")));
    assert_eq!(s.ranges().len(), 1);
}

#[test]
fn last_octet_range() {
    let s = set(&["198.18.0.1-20"]);
    assert_eq!(s.len(), 20);
    assert_eq!(s.get(0), Some(v4("198.18.0.1")));
    assert_eq!(s.get(19), Some(v4("198.18.0.20")));
}

#[test]
fn full_ranges() {
    let s = set(&["198.18.0.250-198.18.1.2"]);
    assert_eq!(s.len(), 9);
    assert_eq!(s.get(8), Some(v4("198.18.1.2")));
    assert_eq!(set(&["2001:db8::1-2001:db8::ff"]).len(), 255);
    assert_eq!(set(&["198.18.0.5-198.18.0.5"]).len(), 1);
}

#[test]
fn comma_lists_are_separate_specs() {
    let s = set(&["198.18.0.1,198.18.0.5", "198.18.0.9"]);
    assert_eq!(addrs(&s), ["198.18.0.1", "198.18.0.5", "198.18.0.9"]);
    let specs: Vec<String> = s.infos().into_iter().map(|i| i.spec).collect();
    assert_eq!(specs, ["198.18.0.1", "198.18.0.5", "198.18.0.9"]);
}

#[test]
fn duplicates_are_kept() {
    let s = set(&["198.18.0.1", "198.18.0.0/31"]);
    assert_eq!(s.len(), 3);
    assert_eq!(addrs(&s), ["198.18.0.1", "198.18.0.0", "198.18.0.1"]);
}

#[test]
fn get_spans_ranges_of_both_families() {
    let s = set(&["198.18.0.0/30", "2001:db8::/127", "198.18.0.9"]);
    let all: Vec<Option<IpAddr>> = (0..s.len()).map(|i| s.get(i)).collect();
    let from_iter: Vec<Option<IpAddr>> = s.iter().map(Some).collect();
    assert_eq!(all, from_iter);
    assert_eq!(s.get(4), Some("2001:db8::".parse().unwrap()));
    assert_eq!(s.get(6), Some(v4("198.18.0.9")));
}

#[test]
fn exclusions_apply_to_get_iter_and_is_excluded() {
    let s = set_ex(
        &["198.18.0.0/28"],
        &["198.18.0.0-3,198.18.0.8/30", "198.18.0.15"],
    );
    assert_eq!(s.len(), 16);
    assert_eq!(s.included_len(), 7);
    assert_eq!(
        addrs(&s),
        [
            "198.18.0.4",
            "198.18.0.5",
            "198.18.0.6",
            "198.18.0.7",
            "198.18.0.12",
            "198.18.0.13",
            "198.18.0.14"
        ]
    );
    assert_eq!(s.get(0), None);
    assert_eq!(s.get(4), Some(v4("198.18.0.4")));
    assert_eq!(s.get(15), None);
    assert!(s.is_excluded(&v4("198.18.0.9")));
    assert!(!s.is_excluded(&v4("198.18.0.12")));
    assert!(!s.is_excluded(&"2001:db8::".parse().unwrap()));
}

#[test]
fn overlapping_exclusions_are_counted_once() {
    let s = set_ex(
        &["198.18.0.0/24"],
        &["198.18.0.0/25", "198.18.0.64/26", "198.18.0.128"],
    );
    assert_eq!(s.included_len(), 127);
    assert_eq!(s.iter().count(), 127);
    assert_eq!(s.iter().next(), Some(v4("198.18.0.129")));
}

#[test]
fn exclusion_of_other_family_does_not_apply() {
    let s = set_ex(&["198.18.0.1"], &["::/0"]);
    assert_eq!(s.included_len(), 1);
}

#[test]
fn excluding_everything_is_an_error() {
    let e = err(&["198.18.0.0/24"], &["198.18.0.0/16"]);
    assert!(
        matches!(e, TargetError::AllExcluded { count: 256 }),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "all 256 target addresses are excluded");
    assert!(matches!(
        err(&["localhost"], &["localhost"]),
        TargetError::AllExcluded { .. }
    ));
}

#[test]
fn iter_at_the_top_of_the_address_space() {
    let s = set_ex(
        &[
            "255.255.255.254/31",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127",
        ],
        &["255.255.255.255"],
    );
    assert_eq!(
        addrs(&s),
        [
            "255.255.255.254",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        ]
    );
    let s = set_ex(&["::/1", "198.18.0.1"], &["::/1"]);
    assert_eq!(addrs(&s), ["198.18.0.1"]);
}

#[test]
fn input_list_file_with_comments_and_blank_lines() {
    let f = TempFile::new(
        "list",
        "# lab hosts\n\n198.18.0.1  # gateway\n198.18.0.4/31 198.18.0.9,198.18.0.10\n   \nlocalhost\n",
    );
    let s = TargetSet::parse(
        &["198.18.0.100".into()],
        std::slice::from_ref(&f.0),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(s.len(), 7);
    let got = addrs(&s);
    assert_eq!(
        got[..6],
        [
            "198.18.0.100",
            "198.18.0.1",
            "198.18.0.4",
            "198.18.0.5",
            "198.18.0.9",
            "198.18.0.10"
        ]
    );
    let infos = s.infos();
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[1].spec, format!("-iL {}", f.0.display()));
    assert_eq!(infos[1].addresses, 6);
    assert_eq!(s.name_of(&s.get(6).unwrap()).as_deref(), Some("localhost"));
}

#[test]
fn exclude_file() {
    let f = TempFile::new("exclude", "198.18.0.0/30 # infra\n");
    let s = TargetSet::parse(
        &["198.18.0.0/29".into()],
        &[],
        &[],
        std::slice::from_ref(&f.0),
    )
    .unwrap();
    assert_eq!(s.included_len(), 4);
}

#[test]
fn bad_line_in_file_names_file_line_and_token() {
    let f = TempFile::new("badline", "198.18.0.1\n# ok\n198.18.0.0/33\n");
    let e = TargetSet::parse(&[], std::slice::from_ref(&f.0), &[], &[]).unwrap_err();
    assert!(
        matches!(&e, TargetError::BadInFile { line: 3, token, .. } if token == "198.18.0.0/33"),
        "{e:?}"
    );
    assert!(e.to_string().contains("line 3"));
}

#[test]
fn missing_files_are_errors() {
    let missing = PathBuf::from("/nonexistent/tcprax-targets.txt");
    let e = TargetSet::parse(&[], std::slice::from_ref(&missing), &[], &[]).unwrap_err();
    assert!(
        matches!(&e, TargetError::ReadFile { role: Role::Target, path, .. } if *path == missing),
        "{e:?}"
    );
    let e = TargetSet::parse(
        &["198.18.0.1".into()],
        &[],
        &[],
        std::slice::from_ref(&missing),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            TargetError::ReadFile {
                role: Role::Exclusion,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("cannot read exclusion file '/nonexistent/tcprax-targets.txt': ")
    );
}

#[test]
fn no_targets_is_an_error() {
    assert!(matches!(err(&[], &[]), TargetError::NoTargets));
    let f = TempFile::new("empty", "# nothing here\n\n");
    let e = TargetSet::parse(&[], std::slice::from_ref(&f.0), &[], &[]).unwrap_err();
    assert!(matches!(e, TargetError::NoTargets));
}

#[test]
fn empty_tokens_are_rejected() {
    let e = err(&["198.18.0.1,,198.18.0.2"], &[]);
    assert!(
        matches!(&e, TargetError::Bad { kind: TargetErrorKind::Empty, token, .. } if token == "198.18.0.1,,198.18.0.2")
    );
    assert_eq!(
        e.to_string(),
        "bad target '198.18.0.1,,198.18.0.2': empty item"
    );
    assert!(matches!(
        err(&[""], &[]),
        TargetError::Bad {
            kind: TargetErrorKind::Empty,
            ..
        }
    ));
    assert!(matches!(
        err(&["198.18.0.1"], &["198.18.0.2,"]),
        TargetError::Bad {
            role: Role::Exclusion,
            kind: TargetErrorKind::Empty,
            ..
        }
    ));
}

#[test]
fn bad_cidr_prefixes() {
    let too_long = |spec| match kind(spec) {
        TargetErrorKind::PrefixTooLong { prefix, max } => (prefix, max),
        other => panic!("{spec}: {other:?}"),
    };
    assert_eq!(too_long("198.18.0.0/33"), ("33".to_string(), 32));
    assert_eq!(too_long("2001:db8::/129"), ("129".to_string(), 128));
    // Beyond u32: still reported as typed.
    assert_eq!(
        too_long("198.18.0.0/99999999999999"),
        ("99999999999999".to_string(), 32)
    );
    assert!(matches!(
        kind("198.18.0.0/"),
        TargetErrorKind::BadPrefix { .. }
    ));
    assert!(matches!(
        kind("198.18.0.0/x"),
        TargetErrorKind::BadPrefix { .. }
    ));
    assert!(matches!(
        kind("198.18.0.0/-1"),
        TargetErrorKind::BadPrefix { .. }
    ));
    assert!(matches!(
        kind("198.18.0.0/24/2"),
        TargetErrorKind::BadPrefix { .. }
    ));
    let e = err(&["198.18.0.0/33"], &[]);
    assert_eq!(
        e.to_string(),
        "bad target '198.18.0.0/33': prefix /33 is longer than 32 bits"
    );
}

#[test]
fn whole_ipv6_space_cannot_be_counted() {
    assert!(matches!(
        err(&["::/0"], &[]),
        TargetError::Bad {
            kind: TargetErrorKind::TooLarge,
            ..
        }
    ));
    assert!(matches!(
        err(&["::/1", "8000::/1"], &[]),
        TargetError::Bad {
            kind: TargetErrorKind::TooLarge,
            ..
        }
    ));
}

#[test]
fn bad_addresses() {
    assert!(matches!(kind("198.18.0.300"), TargetErrorKind::BadIpv4));
    assert!(matches!(kind("198.18.0"), TargetErrorKind::BadIpv4));
    assert!(matches!(kind("2001:db8::zz"), TargetErrorKind::BadIpv6));
    assert!(matches!(kind("198.18.0.1!"), TargetErrorKind::NotATarget));
    assert!(matches!(kind("a..b"), TargetErrorKind::NotATarget));
    assert!(matches!(kind("-x"), TargetErrorKind::NotATarget));
}

#[test]
fn bad_ranges() {
    assert!(matches!(
        kind("198.18.0.20-1"),
        TargetErrorKind::ReversedRange
    ));
    assert!(matches!(
        kind("198.18.0.20-198.18.0.1"),
        TargetErrorKind::ReversedRange
    ));
    assert!(matches!(
        kind("198.18.0.1-256"),
        TargetErrorKind::BadRangeEnd { .. }
    ));
    assert!(matches!(
        kind("198.18.0.1-"),
        TargetErrorKind::BadRangeEnd { .. }
    ));
    assert!(matches!(
        kind("198.18.0.1-x"),
        TargetErrorKind::BadRangeEnd { .. }
    ));
    assert!(matches!(
        kind("2001:db8::1-ff"),
        TargetErrorKind::BadRangeEnd { .. }
    ));
    assert!(matches!(
        kind("198.18.0.1-2001:db8::1"),
        TargetErrorKind::MixedFamilies
    ));
}

#[test]
fn unresolvable_host_is_an_error_naming_it() {
    let e = err(&["nonexistent.invalid"], &[]);
    assert!(
        matches!(&e, TargetError::Bad { kind: TargetErrorKind::Unresolvable { .. }, token, .. } if token == "nonexistent.invalid"),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("bad target 'nonexistent.invalid': cannot resolve host name: ")
    );
    assert!(!e.to_string().contains('\n'));
    let e = err(&["198.18.0.1"], &["nonexistent.invalid"]);
    assert!(matches!(
        e,
        TargetError::Bad {
            role: Role::Exclusion,
            ..
        }
    ));
}

#[test]
fn hostnames_with_dashes_are_not_ranges() {
    // Resolution fails, but as a name: the dash did not make it a malformed range.
    assert!(matches!(
        kind("no-such-host.invalid"),
        TargetErrorKind::Unresolvable { .. }
    ));
}

#[test]
fn get_included_walks_exactly_the_addresses_iter_yields() {
    for (specs, exclude) in [
        (&["198.18.0.0/28"][..], &["198.18.0.4-198.18.0.11"][..]),
        (
            &["198.18.0.0/30", "198.18.1.0/31", "198.18.0.2"],
            &["198.18.0.1"],
        ),
        (
            &["198.18.0.0/24"],
            &["198.18.0.0", "198.18.0.255", "198.18.0.7-9"],
        ),
        (
            &["2001:2::/124", "198.18.0.1-3"],
            &["2001:2::3-2001:2::f", "198.18.0.2"],
        ),
        (&["198.18.0.0/29"], &[]),
    ] {
        let s = set_ex(specs, exclude);
        let walked: Vec<IpAddr> = (0..s.included_len())
            .map(|i| s.get_included(i).unwrap())
            .collect();
        let iterated: Vec<IpAddr> = s.iter().collect();
        assert_eq!(walked, iterated, "{specs:?} minus {exclude:?}");
        assert_eq!(s.get_included(s.included_len()), None);
    }
}

#[test]
fn a_mostly_excluded_slash8_has_a_few_pieces_and_its_last_address_is_reachable() {
    let s = set_ex(
        &["10.0.0.0/8"],
        &["10.0.0.0-10.18.4.255", "10.18.6.0-10.255.255.255"],
    );
    assert_eq!(s.included_len(), 256);
    assert_eq!(s.get_included(0), Some(v4("10.18.5.0")));
    assert_eq!(s.get_included(255), Some(v4("10.18.5.255")));
    assert_eq!(s.get_included(256), None);
    // Excluded up to the very last IPv4 address: nothing past it, no overflow.
    let t = set_ex(
        &["198.18.0.0/15", "255.255.255.254/31"],
        &["255.255.255.254/31"],
    );
    assert_eq!(t.included_len(), 1 << 17);
    assert_eq!(t.get_included((1 << 17) - 1), Some(v4("198.19.255.255")));
}

#[test]
fn an_exclusion_to_the_last_ipv6_address_does_not_drop_later_ranges() {
    let s = set_ex(
        &[
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124",
            "198.18.0.1-2",
        ],
        &["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff8-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    );
    let walked: Vec<IpAddr> = (0..s.included_len())
        .map(|i| s.get_included(i).unwrap())
        .collect();
    assert_eq!(walked.len(), 8 + 2);
    assert_eq!(walked, s.iter().collect::<Vec<_>>());
    assert_eq!(walked[9], v4("198.18.0.2"));
}
