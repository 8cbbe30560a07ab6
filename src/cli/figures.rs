//! A dream's figures in words, the same lines for `show` and `consolidate` (and the figure in
//! `jobs`), each saying what it counts. The numbers come from `crate::figures`.

use serde_json::Value;

fn n(m: &Value, key: &str) -> Option<u64> {
    m.get(key).and_then(Value::as_u64)
}

fn pct(before: u64, after: u64) -> String {
    let r = crate::figures::reduction(before, after) * 100.0;
    if r >= 0.0 {
        format!("{r:.1}% smaller")
    } else {
        format!("{:.1}% larger", -r)
    }
}

/// `3585→2422`: the agent's files (the reduction check's figure), or every file for a job an
/// older dreamd recorded (marked `all`).
pub fn short(m: &Value) -> String {
    match (n(m, "memory_bytes_before"), n(m, "memory_bytes_after"), n(m, "bytes_before"), n(m, "bytes_after")) {
        (Some(b), Some(a), _, _) => format!("{b}→{a}"),
        (None, None, Some(b), Some(a)) => format!("{b}→{a} (all)"),
        _ => "-".into(),
    }
}

/// `label  value` lines, labels padded to `width`.
pub fn lines(m: &Value, width: usize) -> String {
    let mut out = String::new();
    let mut line = |label: &str, text: String| out.push_str(&format!("{label:<width$} {text}\n"));
    let managed: Vec<&str> = m.get("managed_files").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if let (Some(b), Some(a)) = (n(m, "memory_bytes_before"), n(m, "memory_bytes_after")) {
        line("memory", format!("{b} → {a} bytes ({}): the agent's files, the figure the reduction check compares", pct(b, a)));
    }
    if let (Some(b), Some(a)) = (n(m, "bytes_before"), n(m, "bytes_after")) {
        let files = match (n(m, "files_before"), n(m, "files_after")) {
            (Some(fb), Some(fa)) => format!(" in {fb} → {fa} files"),
            _ => String::new(),
        };
        let note = if managed.is_empty() { String::new() } else { format!(", dreamd-managed {} included", managed.join(", ")) };
        line("all files", format!("{b} → {a} bytes ({}){files}{note}", pct(b, a)));
    }
    if let (Some(b), Some(a)) = (n(m, "entries_before"), n(m, "entries_after")) {
        line("entries", format!("{b} → {a}: every entry of every memory file, the count the entry-loss check starts from"));
    }
    if let (Some(b), Some(a)) = (n(m, "tokens_before"), n(m, "tokens_after")) {
        line("tokens", format!("~{b} → ~{a} (all files, bytes / 4)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_figure_says_what_it_counts() {
        let m = json!({"memory_bytes_before": 3585, "memory_bytes_after": 2422, "bytes_before": 3585, "bytes_after": 3161,
            "files_before": 7, "files_after": 8, "entries_before": 45, "entries_after": 31, "tokens_before": 897, "tokens_after": 791,
            "managed_files": ["insights.md"]});
        let text = lines(&m, 10);
        assert!(
            text.contains("memory     3585 → 2422 bytes (32.4% smaller): the agent's files, the figure the reduction check compares"),
            "{text}"
        );
        assert!(
            text.contains("all files  3585 → 3161 bytes (11.8% smaller) in 7 → 8 files, dreamd-managed insights.md included"),
            "{text}"
        );
        assert!(text.contains("entries    45 → 31: every entry"), "{text}");
        assert_eq!(short(&m), "3585→2422");
    }

    #[test]
    fn jobs_from_an_older_dreamd_show_what_they_have() {
        let m = json!({"bytes_before": 100, "bytes_after": 120, "entries_before": 3, "entries_after": 3});
        let text = lines(&m, 10);
        assert!(!text.lines().any(|l| l.starts_with("memory")), "{text}");
        assert!(text.contains("100 → 120 bytes (20.0% larger)"), "{text}");
        assert_eq!(short(&m), "100→120 (all)");
        assert_eq!(short(&Value::Null), "-");
    }
}
