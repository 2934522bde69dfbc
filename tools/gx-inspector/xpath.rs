//! The subset of XPath 1.0 `--xpath` evaluates over virt-inspector XML:
//! location paths made of `/` and `//` steps with a name test or `*`, an
//! optional final `@attr` or `text()` step, and predicates `[N]`, `[name]`,
//! `[name='v']` and `[@attr='v']`; wrapped optionally in `string(...)` or
//! `count(...)`. Node results print as libxml2's `xmlSaveDoc` prints them.

use crate::xml::{Element, escape_attr, escape_text};
use anyhow::{Result, bail};

/// What a query selects.
pub enum Item<'a> {
    Elem(&'a Element),
    Attr(&'a str, &'a str),
    Text(&'a str),
}

#[derive(Debug, Clone, PartialEq)]
enum Pred {
    Index(usize),
    Child(String, Option<String>),
    Attr(String, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Name(String),
    Any,
    Attr(String),
    Text,
}

#[derive(Debug, Clone, PartialEq)]
struct Step {
    descendant: bool,
    test: Test,
    preds: Vec<Pred>,
}

fn unsupported(q: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "unable to evaluate XPath expression '{q}' (supported: location paths with / and // steps, names, *, @attr, text(), predicates [N], [name], [name='v'], [@attr='v']; string(...) and count(...))"
    )
}

fn parse_path(q: &str, orig: &str) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = q.trim();
    if !rest.starts_with('/') {
        return Err(unsupported(orig));
    }
    while !rest.is_empty() {
        let descendant = if let Some(r) = rest.strip_prefix("//") {
            rest = r;
            true
        } else if let Some(r) = rest.strip_prefix('/') {
            rest = r;
            false
        } else {
            return Err(unsupported(orig));
        };
        // The step runs to the next '/' outside a predicate.
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, '/') if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let text = &rest[..end];
        rest = &rest[end..];
        let (head, mut preds_s) = match text.find('[') {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, ""),
        };
        let test = match head {
            "*" => Test::Any,
            "text()" => Test::Text,
            h if h.starts_with('@') && h.len() > 1 => Test::Attr(h[1..].to_string()),
            h if !h.is_empty()
                && h.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) =>
            {
                Test::Name(h.to_string())
            }
            _ => return Err(unsupported(orig)),
        };
        let mut preds = Vec::new();
        while let Some(r) = preds_s.strip_prefix('[') {
            let Some(close) = r.find(']') else {
                return Err(unsupported(orig));
            };
            preds.push(parse_pred(r[..close].trim(), orig)?);
            preds_s = &r[close + 1..];
        }
        if !preds_s.is_empty() {
            return Err(unsupported(orig));
        }
        steps.push(Step {
            descendant,
            test,
            preds,
        });
    }
    if steps.is_empty() {
        return Err(unsupported(orig));
    }
    Ok(steps)
}

fn parse_pred(p: &str, orig: &str) -> Result<Pred> {
    if let Ok(n) = p.parse::<usize>() {
        return Ok(Pred::Index(n));
    }
    let (lhs, rhs) = match p.split_once('=') {
        Some((l, r)) => {
            let r = r.trim();
            let v = r
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| r.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                .ok_or_else(|| unsupported(orig))?;
            (l.trim(), Some(v.to_string()))
        }
        None => (p, None),
    };
    if let Some(a) = lhs.strip_prefix('@') {
        Ok(Pred::Attr(a.to_string(), rhs))
    } else if !lhs.is_empty() {
        Ok(Pred::Child(lhs.to_string(), rhs))
    } else {
        Err(unsupported(orig))
    }
}

fn descendants<'a>(e: &'a Element, out: &mut Vec<&'a Element>) {
    for c in &e.children {
        out.push(c);
        descendants(c, out);
    }
}

/// Evaluate a path over the document whose root element is `root`.
fn eval<'a>(root: &'a Element, steps: &[Step]) -> Vec<Item<'a>> {
    // The context starts at the document node, whose only child is `root`.
    let mut ctx: Vec<Option<&'a Element>> = vec![None];
    let mut items = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let mut next: Vec<Option<&'a Element>> = Vec::new();
        for c in &ctx {
            // `//x` means descendant-or-self::node()/child::x.
            let parents: Vec<Option<&Element>> = if step.descendant {
                let mut v = vec![*c];
                let mut d = Vec::new();
                match c {
                    None => {
                        d.push(root);
                        descendants(root, &mut d);
                    }
                    Some(e) => descendants(e, &mut d),
                }
                v.extend(d.into_iter().map(Some));
                v
            } else {
                vec![*c]
            };
            for p in parents {
                let kids: Vec<&Element> = match p {
                    None => vec![root],
                    Some(e) => e.children.iter().collect(),
                };
                match &step.test {
                    Test::Attr(a) => {
                        if let Some(e) = p {
                            for (k, v) in &e.attrs {
                                if k == a && last {
                                    items.push(Item::Attr(k, v));
                                }
                            }
                        }
                    }
                    Test::Text => {
                        if let (Some(e), true) = (p, last) {
                            if let Some(t) = &e.text {
                                items.push(Item::Text(t));
                            }
                        }
                    }
                    Test::Name(_) | Test::Any => {
                        let matched: Vec<&Element> = kids
                            .into_iter()
                            .filter(|k| match &step.test {
                                Test::Name(n) => &k.name == n,
                                _ => true,
                            })
                            .collect();
                        let mut kept = Vec::new();
                        for (pos, k) in matched.iter().enumerate() {
                            if step.preds.iter().all(|pr| pred_ok(pr, k, pos + 1)) {
                                kept.push(*k);
                            }
                        }
                        for k in kept {
                            if !next.iter().any(|n| n.is_some_and(|n| std::ptr::eq(n, k))) {
                                next.push(Some(k));
                            }
                        }
                    }
                }
            }
        }
        if matches!(step.test, Test::Attr(_) | Test::Text) {
            return items;
        }
        ctx = next;
    }
    // Document order: sort by position in a pre-order walk.
    let mut order = vec![root];
    descendants(root, &mut order);
    let mut elems: Vec<&Element> = ctx.into_iter().flatten().collect();
    elems.sort_by_key(|e| {
        order
            .iter()
            .position(|o| std::ptr::eq(*o, *e))
            .unwrap_or(usize::MAX)
    });
    elems.into_iter().map(Item::Elem).collect()
}

fn pred_ok(p: &Pred, e: &Element, pos: usize) -> bool {
    match p {
        Pred::Index(n) => *n == pos,
        Pred::Child(name, v) => e
            .children
            .iter()
            .any(|c| &c.name == name && v.as_ref().is_none_or(|v| &c.string_value() == v)),
        Pred::Attr(name, v) => e
            .attrs
            .iter()
            .any(|(k, a)| k == name && v.as_ref().is_none_or(|v| a == v)),
    }
}

fn string_of(item: &Item<'_>) -> String {
    match item {
        Item::Elem(e) => e.string_value(),
        Item::Attr(_, v) => v.to_string(),
        Item::Text(t) => t.to_string(),
    }
}

/// Run a query over `root` and return what virt-inspector prints.
pub fn run(root: &Element, query: &str) -> Result<String> {
    let q = query.trim();
    if let Some(inner) = q.strip_prefix("count(").and_then(|r| r.strip_suffix(')')) {
        let n = eval(root, &parse_path(inner, query)?).len();
        return Ok(format!("{n}\n"));
    }
    if let Some(inner) = q.strip_prefix("string(").and_then(|r| r.strip_suffix(')')) {
        let items = eval(root, &parse_path(inner, query)?);
        let mut s = items.first().map(string_of).unwrap_or_default();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        return Ok(s);
    }
    if q.contains('(') && !q.contains("text()") {
        bail!(unsupported(query));
    }
    let mut out = String::new();
    for item in eval(root, &parse_path(q, query)?) {
        match item {
            Item::Elem(e) => out.push_str(&crate::xml::fragment(e)?),
            Item::Attr(k, v) => {
                out.push(' ');
                out.push_str(k);
                out.push_str("=\"");
                escape_attr(v, &mut out);
                out.push('"');
            }
            Item::Text(t) => escape_text(t, &mut out),
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    const DOC: &str = "<?xml version=\"1.0\"?>\n<operatingsystems>\n  <operatingsystem>\n    <root>/dev/sda2</root>\n    <filesystems>\n      <filesystem dev=\"/dev/sda1\">\n        <type>vfat</type>\n      </filesystem>\n      <filesystem dev=\"/dev/sda2\">\n        <type>ext4</type>\n      </filesystem>\n    </filesystems>\n  </operatingsystem>\n</operatingsystems>\n";

    #[test]
    fn queries() {
        let root = parse(DOC).expect("parses");
        assert_eq!(
            run(&root, "//type").expect("ok"),
            "<type>vfat</type>\n<type>ext4</type>\n"
        );
        assert_eq!(
            run(&root, "/operatingsystems/operatingsystem/root").expect("ok"),
            "<root>/dev/sda2</root>\n"
        );
        assert_eq!(
            run(&root, "//filesystem[@dev='/dev/sda2']/type/text()").expect("ok"),
            "ext4\n"
        );
        assert_eq!(
            run(&root, "string(//filesystem[2]/type)").expect("ok"),
            "ext4\n"
        );
        assert_eq!(run(&root, "count(//filesystem)").expect("ok"), "2\n");
        assert_eq!(
            run(&root, "//filesystem/@dev").expect("ok"),
            " dev=\"/dev/sda1\"\n dev=\"/dev/sda2\"\n"
        );
        assert_eq!(
            run(&root, "//filesystem[type='ext4']").expect("ok"),
            "<filesystem dev=\"/dev/sda2\">\n  <type>ext4</type>\n</filesystem>\n"
        );
        assert!(run(&root, "sum(//x)").is_err());
        assert!(run(&root, "").is_err());
    }
}
