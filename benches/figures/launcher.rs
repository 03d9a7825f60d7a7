//! Running the binary as a child process whose CPU time and peak memory are its own.
//!
//! The kernel records in a child's peak memory the memory of the process it was forked from
//! (the copy exists until `exec`), and the benchmark process grows to tens of megabytes with
//! the emulators' request logs. So every child is started by a launcher: this benchmark binary
//! again, started first while it is small, which runs each command it is sent, waits for it
//! with `wait4`, and answers `exit wall_us cpu_us max_rss_kib`. The launcher holds every
//! network's credentials in its environment; the command line says which network a run uses.

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary measured.
const BIN: &str = env!("CARGO_BIN_EXE_bulk-unblock");

/// Set in the launcher's environment.
const LAUNCHER: &str = "FIGURES_LAUNCHER";

/// Separates the words of a launcher request (never in a path or an argument used here).
const SEPARATOR: char = '\u{1f}';

/// What the kernel accounted to one child process.
pub struct ChildRun {
    pub exit: i32,
    pub wall: Duration,
    pub cpu: Duration,
    pub max_rss_kib: i64,
}

/// The launcher process and its pipes.
pub struct Launcher {
    _process: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Launcher {
    /// This benchmark again, as a launcher, working in `dir`, with `env` (every network's
    /// credentials) and otherwise a clean environment: no credentials of the caller's, no
    /// proxy, no `RUST_LOG`.
    pub fn start(dir: &Path, env: &[(&str, String)]) -> Launcher {
        let mut cmd = Command::new(std::env::current_exe().expect("own path"));
        for (key, _) in std::env::vars() {
            if key.starts_with("TWITTER_")
                || key.starts_with("MASTODON_")
                || key.starts_with("BLUESKY_")
                || key == "RUST_LOG"
                || key.to_ascii_lowercase().ends_with("_proxy")
            {
                cmd.env_remove(key);
            }
        }
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut process = cmd
            .env(LAUNCHER, "1")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("launcher starts");
        Launcher {
            input: process.stdin.take().expect("piped"),
            output: std::io::BufReader::new(process.stdout.take().expect("piped")),
            _process: process,
        }
    }

    /// Runs `bulk-unblock ARGS` with output to `NAME.stdout` and `NAME.stderr` in the
    /// launcher's directory, and waits for it.
    pub fn run(&mut self, args: &[&str], name: &str) -> ChildRun {
        let mut request = name.to_owned();
        for arg in args {
            request.push(SEPARATOR);
            request.push_str(arg);
        }
        request.push('\n');
        self.input
            .write_all(request.as_bytes())
            .expect("launcher reads");
        let mut answer = String::new();
        self.output
            .read_line(&mut answer)
            .expect("launcher answers");
        let numbers: Vec<i64> = answer
            .split_whitespace()
            .map(|n| n.parse().expect("launcher answers numbers"))
            .collect();
        let [exit, wall_us, cpu_us, max_rss_kib] = numbers[..] else {
            panic!("launcher answered `{answer}`");
        };
        ChildRun {
            exit: exit as i32,
            wall: Duration::from_micros(wall_us as u64),
            cpu: Duration::from_micros(cpu_us as u64),
            max_rss_kib,
        }
    }
}

/// True in the launcher process.
pub fn is_launcher() -> bool {
    std::env::var_os(LAUNCHER).is_some()
}

/// The launcher: runs each requested command and answers `exit wall_us cpu_us max_rss_kib`.
pub fn serve() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for request in stdin.lock().lines() {
        let request = request.expect("request line");
        let mut words = request.split(SEPARATOR);
        let name = words.next().expect("a name");
        let args: Vec<&str> = words.collect();
        let run = spawn_measured(&args, name);
        writeln!(
            stdout,
            "{} {} {} {}",
            run.exit,
            run.wall.as_micros(),
            run.cpu.as_micros(),
            run.max_rss_kib
        )
        .expect("answer written");
        stdout.flush().expect("answer flushed");
    }
}

/// Runs `bulk-unblock ARGS` with output to `NAME.stdout` and `NAME.stderr`, waited for with
/// `wait4` so its CPU time and peak memory are its own.
fn spawn_measured(args: &[&str], name: &str) -> ChildRun {
    let out = std::fs::File::create(format!("{name}.stdout")).expect("stdout");
    let err = std::fs::File::create(format!("{name}.stderr")).expect("stderr");
    let start = Instant::now();
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("the binary starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, fully written by wait4 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet reaped; the pointers are valid for the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(
        reaped,
        pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    // The Child value must not wait again: it was reaped above.
    std::mem::forget(child);
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    ChildRun {
        exit: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
    }
}
