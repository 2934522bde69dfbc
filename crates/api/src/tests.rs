use super::*;
use std::collections::HashSet;

#[test]
fn names_and_aliases_are_unique() {
    let mut seen = HashSet::new();
    for a in actions() {
        assert!(seen.insert(canonical(a.name)), "duplicate name {}", a.name);
        for al in a.aliases {
            assert!(seen.insert(canonical(al)), "duplicate alias {al}");
        }
    }
    // A fish command may take the name of a call gx-fish does not offer
    // (copy-in is the shell's own, over the Handle's copy_in).
    let hidden: HashSet<String> = actions()
        .filter(|a| a.visibility != Visibility::Public)
        .map(|a| canonical(a.name))
        .collect();
    for f in FISH_COMMANDS {
        assert!(
            seen.insert(canonical(f.name)) || hidden.contains(&canonical(f.name)),
            "fish command {} clashes",
            f.name
        );
        for al in f.aliases {
            assert!(seen.insert(canonical(al)), "duplicate alias {al}");
        }
    }
}

#[test]
fn proc_numbers_are_unique_and_bounded() {
    let mut seen = HashSet::new();
    for a in actions() {
        if let Some(nr) = a.proc_nr {
            assert!(seen.insert(nr), "proc_nr {nr} used twice ({})", a.name);
            assert!(
                (1..=table::LAST_PROC_NR).contains(&nr),
                "{}: proc_nr {nr} above LAST_PROC_NR",
                a.name
            );
        }
    }
    assert!(
        seen.contains(&table::LAST_PROC_NR),
        "LAST_PROC_NR is not in use"
    );
}

#[test]
fn rows_are_consistent() {
    for a in actions() {
        match a.engine {
            Engine::Both | Engine::Appliance => {
                assert!(a.proc_nr.is_some(), "{}: needs a proc_nr", a.name)
            }
            Engine::Handle => {}
        }
        assert!(
            a.engine == Engine::Handle || !a.handle_mut,
            "{}: handle_mut is for hand-written calls (generated ones take &mut self when they write)",
            a.name
        );
        if a.engine == Engine::Both {
            assert!(!a.writes, "{}: a call that writes cannot be Both", a.name);
            assert!(!a.file_in(), "{}: uploads are writes", a.name);
        }
        assert!(!a.shortdesc.is_empty(), "{}: no shortdesc", a.name);
        assert!(
            !a.shortdesc.ends_with('.'),
            "{}: shortdesc ends with .",
            a.name
        );
        assert!(!a.longdesc.is_empty(), "{}: no longdesc", a.name);
        for r in [a.ret] {
            if let Ret::Struct(s) | Ret::StructList(s) = r {
                assert!(struct_def(s).is_some(), "{}: unknown struct {s}", a.name);
            }
        }
        if let Some(by) = a.deprecated_by {
            assert!(
                actions().any(|x| x.name == by),
                "{}: deprecated_by {by}?",
                a.name
            );
        }
        let mut args = HashSet::new();
        for x in a.args {
            assert!(args.insert(x.name), "{}: argument {} twice", a.name, x.name);
        }
        for x in a.optargs {
            assert!(args.insert(x.name), "{}: argument {} twice", a.name, x.name);
        }
    }
}

#[test]
fn lookup_takes_guestfish_spellings() {
    assert_eq!(lookup("mount-ro").map(|a| a.name), Some("mount_ro"));
    assert_eq!(lookup("MOUNT_RO").map(|a| a.name), Some("mount_ro"));
    assert_eq!(lookup("run").map(|a| a.name), Some("launch"));
    assert_eq!(lookup("add-drive-opts").map(|a| a.name), Some("add_drive"));
    assert!(
        lookup("internal-start").is_none(),
        "internal calls are hidden"
    );
    assert!(lookup("no-such-command").is_none());
    assert_eq!(lookup_fish_command("vi").map(|f| f.name), Some("edit"));
}

#[test]
fn synopsis_is_guestfish_style() {
    let mkfs = lookup("mkfs").unwrap();
    assert_eq!(
        mkfs.synopsis(),
        "mkfs fstype device [blocksize:N] [features:..] [inode:N] [sectorsize:N] [label:..]"
    );
    // Keys are prompted for, not written.
    assert_eq!(
        lookup("cryptsetup-open").unwrap().synopsis(),
        "cryptsetup-open device mapname [readonly:true|false] [crypttype:..] [cipher:..]"
    );
}

#[test]
fn help_renders_every_command() {
    for a in actions().filter(|a| a.visibility == Visibility::Public) {
        let h = doc::help(&a.fish_name()).unwrap();
        assert!(h.starts_with("NAME\n"), "{}", a.name);
        let body = h.split("DESCRIPTION\n").nth(1).unwrap();
        for line in body.lines() {
            // A single word longer than the width cannot be wrapped.
            assert!(
                line.chars().count() <= 76 || !line.trim().contains(' '),
                "{}: line too long: {line}",
                a.name
            );
        }
    }
    let list = doc::list_commands();
    assert!(list.contains("\nrun                  alias for 'launch'\n"));
    assert!(!list.contains("add-drive-opts"));
}
