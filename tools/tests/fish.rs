//! gx-fish end to end: what needs no appliance (the direct engine answers
//! `--ro -i` reads without starting a VM; `--listen`/`--remote` with the
//! client's stdout; the man page), and what does (a guest built from
//! scratch by a script, then read back by both engines, by gx-cat/gx-ls and
//! by the host's own tools; `-N` prepared disks checked with sfdisk and
//! blkid; copy-in/copy-out round trips compared file by file; `edit`).
//! Appliance tests skip, saying why, when it cannot run here, and fail
//! instead under CI.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FISH: &str = env!("CARGO_BIN_EXE_gx-fish");
const CAT: &str = env!("CARGO_BIN_EXE_gx-cat");
const LS: &str = env!("CARGO_BIN_EXE_gx-ls");

/// Runs gx-fish with `args` and `stdin` in `dir`.
fn fish_in(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(FISH);
    c.args(args)
        .current_dir(dir)
        .env_remove("GX_ENGINE")
        .env_remove("GUESTFISH_PID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    {
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(stdin.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn image(name: &str) -> String {
    gx_testdata::image(name).to_str().unwrap().to_string()
}

// ---------------------------------------------------------------------
// No appliance needed.

/// libguestfs's fish/test-events.sh and test-remote-events.sh (the parts
/// that do not replay libguestfs's internal calls): handlers listed as
/// guestfish lists them, a word selecting the first event it begins,
/// `close` handlers run when the handle closes, `reopen` drops them.
#[test]
fn event_handlers() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "event ev1 close,subprocess_quit \"echo $EVENT $@\"\n\
                  event ev2 * \"echo two\"\n\
                  event ev3 launch \"echo three\"\n\
                  list-events\n\
                  -delete-event ev4\n\
                  delete-event ev2\n\
                  list-events\n";
    let o = fish_in(tmp.path(), &["-a", "/dev/null"], script, &[]);
    assert_eq!(
        ok(&o),
        "\"ev1\" (0): close,subprocess_quit: echo $EVENT $@\n\
         \"ev2\" (1): *: echo two\n\
         \"ev3\" (2): launch_done: echo three\n\
         \"ev1\" (0): close,subprocess_quit: echo $EVENT $@\n\
         \"ev3\" (2): launch_done: echo three\n\
         close\n"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("delete-event: ev4: no such event handler"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = fish_in(
        tmp.path(),
        &[],
        "event e close \"echo closed\"\nreopen\nlist-events\n",
        &[],
    );
    assert_eq!(ok(&o), "closed\n");
}

/// libguestfs's fish/test-events.sh whole, with its expected output: `*`
/// handlers see the `enter` event and the trace lines (which then do not
/// go to stderr) of the calls `reopen` makes on the old handle (shutdown,
/// get_autosync, get_pgroup; the script drops the lines of get_verbose and
/// get_trace, which libguestfs's own reopen also calls), then its `close`.
#[test]
fn events_see_enter_and_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"trace true

event ev1 * "echo $EVENT $@"
event ev1 * "echo $EVENT $@"
event ev2 * "echo $EVENT $@"

list-events
delete-event ev1
list-events
reopen
list-events

event ev1 close,subprocess_quit "echo $EVENT $@"
event ev2 close,subprocess_quit "echo $EVENT $@"
event ev3 launch "echo $EVENT $@"

list-events
-delete-event ev4
list-events
delete-event ev1
list-events
delete-event ev3
list-events
"#;
    let o = fish_in(tmp.path(), &["-a", "/dev/null"], script, &[]);
    let got: String = ok(&o)
        .lines()
        .filter(|l| {
            !l.contains("get_verbose") && !l.contains("get_trace") && !l.contains("get_path")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        got,
        r#""ev1" (0): *: echo $EVENT $@
"ev1" (1): *: echo $EVENT $@
"ev2" (2): *: echo $EVENT $@
"ev2" (2): *: echo $EVENT $@
enter shutdown
trace shutdown
trace shutdown = 0
enter get_autosync
trace get_autosync
trace get_autosync = 1
enter get_pgroup
trace get_pgroup
trace get_pgroup = 0
trace close
close
"ev1" (0): close,subprocess_quit: echo $EVENT $@
"ev2" (1): close,subprocess_quit: echo $EVENT $@
"ev3" (2): launch_done: echo $EVENT $@
"ev1" (0): close,subprocess_quit: echo $EVENT $@
"ev2" (1): close,subprocess_quit: echo $EVENT $@
"ev3" (2): launch_done: echo $EVENT $@
"ev2" (1): close,subprocess_quit: echo $EVENT $@
"ev3" (2): launch_done: echo $EVENT $@
"ev2" (1): close,subprocess_quit: echo $EVENT $@
close
"#
    );
    // The old handle's trace lines went to its handlers, not to stderr;
    // the new handle has none for them, so its own go to stderr.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("trace: get_autosync"), "{err}");
    assert!(err.contains("libguestfs: trace: shutdown = 0"), "{err}");
}

/// libguestfs's fish/test-a.sh: `-x` traces `add_drive` with the optional
/// arguments given, as `"name:value"` words (readonly before format).
#[test]
fn trace_shows_add_drive_options() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(&fish_in(
        d,
        &["disk-create", "t.img", "qcow2", "1M"],
        "",
        &[],
    ));
    let err =
        |args: &[&str]| String::from_utf8_lossy(&fish_in(d, args, "", &[]).stderr).into_owned();
    let e = err(&["-x", "--ro", "--format=qcow2", "-a", "t.img"]);
    assert!(
        e.contains("add_drive \"t.img\" \"readonly:true\" \"format:qcow2\""),
        "{e}"
    );
    let e = err(&["-x", "-a", "t.img"]);
    assert!(
        e.contains("add_drive \"t.img\"") && !e.contains("format"),
        "{e}"
    );
    // libguestfs's fish/test-add-uri.sh: URIs split into add_drive's
    // options; a network drive is accepted when added, refused at launch.
    for (uri, want) in [
        (
            "nbd:///export?socket=/sk",
            "add_drive \"export\" \"protocol:nbd\" \"server:unix:/sk\"",
        ),
        (
            "ssh://user@example.com:2000/disk.img",
            "add_drive \"/disk.img\" \"protocol:ssh\" \"server:tcp:example.com:2000\" \"username:user\"",
        ),
        (
            "iscsi://user:password@example.com/iqn.2015-12.com.libguestfs:test2/0",
            "add_drive \"iqn.2015-12.com.libguestfs:test2/0\" \"protocol:iscsi\" \"server:tcp:example.com\" \"username:user\" \"secret:password\"",
        ),
    ] {
        let o = fish_in(d, &["-x", "-a", uri], "", &[]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && e.contains(want), "{uri}: {e}");
    }
    let o = fish_in(d, &["-a", "nbd://localhost/x", "run"], "", &[]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("protocol \"nbd\" is not supported"),
        "{e}"
    );
    let e = err(&["-x", "-a", "t.img", "--format=raw", "-a", "/dev/null"]);
    assert!(
        !e.contains("t.img\" \"format") && e.contains("\"/dev/null\" \"format:raw\""),
        "{e}"
    );
}

/// libguestfs's fish/test-d.sh and test-add-domain.sh: a libvirt test
/// driver file (`test:///path`) gives a domain's disks, `-d` and
/// `add-domain` add them with their formats and read-only flags, and
/// `debug-drives` prints them as libguestfs's drive_to_string does; a
/// missing disk adds none (all or nothing).
#[test]
fn libvirt_test_driver_domains_and_debug_drives() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let img = |n: u32| d.join(format!("d-{n}.img")).to_str().unwrap().to_string();
    for n in 1..=4 {
        std::fs::File::create(img(n))
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
    }
    let xml = d.join("node.xml");
    std::fs::write(
        &xml,
        format!(
            r#"<node>
  <domain type="test">
    <name>other</name>
    <devices><disk type="file"><source file="/nonexistent.img"/></disk></devices>
  </domain>
  <domain type="test">
    <name>live</name>
    <devices><disk type="file"><source file="{}"/></disk></devices>
  </domain>
  <domain type="test">
    <name>guest</name>
    <memory>524288</memory>
    <test:runstate xmlns:test="http://libvirt.org/schemas/domain/test/1.0">5</test:runstate>
    <devices>
      <disk type="file"><source file="{}"/><target dev="hda"/></disk>
      <disk type="file"><driver name="qemu" type="raw"/><source file="{}"/><target dev="hdb"/></disk>
      <disk type="file"><driver name="qemu" type="qcow2"/><source file="{}"/><target dev="hdc"/></disk>
      <disk type="file"><driver name="qemu" type="raw"/><source file="{}"/><target dev="hdd"/><readonly/></disk>
    </devices>
  </domain>
</node>
"#,
            img(1),
            img(1),
            img(2),
            img(3),
            img(4)
        ),
    )
    .unwrap();
    let uri = format!("test://{}", xml.display());
    let all_ro = format!(
        "{} readonly protocol=file\n{} readonly format=raw protocol=file\n{} readonly format=qcow2 protocol=file\n{} readonly format=raw protocol=file\n",
        img(1),
        img(2),
        img(3),
        img(4)
    );
    let out = ok(&fish_in(
        d,
        &["-c", &uri, "--ro", "-d", "guest", "debug-drives"],
        "",
        &[],
    ));
    assert_eq!(out, all_ro);
    // Without --ro, -d is add_domain with readonlydisk:read (libguestfs's
    // add_libvirt_drives): only the disk marked <readonly/> is read-only.
    let out = ok(&fish_in(
        d,
        &["-c", &uri, "-d", "guest", "debug-drives"],
        "",
        &[],
    ));
    assert_eq!(
        out,
        format!(
            "{} protocol=file\n{} format=raw protocol=file\n{} format=qcow2 protocol=file\n{} readonly format=raw protocol=file\n",
            img(1),
            img(2),
            img(3),
            img(4)
        )
    );
    // A running domain (the test driver's default) is refused read-write,
    // with libguestfs's words.
    let o = fish_in(d, &["-c", &uri, "-d", "live", "debug-drives"], "", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with(
            "libguestfs: error: error: domain is a live virtual machine.\nWriting to the disks"
        ),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = ok(&fish_in(
        d,
        &[],
        &format!("domain guest libvirturi:{uri} readonly:true\ndebug-drives\n"),
        &[],
    ));
    assert_eq!(out, format!("4\n{all_ro}"));
    // readonlydisk:ignore leaves out the disk marked <readonly/>.
    let out = ok(&fish_in(
        d,
        &[],
        &format!(
            "add-domain guest libvirturi:{uri} readonly:true readonlydisk:ignore\ndebug-drives\n"
        ),
        &[],
    ));
    assert!(out.starts_with("3\n") && !out.contains(&img(4)), "{out}");
    // A disk that is gone: nothing is added.
    std::fs::remove_file(img(3)).unwrap();
    let o = fish_in(
        d,
        &[],
        &format!("-domain guest libvirturi:{uri} readonly:true\ndebug-drives\n"),
        &[],
    );
    let out = ok(&o);
    assert_eq!(out, "", "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("d-3.img"));
}

#[test]
fn read_only_inspection_starts_no_appliance() {
    // An agent that does not exist: any launch would fail.
    let tmp = tempfile::tempdir().unwrap();
    let img = image("linux.img");
    let o = fish_in(
        tmp.path(),
        &[
            "--ro",
            "-a",
            &img,
            "-i",
            "cat",
            "/etc/hostname",
            ":",
            "ll",
            "/etc/hostname",
        ],
        "",
        &[
            ("GX_AGENT", "/nonexistent/gx-agent"),
            ("GX_BACKEND", "qemu"),
        ],
    );
    let out = ok(&o);
    assert!(
        out.starts_with("debian12.test\n\n-rw-r--r-- 1 0 0 14 Jan  2  2024 /etc/hostname\n"),
        "{out}"
    );
}

#[test]
fn write_on_a_read_only_direct_engine_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let img = image("linux.img");
    let before = gx_testdata::file_digest(Path::new(&img));
    let o = fish_in(
        tmp.path(),
        &["--ro", "--engine", "direct", "-a", &img, "-i"],
        "write /etc/hostname x\necho never\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("*stdin*:1: libguestfs: error: write:"),
        "{err}"
    );
    assert_eq!(before, gx_testdata::file_digest(Path::new(&img)));
}

#[test]
fn script_file_and_shebang() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("s.gxf");
    std::fs::write(
        &script,
        format!("#!{FISH} -f\n# comment\necho from the script\nupload -<<END /x\nbody\nEND\n"),
    )
    .unwrap();
    // -f FILE stands in for stdin: the here document is read from it too
    // (and upload then fails: nothing is launched).
    let o = fish_in(tmp.path(), &["-f", script.to_str().unwrap()], "", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from the script\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!(
            "{}:4: libguestfs: error: upload:",
            script.display()
        )),
        "{err}"
    );
    // As an executable script.
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    let o = Command::new(&script).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from the script\n");
}

#[test]
fn pipes_and_pipe_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // More output than a pipe holds, so the writer meets the closed end.
    let img = image("bigtree.img");
    let args = ["--ro", "--format=raw", "-a", &img, "-m", "/dev/sda"];
    // A pipe that stops reading is no error unless --pipe-error.
    let script = "find / | head -n 2\necho after\n";
    let o = fish_in(tmp.path(), &args, script, &[]);
    // Under `/` libguestfs's find prints names without a leading slash
    // (the daemon cuts "/sysroot/" off; tests/expected/fish/img-find.out).
    assert_eq!(ok(&o), "d000\nd000/f000\nafter\n");
    let mut with_flag = vec!["--pipe-error"];
    with_flag.extend_from_slice(&args);
    let o = fish_in(tmp.path(), &with_flag, script, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "gx-fish: write error on pipe\n"
    );
    // Writing to a closed stdout is an error without a pipe.
    let mut child = Command::new(FISH)
        .args(args)
        .args(["find", "/"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "gx-fish: write error\n");
}

#[test]
fn man_page_renders() {
    let o = Command::new(FISH).arg("--man").output().unwrap();
    let page = ok(&o);
    assert!(page.starts_with(".TH GX\\-FISH 1"));
    for must in [
        ".SH OPTIONS",
        ".SH COMMANDS",
        ".SS copy\\-in",
        ".SS mount\\-ro",
    ] {
        assert!(page.contains(must), "{must}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("gx-fish.1");
    std::fs::write(&f, &page).unwrap();
    let man = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&f)
        .env("MANWIDTH", "80")
        .stderr(Stdio::piped())
        .output();
    match man {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                text.contains("gx-fish - the guest filesystem shell"),
                "{text}"
            );
            assert!(text.contains("--listen"));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!err.contains("warning"), "man warns: {err}");
        }
        _ if std::env::var_os("CI").is_some() => panic!("man -l failed: {man:?}"),
        _ => gx_testdata::skip!("SKIP man_page_renders: no man(1) here"),
    }
}

/// Reads a pseudo-terminal until `want` has appeared (or 20 s passed).
fn read_until(rx: &std::sync::mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !String::from_utf8_lossy(seen).contains(want) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(b) => seen.extend_from_slice(&b),
            Err(_) => panic!(
                "waited for {want:?}; the terminal shows:\n{}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

#[test]
fn interactive_session() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let tmp = tempfile::tempdir().unwrap();
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(std::ffi::OsStr::new(
            std::str::from_utf8(name.as_bytes()).unwrap(),
        ))
        .unwrap();
    std::fs::write(tmp.path().join(".guestfish"), "from an older session\n").unwrap();
    let img = image("linux.img");
    let mut child = Command::new(FISH)
        .args(["--ro", "-a", &img, "-i"])
        .env("HOME", tmp.path())
        .env("TERM", "xterm")
        .env_remove("GUESTFISH_PS1")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut reader, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut writer = std::fs::File::from(master);
    let mut seen = Vec::new();
    read_until(&rx, &mut seen, "><fs> ");
    let banner = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        banner.contains("Welcome to gx-fish, the guest filesystem shell"),
        "{banner}"
    );
    assert!(banner.contains("/dev/sda2 mounted on /"), "{banner}");
    for (line, want) in [
        ("echo hi\r", "hi\r\n"),
        // An error does not end the session.
        ("cat /nonexistent\r", "libguestfs: error:"),
        ("nosuch\r", "nosuch: unknown command"),
        ("cat /etc/hostname\r", "debian12.test"),
    ] {
        seen.clear();
        writer.write_all(line.as_bytes()).unwrap();
        read_until(&rx, &mut seen, want);
        read_until(&rx, &mut seen, "><fs> ");
    }
    // Completion of a command name, then of a guest path.
    seen.clear();
    writer.write_all(b"is-fil\t").unwrap();
    read_until(&rx, &mut seen, "is-file ");
    writer.write_all(b"/etc/hostn\t").unwrap();
    read_until(&rx, &mut seen, "/etc/hostname ");
    writer.write_all(b"\r").unwrap();
    read_until(&rx, &mut seen, "true");
    read_until(&rx, &mut seen, "><fs> ");
    writer.write_all(b"exit\r").unwrap();
    let st = child.wait().unwrap();
    assert!(st.success());
    // History, in readline's format, after what was there.
    let hist = std::fs::read_to_string(tmp.path().join(".guestfish")).unwrap();
    assert_eq!(
        hist,
        "from an older session\necho hi\ncat /nonexistent\nnosuch\ncat /etc/hostname\nis-file /etc/hostname \nexit\n"
    );
}

/// A `--listen` server started by a test, stopped when dropped.
struct Server {
    pid: i32,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut a = vec!["--listen"];
        a.extend_from_slice(args);
        // The server keeps stderr (as guestfish's does): not a pipe here,
        // or reading it to the end would wait for the server.
        let o = Command::new(FISH)
            .args(&a)
            .env_remove("GX_ENGINE")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let out = ok(&o);
        let pid: i32 = out
            .strip_prefix("GUESTFISH_PID=")
            .and_then(|s| s.strip_suffix("; export GUESTFISH_PID\n"))
            .unwrap_or_else(|| panic!("--listen printed {out:?}"))
            .parse()
            .unwrap();
        Server { pid }
    }

    fn remote(&self, args: &[&str]) -> Output {
        Command::new(FISH)
            .arg(format!("--remote={}", self.pid))
            .args(args)
            .output()
            .unwrap()
    }

    fn alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
                .unwrap_or_default()
                .contains(") Z ")
    }

    fn wait_gone(&self) -> bool {
        for _ in 0..200 {
            if !self.alive() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        false
    }

    fn socket(&self) -> PathBuf {
        let uid = std::fs::metadata("/proc/self").unwrap();
        let uid = std::os::unix::fs::MetadataExt::uid(&uid);
        PathBuf::from(format!("/tmp/.guestfish-{uid}/socket-{}", self.pid))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.remote(&["exit"]);
            if !self.wait_gone() {
                let _ = Command::new("kill").arg(self.pid.to_string()).status();
            }
        }
    }
}

#[test]
fn listen_and_remote() {
    let img = image("linux.img");
    let s = Server::start(&["--ro", "-a", &img, "-i"]);
    assert!(s.alive());
    // The socket sits in a directory private to the user.
    let sock = s.socket();
    assert!(sock.exists(), "{}", sock.display());
    let dir = std::fs::metadata(sock.parent().unwrap()).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&dir.permissions()) & 0o777,
        0o700
    );

    // Output goes to the client's stdout: a pipe here, as in $(...).
    let o = s.remote(&["cat", "/etc/hostname"]);
    assert_eq!(ok(&o), "debian12.test\n\n");
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "x=$(\"{FISH}\" --remote cat /etc/hostname); echo \"[$x]\"; \"{FISH}\" --remote ls /boot > \"$T/out\"; cat \"$T/out\""
        ))
        .env("GUESTFISH_PID", s.pid.to_string())
        .env("T", std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(
        ok(&o),
        "[debian12.test]\nconfig-6.1.0-18-amd64\nefi\nvmlinuz-6.1.0-18-amd64\n"
    );
    // Several commands, and commands from stdin.
    let o = s.remote(&["echo", "a", ":", "echo", "b"]);
    assert_eq!(ok(&o), "a\nb\n");
    let mut child = Command::new(FISH)
        .arg(format!("--remote={}", s.pid))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo \"from stdin\" | tr a-z A-Z\nis-dir /etc\n")
        .unwrap();
    assert_eq!(ok(&child.wait_with_output().unwrap()), "FROM STDIN\ntrue\n");

    // A failure with `-` keeps the server going, and (as in guestfish) the
    // client too: it exits 0.
    let o = s.remote(&["--", "-cat", "/nonexistent", ":", "echo", "next"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "next\n");
    assert!(s.alive());
    // A failure without it ends the server, as guestfish's does.
    let o = s.remote(&["cat", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        s.wait_gone(),
        "the server should stop after a failed command"
    );
    assert!(!sock.exists());
    let o = s.remote(&["echo", "x"]);
    assert_eq!(o.status.code(), Some(1));
    // (A zombie not yet reaped still answers kill(pid, 0): then connecting
    // fails first, and says so, as guestfish's client does.)
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.ends_with("gx-fish: remote: looks like the server is not running\n"),
        "{err}"
    );

    // `exit` stops it.
    let s2 = Server::start(&[]);
    assert_eq!(ok(&s2.remote(&["echo", "hi"])), "hi\n");
    assert!(s2.remote(&["exit"]).status.success());
    assert!(s2.wait_gone());
}

#[test]
fn listen_csh_and_errors() {
    let o = Command::new(FISH)
        .args(["--listen", "--csh"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let out = ok(&o);
    let pid = out
        .strip_prefix("setenv GUESTFISH_PID ")
        .and_then(|p| p.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{out:?}"));
    let s = Server {
        pid: pid.parse().unwrap(),
    };
    assert_eq!(ok(&s.remote(&["echo", "csh"])), "csh\n");
    drop(s);
    // A server that cannot start says why, and --listen fails.
    let o = Command::new(FISH)
        .args(["--listen", "-a", "/nonexistent.img"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "gx-fish: access: /nonexistent.img: No such file or directory\n"
    );
    let o = Command::new(FISH)
        .args(["--remote"])
        .env_remove("GUESTFISH_PID")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "gx-fish: remote: $GUESTFISH_PID must be set to the PID of the remote process\n"
    );
}

// ---------------------------------------------------------------------
// The appliance.

fn host_tool(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A partition of a raw image, copied out for the host's tools.
fn extract_partition(img: &Path, n: usize, out: &Path) {
    let dump = Command::new("sfdisk")
        .arg("--json")
        .arg(img)
        .output()
        .unwrap();
    let j = String::from_utf8_lossy(&dump.stdout);
    // The n-th "start": .. "size": .. pair.
    let nums = |key: &str| sfdisk_numbers(&j, key);
    let (start, size) = (nums("start")[n - 1], nums("size")[n - 1]);
    let st = Command::new("dd")
        .arg(format!("if={}", img.display()))
        .arg(format!("of={}", out.display()))
        .args(["bs=512", "status=none", "conv=sparse"])
        .arg(format!("skip={start}"))
        .arg(format!("count={size}"))
        .status()
        .unwrap();
    assert!(st.success());
}

fn write_tree(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("f1"), "one\n").unwrap();
    std::fs::write(root.join("sub/f2"), "two\n").unwrap();
    std::fs::write(root.join("sub/deeper/empty"), "").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("big.bin"), big).unwrap();
    std::os::unix::fs::symlink("f1", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/nowhere", root.join("abssymlink")).unwrap();
    std::fs::set_permissions(root.join("sub"), std::fs::Permissions::from_mode(0o751)).unwrap();
    std::fs::set_permissions(root.join("f1"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Compares two local trees: names, types, modes, contents, link targets.
fn same_tree(a: &Path, b: &Path) {
    let o = Command::new("diff")
        .arg("-r")
        .arg("--no-dereference")
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let list = |p: &Path| {
        let o = Command::new("find")
            .arg(".")
            .args(["-printf", "%p %y %m %s %l\n"])
            .current_dir(p)
            .output()
            .unwrap();
        let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with(". "))
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(a), list(b));
}

#[test]
fn guest_built_from_scratch_reads_back_everywhere() {
    gx_testdata::need_appliance!("guest_built_from_scratch_reads_back_everywhere", FISH);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_tree(&dir.join("tree"));
    let script = "\
sparse disk.img 200M
run
part-init /dev/sda gpt
part-add /dev/sda p 2048 264191
part-add /dev/sda p 264192 -2048
part-set-name /dev/sda 1 gxroot
mkfs ext4 /dev/sda1 blocksize:1024 label:gxroot
pvcreate /dev/sda2
vgcreate gxvg /dev/sda2
lvcreate gxlv gxvg 32
mkfs ext2 /dev/gxvg/gxlv label:gxlv
mount /dev/sda1 /
mkdir-p /srv/a/b
write /srv/a/b/hello \"hello world\\n\"
chmod 0640 /srv/a/b/hello
chown 1000 100 /srv/a/b/hello
ln-s b/hello /srv/a/link
upload -<<END /srv/up.txt
line one
line two
END
mkdir /srv/in
copy-in tree /srv/in
mkdir /data
mount /dev/gxvg/gxlv /data
write /data/onlv \"on the lv\"
umount-all
";
    let o = fish_in(dir, &[], script, &[]);
    ok(&o);
    let img = dir.join("disk.img");
    let imgs = img.to_str().unwrap();

    // Both engines read the same back (the kernel in the appliance is an
    // independent reader of what the kernel wrote).
    let reads = "\
cat /srv/a/b/hello
stat /srv/a/b/hello
readlink /srv/a/link
cat /srv/up.txt
ll /srv/in/tree/sub
checksum sha256 /srv/in/tree/big.bin
readlink /srv/in/tree/abssymlink
vfs-label /dev/sda1
part-get-name /dev/sda 1
";
    let direct = fish_in(
        dir,
        &["--ro", "--engine", "direct", "-a", imgs, "-m", "/dev/sda1"],
        reads,
        &[],
    );
    let direct = ok(&direct);
    let app = fish_in(
        dir,
        &[
            "--ro",
            "--engine",
            "appliance",
            "-a",
            imgs,
            "-m",
            "/dev/sda1",
        ],
        reads,
        &[],
    );
    // st_dev differs: the appliance's disks are virtio (254:N) where
    // libguestfs's and the direct engine's are sd (8:N).
    let no_dev = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("dev: "))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(no_dev(&direct), no_dev(&ok(&app)));
    assert!(direct.contains("\ndev: 2049\n"), "{direct}");
    assert!(direct.starts_with("hello world\n\n"), "{direct}");
    assert!(direct.contains("mode: 33184\n"), "{direct}"); // 0100640
    assert!(direct.contains("uid: 1000\ngid: 100\n"), "{direct}");
    assert!(
        direct.contains("b/hello\nline one\nline two\n\n"),
        "{direct}"
    );
    let big: Vec<u8> = std::fs::read(dir.join("tree/big.bin")).unwrap();
    let sum: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&big)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(
        direct.contains(&format!("{sum}\n/nowhere\ngxroot\ngxroot\n")),
        "{direct}"
    );

    // The LV, through the appliance (the direct engine reads no LVM yet,
    // and `auto` does not move to the appliance for a device it does not
    // know).
    let o = fish_in(
        dir,
        &[
            "--ro",
            "--engine",
            "appliance",
            "-a",
            imgs,
            "-m",
            "/dev/gxvg/gxlv",
        ],
        "cat /onlv\nvfs-label /dev/gxvg/gxlv\n",
        &[],
    );
    assert_eq!(ok(&o), "on the lv\ngxlv\n");

    // Our read-only tools.
    let o = Command::new(CAT)
        .args(["-a", imgs, "-m", "/dev/sda1", "/srv/up.txt"])
        .output()
        .unwrap();
    assert_eq!(ok(&o), "line one\nline two\n");
    let o = Command::new(LS)
        .args(["-a", imgs, "-m", "/dev/sda1", "/srv/a/b"])
        .output()
        .unwrap();
    assert_eq!(ok(&o), "hello\n");

    // The host's tools on the image itself.
    if host_tool("sfdisk") && host_tool("debugfs") && host_tool("dumpe2fs") {
        let o = Command::new("sfdisk")
            .arg("--dump")
            .arg(&img)
            .output()
            .unwrap();
        let d = ok(&o);
        assert!(d.contains("label: gpt"), "{d}");
        assert!(d.contains("start=        2048, size=      262144"), "{d}");
        assert!(d.contains("name=\"gxroot\""), "{d}");
        let p1 = dir.join("p1");
        extract_partition(&img, 1, &p1);
        let o = Command::new("dumpe2fs")
            .arg("-h")
            .arg(&p1)
            .output()
            .unwrap();
        let h = ok(&o);
        assert!(h.contains("Block size:               1024"), "{h}");
        assert!(h.contains("Filesystem volume name:   gxroot"), "{h}");
        let o = Command::new("debugfs")
            .arg("-R")
            .arg("cat /srv/up.txt")
            .arg(&p1)
            .output()
            .unwrap();
        assert_eq!(ok(&o), "line one\nline two\n");
        let o = Command::new("debugfs")
            .arg("-R")
            .arg("stat /srv/a/b/hello")
            .arg(&p1)
            .output()
            .unwrap();
        let st = ok(&o);
        assert!(st.contains("Mode:  0640"), "{st}");
        assert!(st.contains("User:  1000   Group:   100"), "{st}");
    } else if std::env::var_os("CI").is_some() {
        panic!("sfdisk, debugfs and dumpe2fs are needed (scripts/setup)");
    }

    // copy-out of what copy-in put there (the direct engine: --ro).
    std::fs::create_dir(dir.join("out")).unwrap();
    let o = fish_in(
        dir,
        &[
            "--ro",
            "-a",
            imgs,
            "-m",
            "/dev/sda1",
            "copy-out",
            "/srv/in/tree",
            "out",
        ],
        "",
        &[],
    );
    ok(&o);
    same_tree(&dir.join("tree"), &dir.join("out/tree"));
    // A file on its own.
    let o = fish_in(
        dir,
        &[
            "--ro",
            "-a",
            imgs,
            "-m",
            "/dev/sda1",
            "copy-out",
            "/srv/up.txt",
            "out",
        ],
        "",
        &[],
    );
    ok(&o);
    assert_eq!(
        std::fs::read_to_string(dir.join("out/up.txt")).unwrap(),
        "line one\nline two\n"
    );
}

#[test]
fn edit_keeps_attributes_and_symlinks() {
    gx_testdata::need_appliance!("edit_keeps_attributes_and_symlinks", FISH);
    let tmp = tempfile::tempdir().unwrap();
    let script = "\
write /file.txt \"this is a test\\n\"
chmod 0600 /file.txt
chown 10 11 /file.txt
edit /file.txt
cat /file.txt
stat /file.txt | grep -E '^(mode|uid|gid):'
write /file-2.txt \"symlink test\\n\"
ln-s /file-2.txt /symlink-2.txt
edit /symlink-2.txt
is-symlink /symlink-2.txt
cat /symlink-2.txt
";
    let o = fish_in(
        tmp.path(),
        &["-N", "e.img=fs:ext4:64M", "-m", "/dev/sda1"],
        script,
        &[("EDITOR", "echo second line of text >>")],
    );
    assert_eq!(
        ok(&o),
        "this is a test\nsecond line of text\n\nmode: 33152\nuid: 10\ngid: 11\ntrue\nsymlink test\nsecond line of text\n\n"
    );
}

/// One partition as the host sees it: (start, size, type of contents).
fn layout(img: &Path) -> (String, Vec<(u64, u64, String)>) {
    let o = Command::new("sfdisk")
        .arg("--json")
        .arg(img)
        .output()
        .unwrap();
    let j = ok(&o);
    let label = j
        .split("\"label\":")
        .nth(1)
        .and_then(|s| s.split('"').nth(1))
        .unwrap_or("")
        .to_string();
    let nums = |key: &str| sfdisk_numbers(&j, key);
    let parts = nums("start")
        .into_iter()
        .zip(nums("size"))
        .enumerate()
        .map(|(i, (start, size))| {
            let p = img.with_extension(format!("p{}", i + 1));
            extract_partition(img, i + 1, &p);
            let t = Command::new("blkid")
                .args(["-p", "-o", "value", "-s", "TYPE"])
                .arg(&p)
                .output()
                .unwrap();
            let _ = std::fs::remove_file(&p);
            (
                start,
                size,
                String::from_utf8_lossy(&t.stdout).trim().to_string(),
            )
        })
        .collect();
    (label, parts)
}

#[test]
fn prepared_disks() {
    gx_testdata::need_appliance!("prepared_disks", FISH);
    if !host_tool("sfdisk") || !host_tool("blkid") {
        assert!(
            std::env::var_os("CI").is_none(),
            "sfdisk and blkid are needed"
        );
        gx_testdata::skip!("SKIP prepared_disks: no sfdisk/blkid");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Each type with a small size; guestfish's layout rules: part-disk
    // (one partition from sector 2048... to the end), bootroot: boot from
    // sector 64 for bootsize, root from there to 64 sectors before the end.
    let o = fish_in(
        dir,
        &[
            "-N",
            "d.img=disk:10M",
            "-N",
            "p.img=part:10M:gpt",
            "-N",
            "f.img=fs:ext4:20M",
            "-N",
            "l.img=lv:/dev/VG1/LV1:20M",
            "-N",
            "lf.img=lvfs:/dev/VG2/LV2:ext3:20M",
            "-N",
            "br.img=bootroot:ext2:ext4:40M:8M",
            "-N",
            "brl.img=bootrootlv:/dev/VG3/LV3:ext2:ext4:40M:8M:gpt",
            "list-devices",
            ":",
            "lvs",
            ":",
            "vfs-type",
            "/dev/VG2/LV2",
            ":",
            "vfs-type",
            "/dev/VG3/LV3",
        ],
        "",
        &[],
    );
    assert_eq!(
        ok(&o),
        "/dev/sda\n/dev/sdb\n/dev/sdc\n/dev/sdd\n/dev/sde\n/dev/sdf\n/dev/sdg\n\
         /dev/VG1/LV1\n/dev/VG2/LV2\n/dev/VG3/LV3\next3\next4\n"
    );
    let size = |n: &str| std::fs::metadata(dir.join(n)).unwrap().len();
    assert_eq!(size("d.img"), 10 << 20);
    let o = Command::new("sfdisk")
        .arg("--dump")
        .arg(dir.join("d.img"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "d.img should have no partition table");
    let (label, p) = layout(&dir.join("p.img"));
    assert_eq!(label, "gpt");
    assert_eq!(p.len(), 1);
    let (label, p) = layout(&dir.join("f.img"));
    assert_eq!(label, "dos");
    assert_eq!(p[0].2, "ext4");
    assert_eq!(layout(&dir.join("l.img")).1[0].2, "LVM2_member");
    assert_eq!(layout(&dir.join("lf.img")).1[0].2, "LVM2_member");
    let total = (40u64 << 20) / 512;
    let (label, p) = layout(&dir.join("br.img"));
    assert_eq!(label, "dos");
    assert_eq!(
        p,
        vec![
            (64, 8 << 11, "ext2".to_string()),
            (
                64 + (8 << 11),
                // The root ends 64 sectors before the end (-1 is the last).
                total - 64 - (64 + (8 << 11)) + 1,
                "ext4".to_string()
            )
        ]
    );
    let (label, p) = layout(&dir.join("brl.img"));
    assert_eq!(label, "gpt");
    assert_eq!(p[0], (64, 8 << 11, "ext2".to_string()));
    assert_eq!(p[1].2, "LVM2_member");
}

/// Every number after `"KEY":` in `sfdisk --json` output, in order.
fn sfdisk_numbers(json: &str, key: &str) -> Vec<u64> {
    json.split(&format!("\"{key}\":"))
        .skip(1)
        .map(|s| {
            s.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}
