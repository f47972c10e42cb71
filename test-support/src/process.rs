//! Starting PostgreSQL and tansu as children that die with the test process.

// `pre_exec` is unsafe: the closure runs between fork and exec. It only calls
// `prctl`, which is async-signal-safe.
#![allow(unsafe_code)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::Stack;

/// Starts both servers from a thread that never exits, so the children's
/// parent-death signal fires only when the whole process goes.
pub(crate) fn start_stack() -> anyhow::Result<Stack> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("test-stack".into())
        .spawn(move || {
            let mut children = Vec::new();
            let result = start_children(&mut children);
            let _ = tx.send(result);
            // Keep the children (and this thread) alive for the process's life.
            loop {
                std::thread::park();
            }
        })
        .context("spawning the test-stack thread")?;
    rx.recv().context("test-stack thread died")?
}

fn start_children(children: &mut Vec<Child>) -> anyhow::Result<Stack> {
    let base = scratch_dir()?;
    let pg_port = free_port()?;
    let kafka_port = free_port()?;
    children.push(start_postgres(&base, pg_port)?);
    children.push(start_tansu(&base, kafka_port)?);
    wait_for_port(kafka_port, Duration::from_secs(30)).context("tansu did not start")?;
    wait_for_postgres(pg_port, Duration::from_secs(30))?;
    Ok(Stack {
        pg_url: format!("postgres://postgres@127.0.0.1:{pg_port}"),
        kafka_bootstrap: format!("127.0.0.1:{kafka_port}"),
    })
}

/// `$TMPDIR/chat-test-stack/<pid>`, after removing folders of dead processes.
pub(crate) fn scratch_dir() -> anyhow::Result<PathBuf> {
    let root = std::env::temp_dir().join("chat-test-stack");
    std::fs::create_dir_all(&root)?;
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let alive = name
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if !alive {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on 127.0.0.1:{port} after {timeout:?}")
}

/// Makes the child receive `signal` when the thread that spawned it exits.
fn die_with_parent(cmd: &mut Command, signal: libc::c_int) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
    // memory of the parent; it runs after any uid change, so it is kept.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `(uid, gid)` of the `postgres` user when running as root (PostgreSQL
/// refuses to run as root), else `None`.
fn postgres_user() -> anyhow::Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        if !out.status.success() {
            bail!("no 'postgres' user: install PostgreSQL (scripts/install.sh)");
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

fn pg_bindir() -> anyhow::Result<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .context("pg_config not found: install PostgreSQL (scripts/install.sh)")?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn start_postgres(base: &Path, port: u16) -> anyhow::Result<Child> {
    let bin = pg_bindir()?;
    let user = postgres_user()?;
    let pg_dir = base.join("pg");
    std::fs::create_dir_all(&pg_dir)?;
    if let Some((uid, gid)) = user {
        chown(&pg_dir, Some(uid), Some(gid))?;
    }
    let data = pg_dir.join("data");
    let as_pg = |cmd: &mut Command| {
        if let Some((uid, gid)) = user {
            cmd.uid(uid).gid(gid);
        }
    };
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    as_pg(&mut initdb);
    let out = initdb.output().context("running initdb")?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let log = std::fs::File::create(pg_dir.join("server.log"))?;
    if let Some((uid, gid)) = user {
        chown(pg_dir.join("server.log"), Some(uid), Some(gid))?;
    }
    let mut postgres = Command::new(bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&pg_dir)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .args(["-c", "max_connections=400"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    as_pg(&mut postgres);
    // SIGINT is PostgreSQL's fast shutdown.
    die_with_parent(&mut postgres, libc::SIGINT);
    postgres.spawn().context("starting postgres")
}

fn wait_for_postgres(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let isready = pg_bindir()?.join("pg_isready");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let ok = Command::new(&isready)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-q",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("PostgreSQL did not become ready on port {port}")
}

/// `tansu` from `PATH`, else `~/.cargo/bin/tansu`.
pub(crate) fn tansu_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("TANSU_BIN") {
        return Ok(PathBuf::from(path));
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("tansu"))
            .find(|p| p.is_file())
    }) {
        return Ok(found);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/tansu");
    if cargo_bin.is_file() {
        return Ok(cargo_bin);
    }
    bail!("tansu not found: run scripts/install.sh")
}

pub(crate) fn start_tansu(base: &Path, port: u16) -> anyhow::Result<Child> {
    start_tansu_with(base, port, "memory://tansu/")
}

/// Starts tansu with `storage` (`memory://tansu/`, or `sqlite://FILE`
/// relative to `base`).
pub(crate) fn start_tansu_with(base: &Path, port: u16, storage: &str) -> anyhow::Result<Child> {
    let log = std::fs::File::create(base.join("tansu.log"))?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(tansu_binary()?);
    cmd.arg("broker")
        .args(["--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", storage])
        .current_dir(base)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    die_with_parent(&mut cmd, libc::SIGKILL);
    cmd.spawn().context("starting tansu")
}
