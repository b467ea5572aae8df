//! An execution environment's own file system view: a private `/tmp` of the function's
//! ephemeral storage size and a read-only task root and `/opt` layers, as on AWS.
//!
//! nephos's data directory is covered by an empty tmpfs too (but for the function's own
//! code and layers in it), so a function cannot read other functions' code or nephos's
//! state by path.
//!
//! Functions write to the literal path `/tmp` (AWS documents it as the one writable
//! place), so a TMPDIR variable is not enough: two environments would share the host's
//! `/tmp`, and a function could fill the host's disk past its `EphemeralStorage`. Each
//! environment therefore runs in an unprivileged user and mount namespace of its own,
//! where a tmpfs of the configured size is mounted on `/tmp`; the user id maps to itself,
//! so files keep their owner and nothing runs with more privilege than nephos has.
//!
//! The namespace is set up by nephos's own binary, re-executed as a small launcher
//! ([`ARG`]) that then execs the runtime (or extension) in place: the process keeps its
//! pid and process group, nephos needs no `unsafe` code between fork and exec, and the
//! server keeps its fast `posix_spawn` path. The first process of an environment makes
//! the namespace; the others (the runtime after its extensions) join it, so extensions
//! and the function share `/tmp` as on AWS.
//!
//! Where the kernel refuses unprivileged namespaces (some containers), [`available`] says
//! so once and environments fall back to a private directory named by `TMPDIR`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The hidden first argument that makes the `nephos` binary the launcher.
pub const ARG: &str = "__lambda-sandbox";

/// The mount point every function knows.
const TMP: &str = "/tmp";

/// How one process of an environment is to be started.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Size of the private `/tmp`, in MB (the function's ephemeral storage).
    pub tmp_mb: u32,
    /// Read-only in the environment: the task root and the layers.
    pub read_only: Vec<PathBuf>,
    /// Also needed by path from inside the environment (the bootstraps, the interpreter).
    pub keep: Vec<PathBuf>,
    /// Hidden from the environment (nephos's data directory), but for what `read_only`
    /// and `keep` name inside it.
    pub hidden: Vec<PathBuf>,
}

impl Plan {
    /// The command that starts `program` with `args` in this plan's namespace: a new one,
    /// or the one of the process `join` (the environment's first process).
    pub fn command(
        &self,
        program: &Path,
        args: &[String],
        join: Option<i32>,
    ) -> (PathBuf, Vec<OsString>) {
        let mut a: Vec<OsString> = vec![ARG.into(), self.tmp_mb.to_string().into()];
        a.push(join.map_or_else(|| "0".into(), |p| p.to_string()).into());
        for p in &self.read_only {
            a.push("--ro".into());
            a.push(p.into());
        }
        for p in &self.keep {
            a.push("--keep".into());
            a.push(p.into());
        }
        for p in &self.hidden {
            a.push("--hide".into());
            a.push(p.into());
        }
        a.push("--".into());
        a.push(program.into());
        a.extend(args.iter().map(OsString::from));
        // The running binary even if the file was replaced since it started.
        (PathBuf::from("/proc/self/exe"), a)
    }
}

/// Whether this machine lets nephos make the namespaces (asked once, by starting the
/// launcher in its probing mode).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let ok = std::process::Command::new("/proc/self/exe")
            .args([ARG, "probe"])
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            tracing::info!(
                "unprivileged user namespaces are not available: Lambda environments get a private TMPDIR instead of their own /tmp"
            );
        }
        ok
    })
}

/// The launcher: sets up the namespace, then becomes the program. Never returns.
pub fn main(args: Vec<OsString>) -> ! {
    if args.first().is_some_and(|a| a == "probe") {
        let ok = enter_new(64, &[], &[], &[]).is_ok();
        std::process::exit(if ok { 0 } else { 1 });
    }
    let Some(parsed) = Parsed::from(args) else {
        eprintln!("nephos {ARG}: bad arguments");
        std::process::exit(127);
    };
    let entered = match parsed.join {
        Some(pid) => enter_existing(pid),
        None => enter_new(
            parsed.tmp_mb,
            &parsed.read_only,
            &parsed.keep,
            &parsed.hidden,
        ),
    };
    if let Err(e) = entered {
        // The environment runs without its own /tmp rather than not at all.
        eprintln!("nephos: the environment's private /tmp could not be set up ({e})");
    }
    let cwd = std::env::current_dir().ok();
    let mut cmd = std::process::Command::new(&parsed.program);
    cmd.args(&parsed.args);
    // The mounts above cover the directory the process started in: enter it again.
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let e = cmd.exec();
    eprintln!(
        "nephos: cannot start {}: {e}",
        parsed.program.to_string_lossy()
    );
    std::process::exit(127)
}

struct Parsed {
    tmp_mb: u32,
    join: Option<i32>,
    read_only: Vec<PathBuf>,
    keep: Vec<PathBuf>,
    hidden: Vec<PathBuf>,
    program: OsString,
    args: Vec<OsString>,
}

impl Parsed {
    fn from(args: Vec<OsString>) -> Option<Parsed> {
        let mut it = args.into_iter();
        let tmp_mb = it.next()?.to_str()?.parse().ok()?;
        let join = match it.next()?.to_str()?.parse::<i32>().ok()? {
            0 => None,
            p => Some(p),
        };
        let (mut read_only, mut keep, mut hidden) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            let a = it.next()?;
            match a.to_str() {
                Some("--ro") => read_only.push(PathBuf::from(it.next()?)),
                Some("--keep") => keep.push(PathBuf::from(it.next()?)),
                Some("--hide") => hidden.push(PathBuf::from(it.next()?)),
                Some("--") => break,
                _ => return None,
            }
        }
        let program = it.next()?;
        Some(Parsed {
            tmp_mb,
            join,
            read_only,
            keep,
            hidden,
            program,
            args: it.collect(),
        })
    }
}

type Result<T> = std::result::Result<T, String>;

fn step<T>(what: &str, r: rustix::io::Result<T>) -> Result<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// A new user and mount namespace with a tmpfs on `/tmp` and an empty one over each
/// hidden directory; what those held that the function needs is bound back at the same
/// paths.
fn enter_new(
    tmp_mb: u32,
    read_only: &[PathBuf],
    keep: &[PathBuf],
    hidden: &[PathBuf],
) -> Result<()> {
    use rustix::mount::{MountFlags, MountPropagationFlags};
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    // The launcher is single-threaded, which is all unshare asks (rustix deprecated the
    // safe name because of CLONE_FILES, which is not used here).
    #[allow(deprecated)]
    step(
        "unshare",
        rustix::thread::unshare(
            rustix::thread::UnshareFlags::NEWUSER | rustix::thread::UnshareFlags::NEWNS,
        ),
    )?;
    write("/proc/self/setgroups", "deny")?;
    write("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;
    // Nothing mounted here may reach the host's namespace.
    step(
        "private mounts",
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        ),
    )?;
    let covers: Vec<(PathBuf, String)> =
        std::iter::once((PathBuf::from(TMP), format!("size={tmp_mb}m,mode=1777")))
            .chain(
                hidden
                    .iter()
                    .filter(|d| d.is_dir())
                    .map(|d| (d.clone(), "size=1m,mode=700".to_owned())),
            )
            .collect();
    let covered = |p: &Path| covers.iter().any(|(c, _)| p.starts_with(c));
    // Opened before anything is covered, to be bound back from `/proc/self/fd/N` (in
    // this namespace: a bind from another one is refused).
    let kept: Vec<(PathBuf, rustix::fd::OwnedFd)> = read_only
        .iter()
        .chain(keep)
        .filter(|p| covered(p) && p.exists())
        .filter_map(|p| {
            let fd = rustix::fs::open(
                p.as_path(),
                rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok()?;
            Some((p.clone(), fd))
        })
        .collect();
    for (point, options) in &covers {
        // A hidden directory under /tmp is gone once /tmp is covered: cover its place.
        let _ = std::fs::create_dir_all(point);
        let options = std::ffi::CString::new(options.as_str()).map_err(|e| e.to_string())?;
        step(
            "an empty tmpfs",
            rustix::mount::mount(
                "tmpfs",
                point.as_path(),
                "tmpfs",
                MountFlags::NOSUID | MountFlags::NODEV,
                options.as_c_str(),
            ),
        )?;
    }
    for (path, fd) in &kept {
        std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let source = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd));
        step(
            "binding a kept directory",
            rustix::mount::mount_bind_recursive(source.as_str(), path.as_path()),
        )?;
    }
    for path in read_only {
        if !covered(path) {
            step(
                "binding the task root",
                rustix::mount::mount_bind_recursive(path.as_path(), path.as_path()),
            )?;
        }
        make_read_only(path);
    }
    Ok(())
}

/// Remounts a bind mount read-only, keeping the flags the kernel locks for mounts
/// inherited from a more privileged namespace (it refuses a remount that drops them).
fn make_read_only(path: &Path) {
    use rustix::fs::StatVfsMountFlags as S;
    use rustix::mount::MountFlags as M;
    let Ok(st) = rustix::fs::statvfs(path) else {
        return;
    };
    let mut flags = M::BIND | M::RDONLY;
    for (has, keep) in [
        (S::NOSUID, M::NOSUID),
        (S::NODEV, M::NODEV),
        (S::NOEXEC, M::NOEXEC),
        (S::NOATIME, M::NOATIME),
        (S::NODIRATIME, M::NODIRATIME),
        (S::RELATIME, M::RELATIME),
    ] {
        if st.f_flag.contains(has) {
            flags |= keep;
        }
    }
    let _ = rustix::mount::mount_remount(path, flags, "");
}

/// Joins the namespaces of the environment's first process, once it has made them.
fn enter_existing(pid: i32) -> Result<()> {
    let own = std::fs::read_link("/proc/self/ns/user").map_err(|e| e.to_string())?;
    let theirs = format!("/proc/{pid}/ns/user");
    // The first process may still be on its way into its namespace.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match std::fs::read_link(&theirs) {
            Ok(ns) if ns != own => break,
            Ok(_) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(2))
            }
            Ok(_) => return Err("the environment's first process has no namespace".into()),
            Err(e) => return Err(format!("the environment's first process: {e}")),
        }
    }
    for (ns, kind) in [
        ("user", rustix::thread::LinkNameSpaceType::User),
        ("mnt", rustix::thread::LinkNameSpaceType::Mount),
    ] {
        let f = std::fs::File::open(format!("/proc/{pid}/ns/{ns}")).map_err(|e| e.to_string())?;
        step(
            "joining the environment",
            rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(&f), Some(kind)),
        )?;
    }
    Ok(())
}

fn write(path: &str, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))
}
