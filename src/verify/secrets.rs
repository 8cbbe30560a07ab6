//! No new secrets: every line the candidate adds (any file, any encoding, frontmatter and
//! headings included, with a line of context so multi-line keys are seen whole) and every new
//! file name is scanned with [`crate::secrets`] and the configured extra patterns. A value the
//! live store already held, anywhere, is not new.

use super::added::{Added, LiveText};
use super::Check;
use regex::Regex;

/// A secret-looking value the candidate adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: String,
    /// 0 for a file name.
    pub line: usize,
    pub rule: String,
    pub value: String,
}

fn scan(text: &str, extra: &[Regex], mut push: impl FnMut(usize, String, String)) {
    for m in crate::secrets::find(text) {
        push(m.start, m.rule.to_string(), text[m.start..m.end].to_string());
    }
    for (i, r) in extra.iter().enumerate() {
        for m in r.find_iter(text) {
            push(m.start(), format!("secret_patterns[{i}]"), m.as_str().to_string());
        }
    }
}

pub fn findings(added: &Added, live: &LiveText, extra_patterns: &[String]) -> Vec<Finding> {
    let extra: Vec<Regex> = extra_patterns.iter().filter_map(|p| Regex::new(p).ok()).collect();
    let mut out: Vec<Finding> = Vec::new();
    for path in &added.new_paths {
        scan(path, &extra, |_, rule, value| out.push(Finding { file: path.clone(), line: 0, rule, value }));
    }
    for r in &added.regions {
        scan(&r.text, &extra, |at, rule, value| {
            let line = r.first_line + r.text[..at].matches('\n').count();
            out.push(Finding { file: r.file.clone(), line, rule, value });
        });
    }
    out.sort_by(|a, b| (&a.file, a.line, &a.value).cmp(&(&b.file, b.line, &b.value)));
    out.dedup_by(|a, b| a.file == b.file && a.value == b.value);
    if out.is_empty() {
        return out;
    }
    let values: Vec<String> = out.iter().map(|f| f.value.clone()).collect();
    let known = live.contains(&values, false, false);
    out.into_iter().zip(known).filter(|(_, k)| !k).map(|(f, _)| f).collect()
}

pub fn check(added: &Added, live: &LiveText, extra_patterns: &[String]) -> Check {
    let new = findings(added, live, extra_patterns);
    if new.is_empty() {
        return Check::new("no_new_secrets", true, "the candidate adds no secret-looking value".into(), vec![]);
    }
    let details = new
        .iter()
        .map(|f| {
            let file = super::quote(&f.file, 120);
            let at = if f.line == 0 { format!("{file} (file name)") } else { format!("{file}:{}", f.line) };
            format!("{at}: {} — looks like a {} the live store did not hold", crate::secrets::describe(&f.value), f.rule)
        })
        .collect();
    Check::new(
        "no_new_secrets",
        false,
        format!("the candidate writes {} secret-looking value(s) the live store did not hold", new.len()),
        details,
    )
}
