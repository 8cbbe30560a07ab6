//! The verifier's own notion of what an entry is about, for one question: may a candidate
//! entry take over from a live one as "the same subject, another value" (a conflict)?
//!
//! Written apart from the built-in engine's subject model, and more cautious: when it cannot
//! tell a subject from a value, it calls the word the subject, and the claim is held.
//!
//! - The **subject** of a statement is every content word before its first verb (a copula,
//!   modal or listed verb; with none, the whole clause): `Ledger-cache`
//!   in "Ledger-cache listens on port 5432", `CI for A` in "CI for A runs …", `Guest access to X`
//!   in "Guest access to X is disabled".
//! - An **imperative** ("Install X dependencies with …") is about its verb and object (the
//!   words up to the first preposition or subordinator); "Ask **Emeka** before changing the X
//!   schema" is about everything but the one capitalised name between the verb and the
//!   subordinator, which is whom to ask (the value).
//! - Each clause ("A, and B") has a subject of its own, read the same way.
//! - Two entries name the same subject with one value changed when their clauses are equal (in
//!   any order) but for one, whose words are equal but for one run, outside its subject: one
//!   word, or a name with its version (`MySQL 8` → `Postgres 16`), with no negation in it.
//!   Paths that moved (`src/x.ts` → `packages/a/src/x.ts`, `packages/core/…` →
//!   `packages/core-internal/…`) name the same thing wherever they stand.

use super::words::{is_negation, scan_words_raw, WordRef};
use std::collections::HashSet;
use std::sync::LazyLock;

fn set(words: &'static str) -> HashSet<&'static str> {
    words.split_whitespace().collect()
}

/// Verbs that end a statement's subject (stopwords such as `is`, `has`, `does` count too).
static VERBS: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    set("can could must should will would may might shall cannot can't won't isn't aren't wasn't weren't doesn't didn't \
     don't shouldn't mustn't runs uses listens stores reads writes requires owns prefers lives deploys ships \
     targets supports depends serves hosts keeps holds means makes takes goes gets sets points connects contains \
     includes provides defines exports imports extends implements sits expects accepts wraps manages generates \
     follows replaces needs wants lacks leads maintains talks sends receives loads saves belongs applies allows \
     blocks creates emits exposes fetches publishes relies resolves syncs validates equals became becomes moved \
     migrated switched")
});

/// Base forms that end a subject only after a plural ("Pulone builds **take** …", "Integration
/// tests **use** …", "alerts **page** …"): elsewhere most are nouns too ("the nightly run").
static BASE_VERBS: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    set("go use need depend live take run ship own keep hold listen store read write require prefer support page get \
     make sit point lead follow handle expect serve host stay work fail pass share cover call happen start end \
     belong apply")
});

/// Verbs an imperative opens with ("Install …", "Ask …", "Run …").
static IMPERATIVES: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    set("ask use run install add keep prefer call check make write read put place set update remove delete create \
     follow include import export raise catch omit test build deploy ping contact see start restart pin bump commit \
     push pull open close review rotate fetch wait document mention name store return log handle validate verify \
     ensure sign tag merge rebase squash format lint mark treat send notify email message page escalate configure \
     enable disable upgrade downgrade migrate replace rename move copy restore clean clear reset pass wrap reserve \
     favor favour gather submit target invoke execute apply define declare implement extend lock unlock refresh \
     reload regenerate generate publish release ship schedule trigger mock stub record assert compare choose pick \
     select consult tell loop go get")
});

/// Words that end an imperative's object ("Run the API **on** port 3000").
static OBJECT_ENDS: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    set("in on at for with from into by via using before after when while if unless until since because instead except \
     without than to")
});

/// Words after whom to ask ("Ask Emeka **before** changing …").
static SUBORDINATORS: LazyLock<HashSet<&str>> = LazyLock::new(|| set("before after when while if unless until prior"));

/// Stopwords that are verbs.
static STOP_VERBS: LazyLock<HashSet<&str>> = LazyLock::new(|| set("is are was were be been being has have had do does did"));

/// A content word of an entry, as scanned, with its place.
#[derive(Debug, Clone)]
struct Word {
    word: String,
    raw: String,
    /// Inside a code span: never a verb.
    code: bool,
    clause: u16,
    /// Part of what the entry is about.
    subject: bool,
}

/// An entry's content words, each marked subject or not.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    words: Vec<Word>,
}

enum Item {
    Content(usize),
    Stop(String),
    /// A clause ends; `true` after a colon.
    Break(bool),
}

impl Shape {
    /// The words that name what the entry is about.
    pub fn subject_words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().filter(|w| w.subject).map(|w| w.word.as_str())
    }
    /// Its clauses with content words, in order.
    fn clauses(&self) -> Vec<&[Word]> {
        self.words.chunk_by(|a, b| a.clause == b.clause).collect()
    }
}

/// Reads `text` the verifier's way: its words, clauses, and in each clause what it is about.
pub fn shape(text: &str) -> Shape {
    let mut words: Vec<Word> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let mut clause: u16 = 0;
    scan_words_raw(text, |w, raw| match w {
        WordRef::Content(s) => {
            items.push(Item::Content(words.len()));
            words.push(Word { word: s.to_string(), raw: raw.text.to_string(), code: raw.code, clause, subject: false });
        }
        WordRef::Stop(s) => items.push(Item::Stop(s.to_string())),
        WordRef::Break => {
            clause = clause.saturating_add(1);
            items.push(Item::Break(raw.after_colon()));
        }
        WordRef::Date(_) => {}
    });
    // A clause without a verb after one with a verb continues its predicate
    // ("runs `make lint`, `make mypy` and …"); before any verb, it names the subject. A clause
    // ending in a colon is a key, and what follows describes it ("`scripts`: Automation scripts
    // (`dev.ts`)"): the colon is its verb.
    let mut seen_verb = false;
    let mut rest = &items[..];
    while !rest.is_empty() {
        let end = rest.iter().position(|it| matches!(it, Item::Break(_))).unwrap_or(rest.len());
        let has_words = rest[..end].iter().any(|it| matches!(it, Item::Content(_)));
        seen_verb |= mark_clause(&mut words, &rest[..end], seen_verb);
        let colon = matches!(rest.get(end), Some(Item::Break(true)));
        seen_verb |= has_words && colon;
        rest = rest.get(end + 1..).unwrap_or(&[]);
    }
    Shape { words }
}

/// Marks the subject of one clause (`items`, no break among them); whether it has a verb.
fn mark_clause(words: &mut [Word], items: &[Item], after_verb: bool) -> bool {
    let ids: Vec<usize> = items.iter().filter_map(|it| if let Item::Content(i) = it { Some(*i) } else { None }).collect();
    let Some(&clause_start) = ids.first() else { return false };
    // The first content word that is not a negation ("Never add …", "Don't use …").
    let first = ids.iter().copied().find(|&i| !is_negation(&words[i].word));
    let stop_verb = |s: &str| STOP_VERBS.contains(&s);
    // "Do not use …" opens with a verb too; "It is …" does not.
    let verb_before_first = items
        .iter()
        .take_while(|it| !matches!(it, Item::Content(i) if Some(*i) == first))
        .any(|it| matches!(it, Item::Stop(s) if stop_verb(s) && s != "do"));
    if let Some(v) = first.filter(|&v| !verb_before_first && !words[v].code && IMPERATIVES.contains(&words[v].word.as_str())) {
        mark_imperative(words, items, &ids, v);
        return true;
    }
    // A statement: everything before its first verb; with no verb, all of it.
    let mut end = ids[ids.len() - 1] + 1;
    let mut has_verb = false;
    let mut seen = clause_start;
    for it in items {
        match it {
            Item::Content(i) => {
                let w = words[*i].word.as_str();
                let after_plural = *i > clause_start && words[*i - 1].word.ends_with('s');
                let verb = VERBS.contains(&w) || (BASE_VERBS.contains(&w) && after_plural);
                if verb && !words[*i].code {
                    (end, has_verb) = (*i, true);
                    break;
                }
                seen = i + 1;
            }
            Item::Stop(s) if stop_verb(s) => {
                (end, has_verb) = (seen, true);
                break;
            }
            _ => {}
        }
    }
    if has_verb || !after_verb {
        for w in &mut words[clause_start..end] {
            w.subject = true;
        }
    }
    has_verb
}

fn mark_imperative(words: &mut [Word], items: &[Item], ids: &[usize], verb: usize) {
    let start = items.iter().position(|it| matches!(it, Item::Content(i) if *i == verb)).unwrap_or(0);
    // The object: content words after the verb up to a preposition or subordinator.
    let mut object = Vec::new();
    let mut after_object: Option<&str> = None;
    for it in &items[start + 1..] {
        match it {
            Item::Stop(s) if OBJECT_ENDS.contains(&s.as_str()) => {
                after_object = Some(s);
                break;
            }
            Item::Content(i) if OBJECT_ENDS.contains(&words[*i].word.as_str()) => {
                after_object = Some(&words[*i].word);
                break;
            }
            Item::Content(i) => object.push(*i),
            Item::Stop(_) | Item::Break(_) => {}
        }
    }
    let person = match object[..] {
        [p] if after_object.is_some_and(|w| SUBORDINATORS.contains(&w)) && words[p].raw.chars().next().is_some_and(char::is_uppercase) => {
            Some(p)
        }
        _ => None,
    };
    match person {
        // "Ask Emeka before changing the X schema": about everything but whom to ask.
        Some(p) => ids.iter().filter(|&&i| i != p).for_each(|&i| words[i].subject = true),
        None => {
            words[verb].subject = true;
            for i in object {
                words[i].subject = true;
            }
        }
    }
}

/// Whether two path words name one file or directory that moved: one's components a run of
/// the other's (`src/x.ts` → `packages/a/src/x.ts`, `server/` → `examples/server/src/`), or
/// among the other's with the same name last (`src/types.ts` →
/// `packages/core/src/types/types.ts`), or one component renamed by a suffix (`core` →
/// `core-internal`). Never a sibling: `services/a/config.yaml` is not `services/b/config.yaml`.
fn moved(a: &Word, b: &Word) -> bool {
    let is_path = |w: &Word| w.raw.contains('/');
    if !is_path(a) || !is_path(b) || a.word == b.word {
        return false;
    }
    let comps = |w: &Word| -> Vec<String> { w.word.split('/').filter(|c| !c.is_empty()).map(str::to_string).collect() };
    let (x, y) = (comps(a), comps(b));
    let run_of = |short: &[String], long: &[String]| !short.is_empty() && long.windows(short.len()).any(|w| w == short);
    let within = |short: &[String], long: &[String]| {
        let mut it = long.iter();
        short.last() == long.last() && short.iter().all(|c| it.any(|l| l == c))
    };
    if run_of(&x, &y) || run_of(&y, &x) || within(&x, &y) || within(&y, &x) {
        return true;
    }
    let differing: Vec<(&String, &String)> = x.iter().zip(&y).filter(|(p, q)| p != q).collect();
    x.len() == y.len() && matches!(differing[..], [(p, q)] if suffixed(p, q) || suffixed(q, p) || small_insertion(p, q))
}

/// `long` is `short` with a suffix after a separator (`core` → `core-internal`), not a number
/// (`node-1` → `node-12`, `v1` → `v1-beta2`).
fn suffixed(short: &str, long: &str) -> bool {
    long.strip_prefix(short).is_some_and(|rest| {
        let mut cs = rest.chars();
        matches!(cs.next(), Some('-' | '_' | '.')) && cs.clone().next().is_some_and(char::is_alphabetic) && !cs.any(|c| c.is_ascii_digit())
    })
}

/// One name is the other with one to three letters inserted (`agent.md` → `agents.md`,
/// `config.js` → `config.mjs`); never digits (`node-1` → `node-12` is another node).
fn small_insertion(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
    let extra = long.len() - short.len();
    if !(1..=3).contains(&extra) {
        return false;
    }
    let head = short.iter().zip(&long).take_while(|(p, q)| p == q).count();
    let inserted = &long[head..head + extra];
    long[head + extra..] == short[head..] && !inserted.iter().any(char::is_ascii_digit)
}

/// One value: a single word, or a name with its version (`MySQL 8`, `Python 3.12`).
fn one_value(ws: &[Word]) -> bool {
    match ws {
        [_] => true,
        [_, rest @ ..] if ws.len() <= 3 => rest.iter().all(|w| w.word.chars().any(|c| c.is_ascii_digit())),
        _ => false,
    }
}

fn shown(ws: &[Word]) -> String {
    ws.iter().map(|w| w.raw.as_str()).collect::<Vec<_>>().join(" ")
}

/// Whether `new` says what `old` says about the same subject with one value changed. `Err`
/// says why not, in words for a person (empty when the two are simply unrelated).
///
/// Clauses may come in another order ("A, and B" restated "B, and A"): equal clauses pair up,
/// and what is left must be one clause with one value changed, or clauses whose paths moved.
pub fn one_value_changed(old: &Shape, new: &Shape) -> Result<(), String> {
    let (ca, cb) = (old.clauses(), new.clauses());
    let same = |x: &[Word], y: &[Word]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.word == q.word);
    let mut used = vec![false; cb.len()];
    let mut left: Vec<&[Word]> = Vec::new();
    for a in &ca {
        match (0..cb.len()).find(|&j| !used[j] && same(a, cb[j])) {
            Some(j) => used[j] = true,
            None => left.push(a),
        }
    }
    let right: Vec<&[Word]> = cb.iter().zip(&used).filter(|(_, u)| !**u).map(|(c, _)| *c).collect();
    if left.is_empty() || left.len() != right.len() {
        return Err(String::new());
    }
    let moved_all = |x: &[Word], y: &[Word]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.word == q.word || moved(p, q));
    if left.iter().zip(&right).all(|(x, y)| moved_all(x, y)) {
        return Ok(());
    }
    match (&left[..], &right[..]) {
        ([a], [b]) => clause_value_changed(a, b),
        _ => Err(String::new()),
    }
}

/// One clause against its restatement: equal but for one value, outside the subject.
fn clause_value_changed(a: &[Word], b: &[Word]) -> Result<(), String> {
    let p = a.iter().zip(b).take_while(|(x, y)| x.word == y.word).count();
    let s = a[p..].iter().rev().zip(b[p..].iter().rev()).take_while(|(x, y)| x.word == y.word).count();
    let (ma, mb) = (&a[p..a.len() - s], &b[p..b.len() - s]);
    if ma.is_empty() || mb.is_empty() {
        return Err(String::new());
    }
    if ma.iter().chain(mb).any(|w| is_negation(&w.word)) || !one_value(ma) || !one_value(mb) {
        return Err(String::new());
    }
    if ma.iter().any(|w| w.subject) || mb.iter().any(|w| w.subject) {
        return Err(format!(
            "it is about another subject (\"{}\" where the removed entry has \"{}\"), not the same one with another value",
            shown(mb),
            shown(ma)
        ));
    }
    let subject = |ws: &[Word]| ws.iter().filter(|w| w.subject).map(|w| w.word.clone()).collect::<Vec<_>>();
    if subject(a) != subject(b) {
        return Err(String::new());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject_of(text: &str) -> Vec<String> {
        shape(text).words.into_iter().filter(|w| w.subject).map(|w| w.word).collect()
    }

    fn same(a: &str, b: &str) -> Result<(), String> {
        one_value_changed(&shape(a), &shape(b))
    }

    #[test]
    fn subjects_end_at_the_first_verb() {
        assert_eq!(subject_of("- Ledger-cache listens on port 5432"), ["ledger-cache"]);
        assert_eq!(subject_of("- [2026-05-01] → CI for état-indexer runs `make lint`"), ["ci", "état-indexer"]);
        assert_eq!(subject_of("- Guest access to niño-worker is disabled"), ["guest", "access", "niño-worker"]);
        assert_eq!(subject_of("- The notify-worker status is amber"), ["notify-worker", "status"]);
        assert_eq!(subject_of("- Someone said Auth-sync runs 4 replicas"), ["someone", "said", "auth-sync"]);
        assert_eq!(subject_of("- Unconfirmed: Über-sync stores its data in Redis 7"), ["unconfirmed", "über-sync"]);
        assert_eq!(subject_of("- Requires Python 3.9+."), Vec::<String>::new());
        assert_eq!(subject_of("- Integration tests use recordings"), ["integration", "tests"]);
        // No verb at all: all of it.
        assert_eq!(subject_of("- **SSE** (`src/sse.ts`) - Legacy transport"), ["sse", "src/sse.ts", "legacy", "transport"]);
        // A key and its description.
        assert_eq!(subject_of("- `scripts`: Automation scripts (`dev.ts`, `embedMeta.ts`)."), ["scripts"]);
        assert_eq!(subject_of("- eslint.config.js: ESLint configuration"), ["eslint.config.js"]);
    }

    #[test]
    fn imperatives_are_about_their_object() {
        assert_eq!(subject_of("- Install 日本-scheduler dependencies with `pnpm i`"), ["install", "日本-scheduler", "dependencies"]);
        assert_eq!(subject_of("- Run the API on port 3000"), ["run", "api"]);
        assert_eq!(
            subject_of("- Ask Emeka before changing the billing-queue schema"),
            ["ask", "before", "changing", "billing-queue", "schema"]
        );
        // Not a name: the object is what it is about.
        assert_eq!(subject_of("- Ask the owners before changing it"), ["ask", "owners"]);
    }

    #[test]
    fn one_value_changed_outside_the_subject() {
        for (a, b) in [
            ("- billing listens on port 8080", "- billing listens on port 9090"),
            ("- [2026-04-29] X-api stores its data in MySQL 8", "- [2026-05-01] X-api stores its data in Postgres 16"),
            ("- Ledger-cache is owned by Dana", "- → Ledger-cache is owned by Farah"),
            ("- CI for A runs `make lint`, `make mypy` and `make test`", "- CI for A runs `make lint`, `make typecheck` and `make test`"),
            ("- Requires Python 3.9+.", "- Requires Python 3.10+."),
            ("- Ask Dana before changing the edge-sync schema", "- Ask Emeka before changing the edge-sync schema"),
            ("- Run the API on port 3000", "- Run the API on port 4000"),
            ("- Code style follows eslint.config.js here", "- Code style follows eslint.config.mjs here"),
            (
                "- **SSE** (`src/server/sse.ts`, `src/client/sse.ts`) - Legacy",
                "- **SSE** (`packages/server/src/server/sse.ts`, `packages/client/src/client/sse.ts`) - Legacy",
            ),
            ("- `server/` - Various server configurations", "- `examples/server/src/` - Various server configurations"),
            ("- Types (`packages/core/src/types.ts`)", "- Types (`packages/core-internal/src/types.ts`)"),
            ("- Types (`src/types.ts`) - Protocol types", "- Types (`packages/core-internal/src/types/types.ts`) - Protocol types"),
            ("- `scripts`: Automation scripts (`dev.ts`, `embedMeta.ts`).", "- `scripts`: Automation scripts (`dev.mts`, `embedMeta.ts`)."),
            (
                "- In particular, the docs on [agents](docs/agents.md) are relevant",
                "- In particular, the docs on [agents](docs/agent.md) are relevant",
            ),
            // Clauses reordered in the restatement that stayed.
            (
                "- The tahemi service listens on port 4963, and alerts page the on-call engineer",
                "- Alerts page the on-call engineer, and the tahemi service listens on port 8187",
            ),
            ("- CI runs `make lint`, `make docs` and `make test`", "- CI runs `make lint`, `make site` and `make test`"),
        ] {
            assert_eq!(same(a, b), Ok(()), "{a} → {b}");
        }
    }

    #[test]
    fn another_subject_is_not_another_value() {
        for (a, b) in [
            ("- Ledger-cache listens on port 5432", "- Search-api listens on port 5432"),
            ("- edge-worker stores its data in ClickHouse 24", "- core-proxy stores its data in ClickHouse 24"),
            ("- Über-worker is owned by Zoë", "- 日本-worker is owned by Zoë"),
            ("- Pyxis runs in the east region", "- auth-worker runs in the east region"),
            ("- État-queue runs 6 replicas", "- Über-queue runs 6 replicas"),
            ("- CI for A runs `make lint`, `make mypy` and `make test`", "- CI for B runs `make lint`, `make mypy` and `make test`"),
            ("- Shard 52 requires Python 3.9+", "- Shard 68 requires Python 3.9+"),
            ("- The notify-worker status is amber", "- The search-api status is amber"),
            ("- Guest access to niño-worker is disabled", "- Guest access to notify-store is disabled"),
            ("- Install état-scheduler dependencies with `pnpm i`", "- Install 日本-scheduler dependencies with `pnpm i`"),
            ("- Ask Emeka before changing the billing-queue schema", "- Ask Emeka before changing the ørsted-api schema"),
            ("- eslint.config.js: ESLint configuration", "- eslint.config.mjs: ESLint configuration"),
            ("- `sessionId`: transport session id", "- `sessionId?`: transport session id"),
            ("- `services/a/config.yaml` holds the billing settings", "- `services/b/config.yaml` holds the billing settings"),
            ("- `nodes/node-1/env` holds the billing settings", "- `nodes/node-12/env` holds the billing settings"),
            // Two identifiers changed: not one value.
            ("- X stores its data in ClickHouse 24 for y-app", "- X stores its data in Postgres 16 for z-app"),
            ("- billing listens on port 8080", "- legacy billing listens on port 9090"),
            ("- Guest access is enabled", "- Guest access is not enabled"),
            (
                "- The tahemi service listens on port 4963, and alerts page the on-call engineer",
                "- Alerts page the on-call engineer, and the kavoru service listens on port 4963",
            ),
            // Two clauses changed.
            ("- X listens on port 1, and alerts page Dana", "- X listens on port 2, and alerts page Emeka"),
        ] {
            assert!(same(a, b).is_err(), "{a} → {b}");
        }
        let why = same("- Ledger-cache listens on port 5432", "- Search-api listens on port 5432").unwrap_err();
        assert!(why.contains("another subject (\"Search-api\" where the removed entry has \"Ledger-cache\")"), "{why}");
    }
}
