//! Unit tests of the command-line grammar: every option, default and one-line error.
use super::*;
use std::time::Duration;
use tcprax::config::{OutputFormat, OutputSpec, Shard};

fn parse(args: &[&str]) -> Result<ScanConfig, CliError> {
    parse_from(
        std::iter::once("tcprax")
            .chain(args.iter().copied())
            .map(OsString::from),
    )
}

fn ok(args: &[&str]) -> ScanConfig {
    parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The one-line message main would print.
fn msg(args: &[&str]) -> String {
    match parse(args) {
        Ok(_) => panic!("{args:?} should fail"),
        Err(CliError::Clap(e)) => panic!("{args:?}: clap error instead of ours: {e}"),
        Err(e) => e.to_string(),
    }
}

fn stdout_normal() -> OutputSpec {
    OutputSpec {
        format: OutputFormat::Normal,
        path: None,
    }
}

#[test]
fn defaults() {
    let c = ok(&["198.18.0.2"]);
    assert_eq!(c.scan_type, ScanType::Connect);
    assert_eq!(c.ports, PortList::default_top());
    assert_eq!(c.concurrency, defaults::CONCURRENCY);
    assert_eq!(c.timeout, None);
    assert_eq!(c.max_timeout(), defaults::MAX_TIMEOUT_CONNECT);
    assert_eq!(c.retries, defaults::RETRIES_CONNECT);
    assert_eq!(c.rate, None);
    assert_eq!(c.syn, SynOptions::default());
    assert_eq!(c.service, None);
    assert_eq!(c.outputs, [stdout_normal()]);
    assert_eq!(c.verbosity, Verbosity::Normal);
    assert_eq!(c.targets.len(), 1);
}

#[test]
fn nmap_scan_type_tokens() {
    assert_eq!(ok(&["-sS", "198.18.0.2"]).scan_type, ScanType::Syn);
    let syn = ok(&["-sS", "198.18.0.2"]);
    assert_eq!(syn.retries, defaults::RETRIES_SYN);
    assert_eq!(syn.max_timeout(), defaults::MAX_TIMEOUT_SYN);
    assert_eq!(ok(&["-sT", "198.18.0.2"]).scan_type, ScanType::Connect);
    let c = ok(&["-sSV", "198.18.0.2"]);
    assert_eq!((c.scan_type, c.service.is_some()), (ScanType::Syn, true));
    let c = ok(&["-sTV", "198.18.0.2"]);
    assert_eq!(
        (c.scan_type, c.service.is_some()),
        (ScanType::Connect, true)
    );
    let c = ok(&["-sV", "198.18.0.2"]);
    assert_eq!(
        (c.scan_type, c.service),
        (ScanType::Connect, Some(ServiceOptions::default()))
    );
    let c = ok(&["-sS", "-sV", "198.18.0.2"]);
    assert_eq!((c.scan_type, c.service.is_some()), (ScanType::Syn, true));
}

#[test]
fn long_scan_type_flags() {
    let c = ok(&["--syn", "--service", "198.18.0.2"]);
    assert_eq!((c.scan_type, c.service.is_some()), (ScanType::Syn, true));
    assert_eq!(
        ok(&["--connect", "198.18.0.2"]).scan_type,
        ScanType::Connect
    );
}

#[test]
fn scan_type_errors() {
    assert_eq!(
        msg(&["-sS", "-sT", "198.18.0.2"]),
        "-sS and -sT cannot be combined: choose one scan type"
    );
    assert_eq!(
        msg(&["-sST", "198.18.0.2"]),
        "-sS and -sT cannot be combined: choose one scan type"
    );
    assert_eq!(
        msg(&["-sU", "198.18.0.2"]),
        "unknown scan type '-sU': tcprax has -sS, -sT and -sV"
    );
    assert_eq!(
        msg(&["-s", "198.18.0.2"]),
        "unknown scan type '-s': tcprax has -sS, -sT and -sV"
    );
}

#[test]
fn ports_forms() {
    assert_eq!(
        ok(&["-p", "22,80-90,443", "198.18.0.2"])
            .ports
            .spec_string(),
        "22,80-90,443"
    );
    assert_eq!(ok(&["-p22", "198.18.0.2"]).ports.as_slice(), &[22]);
    assert_eq!(ok(&["--ports=80", "198.18.0.2"]).ports.as_slice(), &[80]);
    assert_eq!(ok(&["-p-", "198.18.0.2"]).ports, PortList::all());
    assert_eq!(ok(&["-p", "-", "198.18.0.2"]).ports, PortList::all());
    assert_eq!(ok(&["-p-3", "198.18.0.2"]).ports.as_slice(), &[1, 2, 3]);
    assert_eq!(
        ok(&["-p", "65534-", "198.18.0.2"]).ports.as_slice(),
        &[65534, 65535]
    );
}

#[test]
fn port_errors_name_the_token() {
    assert_eq!(
        msg(&["-p", "22,70000", "198.18.0.2"]),
        "bad port '70000' in -p: above 65535"
    );
    assert_eq!(
        msg(&["-p", "0", "198.18.0.2"]),
        "bad port '0' in -p: port 0 cannot be scanned"
    );
    assert_eq!(
        msg(&["-p", "90-80", "198.18.0.2"]),
        "bad port '90-80' in -p: range start 90 is above its end 80"
    );
    assert_eq!(
        msg(&["-p", "22,,80", "198.18.0.2"]),
        "bad port '22,,80' in -p: empty item in list"
    );
    assert_eq!(
        msg(&["-p", "", "198.18.0.2"]),
        "bad port '' in -p: empty port list"
    );
    assert_eq!(
        msg(&["-p", "http", "198.18.0.2"]),
        "bad port 'http' in -p: not a number"
    );
}

#[test]
fn target_forms() {
    let c = ok(&[
        "198.18.0.0/24",
        "198.18.1.1-20,198.18.2.1",
        "2001:db8::/126",
        "localhost",
    ]);
    assert_eq!(c.targets.len(), 256 + 20 + 1 + 4 + 1);
    let c = ok(&[
        "198.18.0.0/24",
        "--exclude",
        "198.18.0.0/25",
        "--exclude",
        "198.18.0.255",
    ]);
    assert_eq!(c.targets.included_len(), 127);
}

#[test]
fn target_errors_name_the_token() {
    assert_eq!(
        msg(&["198.18.0.0/33"]),
        "bad target '198.18.0.0/33': prefix /33 is longer than 32 bits"
    );
    assert_eq!(
        msg(&["198.18.0.300"]),
        "bad target '198.18.0.300': not a valid IPv4 address"
    );
    assert!(
        msg(&["nonexistent.invalid"])
            .starts_with("bad target 'nonexistent.invalid': cannot resolve")
    );
    assert_eq!(
        msg(&["198.18.0.1,,198.18.0.2"]),
        "bad target '198.18.0.1,,198.18.0.2': empty item"
    );
    assert_eq!(msg(&[]), "no targets given; see --help for examples");
    assert_eq!(
        msg(&["198.18.0.0/30", "--exclude", "198.18.0.0/24"]),
        "all 4 target addresses are excluded"
    );
    assert_eq!(
        msg(&["198.18.0.1", "--exclude", "198.18.0.0/40"]),
        "bad exclusion '198.18.0.0/40': prefix /40 is longer than 32 bits"
    );
    assert!(
        msg(&["-iL", "/nonexistent/tcprax.txt"])
            .starts_with("cannot read target file '/nonexistent/tcprax.txt': ")
    );
    assert!(
        msg(&["198.18.0.1", "--excludefile", "/nonexistent/x"])
            .starts_with("cannot read exclusion file '/nonexistent/x': ")
    );
}

#[test]
fn input_list_forms() {
    let path = std::env::temp_dir().join(format!("tcprax-cli-{}.txt", std::process::id()));
    std::fs::write(&path, "198.18.0.1\n# comment\n198.18.0.8/30\n").unwrap();
    let p = path.to_str().unwrap();
    let joined = format!("-iL{p}");
    let results = [
        parse(&["-iL", p]).map(|c| c.targets.len()),
        parse(&[&joined]).map(|c| c.targets.len()),
        parse(&["--input-list", p, "198.18.0.2"]).map(|c| c.targets.len()),
        parse(&["--excludefile", p, "198.18.0.0/28"]).map(|c| c.targets.included_len()),
    ];
    std::fs::remove_file(&path).unwrap();
    let counts: Vec<u128> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(counts, [5, 5, 6, 11]);
}

#[test]
fn threads() {
    assert_eq!(ok(&["-t", "1", "198.18.0.2"]).concurrency, 1);
    assert_eq!(ok(&["--threads", "65535", "198.18.0.2"]).concurrency, 65535);
    assert_eq!(
        msg(&["-t", "0", "198.18.0.2"]),
        "bad value '0' for -t: must be between 1 and 65535"
    );
    assert_eq!(
        msg(&["-t", "65536", "198.18.0.2"]),
        "bad value '65536' for -t: must be between 1 and 65535"
    );
    assert_eq!(
        msg(&["-t", "99999999999999999999999", "198.18.0.2"]),
        "bad value '99999999999999999999999' for -t: must be between 1 and 65535"
    );
    assert_eq!(
        msg(&["-t", "many", "198.18.0.2"]),
        "bad value 'many' for -t: not a whole number"
    );
}

#[test]
fn threads_also_bound_service_probes() {
    let c = ok(&["-sV", "-t", "8", "198.18.0.2"]);
    assert_eq!(c.service.map(|s| (s.concurrency, s.per_host)), Some((8, 8)));
    let c = ok(&["-sV", "-t", "100", "198.18.0.2"]);
    assert_eq!(
        c.service.map(|s| (s.concurrency, s.per_host)),
        Some((100, defaults::SERVICE_PER_HOST))
    );
    // Without -t, -sV keeps its own defaults, the same as the library's.
    assert_eq!(
        ok(&["-sV", "198.18.0.2"]).service,
        Some(ServiceOptions::default())
    );
}

#[test]
fn durations() {
    let t = |v: &str| ok(&["--timeout", v, "198.18.0.2"]).timeout.unwrap();
    assert_eq!(t("500ms"), Duration::from_millis(500));
    assert_eq!(t("2s"), Duration::from_secs(2));
    assert_eq!(t("1.5"), Duration::from_millis(1500));
    assert_eq!(t("0.1"), Duration::from_millis(100));
    assert_eq!(t(".25s"), Duration::from_millis(250));
    assert_eq!(t("1m"), Duration::from_secs(60));
    assert_eq!(t("1h"), Duration::from_secs(3600));
    assert_eq!(t("2.5ms"), Duration::from_micros(2500));
    let c = ok(&["-sV", "--probe-timeout", "3s", "198.18.0.2"]);
    assert_eq!(c.service.unwrap().probe_timeout, Duration::from_secs(3));
    // --timeout replaces the scan type's default ceiling, whichever the scan type.
    let c = ok(&["-sS", "--timeout", "750ms", "198.18.0.2"]);
    assert_eq!(c.max_timeout(), Duration::from_millis(750));
}

#[test]
fn duration_errors() {
    for v in [
        "",
        "abc",
        "5x",
        "1.2.3",
        ".",
        "-1",
        "1e3",
        "2 s",
        "0.0000000001",
    ] {
        assert_eq!(
            msg(&["--timeout", v, "198.18.0.2"]),
            format!(
                "bad value '{v}' for --timeout: expected a duration such as 500ms, 2s, 1m or 1.5 (seconds)"
            )
        );
    }
    assert_eq!(
        msg(&["--timeout", "0", "198.18.0.2"]),
        "bad value '0' for --timeout: must be greater than 0"
    );
    assert_eq!(
        msg(&["--timeout", "0ms", "198.18.0.2"]),
        "bad value '0ms' for --timeout: must be greater than 0"
    );
    // Validated even without -sV.
    assert!(
        msg(&["--probe-timeout", "soon", "198.18.0.2"])
            .starts_with("bad value 'soon' for --probe-timeout")
    );
    assert!(msg(&["--timeout", "99999999999999999999999h", "198.18.0.2"]).starts_with("bad value"));
}

#[test]
fn retries_and_rate() {
    assert_eq!(ok(&["--retries", "0", "198.18.0.2"]).retries, 0);
    assert_eq!(ok(&["-sS", "--retries", "5", "198.18.0.2"]).retries, 5);
    // Regression: --retries 300 used to wrap the -sS attempt counter (a u8).
    assert!(
        msg(&["-sS", "--retries", "300", "198.18.0.2"])
            .starts_with("bad value '300' for --retries")
    );
    assert_eq!(
        msg(&["--retries", "x", "198.18.0.2"]),
        "bad value 'x' for --retries: not a whole number"
    );
    assert_eq!(ok(&["--rate", "1000", "198.18.0.2"]).rate, Some(1000));
    assert_eq!(
        msg(&["--rate", "0", "198.18.0.2"]),
        "bad value '0' for --rate: must be greater than 0"
    );
    assert_eq!(
        msg(&["--rate", "fast", "198.18.0.2"]),
        "bad value 'fast' for --rate: not a whole number"
    );
}

#[test]
fn max_rate_caps_the_rate_controller_and_excludes_rate() {
    let c = ok(&["-sS", "198.18.0.2"]);
    assert_eq!((c.rate, c.max_rate), (None, None));
    let c = ok(&["-sS", "--max-rate", "50000", "198.18.0.2"]);
    assert_eq!((c.rate, c.max_rate), (None, Some(50_000)));
    assert_eq!(
        msg(&["--max-rate", "0", "198.18.0.2"]),
        "bad value '0' for --max-rate: must be greater than 0"
    );
    // A fixed rate and a ceiling for the controller contradict each other.
    match parse(&["--rate", "1000", "--max-rate", "2000", "198.18.0.2"]) {
        Err(CliError::Clap(e)) => {
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict, "{e}")
        }
        other => panic!("--rate with --max-rate: {other:?}"),
    }
}

#[test]
fn syn_options() {
    let c = ok(&[
        "-sS",
        "--source-port-range",
        "40000-40100",
        "-S",
        "198.18.0.1",
        "-e",
        "veth0",
        "--seed",
        "42",
        "--shard",
        "2/3",
        "--no-rst",
        "--send-path",
        "raw",
        "--send-threads",
        "2",
        "198.18.0.2",
    ]);
    assert_eq!(
        c.syn,
        SynOptions {
            source_ports: (40000, 40100),
            source_addr: Some("198.18.0.1".parse().unwrap()),
            interface: Some("veth0".into()),
            seed: Some(42),
            shard: Shard { index: 2, count: 3 },
            send_rst: false,
            xdp_log: false,
            include_broadcast: false,
            send_path: SendPath::Raw,
            rst_path: RstPath::Auto,
            send_threads: 2,
        }
    );
    assert_eq!(
        ok(&["-sS", "198.18.0.2"]).syn.send_threads,
        defaults::send_threads()
    );
    assert!(defaults::send_threads() <= defaults::SEND_THREADS_MAX);
    assert_eq!(
        ok(&["-sS", "--send-threads", "3", "198.18.0.2"])
            .syn
            .send_threads,
        3
    );
    for bad in ["-1", "65", "two", ""] {
        let err = parse(&["-sS", "--send-threads", bad, "198.18.0.2"]).unwrap_err();
        assert!(err.to_string().contains("--send-threads"), "{bad}: {err}");
    }
    assert_eq!(
        ok(&["-S", "2001:db8::1", "198.18.0.2"]).syn.source_addr,
        Some("2001:db8::1".parse().unwrap())
    );
    // -sS without --seed draws one here, so the plan can name it; -sT has none.
    assert!(ok(&["-sS", "198.18.0.2"]).syn.seed.is_some());
    assert_eq!(ok(&["-sT", "198.18.0.2"]).syn.seed, None);
}

#[test]
fn send_path_is_auto_unless_raw_is_asked_for() {
    assert_eq!(ok(&["-sS", "198.18.0.2"]).syn.send_path, SendPath::Auto);
    let auto = ok(&["-sS", "--send-path", "auto", "198.18.0.2"]);
    assert_eq!(auto.syn.send_path, SendPath::Auto);
    let direct = ok(&["-sS", "--send-path", "direct", "198.18.0.2"]);
    assert_eq!(direct.syn.send_path, SendPath::Direct);
    assert!(parse(&["-sS", "--send-path", "xdp", "198.18.0.2"]).is_err());
}

#[test]
fn rst_path_is_auto_unless_asked_and_xdp_conflicts_with_no_rst() {
    assert_eq!(ok(&["-sS", "198.18.0.2"]).syn.rst_path, RstPath::Auto);
    for (word, path) in [
        ("auto", RstPath::Auto),
        ("xdp", RstPath::Xdp),
        ("socket", RstPath::Socket),
    ] {
        assert_eq!(
            ok(&["-sS", "--rst-path", word, "198.18.0.2"]).syn.rst_path,
            path
        );
    }
    assert!(parse(&["-sS", "--rst-path", "kernel", "198.18.0.2"]).is_err());
    let err = parse(&["-sS", "--rst-path", "xdp", "--no-rst", "198.18.0.2"]).unwrap_err();
    assert!(matches!(err, CliError::RstPathAndNoRst), "{err}");
}

/// Network and broadcast addresses of connected subnets are skipped unless asked for.
#[test]
fn include_broadcast_flag() {
    assert!(!ok(&["-sS", "198.18.5.0/28"]).syn.include_broadcast);
    assert!(
        ok(&["-sS", "--include-broadcast", "198.18.5.0/28"])
            .syn
            .include_broadcast
    );
    assert!(parse(&["--include-broadcast=yes", "198.18.5.0/28"]).is_err());
}

#[test]
fn syn_option_errors() {
    let spr = "expected LO-HI with 1 <= LO <= HI <= 65535";
    for v in ["40100-40000", "0-10", "1-65536", "1000", "a-b", "-"] {
        assert_eq!(
            msg(&["--source-port-range", v, "198.18.0.2"]),
            format!("bad value '{v}' for --source-port-range: {spr}")
        );
    }
    for v in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3"] {
        assert_eq!(
            msg(&["--shard", v, "198.18.0.2"]),
            format!("bad value '{v}' for --shard: expected I/N with 1 <= I <= N")
        );
    }
    assert_eq!(
        msg(&["-S", "198.18.0.999", "198.18.0.2"]),
        "bad value '198.18.0.999' for -S: not an IP address"
    );
    assert_eq!(
        msg(&["-e", "a/b", "198.18.0.2"]),
        "bad value 'a/b' for -e: not a network interface name"
    );
    assert_eq!(
        msg(&["-e", "sixteen-chars-xx", "198.18.0.2"]),
        "bad value 'sixteen-chars-xx' for -e: not a network interface name"
    );
    assert_eq!(
        msg(&["--seed", "-1", "198.18.0.2"]),
        "bad value '-1' for --seed: not a whole number"
    );
}

#[test]
fn outputs_default_and_explicit() {
    let out = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("198.18.0.2");
        ok(&all).outputs
    };
    let file = |format, p: &str| OutputSpec {
        format,
        path: Some(PathBuf::from(p)),
    };
    // Only files: normal still goes to stdout.
    assert_eq!(
        out(&["-oJ", "scan.json"]),
        [stdout_normal(), file(OutputFormat::Json, "scan.json")]
    );
    // Something to stdout: exactly what was asked.
    assert_eq!(
        out(&["-oG", "-"]),
        [OutputSpec {
            format: OutputFormat::Grep,
            path: None
        }]
    );
    assert_eq!(
        out(&["-oN", "-", "-oJ", "s.json"]),
        [stdout_normal(), file(OutputFormat::Json, "s.json")]
    );
    assert_eq!(
        out(&[
            "-oNscan.txt",
            "--output-grep",
            "scan.gnmap",
            "--output-json=scan.json",
            "-oXscan.xml",
        ]),
        [
            stdout_normal(),
            file(OutputFormat::Normal, "scan.txt"),
            file(OutputFormat::Json, "scan.json"),
            file(OutputFormat::Grep, "scan.gnmap"),
            file(OutputFormat::Xml, "scan.xml"),
        ]
    );
    assert_eq!(
        out(&["-oX", "-"]),
        [OutputSpec {
            format: OutputFormat::Xml,
            path: None
        }]
    );
}

#[test]
fn output_errors() {
    assert_eq!(
        msg(&["-oB", "scan", "198.18.0.2"]),
        "unsupported output option '-oB': tcprax writes -oN, -oJ, -oG, -oX and -oA"
    );
    assert_eq!(
        msg(&["-oN", "-", "-oJ", "-", "198.18.0.2"]),
        "only one output can go to stdout ('-'), but -oN and -oJ both do"
    );
    assert_eq!(
        msg(&["-oN", "x", "-oJ", "x", "198.18.0.2"]),
        "output file 'x' is given to more than one -o option"
    );
    assert_eq!(
        msg(&["-oJ", "", "198.18.0.2"]),
        "bad value '' for -oJ: empty file name"
    );
}

#[test]
fn verbosity() {
    assert_eq!(ok(&["-q", "198.18.0.2"]).verbosity, Verbosity::Quiet);
    assert_eq!(ok(&["-v", "198.18.0.2"]).verbosity, Verbosity::Verbose);
    assert_eq!(ok(&["-vv", "198.18.0.2"]).verbosity, Verbosity::Debug);
    assert!(ok(&["-vv", "198.18.0.2"]).syn.xdp_log);
    assert_eq!(
        ok(&["-v", "-v", "-v", "198.18.0.2"]).verbosity,
        Verbosity::Debug
    );
    assert_eq!(
        msg(&["-q", "-v", "198.18.0.2"]),
        "-q and -v cannot be combined"
    );
}

#[test]
fn repeated_options_take_the_last_value() {
    assert_eq!(
        ok(&["-p", "22", "-p", "80", "198.18.0.2"]).ports.as_slice(),
        &[80]
    );
    assert_eq!(ok(&["-sS", "-sS", "198.18.0.2"]).scan_type, ScanType::Syn);
}

#[test]
fn double_dash_ends_rewriting() {
    // After --, "-sU" is a target (and a bad one), not a scan type.
    assert_eq!(
        msg(&["--", "-sU"]),
        "bad target '-sU': not an address, CIDR block, range or host name"
    );
}

#[test]
fn help_and_version_are_clap_displays() {
    for flag in ["--help", "-h", "--version"] {
        match parse(&[flag]) {
            Err(CliError::Clap(e)) => assert_eq!(e.exit_code(), 0, "{flag}"),
            other => panic!("{flag}: {other:?}"),
        }
    }
}

#[test]
fn clap_definition_is_consistent() {
    use clap::CommandFactory;
    RawArgs::command().debug_assert();
}

/// `-oA BASE` is nmap's three files and our JSON lines; the normal report stays on stdout.
#[test]
fn output_all_names_four_files() {
    let file = |format, p: &str| OutputSpec {
        format,
        path: Some(PathBuf::from(p)),
    };
    let all = [
        file(OutputFormat::Normal, "out/scan.nmap"),
        file(OutputFormat::Json, "out/scan.jsonl"),
        file(OutputFormat::Grep, "out/scan.gnmap"),
        file(OutputFormat::Xml, "out/scan.xml"),
    ];
    let mut expected = vec![stdout_normal()];
    expected.extend(all.iter().cloned());
    assert_eq!(ok(&["-oA", "out/scan", "198.18.0.2"]).outputs, expected);
    assert_eq!(ok(&["-oAout/scan", "198.18.0.2"]).outputs, expected);
    assert_eq!(
        ok(&["--output-all", "out/scan", "198.18.0.2"]).outputs,
        expected
    );
    // With another format on stdout, exactly what was asked.
    let mut expected = vec![OutputSpec {
        format: OutputFormat::Json,
        path: None,
    }];
    expected.extend(all.iter().cloned());
    assert_eq!(
        ok(&["-oA", "out/scan", "-oJ", "-", "198.18.0.2"]).outputs,
        expected
    );
}

#[test]
fn output_all_errors() {
    assert_eq!(
        msg(&["-oA", "-", "198.18.0.2"]),
        "-oA writes four files (BASE.nmap, .gnmap, .xml, .jsonl) and cannot go to stdout: \
         give a base name, or -oN/-oJ/-oG/-oX -"
    );
    assert_eq!(
        msg(&["-oA", "", "198.18.0.2"]),
        "bad value '' for -oA: empty file name"
    );
    for dir in ["out/", ".", "..", "out/."] {
        assert_eq!(
            msg(&["-oA", dir, "198.18.0.2"]),
            format!(
                "bad value '{dir}' for -oA: names a directory; give a base name such as DIR/scan"
            )
        );
    }
    assert_eq!(
        msg(&["-oA", "scan", "-oX", "scan.xml", "198.18.0.2"]),
        "output file 'scan.xml' is given to more than one -o option"
    );
    assert_eq!(
        msg(&["-oA", "scan", "-oA", "scan", "198.18.0.2"]),
        "output file 'scan.nmap' is given to more than one -o option"
    );
}

#[test]
fn probe_file_and_version_intensity() {
    let c = ok(&["-sV", "198.18.0.2"]).service.unwrap();
    assert_eq!(c.version_intensity, defaults::VERSION_INTENSITY);
    assert_eq!(c.probe_file, None);
    let c = ok(&[
        "-sV",
        "--version-intensity",
        "9",
        "--service-probes",
        "/opt/nmap/nmap-service-probes",
        "198.18.0.2",
    ])
    .service
    .unwrap();
    assert_eq!(c.version_intensity, 9);
    assert_eq!(
        c.probe_file.as_deref(),
        Some(std::path::Path::new("/opt/nmap/nmap-service-probes"))
    );
    assert_eq!(
        ok(&["-sV", "--version-intensity", "0", "198.18.0.2"])
            .service
            .unwrap()
            .version_intensity,
        0
    );
    for (v, problem) in [
        ("10", "must be between 0 and 9"),
        ("-1", "not a whole number"),
        ("high", "not a whole number"),
        ("", "not a whole number"),
    ] {
        assert_eq!(
            msg(&["-sV", "--version-intensity", v, "198.18.0.2"]),
            format!("bad value '{v}' for --version-intensity: {problem}")
        );
    }
    // Validated even without -sV.
    assert!(msg(&["--version-intensity", "12", "198.18.0.2"]).contains("--version-intensity"));
    // clap refuses an empty file name itself.
    assert!(parse(&["-sV", "--service-probes", "", "198.18.0.2"]).is_err());
}
