//! Zoo daemons that store or move data: PostgreSQL, MariaDB, Redis, memcached, beanstalkd,
//! Mosquitto (MQTT), NATS and InfluxDB.
use super::{Ctx, chown, run_setup, setup_error, write};
use crate::servers::{Daemon, DaemonError, require};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const READY: Duration = Duration::from_secs(15);
/// The databases that build their files first take longer on a busy machine.
const READY_SLOW: Duration = Duration::from_secs(40);

/// The newest installed PostgreSQL's binaries (`/usr/lib/postgresql/15/bin`).
fn postgres_bin() -> Result<PathBuf, DaemonError> {
    let mut majors: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            setup_error(
                "postgres",
                "read /usr/lib/postgresql (apt-get install postgresql)",
                e,
            )
        })?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    majors.sort_unstable();
    let major = majors
        .last()
        .ok_or_else(|| setup_error("postgres", "find a server", "no /usr/lib/postgresql/N"))?;
    Ok(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")))
}

/// initdb as the postgres user (it refuses root), then the server on 5432.
pub fn postgres(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("postgres")?;
    let data = dir.join("data");
    chown("postgres", "postgres", &dir)?;
    let bin = postgres_bin()?;
    run_setup(
        "initdb",
        ctx.command_as("postgres", &bin.join("initdb"))
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(&data)
            .env("LC_ALL", "C"),
    )?;
    let mut cmd = ctx.command_as("postgres", &bin.join("postgres"));
    cmd.arg("-D")
        .arg(&data)
        .args(["-p", "5432", "-h"])
        .arg(ctx.addr())
        .arg("-k")
        .arg(&dir);
    ctx.spawn("postgres", &mut cmd, &dir, 5432, READY_SLOW)
}

pub fn mariadb(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("mariadb")?;
    let data = dir.join("data");
    run_setup(
        "mariadb-install-db",
        Command::new(require("mariadb-install-db", "mariadb-server"))
            .args([
                "--no-defaults",
                "--user=root",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
            ])
            .arg(format!("--datadir={}", data.display())),
    )?;
    let mut cmd = ctx.command(&require("mariadbd", "mariadb-server"));
    cmd.args([
        "--no-defaults",
        "--user=root",
        "--port=3306",
        "--skip-log-bin",
    ])
    .arg(format!("--datadir={}", data.display()))
    .arg(format!("--bind-address={}", ctx.addr()))
    .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
    .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()));
    ctx.spawn("mariadbd", &mut cmd, &dir, 3306, READY_SLOW)
}

/// Redis with protected mode off: in its default protected mode it answers every client that is
/// not on loopback `-DENIED ...` and nothing else, so a scan can read its version only from a
/// Redis that a network client can really use (protected mode off, or a password).
pub fn redis(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("redis")?;
    let mut cmd = ctx.command(&require("redis-server", "redis-server"));
    cmd.args([
        "--port",
        "6379",
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .arg("--bind")
    .arg(ctx.addr())
    .arg("--dir")
    .arg(&dir);
    ctx.spawn("redis-server", &mut cmd, &dir, 6379, READY)
}

pub fn memcached(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("memcached")?;
    let mut cmd = ctx.command(&require("memcached", "memcached"));
    cmd.args(["-u", "nobody", "-p", "11211", "-U", "0", "-l"])
        .arg(ctx.addr());
    ctx.spawn("memcached", &mut cmd, &dir, 11211, READY)
}

pub fn beanstalkd(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("beanstalkd")?;
    let mut cmd = ctx.command(&require("beanstalkd", "beanstalkd"));
    cmd.args(["-p", "11300", "-l"]).arg(ctx.addr());
    ctx.spawn("beanstalkd", &mut cmd, &dir, 11300, READY)
}

pub fn mosquitto(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("mosquitto")?;
    let conf = dir.join("mosquitto.conf");
    write(
        "mosquitto",
        &conf,
        &format!(
            "listener 1883 {}\nallow_anonymous true\npersistence false\nlog_dest stderr\n",
            ctx.addr()
        ),
    )?;
    let mut cmd = ctx.command(&require("mosquitto", "mosquitto"));
    cmd.arg("-c").arg(&conf);
    ctx.spawn("mosquitto", &mut cmd, &dir, 1883, READY)
}

pub fn nats(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("nats")?;
    let mut cmd = ctx.command(&require("nats-server", "nats-server"));
    cmd.args(["-p", "4222", "-a"]).arg(ctx.addr());
    ctx.spawn("nats-server", &mut cmd, &dir, 4222, READY)
}

pub fn influxdb(ctx: &Ctx) -> Result<Daemon, DaemonError> {
    let dir = ctx.subdir("influxdb")?;
    let d = dir.display();
    let addr = ctx.addr();
    let conf = dir.join("influxdb.conf");
    write(
        "influxd",
        &conf,
        &format!(
            "reporting-disabled = true\nbind-address = \"{addr}:8088\"\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n\
             [http]\n  bind-address = \"{addr}:8086\"\n  log-enabled = false\n"
        ),
    )?;
    let mut cmd = ctx.command(&require("influxd", "influxdb"));
    cmd.arg("-config").arg(&conf);
    ctx.spawn("influxd", &mut cmd, &dir, 8086, READY_SLOW)
}
