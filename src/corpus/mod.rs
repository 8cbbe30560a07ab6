//! A generator of bloated memory stores with ground truth, and a scorer for candidates.
//!
//! Deterministic from a seed (a tiny splitmix64 PRNG, no `rand`). Every fact has a unique
//! subject word, so the scorer can find what became of it in any candidate by substring:
//! the subject and the current value in one entry. Planted bloat: restatements (filler,
//! emphasis, reordered clauses, trailing remark, case/punctuation), older values (dated
//! inline or by an older file), pinned entries (some restated), stale index pointers,
//! relative dates, and transcripts with a known code-language mix.

pub mod fuzz;
pub mod hard;
pub mod quality;
pub mod real;
pub mod score;

use crate::sessions::{parse_transcript, Transcript};
use crate::store::{MemoryFile, Store};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;

pub use score::{score, Score};

/// splitmix64: small, fast, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub seed: u64,
    /// Distinct current facts.
    pub facts: usize,
    /// Fraction of facts restated at least once (~0.4).
    pub restated: f64,
    /// Fraction of facts that also have an older value somewhere (~0.15).
    pub conflicted: f64,
    pub pinned: f64,
    pub relative_dates: f64,
    pub stale_pointers: usize,
    pub facts_per_file: usize,
    pub sessions: usize,
    /// Session code languages and their shares (must sum to 1).
    pub languages: Vec<(&'static str, f64)>,
    /// Fact `i` is about `subject(i + subject_offset)`: the same store with other subjects.
    pub subject_offset: usize,
}

impl Spec {
    /// About `entries` entries in all (facts plus planted bloat).
    pub fn with_entries(seed: u64, entries: usize, sessions: usize) -> Spec {
        let facts = (entries as f64 / 1.63).round() as usize;
        Spec {
            seed,
            facts,
            restated: 0.40,
            conflicted: 0.15,
            pinned: 0.02,
            relative_dates: 0.03,
            stale_pointers: 5,
            facts_per_file: 60,
            sessions,
            languages: vec![("python", 0.6), ("go", 0.25), ("bash", 0.15)],
            subject_offset: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restate {
    Filler,
    Emphasis,
    Reordered,
    Remark,
    Format,
    /// The same line on an earlier day.
    DateOnly,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub id: usize,
    pub subject: String,
    pub value: String,
    /// The canonical current text (without marker).
    pub text: String,
    /// The line as planted, marker included.
    pub line: String,
    pub file: String,
    pub pinned: bool,
    pub restatements: Vec<Restate>,
    /// The older value, if one was planted.
    pub old_value: Option<String>,
    /// For a fact written with a relative date: the ISO date it must become.
    pub absolute_date: Option<String>,
    /// Words besides the subject that every entry about this fact contains (its attribute),
    /// when a subject has several facts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe: Vec<String>,
    /// What a correct dream does with `old_value`: remove it (the order is defensible and the
    /// newer claim plain) or keep both (order unknown or only guessed, or the newer claim
    /// hedged, or the fact pinned).
    pub resolve_old: bool,
    /// How the older value was planted (for per-class figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_class: Option<&'static str>,
}

/// Where a planted entry is (file and 1-based line) and which fact it belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Planted {
    pub file: String,
    pub line: usize,
    pub fact: usize,
    /// "fact", "restatement", "old_value".
    pub role: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    /// "classic" (the first family) or "hard" (`hard.rs`).
    pub family: &'static str,
    pub facts: Vec<Fact>,
    pub planted: Vec<Planted>,
    pub stale_pointers: Vec<String>,
    pub dominant_language: String,
    pub language_sessions: usize,
    pub sessions: usize,
    /// Byte size of the ideal store (one canonical copy of each current fact, no stale pointers).
    pub ideal_bytes: u64,
}

pub struct Corpus {
    pub store: Store,
    pub sessions: Vec<(String, String)>,
    pub truth: Truth,
    pub now: DateTime<Utc>,
}

impl Corpus {
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.sessions.iter().map(|(id, text)| parse_transcript(id, text)).collect()
    }

    /// Write `memory/`, `sessions/` and `truth.json` under `dir`.
    pub fn write_to(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        self.store.write_to(&dir.join("memory"))?;
        std::fs::create_dir_all(dir.join("sessions"))?;
        for (id, text) in &self.sessions {
            std::fs::write(dir.join("sessions").join(format!("{id}.jsonl")), text)?;
        }
        std::fs::write(dir.join("truth.json"), serde_json::to_vec(&self.truth)?)?;
        Ok(())
    }
}

const SYLLABLES: &[&str] =
    &["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "bo", "da", "fi", "gu", "he", "jo", "ki", "ma", "no", "pu"];

/// A unique pronounceable word per index (at least three syllables), never a value.
pub fn subject(i: usize) -> String {
    let mut n = i;
    let mut s = String::new();
    for k in 0.. {
        s.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
        if n == 0 && k >= 2 {
            break;
        }
    }
    s
}

const TOOLS: &[&str] = &["npm", "pnpm", "yarn", "bun"];
const DAYS: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
const PEOPLE: &[&str] = &["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah"];
const SECOND: &[&str] = &[
    "its runbook is in the platform wiki",
    "the platform group owns it",
    "alerts page the on-call engineer",
    "changes need a review from the owners",
];
pub(crate) const FILLERS: &[&str] = &["Note: ", "Remember that ", "FYI: ", "Important: ", "Keep in mind that "];
const REMARKS: &[&str] = &[" (as discussed in standup)", " — confirmed again", ". Don't forget this!", " (this came up twice)"];
const TOPICS: &[&str] = &["project", "reference", "feedback", "user"];

/// (text, value, can conflict) for template `t` about subject `s`.
fn fact_text(t: usize, s: &str, rng: &mut Rng) -> (String, String) {
    match t % 8 {
        0 => {
            let v = (2000 + rng.below(7000)).to_string();
            (format!("the {s} service listens on port {v}"), v)
        }
        1 => {
            let v = format!("{}.{}", 11 + rng.below(6), rng.below(10));
            (format!("the {s} database runs Postgres {v}"), v)
        }
        2 => {
            let v = rng.pick(DAYS).to_string();
            (format!("the {s} team ships releases every {v}"), v)
        }
        3 => {
            let v = rng.pick(TOOLS).to_string();
            (format!("for {s} work the user prefers {v}"), v)
        }
        4 => {
            let v = (5 + rng.below(80)).to_string();
            (format!("{s} builds take about {v} minutes on CI"), v)
        }
        5 => {
            let v = (1 + rng.below(400)).to_string();
            (format!("the {s} cache keeps entries for {v} seconds"), v)
        }
        6 => {
            let v = rng.pick(PEOPLE).to_string();
            (format!("ask {v} before changing the {s} schema"), v)
        }
        _ => {
            let v = format!("v{}.{}.{}", rng.below(5), rng.below(20), rng.below(10));
            (format!("the {s} client library is pinned to {v}"), v)
        }
    }
}

fn other_value(t: usize, v: &str, rng: &mut Rng) -> String {
    for _ in 0..20 {
        let (_, w) = fact_text(t, "x", rng);
        if w != v {
            return w;
        }
    }
    format!("{v}0")
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn restate(kind: Restate, text: &str, second: Option<&str>, rng: &mut Rng) -> String {
    let full = match second {
        Some(s2) => format!("{text}, and {s2}"),
        None => text.to_string(),
    };
    match kind {
        Restate::Filler => format!("{}{full}", rng.pick(FILLERS)),
        Restate::Emphasis => {
            let words: Vec<&str> = full.split(' ').collect();
            let k = 1 + rng.below(words.len().saturating_sub(1).max(1));
            words.iter().enumerate().map(|(i, w)| if i == k { format!("**{w}**") } else { w.to_string() }).collect::<Vec<_>>().join(" ")
        }
        Restate::Reordered => match second {
            Some(s2) => format!("{}, and {text}", capitalize(s2)),
            None => format!("{}{full}", rng.pick(FILLERS)),
        },
        Restate::Remark => format!("{}{}", capitalize(&full), rng.pick(REMARKS)),
        // The first family writes no dates into its lines; the same text stands in.
        Restate::Format | Restate::DateOnly => format!("{}.", capitalize(&full)),
    }
}

pub(crate) fn day(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(9, 0, 0).unwrap_or_default())
}

pub fn generate(spec: &Spec) -> Corpus {
    let mut rng = Rng::new(spec.seed);
    let now = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).single().unwrap_or_else(Utc::now);
    let base = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default();
    let old_base = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
    let files_n = spec.facts.div_ceil(spec.facts_per_file.max(1)).max(1);
    let file_names: Vec<String> = (0..files_n).map(|i| format!("{}_{}.md", TOPICS[i % TOPICS.len()], subject(i + 7_000_000))).collect();
    let file_mtime: Vec<NaiveDate> = (0..files_n).map(|i| base + Duration::days((i % 14) as i64)).collect();
    let old_files_n = ((spec.facts as f64 * spec.conflicted) as usize).div_ceil(spec.facts_per_file.max(1)).max(1);
    let old_names: Vec<String> = (0..old_files_n).map(|i| format!("notes_{}.md", subject(i + 8_000_000))).collect();
    // Body lines per file; the ideal store gets only the canonical lines.
    let mut bodies: Vec<Vec<(String, usize, &'static str)>> = vec![Vec::new(); files_n];
    let mut old_bodies: Vec<Vec<(String, usize, &'static str)>> = vec![Vec::new(); old_files_n];
    let mut ideal: Vec<Vec<String>> = vec![Vec::new(); files_n];
    let mut facts = Vec::with_capacity(spec.facts);
    for id in 0..spec.facts {
        let s = subject(id + spec.subject_offset);
        let t = rng.below(8);
        let (text, value) = fact_text(t, &s, &mut rng);
        let fi = id % files_n;
        let pinned = rng.chance(spec.pinned);
        let conflicted = !pinned && rng.chance(spec.conflicted);
        let relative = !pinned && !conflicted && rng.chance(spec.relative_dates);
        let second = (t % 2 == 0).then(|| *rng.pick(SECOND));
        let mut fact = Fact {
            id,
            subject: s.clone(),
            value: value.clone(),
            text: text.clone(),
            line: String::new(),
            file: file_names[fi].clone(),
            pinned,
            restatements: Vec::new(),
            old_value: None,
            absolute_date: None,
            probe: Vec::new(),
            resolve_old: true,
            conflict_class: None,
        };
        let full = match second {
            Some(s2) => format!("{text}, and {s2}"),
            None => text.clone(),
        };
        let mut canonical = capitalize(&full);
        if relative {
            let n = 1 + rng.below(5);
            let phrase = if n == 1 { "yesterday".to_string() } else { format!("{n} days ago") };
            // Dated by the entry itself: a file's date is no anchor for "yesterday".
            canonical = format!("{canonical}; it was last checked {phrase} (noted {})", file_mtime[fi]);
            fact.absolute_date = Some((file_mtime[fi] - Duration::days(n as i64)).to_string());
        }
        let dated_inline = conflicted && rng.chance(0.5);
        let line = if pinned {
            format!("- {canonical} <!-- pinned -->")
        } else if dated_inline {
            format!("- {canonical} (as of {})", file_mtime[fi])
        } else {
            format!("- {canonical}")
        };
        fact.line = line.clone();
        ideal[fi].push(line.clone());
        bodies[fi].push((line, id, "fact"));
        if !relative && rng.chance(spec.restated) {
            let copies = 1 + usize::from(rng.chance(0.2));
            for _ in 0..copies {
                let kind = *rng.pick(&[Restate::Filler, Restate::Emphasis, Restate::Reordered, Restate::Remark, Restate::Format]);
                let r = format!("- {}", restate(kind, &text, second, &mut rng));
                fact.restatements.push(kind);
                // Within the file or in another one.
                let target = if rng.chance(0.5) { fi } else { rng.below(files_n) };
                bodies[target].push((r, id, "restatement"));
            }
        }
        if conflicted {
            let old = other_value(t, &value, &mut rng);
            let old_text = capitalize(&full.replacen(&value, &old, 1));
            let oi = rng.below(old_files_n);
            if dated_inline {
                // Both dated inline; the old one in the same file, well before.
                let d = old_base + Duration::days(rng.below(60) as i64);
                bodies[fi].push((format!("- {d}: {old_text}"), id, "old_value"));
            } else {
                // Dated by its file: an older notes file.
                old_bodies[oi].push((format!("- {old_text}"), id, "old_value"));
            }
            fact.old_value = Some(old);
        }
        facts.push(fact);
    }
    // Shuffle each body a little (deterministically) so copies are not adjacent.
    for b in bodies.iter_mut().chain(old_bodies.iter_mut()) {
        for i in (1..b.len()).rev() {
            let j = rng.below(i + 1);
            b.swap(i, j);
        }
    }
    let mut store = Store::default();
    let mut planted = Vec::new();
    let mut ideal_bytes = 0u64;
    let mut index = String::from("# Memory index\n\n");
    let mut ideal_index = index.clone();
    let mut render = |name: &str, title: &str, desc: &str, kind: &str, body: &[(String, usize, &'static str)], mtime: NaiveDate| {
        // Claude Code writes `modified` (ISO) into a topic file's frontmatter since 2.1.214.
        let mut text = format!("---\nname: {title}\ndescription: {desc}\ntype: {kind}\nmodified: {mtime}\n---\n\n# {title}\n\n");
        let first = text.lines().count() + 1;
        for (k, (l, fact, role)) in body.iter().enumerate() {
            text.push_str(l);
            text.push('\n');
            planted.push(Planted { file: name.to_string(), line: first + k, fact: *fact, role });
        }
        store.files.insert(name.to_string(), MemoryFile { bytes: text.into_bytes(), mtime: Some(day(mtime)) });
    };
    for (i, name) in file_names.iter().enumerate() {
        let title = format!("{} {}", capitalize(TOPICS[i % TOPICS.len()]), subject(i + 7_000_000));
        let desc = format!("facts about {} and related services", subject(i + 7_000_000));
        render(name, &title, &desc, TOPICS[i % TOPICS.len()], &bodies[i], file_mtime[i]);
        let head = format!(
            "---\nname: {title}\ndescription: {desc}\ntype: {}\nmodified: {}\n---\n\n# {title}\n\n",
            TOPICS[i % TOPICS.len()],
            file_mtime[i]
        );
        ideal_bytes += head.len() as u64 + ideal[i].iter().map(|l| l.len() as u64 + 1).sum::<u64>();
        let entry = format!("- [{title}]({name}) — {desc}\n");
        index.push_str(&entry);
        ideal_index.push_str(&entry);
    }
    for (i, name) in old_names.iter().enumerate() {
        let title = format!("Notes {}", subject(i + 8_000_000));
        let desc = "older notes from the first weeks of the project";
        render(name, &title, desc, "project", &old_bodies[i], old_base + Duration::days(i as i64 % 20));
        let head = format!(
            "---\nname: {title}\ndescription: {desc}\ntype: project\nmodified: {}\n---\n\n# {title}\n\n",
            old_base + Duration::days(i as i64 % 20)
        );
        ideal_bytes += head.len() as u64;
        let entry = format!("- [{title}]({name}) — {desc}\n");
        index.push_str(&entry);
        ideal_index.push_str(&entry);
    }
    let mut stale = Vec::new();
    for k in 0..spec.stale_pointers {
        let name = format!("gone_{}.md", subject(k + 9_000_000));
        index.push_str(&format!("- [Gone {k}]({name}) — a topic file that was deleted\n"));
        stale.push(name);
    }
    ideal_bytes += ideal_index.len() as u64;
    store.files.insert("MEMORY.md".into(), MemoryFile { bytes: index.into_bytes(), mtime: Some(day(base + Duration::days(13))) });
    let (sessions, dominant, dominant_n) = sessions(spec.sessions, &spec.languages, &facts, &mut rng);
    let truth = Truth {
        family: "classic",
        facts,
        planted,
        stale_pointers: stale,
        dominant_language: dominant,
        language_sessions: dominant_n,
        sessions: spec.sessions,
        ideal_bytes,
    };
    Corpus { store, sessions, truth, now }
}

/// `copies` copies of the store `spec` generates, each with its facts' subjects renamed (so no
/// copy duplicates another) and its files prefixed `cNN-`, in one flat store with one
/// `MEMORY.md` indexing them all; the first copy's sessions. The adversarial large store of
/// issue 9: every copy has the same templates, values, files and bloat, only the subjects differ.
pub fn renamed_copies(spec: &Spec, copies: usize) -> Corpus {
    let mut store = Store::default();
    let mut index = String::from("# Memory index\n\n");
    let mut first: Option<Corpus> = None;
    for k in 0..copies {
        let copy = generate(&Spec { subject_offset: k * spec.facts.max(1), ..spec.clone() });
        for (path, file) in &copy.store.files {
            if path == "MEMORY.md" {
                let text = String::from_utf8_lossy(&file.bytes);
                for line in text.lines().filter(|l| l.starts_with("- ")) {
                    index.push_str(&line.replace("](", &format!("](c{k:02}-")));
                    index.push('\n');
                }
            } else {
                store.files.insert(format!("c{k:02}-{path}"), file.clone());
            }
        }
        if first.is_none() {
            first = Some(copy);
        }
    }
    let mut corpus = first.unwrap_or_else(|| generate(spec));
    let mtime = corpus.store.files.get("MEMORY.md").and_then(|f| f.mtime);
    store.files.insert("MEMORY.md".into(), MemoryFile { bytes: index.into_bytes(), mtime });
    corpus.store = store;
    corpus
}

/// Transcripts with a known language mix: session k's dominant language is fixed by the
/// spec's shares; each also touches files, runs commands, and mentions a few facts.
pub(crate) fn sessions(
    count: usize,
    languages: &[(&'static str, f64)],
    facts: &[Fact],
    rng: &mut Rng,
) -> (Vec<(String, String)>, String, usize) {
    let mut quotas: Vec<(&str, usize)> = languages.iter().map(|&(l, p)| (l, (p * count as f64).round() as usize)).collect();
    let assigned: usize = quotas.iter().map(|q| q.1).sum();
    if let Some(first) = quotas.first_mut() {
        first.1 = (first.1 + count).saturating_sub(assigned);
    }
    let mut langs: Vec<&str> = quotas.iter().flat_map(|&(l, n)| std::iter::repeat_n(l, n)).collect();
    langs.truncate(count);
    let (dominant, dominant_n) = quotas.iter().max_by_key(|q| q.1).map(|q| (q.0, q.1)).unwrap_or(("python", 0));
    let pretty = match dominant {
        "python" => "Python",
        "go" => "Go",
        "bash" => "Bash",
        other => other,
    };
    let commands = ["pytest -q", "go test ./...", "make lint", "cargo build", "npm test"];
    let mut out = Vec::new();
    for (k, lang) in langs.iter().enumerate() {
        let id = format!("sess-{k:04}");
        let when = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).single().unwrap_or_else(Utc::now) + Duration::minutes(k as i64 * 173);
        let mut lines = Vec::new();
        let mut rec = |kind: &str, content: serde_json::Value, i: i64| {
            let ts = (when + Duration::seconds(i * 30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            lines.push(
                serde_json::json!({"type": kind, "sessionId": id, "timestamp": ts, "cwd": "/repo", "message": {"role": kind, "content": content}})
                    .to_string(),
            );
        };
        for i in 0..6 {
            if let Some(fact) = facts.get(rng.below(facts.len().max(1))) {
                rec("user", serde_json::Value::String(format!("Can you check {}? I think {}.", fact.subject, fact.text)), i * 3);
            }
            let code = format!("Here is the change:\n```{lang}\nrun({i})\n```\nand a check:\n```{lang}\ncheck()\n```");
            let file =
                format!("/repo/src/{}/mod_{}.{}", ["api", "core", "cli"][i as usize % 3], i % 4, if *lang == "go" { "go" } else { "py" });
            let cmd = commands[rng.below(commands.len())];
            rec(
                "assistant",
                serde_json::json!([
                    {"type": "text", "text": code},
                    {"type": "tool_use", "name": "Edit", "input": {"file_path": file}},
                    {"type": "tool_use", "name": "Bash", "input": {"command": cmd}}
                ]),
                i * 3 + 1,
            );
            if i == 5 && k % 3 == 0 {
                rec(
                    "user",
                    serde_json::json!([{"type": "tool_result", "is_error": true, "content": format!("Error: connection refused on port {}", 5432)}]),
                    i * 3 + 2,
                );
            }
        }
        out.push((id, lines.join("\n") + "\n"));
    }
    (out, pretty.to_string(), dominant_n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_has_the_planted_mix() {
        let spec = Spec::with_entries(7, 2000, 20);
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.store, b.store);
        assert_eq!(a.sessions, b.sessions);
        let entries = a.truth.planted.len();
        assert!((1700..2300).contains(&entries), "{entries}");
        let restated = a.truth.facts.iter().filter(|f| !f.restatements.is_empty()).count() as f64 / a.truth.facts.len() as f64;
        let conflicted = a.truth.facts.iter().filter(|f| f.old_value.is_some()).count() as f64 / a.truth.facts.len() as f64;
        assert!((0.33..0.45).contains(&restated), "{restated}");
        assert!((0.11..0.19).contains(&conflicted), "{conflicted}");
        assert_ne!(generate(&Spec::with_entries(8, 2000, 20)).store, a.store);
        let subjects: std::collections::HashSet<_> = (0..100_000).map(subject).collect();
        assert_eq!(subjects.len(), 100_000);
    }
}
