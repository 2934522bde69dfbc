//! `ls -la` style listings (libguestfs's `ll` runs `ls -la` in the
//! appliance, in the C locale and UTC). Owner and group show as numbers,
//! right-aligned as `ls` aligns numeric ids: the appliance has no user database.

use crate::path::child;
use crate::{FileType, Handle, Result, StatExt, StatNs};
use std::time::{SystemTime, UNIX_EPOCH};

/// libguestfs's `ll`: `ls -la` of a directory (with `.` and `..`), or the one
/// line of a non-directory, from the Handle's own calls, so both engines
/// print the same.
pub(crate) fn ll(g: &Handle, dir: &str) -> Result<String> {
    let here = g.statns(dir)?;
    if here.file_type() != FileType::Directory {
        let st = g.lstatns(dir)?;
        let link = if st.file_type() == FileType::Symlink {
            g.readlink(dir).ok()
        } else {
            None
        };
        return Ok(format(&[(dir.to_string(), st, link)], false));
    }
    let names = g.ls(dir)?;
    let stats = g.lstatnslist(dir, &names)?;
    let parent = g.statns(&child(dir, ".."))?;
    let mut rows = vec![
        (".".to_string(), here, None),
        ("..".to_string(), parent, None),
    ];
    for (name, st) in names.into_iter().zip(stats) {
        let link = if st.file_type() == FileType::Symlink {
            g.readlink(&child(dir, &name)).ok()
        } else {
            None
        };
        rows.push((name, st, link));
    }
    Ok(format(&rows, true))
}

/// Format rows of (name, stat, symlink target). With `total`, start with the
/// `total N` line (1 KiB blocks, rounded up) as `ls` does for a directory.
pub fn format(rows: &[(String, StatNs, Option<String>)], total: bool) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let owner = |id: i64| id.to_string();
    struct Row<'a> {
        mode: String,
        nlink: String,
        user: String,
        group: String,
        size: SizeCol,
        date: String,
        name: &'a str,
        link: Option<&'a str>,
    }
    enum SizeCol {
        Size(String),
        Dev(String, String),
    }
    let mut blocks: i64 = 0;
    let mut out_rows = Vec::with_capacity(rows.len());
    for (name, st, link) in rows {
        blocks = blocks.saturating_add(st.st_blocks.max(0));
        let ft = st.file_type();
        let size = match ft {
            FileType::CharDevice | FileType::BlockDevice => {
                let rdev = st.st_rdev as u64;
                SizeCol::Dev(major(rdev).to_string(), minor(rdev).to_string())
            }
            _ => SizeCol::Size(st.st_size.to_string()),
        };
        out_rows.push(Row {
            mode: mode_string(u32::try_from(st.st_mode).unwrap_or(0)),
            nlink: st.st_nlink.to_string(),
            user: owner(st.st_uid),
            group: owner(st.st_gid),
            size,
            date: ls_date(st.st_mtime_sec, now),
            name,
            link: link.as_deref(),
        });
    }
    let w_nlink = out_rows.iter().map(|r| r.nlink.len()).max().unwrap_or(0);
    let w_user = out_rows.iter().map(|r| r.user.len()).max().unwrap_or(0);
    let w_group = out_rows.iter().map(|r| r.group.len()).max().unwrap_or(0);
    let w_major = out_rows
        .iter()
        .filter_map(|r| match &r.size {
            SizeCol::Dev(a, _) => Some(a.len()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let w_minor = out_rows
        .iter()
        .filter_map(|r| match &r.size {
            SizeCol::Dev(_, b) => Some(b.len()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let dev_width = if w_major > 0 {
        w_major + 2 + w_minor
    } else {
        0
    };
    let w_size = out_rows
        .iter()
        .map(|r| match &r.size {
            SizeCol::Size(s) => s.len(),
            SizeCol::Dev(..) => dev_width,
        })
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if total {
        // ceil(blocks * 512 / 1024)
        out.push_str(&format!("total {}\n", (blocks + 1) / 2));
    }
    for r in out_rows {
        let size = match &r.size {
            SizeCol::Size(s) => format!("{s:>w_size$}"),
            SizeCol::Dev(a, b) => {
                let s = format!("{a:>w_major$}, {b:>w_minor$}");
                format!("{s:>w_size$}")
            }
        };
        out.push_str(&format!(
            "{} {:>w_nlink$} {:>w_user$} {:>w_group$} {} {} {}",
            r.mode, r.nlink, r.user, r.group, size, r.date, r.name
        ));
        if let Some(l) = r.link {
            out.push_str(" -> ");
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// `drwxr-xr-x` style mode string.
pub fn mode_string(mode: u32) -> String {
    let t = match FileType::from_mode(mode) {
        FileType::Regular => '-',
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::CharDevice => 'c',
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
        FileType::Unknown => '?',
    };
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    let special = |x: u32, s: u32, lower: char, upper: char| match (mode & x != 0, mode & s != 0) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        t,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// UTC broken-down time: (year, month, day, hour, minute, second).
pub fn utc(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `ls -l` date column: `Mon dd HH:MM` for files from the last six months,
/// `Mon dd  YYYY` otherwise (and for times in the future).
fn ls_date(secs: i64, now: i64) -> String {
    let (y, m, d, hh, mm, _) = utc(secs);
    let month = MONTHS[(m as usize).saturating_sub(1).min(11)];
    const SIX_MONTHS: i64 = 31_556_952 / 2;
    if secs <= now && now - secs < SIX_MONTHS {
        format!("{month} {d:>2} {hh:02}:{mm:02}")
    } else {
        format!("{month} {d:>2}  {y}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_string(0o040755), "drwxr-xr-x");
        assert_eq!(mode_string(0o104755), "-rwsr-xr-x");
        assert_eq!(mode_string(0o041777), "drwxrwxrwt");
        assert_eq!(mode_string(0o100600), "-rw-------");
        assert_eq!(mode_string(0o120777), "lrwxrwxrwx");
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(utc(-1), (1969, 12, 31, 23, 59, 59));
        assert_eq!(ls_date(1_700_000_000, 1_700_000_100), "Nov 14 22:13");
        assert_eq!(ls_date(1_600_000_000, 1_700_000_000), "Sep 13  2020");
    }
}
