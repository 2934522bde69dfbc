//! gx-fish against what the real guestfish printed for the same script and
//! options: the cases of tests/expected/make-fish.sh (grammar, escapes,
//! quoting, !cmd, <!cmd, pipes, -cmd, command-line mode, options, argument
//! parsing of each kind, the shell's own commands' errors; none needs the
//! appliance). stdout and the exit status must match byte for byte; stderr
//! too, once the program name is ours.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};

/// Expected stderr text we knowingly print differently: (case, what
/// guestfish printed, what we print, why).
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "img-trace",
        "*stdin*:11: libguestfs: error: statns: /nonexistent: No such file or directory",
        "*stdin*:11: libguestfs: error: /nonexistent: no such file or directory",
        "the direct engine's errors name the path, not the call",
    ),
    (
        "img-trace",
        "*stdin*:12: libguestfs: error: pread: open: /nonexistent: No such file or directory",
        "*stdin*:12: libguestfs: error: /nonexistent: no such file or directory",
        "the direct engine's errors name the path, not the call",
    ),
    (
        "img-linux",
        "*stdin*:50: libguestfs: error: download: /nonexistent: No such file or directory",
        "*stdin*:50: libguestfs: error: /nonexistent: no such file or directory",
        "the direct engine's errors name the path, not the call (libguestfs 1.48 implements cat with download)",
    ),
    (
        "img-linux",
        "*stdin*:51: libguestfs: error: ls0: opendir: /etc/hostname: Not a directory",
        "*stdin*:51: libguestfs: error: /etc/hostname: not a directory",
        "the direct engine's errors name the path, not the call",
    ),
    (
        "img-multi",
        "*stdin*:13: libguestfs: error: ls0: ls0_stub: you must call 'mount' first to mount the root filesystem",
        "*stdin*:13: libguestfs: error: no filesystem is mounted on / (use -m or -i to mount one)",
        "the Handle's words",
    ),
    (
        "not-launched",
        "*stdin*:4: libguestfs: error: internal_write: call launch",
        "*stdin*:4: libguestfs: error: write: call launch",
        "libguestfs implements write with an internal call and names that one",
    ),
    (
        "optargs",
        "add-drive: optargs_s.blocksize: invalid integer parameter",
        "add-drive: blocksize: invalid integer parameter",
        "guestfish's generator prints its C variable name for optional integers",
    ),
    // The Handle's own words for settings it refuses (and its memsize
    // floor is 128 MiB where libguestfs's is 256).
    (
        "ints",
        "*stdin*:3: libguestfs: error: too small value for memsize (must be at least 256)",
        "*stdin*:3: libguestfs: error: set_memsize: 0 MiB is too small (128 at least)",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:4: libguestfs: error: too small value for memsize (must be at least 256)",
        "*stdin*:4: libguestfs: error: set_memsize: 100 MiB is too small (128 at least)",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:5: libguestfs: error: too small value for memsize (must be at least 256)",
        "*stdin*:5: libguestfs: error: set_memsize: -500 MiB is too small (128 at least)",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:6: libguestfs: error: too small value for memsize (must be at least 256)",
        "*stdin*:6: libguestfs: error: set_memsize: 16 MiB is too small (128 at least)",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:7: libguestfs: error: too small value for memsize (must be at least 256)",
        "*stdin*:7: libguestfs: error: set_memsize: 8 MiB is too small (128 at least)",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:8: libguestfs: error: too small value for memsize (must be at least 256)",
        "*stdin*:8: libguestfs: error: set_memsize: -1073741824 MiB is too small (128 at least)",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:29: libguestfs: error: invalid smp parameter: 0",
        "*stdin*:29: libguestfs: error: set_smp: 0: must be between 1 and 255",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:30: libguestfs: error: unsupported number of smp vcpus: 300",
        "*stdin*:30: libguestfs: error: set_smp: 300: must be between 1 and 255",
        "Handle message",
    ),
    (
        "ints",
        "*stdin*:31: libguestfs: error: invalid smp parameter: -2",
        "*stdin*:31: libguestfs: error: set_smp: -2: must be between 1 and 255",
        "Handle message",
    ),
    (
        "strings",
        "*stdin*:3: libguestfs: error: invalid backend: backend-which-does-not-exist",
        "*stdin*:3: libguestfs: error: set_backend: unknown backend \"backend-which-does-not-exist\" (vmm, qemu or direct)",
        "Handle message",
    ),
];

/// Expected stdout text we knowingly print differently: (case, what
/// guestfish printed, what we print, why). A `*` in a one-line pattern
/// stands for any text (a date).
const KNOWN_STDOUT_DIFFERENCES: &[(&str, &str, &str, &str)] = &[(
    "img-linux",
    "drwxr-xr-x 15 0 0  4096 * ..\n",
    "drwxr-xr-x 14 0 0  4096 Jan  2  2024 ..\n",
    "in the appliance the '..' of the guest's / is the appliance's own root",
)];

/// guestfish's name in its messages is ours here, except where libguestfs
/// itself speaks of guestfish.
fn ours(s: &str) -> String {
    s.replace("guestfish", "gx-fish")
        .replace("(in gx-fish, don't forget", "(in guestfish, don't forget")
}

/// guestfish creates ~/.guestfish at every exit, even in scripts; gx-fish
/// keeps history for interactive sessions only.
fn drop_history_noise(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("/gx-fish-home/.guestfish:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `text` with `pattern` replaced by `with`; a pattern holding `*` matches
/// whole lines that start and end as it does.
fn replace_pattern(text: &str, pattern: &str, with: &str) -> String {
    let Some((pre, post)) = pattern.split_once('*') else {
        return text.replace(pattern, with);
    };
    let post = post.trim_end_matches('\n');
    text.lines()
        .map(|l| {
            if l.starts_with(pre) && l.ends_with(post) && l.len() >= pre.len() + post.len() {
                with.to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn run_case(bin: &str, dir: &Path, name: &str) -> Result<(), String> {
    let args = std::fs::read_to_string(dir.join(format!("{name}.args"))).unwrap();
    let stdin = std::fs::read(dir.join(format!("{name}.in"))).unwrap_or_default();
    let want_out = std::fs::read(dir.join(format!("{name}.out"))).unwrap();
    let want_err = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
    let want_rc: i32 = std::fs::read_to_string(dir.join(format!("{name}.rc")))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("exec \"$GXFISH\" {}", args.trim_end()))
        .env("GXFISH", bin)
        .env("HOME", "/gx-fish-home")
        .env("IMAGES", gx_testdata::images())
        .env_remove("GUESTFISH_PID")
        .current_dir(tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(&stdin);
    }
    let out = child.wait_with_output().unwrap();
    let mut problems = Vec::new();
    let got_rc = out.status.code().unwrap_or(-1);
    if got_rc != want_rc {
        problems.push(format!("exit status {got_rc}, guestfish {want_rc}"));
    }
    let mut want_out = ours(&String::from_utf8_lossy(&want_out));
    for (case, theirs, mine, _) in KNOWN_STDOUT_DIFFERENCES {
        if *case == name {
            want_out = replace_pattern(&want_out, theirs, mine);
        }
    }
    let got_out = String::from_utf8_lossy(&out.stdout);
    if got_out != want_out {
        problems.push(format!(
            "stdout differs\n--- guestfish\n{want_out}--- gx-fish\n{got_out}---"
        ));
    }
    let mut want_err = ours(&drop_history_noise(&want_err));
    for (case, theirs, mine, _) in KNOWN_DIFFERENCES {
        if *case == name {
            want_err = want_err.replace(theirs, mine);
        }
    }
    let got_err = String::from_utf8_lossy(&out.stderr);
    if got_err != want_err {
        problems.push(format!(
            "stderr differs\n--- guestfish\n{want_err}--- gx-fish\n{got_err}---"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{name} ({}): {}",
            args.trim_end(),
            problems.join("\n")
        ))
    }
}

#[test]
fn shell_cases_print_what_guestfish_prints() {
    let bin = env!("CARGO_BIN_EXE_gx-fish");
    let dir = gx_testdata::expected("fish");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/expected/fish (made by tests/expected/make-fish.sh)")
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_suffix(".args").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(
        names.len() > 50,
        "only {} cases in {}",
        names.len(),
        dir.display()
    );
    let failures: Vec<String> = names
        .iter()
        .filter_map(|n| run_case(bin, &dir, n).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
}
