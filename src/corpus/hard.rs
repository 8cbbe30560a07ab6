//! The second generator family ("hard"): the failure classes seen on text the first family did
//! not write, so that the engine is measured on them and not tuned to its own corpus.
//!
//! - Subjects share values: many services with the same owner, database, port, region,
//!   replica count. Subjects have several facts each (an attribute tells them apart).
//! - Non-ASCII everywhere: subjects (`über-cache`, `日本-api`, `Éclair`), people (`Zoë`,
//!   `Łukasz`), entries opening with `✅` or `→`, remarks with curly quotes.
//! - Undated topic files (no frontmatter `modified`) next to dated ones, and inline dates.
//! - Older values planted so that only some orders are defensible: above the current line in
//!   one undated file, both dated inline, in an older dated file (all to be resolved); in
//!   another undated file (only mtimes tell: keep both), dated against undated (keep both).
//! - Hedged, attributed, proposed or past-dated newer claims (keep both), and pinned facts
//!   with a newer contradiction (keep both).
//! - Date-only duplicates (the same line on two days), restatements (filler, emphasis,
//!   remark), relative dates noted with the entry's own date.
//! - Rewordings: a version bump in prose (`Python 3.9+` → `3.10+`), one command of a list
//!   (`make mypy` → `make typecheck`), a renamed file (`config.js` → `config.mjs`), options
//!   added to a command (`pnpm i` → `pnpm i --frozen-lockfile`).
//!
//! Seeds in `HELD_OUT_SEEDS` are used by the benchmark only: no test runs them, so the
//! figures the README reports come from stores nothing was tuned on.

use super::{capitalize, day, sessions, Corpus, Fact, Planted, Restate, Rng, Truth, FILLERS};
use crate::store::{MemoryFile, Store};
use chrono::{Duration, NaiveDate, TimeZone, Utc};

/// Seeds only the benchmark uses. Tests call `assert_not_held_out`.
pub const HELD_OUT_SEEDS: std::ops::Range<u64> = 9_000..9_100;

/// Tests use this to make sure they never see a held-out seed.
pub fn assert_not_held_out(seed: u64) {
    assert!(!HELD_OUT_SEEDS.contains(&seed), "seed {seed} is held out for the benchmark");
}

#[derive(Debug, Clone)]
pub struct HardSpec {
    pub seed: u64,
    pub facts: usize,
    /// Fraction of facts with an older or competing value somewhere.
    pub conflicted: f64,
    pub restated: f64,
    /// Fraction of inline-dated facts also written on an earlier day, word for word.
    pub date_only: f64,
    pub pinned: f64,
    pub relative_dates: f64,
    pub stale_pointers: usize,
    pub facts_per_file: usize,
    pub sessions: usize,
}

impl HardSpec {
    pub fn with_facts(seed: u64, facts: usize) -> HardSpec {
        HardSpec {
            seed,
            facts,
            conflicted: 0.35,
            restated: 0.30,
            date_only: 0.25,
            pinned: 0.03,
            relative_dates: 0.03,
            stale_pointers: 3,
            facts_per_file: 40,
            sessions: 12,
        }
    }
}

const FIRST: &[&str] = &[
    "edge", "core", "auth", "billing", "search", "ledger", "media", "cart", "notify", "report", "über", "état", "niño", "zürich", "日本",
    "ørsted", "façade", "smørre",
];
const SECOND: &[&str] = &["worker", "proxy", "api", "gateway", "cache", "store", "sync", "queue", "indexer", "scheduler"];
/// Names, some with a number in them (a number there names, it is no value).
const NAMES: &[&str] = &[
    "Atlas",
    "Borealis",
    "Cygnus",
    "Draco",
    "Éclair",
    "Ñandú",
    "Orion",
    "Pyxis",
    "Quasar",
    "Rigel",
    "Sirius",
    "Tucana",
    "Vega",
    "Zéphyr",
    "Cluster 31",
    "Cluster 47",
    "Shard 52",
    "Shard 68",
];

/// `count` distinct subjects, shuffled: hyphenated identifiers (some non-ASCII) and names.
fn subjects(count: usize, rng: &mut Rng) -> Vec<String> {
    let mut pool: Vec<String> = FIRST.iter().flat_map(|a| SECOND.iter().map(move |b| format!("{a}-{b}"))).collect();
    pool.extend(NAMES.iter().map(|n| n.to_string()));
    for i in (1..pool.len()).rev() {
        let j = rng.below(i + 1);
        pool.swap(i, j);
    }
    let base = pool.len();
    while pool.len() < count {
        let k = pool.len();
        pool.push(format!("{}-{}", pool[k % base], super::subject(k)));
    }
    pool.truncate(count);
    pool
}

/// A fact template: the words that tell its attribute apart, its text, and its values.
struct Template {
    probe: &'static [&'static str],
    text: fn(&str, &str) -> String,
    values: &'static [&'static str],
    /// Older values that may precede the current one (`None`: any other value).
    older: Option<fn(&str) -> Option<&'static str>>,
}

const TEMPLATES: &[Template] = &[
    Template {
        probe: &["data"],
        text: |s, v| format!("{s} stores its data in {v}"),
        values: &["ClickHouse 24", "Postgres 16", "MySQL 8", "Redis 7"],
        older: None,
    },
    Template {
        probe: &["owned"],
        text: |s, v| format!("{s} is owned by {v}"),
        values: &["Dana", "Emeka", "Zoë", "José", "Łukasz", "Farah"],
        older: None,
    },
    Template { probe: &["port"], text: |s, v| format!("{s} listens on port {v}"), values: &["8080", "9090", "443", "5432"], older: None },
    Template {
        probe: &["region"],
        text: |s, v| format!("{s} runs in the {v} region"),
        values: &["east", "west", "north", "south"],
        older: None,
    },
    Template { probe: &["replicas"], text: |s, v| format!("{s} runs {v} replicas"), values: &["2", "3", "4", "6"], older: None },
    Template { probe: &["status"], text: |s, v| format!("The {s} status is {v}"), values: &["blue", "green", "amber"], older: None },
    Template {
        probe: &["guest", "access"],
        text: |s, v| format!("Guest access to {s} is {v}"),
        values: &["enabled", "disabled"],
        older: None,
    },
    Template {
        probe: &["python"],
        text: |s, v| format!("{s} requires Python {v}"),
        values: &["3.9+", "3.10+", "3.11+", "3.12+"],
        older: None,
    },
    Template {
        probe: &["ci"],
        text: |s, v| format!("CI for {s} runs `make lint`, `make {v}` and `make test`"),
        values: &["mypy", "typecheck", "pyright"],
        older: None,
    },
    Template {
        probe: &["settings"],
        text: |s, v| format!("{s} reads its settings from `{v}`"),
        values: &["config.js", "config.mjs", "config.cjs", "config.ts"],
        older: None,
    },
    Template {
        probe: &["dependencies"],
        text: |s, v| format!("Install {s} dependencies with `{v}`"),
        values: &["pnpm i --frozen-lockfile", "npm ci --ignore-scripts"],
        // Options were added to the command, never dropped: `pnpm i` came first.
        older: Some(|v| match v {
            "pnpm i --frozen-lockfile" => Some("pnpm i"),
            "npm ci --ignore-scripts" => Some("npm ci"),
            _ => None,
        }),
    },
    Template {
        probe: &["ask", "schema"],
        text: |s, v| format!("Ask {v} before changing the {s} schema"),
        values: &["Dana", "Emeka", "Zoë", "José"],
        older: None,
    },
];

const DECORATIONS: &[&str] = &["", "", "", "", "✅ ", "→ "];
const REMARKS: &[&str] = &[" (per the “runbook”)", " — ✅ confirmed again", " (this came up twice)", ". Don’t forget this!"];
const HEDGES: &[&str] = &["Unconfirmed: ", "Someone said ", "Rumour: ", "Proposal: ", "Reportedly, ", "As of 2019, "];

/// How an older value is planted, and whether a correct dream removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Above the current line, one undated file: position orders them.
    Position,
    /// Both dated inline.
    Inline,
    /// In an older dated file (frontmatter `modified`).
    OlderFile,
    /// In another undated file: only mtimes tell (a guess), keep both.
    OtherUndated,
    /// The current line dated inline, the old one undated elsewhere: keep both.
    DatedVsUndated,
    /// A newer claim that is hedged: keep both.
    Hedged,
    /// The fact is pinned; a newer plain claim contradicts it: keep both.
    Pinned,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Position => "position",
            Class::Inline => "inline_dates",
            Class::OlderFile => "older_file",
            Class::OtherUndated => "other_undated_file",
            Class::DatedVsUndated => "dated_vs_undated",
            Class::Hedged => "hedged",
            Class::Pinned => "pinned",
        }
    }
    fn resolves(self) -> bool {
        matches!(self, Class::Position | Class::Inline | Class::OlderFile)
    }
}

/// A file being written: its lines in groups whose inner order matters.
struct FileBuild {
    name: String,
    /// `modified:` in the frontmatter, or None for an undated file.
    modified: Option<NaiveDate>,
    mtime: NaiveDate,
    groups: Vec<Vec<(String, usize, &'static str)>>,
    ideal: Vec<String>,
}

pub fn generate_hard(spec: &HardSpec) -> Corpus {
    let mut rng = Rng::new(spec.seed ^ 0x4841_5244);
    let now = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).single().unwrap_or_else(Utc::now);
    let base = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default();
    let files_n = spec.facts.div_ceil(spec.facts_per_file.max(1)).max(4);
    // Alternate dated and undated topic files; dated ones a week apart.
    let mut files: Vec<FileBuild> = (0..files_n)
        .map(|i| FileBuild {
            name: format!("{}_{}.md", ["project", "reference"][i % 2], super::subject(i + 7_100_000)),
            modified: (i % 2 == 0).then(|| base + Duration::days(7 * (i as i64 / 2))),
            // Undated files look newest by mtime, as after an edit or a copy.
            mtime: if i % 2 == 0 { base + Duration::days(7 * (i as i64 / 2)) } else { base + Duration::days(40 + i as i64) },
            groups: Vec::new(),
            ideal: Vec::new(),
        })
        .collect();
    let dated: Vec<usize> = (0..files_n).filter(|&i| files[i].modified.is_some()).collect();
    let undated: Vec<usize> = (0..files_n).filter(|&i| files[i].modified.is_none()).collect();
    let per_subject = 4;
    let subjects = subjects(spec.facts.div_ceil(per_subject), &mut rng);
    let mut facts: Vec<Fact> = Vec::with_capacity(spec.facts);
    let mut template_of: Vec<usize> = Vec::new();
    for s in &subjects {
        // Distinct templates per subject.
        let mut ts: Vec<usize> = (0..TEMPLATES.len()).collect();
        for i in (1..ts.len()).rev() {
            let j = rng.below(i + 1);
            ts.swap(i, j);
        }
        for &t in ts.iter().take(per_subject) {
            if facts.len() == spec.facts {
                break;
            }
            let tpl = &TEMPLATES[t];
            let value = rng.pick(tpl.values).to_string();
            let text = (tpl.text)(s, &value);
            facts.push(Fact {
                id: facts.len(),
                subject: s.clone(),
                value,
                text,
                line: String::new(),
                file: String::new(),
                pinned: false,
                restatements: Vec::new(),
                old_value: None,
                absolute_date: None,
                probe: tpl.probe.iter().map(|p| p.to_string()).collect(),
                resolve_old: true,
                conflict_class: None,
            });
            template_of.push(t);
        }
    }
    for f in facts.iter_mut() {
        let tpl = &TEMPLATES[template_of[f.id]];
        plant(f, tpl, &mut files, &dated, &undated, spec, &mut rng);
    }
    render(files, facts, spec, now, &mut rng)
}

fn pick_other(tpl: &Template, value: &str, rng: &mut Rng) -> Option<String> {
    if let Some(older) = tpl.older {
        return older(value).map(str::to_string);
    }
    let others: Vec<&&str> = tpl.values.iter().filter(|v| **v != value).collect();
    (!others.is_empty()).then(|| rng.pick(&others).to_string())
}

fn dated_line(date: NaiveDate, text: &str) -> String {
    format!("- [{date}] {text}")
}

/// Decide where the fact, its restatements and its older value go.
fn plant(f: &mut Fact, tpl: &Template, files: &mut [FileBuild], dated: &[usize], undated: &[usize], spec: &HardSpec, rng: &mut Rng) {
    let deco = *rng.pick(DECORATIONS);
    let text = format!("{deco}{}", capitalize(&f.text));
    let day_new = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default() + Duration::days(rng.below(40) as i64);
    let day_old = day_new - Duration::days(10 + rng.below(30) as i64);
    let pinned = rng.chance(spec.pinned);
    let other = if rng.chance(spec.conflicted) || pinned && rng.chance(0.5) { pick_other(tpl, &f.value, rng) } else { None };
    let class = match (&other, pinned) {
        (None, _) => None,
        (Some(_), true) => Some(Class::Pinned),
        (Some(_), false) => Some(*rng.pick(&[
            Class::Position,
            Class::Position,
            Class::Inline,
            Class::Inline,
            Class::OlderFile,
            Class::OlderFile,
            Class::OtherUndated,
            Class::DatedVsUndated,
            Class::Hedged,
            Class::Hedged,
        ])),
    };
    // The home file, and how the current line is dated.
    let home = match class {
        Some(Class::Position | Class::OtherUndated) => *rng.pick(undated),
        Some(Class::OlderFile) => *rng.pick(&dated[1..]),
        _ => rng.below(files.len()),
    };
    let inline = matches!(class, Some(Class::Inline | Class::DatedVsUndated)) || class.is_none() && rng.chance(0.35);
    let relative = class.is_none() && !pinned && !inline && rng.chance(spec.relative_dates);
    let mut line = if inline { dated_line(day_new, &text) } else { format!("- {text}") };
    if relative {
        let n = 1 + rng.below(4);
        let noted = day_new;
        let phrase = if n == 1 { "yesterday".to_string() } else { format!("{n} days ago") };
        line = format!("- {text}; last checked {phrase} (noted {noted})");
        f.absolute_date = Some((noted - Duration::days(n as i64)).to_string());
    }
    if pinned {
        line = format!("{line} <!-- pinned -->");
    }
    f.pinned = pinned;
    f.line = line.clone();
    f.file = files[home].name.clone();
    let mut group: Vec<(String, usize, &'static str)> = Vec::new();
    let mut ideal: Vec<String> = Vec::new();
    let old_text = other.as_ref().map(|o| format!("{deco}{}", capitalize(&(tpl.text)(&f.subject, o))));
    // Older value planted before the fact where its position is evidence.
    if let (Some(c), Some(ot)) = (class, &old_text) {
        match c {
            Class::Position => group.push((format!("- {ot}"), f.id, "old_value")),
            Class::Inline => group.push((dated_line(day_old, ot), f.id, "old_value")),
            Class::OlderFile => {
                let older: Vec<usize> = dated.iter().copied().filter(|&d| files[d].modified < files[home].modified).collect();
                let o = *rng.pick(&older);
                files[o].groups.push(vec![(format!("- {ot}"), f.id, "old_value")]);
            }
            Class::OtherUndated => {
                // Another undated file, one that looks older by mtime if there is one.
                let others: Vec<usize> = undated.iter().copied().filter(|&u| u != home).collect();
                let older: Vec<usize> = others.iter().copied().filter(|&u| files[u].mtime < files[home].mtime).collect();
                let o = *rng.pick(if older.is_empty() { &others } else { &older });
                let l = format!("- {ot}");
                files[o].ideal.push(l.clone());
                files[o].groups.push(vec![(l, f.id, "old_value")]);
            }
            Class::DatedVsUndated => {
                let others: Vec<usize> = undated.iter().copied().filter(|&u| u != home).collect();
                let o = *rng.pick(&others);
                let l = format!("- {ot}");
                files[o].ideal.push(l.clone());
                files[o].groups.push(vec![(l, f.id, "old_value")]);
            }
            Class::Hedged | Class::Pinned => {}
        }
    }
    if inline && class.is_none() && rng.chance(spec.date_only) {
        // The same line on an earlier day: a history reverted and re-applied.
        group.push((dated_line(day_old, &text), f.id, "restatement"));
        f.restatements.push(Restate::DateOnly);
    }
    group.push((line.clone(), f.id, "fact"));
    ideal.push(line.clone());
    if !relative && rng.chance(spec.restated) {
        let kind = *rng.pick(&[Restate::Filler, Restate::Emphasis, Restate::Remark, Restate::Format]);
        let r = match kind {
            Restate::Filler => format!("- {}{}", rng.pick(FILLERS), f.text),
            Restate::Emphasis => format!("- {}", f.text.replacen(&f.subject, &format!("**{}**", f.subject), 1)),
            Restate::Remark => format!("- {}{}", capitalize(&f.text), rng.pick(REMARKS)),
            _ => format!("- {}.", capitalize(&f.text)),
        };
        let r = if inline { dated_line(day_new, r.trim_start_matches("- ")) } else { r };
        f.restatements.push(kind);
        group.push((r, f.id, "restatement"));
    }
    if let (Some(c), Some(ot)) = (class, &old_text) {
        match c {
            Class::Hedged => {
                let l = format!("- {}{ot}", rng.pick(HEDGES));
                let l = if inline { dated_line(day_new + Duration::days(3), l.trim_start_matches("- ")) } else { l };
                ideal.push(l.clone());
                group.push((l, f.id, "old_value"));
            }
            Class::Pinned => {
                let l = if inline { dated_line(day_new + Duration::days(3), ot) } else { format!("- {ot}") };
                ideal.push(l.clone());
                group.push((l, f.id, "old_value"));
            }
            _ => {}
        }
        f.resolve_old = c.resolves();
        f.conflict_class = Some(c.name());
    }
    f.old_value = other;
    files[home].groups.push(group);
    files[home].ideal.extend(ideal);
}

fn render(files: Vec<FileBuild>, facts: Vec<Fact>, spec: &HardSpec, now: chrono::DateTime<Utc>, rng: &mut Rng) -> Corpus {
    let mut store = Store::default();
    let mut planted = Vec::new();
    let mut ideal_bytes = 0u64;
    let mut index = String::from("# Memory index\n\n");
    let mut ideal_index = index.clone();
    for f in files {
        let title = capitalize(&f.name.trim_end_matches(".md").replace('_', " "));
        let modified = f.modified.map(|d| format!("modified: {d}\n")).unwrap_or_default();
        let head = format!("---\nname: {title}\ndescription: notes on {title}\ntype: project\n{modified}---\n\n# {title}\n\n");
        let mut text = head.clone();
        let first = text.lines().count() + 1;
        // Interleave the groups at random, keeping each group's own order.
        let mut groups = f.groups;
        let mut next = vec![0usize; groups.len()];
        let mut k = 0;
        while groups.iter().zip(&next).any(|(g, &n)| n < g.len()) {
            let open: Vec<usize> = (0..groups.len()).filter(|&g| next[g] < groups[g].len()).collect();
            let g = *rng.pick(&open);
            let (l, fact, role) = std::mem::take(&mut groups[g][next[g]]);
            next[g] += 1;
            text.push_str(&l);
            text.push('\n');
            planted.push(Planted { file: f.name.clone(), line: first + k, fact, role });
            k += 1;
        }
        ideal_bytes += head.len() as u64 + f.ideal.iter().map(|l| l.len() as u64 + 1).sum::<u64>();
        store.files.insert(f.name.clone(), MemoryFile { bytes: text.into_bytes(), mtime: Some(day(f.mtime)) });
        let entry = format!("- [{title}]({}) — notes on {title}\n", f.name);
        index.push_str(&entry);
        ideal_index.push_str(&entry);
    }
    let mut stale = Vec::new();
    for k in 0..spec.stale_pointers {
        let name = format!("gone_{}.md", super::subject(k + 9_100_000));
        index.push_str(&format!("- [Gone {k}]({name}) — a topic file that was deleted\n"));
        stale.push(name);
    }
    ideal_bytes += ideal_index.len() as u64;
    let index_day = NaiveDate::from_ymd_opt(2026, 6, 14).unwrap_or_default();
    store.files.insert("MEMORY.md".into(), MemoryFile { bytes: index.into_bytes(), mtime: Some(day(index_day)) });
    // Sessions mention facts without an older value only: a session restating a fact is
    // evidence of order, and the truth of the conflicted ones must not depend on it.
    let plain: Vec<Fact> = facts.iter().filter(|f| f.old_value.is_none()).cloned().collect();
    let (sessions, dominant, dominant_n) = sessions(spec.sessions, &[("python", 0.5), ("go", 0.3), ("bash", 0.2)], &plain, rng);
    let truth = Truth {
        family: "hard",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_has_every_class() {
        let spec = HardSpec::with_facts(3, 400);
        let (a, b) = (generate_hard(&spec), generate_hard(&spec));
        assert_eq!(a.store, b.store);
        assert_eq!(a.truth.facts.len(), 400);
        let classes: std::collections::BTreeSet<_> = a.truth.facts.iter().filter_map(|f| f.conflict_class).collect();
        assert!(classes.len() >= 6, "{classes:?}");
        let text: String = a.store.files.values().filter_map(|f| f.text()).collect();
        for needle in ["über-", "✅", "Zoë", "“", "Unconfirmed", "modified:", "--frozen-lockfile", "3.10+"] {
            assert!(text.contains(needle) || needle == "Zoë" && text.contains("Łukasz"), "{needle}");
        }
        // Values are shared across subjects.
        let owners = a.truth.facts.iter().filter(|f| f.probe == ["owned"]).count();
        assert!(owners > 6);
    }
}
