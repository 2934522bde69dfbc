//! gx-fish's manual page (roff, `man -l` renders it): the options and the
//! shell's grammar from here, every command from the API table
//! (`gx_api::doc::man_commands`). `gx-fish --man` prints it; the `man`
//! command shows it.

/// (synopsis, description) of each option, in the order `--help` lists them.
const OPTIONS: &[(&str, &str)] = &[
    ("--help", "Print a summary of the options and exit."),
    (
        "-h, --cmd-help [CMD]",
        "List every command, or describe the command CMD, and exit.",
    ),
    (
        "-a, --add IMAGE",
        "Add a disk image (raw or qcow2). The format is detected unless --format says it. Repeat for several disks.",
    ),
    (
        "--blocksize[=512|4096]",
        "The sector size of the disks added by the -a options that follow.",
    ),
    (
        "-c, --connect URI",
        "The libvirt URI the -d option reads domains from.",
    ),
    (
        "--csh",
        "With --listen: print the csh form (setenv GUESTFISH_PID N).",
    ),
    ("-d, --domain GUEST", "Add the disks of a libvirt domain."),
    (
        "--echo-keys",
        "Show keys and passphrases as they are typed.",
    ),
    (
        "--engine direct|appliance|auto",
        "Who answers calls: the in-process direct engine (read-only, no VM), the appliance VM, or auto (the default, or GX_ENGINE): the direct engine until a call needs the appliance (a write, a filesystem it cannot read), which then starts once and answers every later call.",
    ),
    (
        "--backend vmm|qemu",
        "How the appliance runs (default: GX_BACKEND, else our VMM on hardware KVM, else QEMU).",
    ),
    (
        "-f, --file FILE",
        "Read commands from FILE (which also stands in for standard input). Scripts may start with #!/usr/bin/gx-fish -f.",
    ),
    (
        "--format[=raw|qcow2]",
        "Force the format of the images added by the -a options that follow; --format alone goes back to detection.",
    ),
    (
        "-i, --inspector",
        "Find the operating system on the disks and mount its filesystems as it would (read-only with --ro). Implies run.",
    ),
    (
        "--key SELECTOR",
        "A key for an encrypted device opened by -i: ID:key:STRING, ID:file:FILENAME or ID:clevis, where ID is a device name, a LUKS UUID or all.",
    ),
    (
        "--keys-from-stdin",
        "Read keys and passphrases from standard input, without a prompt.",
    ),
    (
        "--listen",
        "Start a server in the background and print the shell command that sets GUESTFISH_PID to reach it with --remote.",
    ),
    (
        "-m, --mount DEV[:MOUNTPOINT[:OPTIONS[:FSTYPE]]]",
        "Mount DEV on MOUNTPOINT (default /), with mount options (default none, or ro with --ro) and a filesystem type. Implies run.",
    ),
    (
        "--network",
        "Give the appliance a network (accepted; the appliance has none).",
    ),
    (
        "-N, --new [FILENAME=]TYPE[:PARAM...]",
        "Create a prepared disk image (test1.img, test2.img... unless named) and add it; -N help lists the types. Implies run.",
    ),
    (
        "-n, --no-sync",
        "Do not sync the disks when the handle closes.",
    ),
    (
        "--no-dest-paths",
        "Do not complete guest paths with the tab key.",
    ),
    (
        "--pipe-error",
        "A command whose output cannot be written into a | pipe fails (by default that is ignored, so that cmd | head works).",
    ),
    (
        "--progress-bars, --no-progress-bars",
        "Accepted for compatibility.",
    ),
    (
        "--remote[=PID]",
        "Send the commands to the server started with --listen (PID, or $GUESTFISH_PID).",
    ),
    (
        "-r, --ro",
        "Add the -a and -d disks read-only, and mount -m and -i filesystems read-only.",
    ),
    ("--selinux", "Accepted for compatibility; does nothing."),
    ("-v, --verbose", "Verbose messages."),
    ("-V, --version", "Print the version and exit."),
    ("-w, --rw", "Add the disks read-write (the default)."),
    ("-x", "Trace each API call on standard error."),
];

/// Sections on the shell itself: (title, paragraphs). `code` is bold.
const SECTIONS: &[(&str, &[&str])] = &[
    (
        "DESCRIPTION",
        &[
            "gx-fish is a shell for examining and changing virtual machine disk images, command for command and message for message like guestfish(1). Its commands are the calls of the guestx API (the same table the other gx tools are built on) and a few commands of the shell itself.",
            "Read-only questions are answered in-process by the direct engine in milliseconds: `gx-fish --ro -a disk.img -i cat /etc/fstab` starts no virtual machine. The appliance starts at the first call the direct engine cannot answer (any write, or a filesystem it does not read) and answers every call after it.",
        ],
    ),
    (
        "COMMANDS ON THE COMMAND LINE",
        &[
            "Words after the options are commands, separated by a lone `:`, as in `gx-fish -a disk.img run : list-filesystems`. A word starting with `-` is an option: put `--` before commands that need one. Without commands gx-fish reads them from standard input: with a prompt and line editing on a terminal, else as a script.",
            "`run` (or `launch`) must come after the disks are added and before other calls; -i, -m and -N do it themselves.",
        ],
    ),
    (
        "QUOTING",
        &[
            "Words are separated by blanks. A word in single quotes is taken as it is; in double quotes the escapes `\\a \\b \\f \\n \\r \\t \\v \\\" \\' \\? \\\\`, `\\ooo` (three octal digits) and `\\xhh` (two hex digits) are replaced (a NUL byte cannot be written). A quoted word must be followed by a blank or the end of the line. The command word is never quoted.",
            "A line whose first character is `#` is a comment. `!CMD` runs CMD with the host shell; `<!CMD` runs it and executes each line of its output as a command. `CMD ARGS | PIPE` sends the output of the command through the host shell's PIPE. A word starting with `~` or `~user` is a home directory on the host. Command names ignore case, and `-` and `_` are the same.",
        ],
    ),
    (
        "OPTIONAL ARGUMENTS",
        &[
            "Optional arguments of a call follow the required ones as `name:value`, in any order, each once: `add-drive disk.img format:raw readonly:true`.",
            "Numbers may be decimal, octal (leading 0) or hex (leading 0x), with a size suffix: k or K or KiB, M or MiB, G, T, P, E (powers of 1024), or KB, MB, GB... (powers of 1000). Booleans are true/false, yes/no, on/off, 1/0, t/f, y/n.",
        ],
    ),
    (
        "FILE ARGUMENTS",
        &[
            "Where a call reads a local file (`upload`, `tar-in`...) `-` is standard input, and `-<<END` reads the lines that follow, up to a line `END`. Where it writes one (`download`, `tar-out`...) `-` is standard output.",
            "A guest path written `win:C:\\\\Windows\\\\System32` names the file of a Windows guest inspected with -i: the drive letter's mountpoint, backslashes turned to slashes, each name found whatever its case.",
        ],
    ),
    (
        "EXIT ON ERROR",
        &[
            "In a script or on the command line the first failing command ends gx-fish with status 1; prefix a command with `-` to go on after it. At a terminal errors never end the session.",
        ],
    ),
    (
        "REMOTE CONTROL",
        &[
            "`eval \"$(gx-fish --listen -a disk.img)\"` starts a server holding one handle; `gx-fish --remote CMD ...` runs commands in it, their output written on the caller's standard output, so `$(gx-fish --remote cat /etc/fstab)` works. The server lives at /tmp/.guestfish-UID/socket-PID. A failed command stops the server unless prefixed with `-`; `gx-fish --remote exit` stops it.",
        ],
    ),
    (
        "PREPARED DISK IMAGES",
        &[
            "-N TYPE creates and formats a new sparse raw image: `disk[:size]`, `part[:size[:partition]]`, `fs[:filesystem[:size[:partition]]]`, `lv[:name[:size[:partition]]]`, `lvfs[:name[:filesystem[:size[:partition]]]]`, `bootroot[:bootfs[:rootfs[:size[:bootsize[:partition]]]]]` and `bootrootlv[:name[:bootfs[:rootfs[:size[:bootsize[:partition]]]]]]`; the defaults are 1G, mbr, ext2, /dev/VG/LV and a 128M boot partition. `gx-fish -N help` describes them.",
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            "GX_ENGINE and GX_BACKEND choose the engine and the launcher (see --engine, --backend). EDITOR, PAGER, HEXEDITOR and GUESTFISH_DISPLAY_IMAGE name the programs of `edit`, `more`, `hexedit` and `display`. GUESTFISH_PS1, GUESTFISH_OUTPUT, GUESTFISH_INIT and GUESTFISH_RESTORE change the prompt and what is printed around it. GUESTFISH_PID is the server --remote talks to. HOME locates the history file ~/.guestfish.",
        ],
    ),
    (
        "EXIT STATUS",
        &["0 when every command succeeded (or at a terminal), 1 after an error."],
    ),
];

fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// `code` -> bold.
fn code(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("\\fB");
            out.push_str(part);
            out.push_str("\\fR");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The whole page.
pub(crate) fn man_page() -> String {
    let mut m = format!(
        ".TH GX\\-FISH 1 \"\" \"guestx {}\" \"guestx\"\n",
        env!("CARGO_PKG_VERSION")
    );
    m.push_str(".SH NAME\ngx\\-fish \\- the guest filesystem shell\n");
    m.push_str(".SH SYNOPSIS\n.nf\n");
    for l in [
        "gx-fish [--options] [cmd [: cmd : cmd ...]]",
        "gx-fish [--ro|--rw] -i -a disk.img",
        "gx-fish [--ro|--rw] -a disk.img -m dev[:mountpoint[:options[:fstype]]]",
        "gx-fish -N [filename=]type",
        "gx-fish --listen [--options]",
        "gx-fish --remote[=pid] cmd [args...]",
    ] {
        m.push_str(&esc(l));
        m.push('\n');
    }
    m.push_str(".fi\n");
    let mut sections = SECTIONS.iter();
    if let Some((title, paras)) = sections.next() {
        section(&mut m, title, paras);
    }
    m.push_str(".SH OPTIONS\n");
    for (syn, desc) in OPTIONS {
        m.push_str(&format!(".TP\n.B {}\n{}\n", esc(syn), esc(desc)));
    }
    for (title, paras) in sections {
        section(&mut m, title, paras);
    }
    m.push_str(&gx_api::doc::man_commands());
    m.push_str(".SH SEE ALSO\nguestfish(1), gx\\-cat(1), gx\\-ls(1), gx\\-inspector(1)\n");
    m
}

fn section(m: &mut String, title: &str, paras: &[&str]) {
    m.push_str(&format!(".SH {title}\n"));
    for p in paras {
        m.push_str(".PP\n");
        m.push_str(&code(&esc(p)));
        m.push('\n');
    }
}
