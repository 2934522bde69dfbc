//! Output helpers shared by the tools: CSV quoting as libguestfs writes it,
//! and time formatting.

/// Quote a CSV field the way virt-ls and virt-df do: only when it holds a
/// space, a double quote, a newline or a comma; quotes are doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([' ', '"', '\n', ',']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `%F %T` in the host's local time zone (as `localtime` + `strftime`).
pub fn local_time(secs: i64) -> String {
    use chrono::{Local, TimeZone};
    match Local.timestamp_opt(secs, 0) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a b"), "\"a b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
