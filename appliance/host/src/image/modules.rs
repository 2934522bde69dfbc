//! Kernel modules: `modules.dep`, the load order of what the appliance needs, and each module's bytes (decompressed, BTF section dropped).

use super::*;

/// Module name -> (path relative to the modules dir, dependencies), from modules.dep.
pub(super) fn read_modules_dep(
    k: &Kernel,
) -> Result<BTreeMap<String, (String, Vec<String>)>, Error> {
    let dep = k.modules.join("modules.dep");
    let text = fs::read_to_string(&dep)
        .map_err(|e| Error::Build(format!("reading {}: {e}", dep.display())))?;
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let Some((path, deps)) = l.split_once(':') else {
            continue;
        };
        let deps = deps.split_whitespace().map(str::to_string).collect();
        m.insert(module_name(path), (path.to_string(), deps));
    }
    Ok(m)
}

pub(super) fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let base = file.split(".ko").next().unwrap_or(file);
    base.replace('-', "_")
}

/// Resolves wanted modules to paths in load order (dependencies first); builtins
/// and unknown modules are skipped.
pub(super) fn module_order(
    deps: &BTreeMap<String, (String, Vec<String>)>,
    wanted: &[&str],
    already: &mut BTreeSet<String>,
) -> Vec<String> {
    pub(super) fn visit(
        name: &str,
        deps: &BTreeMap<String, (String, Vec<String>)>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        let Some((path, ds)) = deps.get(name) else {
            return;
        };
        if !seen.insert(name.to_string()) {
            return;
        }
        for d in ds {
            visit(&module_name(d), deps, seen, out);
        }
        out.push(path.clone());
    }
    let mut out = Vec::new();
    for w in wanted {
        visit(&w.replace('-', "_"), deps, already, &mut out);
    }
    out
}

/// A module without its `.BTF` section (renamed to the empty name) and thus
/// without its signature, which would no longer match (an unsigned module
/// loads, tainting the kernel, unless signatures are enforced; a bad signature
/// would not). With a module's BTF the kernel parses the whole vmlinux BTF
/// (4 MB) at the first module load: ~100 ms of the boot under TCG here, for
/// BPF type information the appliance never uses. Anything unexpected in the
/// ELF leaves the module as it was.
pub(super) fn without_btf(mut m: Vec<u8>) -> Vec<u8> {
    pub(super) fn rd(b: &[u8], off: usize, n: usize) -> Option<u64> {
        let s = b.get(off..off.checked_add(n)?)?;
        Some(s.iter().rev().fold(0u64, |a, x| (a << 8) | u64::from(*x)))
    }
    const MARKER: &[u8] = b"~Module signature appended~\n";
    let original = m.clone();
    if m.ends_with(MARKER) {
        // struct module_signature (12 bytes, sig_len big-endian last) before it.
        let end = m.len() - MARKER.len();
        let Some(info) = end.checked_sub(12) else {
            return original;
        };
        let sig_len = u32::from_be_bytes([m[end - 4], m[end - 3], m[end - 2], m[end - 1]]);
        let Some(start) = info.checked_sub(sig_len as usize) else {
            return original;
        };
        m.truncate(start);
    }
    let patch = |m: &mut Vec<u8>| -> Option<bool> {
        // ELF64, little-endian.
        if m.get(0..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let shoff = usize::try_from(rd(m, 0x28, 8)?).ok()?;
        let shentsize = rd(m, 0x3a, 2)? as usize;
        let shnum = rd(m, 0x3c, 2)? as usize;
        let shstrndx = rd(m, 0x3e, 2)? as usize;
        if shentsize < 0x40 || shstrndx >= shnum {
            return None;
        }
        let strtab = usize::try_from(rd(m, shoff + shstrndx * shentsize + 0x18, 8)?).ok()?;
        let mut found = false;
        for i in 0..shnum {
            let h = shoff + i * shentsize;
            let name = strtab.checked_add(rd(m, h, 4)? as usize)?;
            if m.get(name..name + 5)? == b".BTF\0" {
                m[h..h + 4].copy_from_slice(&0u32.to_le_bytes());
                found = true;
            }
        }
        Some(found)
    };
    match patch(&mut m) {
        Some(true) => m,
        _ => original,
    }
}

/// Reads a module file, decompressing .ko.xz/.ko.zst/.ko.gz on the host (the
/// agent's finit_module is given plain ELF objects).
pub(super) fn module_bytes(path: &Path) -> Result<Vec<u8>, Error> {
    let name = path.to_string_lossy();
    let tool: Option<(&str, &[&str])> = if name.ends_with(".xz") {
        Some(("xz", &["-dc"]))
    } else if name.ends_with(".zst") {
        Some(("zstd", &["-dcq"]))
    } else if name.ends_with(".gz") {
        Some(("gzip", &["-dc"]))
    } else {
        None
    };
    match tool {
        None => fs::read(path).map_err(|e| Error::Build(format!("{}: {e}", path.display()))),
        Some((t, args)) => {
            let out = Command::new(t)
                .args(args)
                .arg(path)
                .output()
                .map_err(|e| Error::Build(format!("{t} (to decompress {name}): {e}")))?;
            if !out.status.success() {
                return Err(Error::Build(format!("{t} failed on {name}")));
            }
            Ok(out.stdout)
        }
    }
}

pub(super) fn strip_compression(rel: &str) -> String {
    for ext in [".xz", ".zst", ".gz"] {
        if let Some(s) = rel.strip_suffix(ext) {
            return s.to_string();
        }
    }
    rel.to_string()
}
