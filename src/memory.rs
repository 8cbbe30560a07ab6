//! Memory files parsed into blocks and entries.
//!
//! A file is frontmatter plus a sequence of blocks whose raw text, concatenated, gives the
//! file back byte for byte. Engines edit files by dropping or rewriting blocks, which keeps
//! everything they do not touch exactly as the agent wrote it.

use crate::config::Layout;
use crate::store::{MemoryFile, Store, Warning};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

pub const PIN_MARKER: &str = "<!-- pinned -->";
pub const INDEX_FILE: &str = "MEMORY.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Blank lines at the top of the body.
    Blank,
    Heading,
    Bullet,
    Paragraph,
    /// A fenced code block.
    Code,
    /// A line of `MEMORY.md` that points to a topic file.
    IndexLine,
}

impl BlockKind {
    /// Whether the block states something an agent remembers (headings and blanks do not).
    pub fn is_entry(self) -> bool {
        !matches!(self, BlockKind::Blank | BlockKind::Heading)
    }
}

/// A block of a parsed file. Its text is a slice of the file's own bytes (no copy): a 100 MB
/// store has a million and a half of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    pub kind: BlockKind,
    pub pinned: bool,
    /// 1-based line of the block's first line in the file.
    pub line: usize,
    /// Exact text including its line ending and any blank lines that follow it.
    pub raw: &'a str,
    /// The nearest heading above, without `#`s.
    pub section: Option<&'a str>,
    /// For index lines: the link target.
    pub link: Option<&'a str>,
}

impl<'a> Block<'a> {
    /// The block's text without trailing blank lines.
    pub fn text(&self) -> &'a str {
        self.raw.trim_end_matches(['\n', '\r', ' ', '\t'])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontmatter<'a> {
    /// `---` through the closing `---` line, inclusive.
    pub raw: &'a str,
    pub fields: BTreeMap<String, String>,
}

impl Frontmatter<'_> {
    /// `pinned:` set to any YAML truth (`true`, `yes`, `on`, `y`, any case, quoted or not).
    /// Pins err towards pinned: a person who wrote `pinned: yes` meant it.
    pub fn pinned(&self) -> bool {
        self.fields.get("pinned").is_some_and(|v| is_yaml_true(v))
    }
}

/// YAML 1.1 truths, which YAML 1.2 parsers (ours) read as strings, plus `1`.
pub fn is_yaml_true(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "y" | "on" | "1")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileBody<'a> {
    Parsed {
        frontmatter: Option<Frontmatter<'a>>,
        blocks: Vec<Block<'a>>,
    },
    /// Not UTF-8, broken frontmatter, or not a text memory file: kept byte for byte.
    Opaque {
        reason: String,
    },
}

/// A file parsed into blocks that borrow its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile<'a> {
    pub path: String,
    pub body: FileBody<'a>,
}

impl<'a> ParsedFile<'a> {
    pub fn blocks(&self) -> &[Block<'a>] {
        match &self.body {
            FileBody::Parsed { blocks, .. } => blocks,
            FileBody::Opaque { .. } => &[],
        }
    }

    pub fn frontmatter(&self) -> Option<&Frontmatter<'a>> {
        match &self.body {
            FileBody::Parsed { frontmatter, .. } => frontmatter.as_ref(),
            FileBody::Opaque { .. } => None,
        }
    }

    /// A file dreamd wrote and owns (frontmatter `managed-by: dreamd`), such as `insights.md`.
    pub fn is_managed(&self) -> bool {
        self.frontmatter().is_some_and(|fm| fm.fields.get("managed-by").is_some_and(|v| v == "dreamd"))
    }

    /// Frontmatter + blocks, the inverse of parsing.
    pub fn render(&self) -> Option<String> {
        match &self.body {
            FileBody::Parsed { frontmatter, blocks } => {
                let mut s = String::new();
                if let Some(fm) = frontmatter {
                    s.push_str(fm.raw);
                }
                for b in blocks {
                    s.push_str(b.raw);
                }
                Some(s)
            }
            FileBody::Opaque { .. } => None,
        }
    }
}

/// What makes an entry pinned beyond the inline marker.
#[derive(Debug, Clone, Default)]
pub struct PinRules {
    pub patterns: Vec<Regex>,
}

impl PinRules {
    pub fn new(patterns: &[String]) -> Result<PinRules, regex::Error> {
        Ok(PinRules { patterns: patterns.iter().map(|p| Regex::new(p)).collect::<Result<_, _>>()? })
    }

    fn matches(&self, text: &str) -> bool {
        has_pin_marker(text) || self.patterns.iter().any(|r| r.is_match(text))
    }
}

static PIN_MARKER_LOOSE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)<!--\s*pinned\s*-->").expect("static regex"));

/// The pin marker, also as `<!--pinned-->` or `<!-- PINNED -->`: a marker the agent or a person
/// wrote loosely still pins (and an engine cannot slip one past the verifier in another spelling).
pub fn has_pin_marker(text: &str) -> bool {
    text.contains(PIN_MARKER) || (text.contains("<!--") && PIN_MARKER_LOOSE.is_match(text))
}

/// Whether a path is a memory file the engines read (others are carried over untouched).
pub fn is_memory_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".txt") || lower.ends_with(".markdown")
}

/// Parse every file of a store. Files that cannot be parsed are `Opaque` and warned about.
pub fn parse_store<'a>(store: &'a Store, layout: Layout, pins: &PinRules) -> (Vec<ParsedFile<'a>>, Vec<Warning>) {
    let mut warnings = Vec::new();
    let files = store
        .files
        .iter()
        .map(|(path, file)| {
            let parsed = parse_file(path, file, layout, pins);
            if let FileBody::Opaque { reason } = &parsed.body {
                if is_memory_file(path) {
                    warnings.push(Warning { file: path.clone(), message: format!("kept unchanged: {reason}") });
                }
            }
            parsed
        })
        .collect();
    (files, warnings)
}

pub fn parse_file<'a>(path: &str, file: &'a MemoryFile, layout: Layout, pins: &PinRules) -> ParsedFile<'a> {
    let opaque = |reason: String| ParsedFile { path: path.to_string(), body: FileBody::Opaque { reason } };
    if !is_memory_file(path) {
        return opaque("not a .md or .txt file".into());
    }
    let Some(text) = file.text() else {
        return opaque("not valid UTF-8".into());
    };
    let (frontmatter, body, body_line) = match split_frontmatter(text) {
        Ok(x) => x,
        Err(reason) => return opaque(reason),
    };
    let file_pinned = frontmatter.as_ref().is_some_and(Frontmatter::pinned);
    let is_index = layout == Layout::ClaudeCode && path == INDEX_FILE;
    let mut blocks = parse_blocks(body, body_line, is_index);
    for b in &mut blocks {
        b.pinned = file_pinned || (b.kind != BlockKind::Blank && pins.matches(b.raw));
    }
    ParsedFile { path: path.to_string(), body: FileBody::Parsed { frontmatter, blocks } }
}

type Split<'a> = (Option<Frontmatter<'a>>, &'a str, usize);

fn split_frontmatter(text: &str) -> Result<Split<'_>, String> {
    let first_end = text.find('\n').map_or(text.len(), |i| i + 1);
    if text[..first_end].trim_end() != "---" {
        return Ok((None, text, 1));
    }
    let mut offset = first_end;
    let mut line_no = 1;
    for line in text[first_end..].split_inclusive('\n') {
        line_no += 1;
        offset += line.len();
        if line.trim_end() == "---" {
            let raw = &text[..offset];
            let yaml = &text[first_end..offset - line.len()];
            let fields = parse_frontmatter_fields(yaml).map_err(|e| format!("frontmatter is not valid YAML ({e})"))?;
            return Ok((Some(Frontmatter { raw, fields }), &text[offset..], line_no + 1));
        }
    }
    Err("frontmatter has no closing `---`".into())
}

fn parse_frontmatter_fields(yaml: &str) -> Result<BTreeMap<String, String>, String> {
    if yaml.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    let serde_yaml::Value::Mapping(map) = value else {
        return Err("expected key: value pairs".into());
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let key = match k {
            serde_yaml::Value::String(s) => s,
            other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_string(),
        };
        let val = match v {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Null => String::new(),
            other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_string(),
        };
        out.insert(key, val);
    }
    Ok(out)
}

static BULLET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s{0,3}([-*+]|\d{1,9}[.)])\s+").expect("static regex"));
static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[[^\]]*\]\(([^)\s]+)\)").expect("static regex"));

fn parse_blocks<'b>(body: &'b str, first_line: usize, is_index: bool) -> Vec<Block<'b>> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut section: Option<&str> = None;
    let mut in_fence: Option<&str> = None;
    // A block grows line by line; its text is always one slice of the body, from where it
    // started to the end of its last line.
    let mut last_start = 0;
    let mut offset = 0;
    for (this_line, line) in (first_line..).zip(body.split_inclusive('\n')) {
        let (at, end) = (offset, offset + line.len());
        offset = end;
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim_start();
        let new = |kind: BlockKind, section: Option<&'b str>, link: Option<&'b str>| Block {
            kind,
            pinned: false,
            line: this_line,
            raw: &body[at..end],
            section,
            link,
        };
        let grows = if in_fence.is_some() {
            if in_fence.is_some_and(|fence| trimmed.starts_with(fence)) {
                in_fence = None;
            }
            None
        } else if content.trim().is_empty() {
            blocks.last().is_none().then(|| new(BlockKind::Blank, None, None))
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = Some(&trimmed[..3]);
            Some(new(BlockKind::Code, section, None))
        } else if trimmed.starts_with('#') && content.len() - trimmed.len() < 4 {
            section = Some(trimmed.trim_start_matches('#').trim());
            Some(new(BlockKind::Heading, section, None))
        } else {
            let indent = content.len() - trimmed.len();
            let after_blank = blocks.last().is_none_or(|b| ends_with_blank_line(b.raw) || b.kind == BlockKind::Blank);
            if BULLET.is_match(content) && indent < 2 {
                let link = LINK.captures(content).and_then(|c| c.get(1)).map(|m| m.as_str());
                let kind = if is_index && link.is_some_and(|l| !l.contains("://")) { BlockKind::IndexLine } else { BlockKind::Bullet };
                Some(new(kind, section, link))
            } else {
                // Continuation of the previous bullet/paragraph, or a new paragraph.
                match blocks.last() {
                    Some(b) if !after_blank && matches!(b.kind, BlockKind::Bullet | BlockKind::Paragraph | BlockKind::IndexLine) => None,
                    Some(b) if b.kind == BlockKind::Bullet && indent >= 2 => None,
                    _ => Some(new(BlockKind::Paragraph, section, None)),
                }
            }
        };
        match grows {
            Some(b) => {
                last_start = at;
                blocks.push(b);
            }
            // The line belongs to the last block (a blank line, a fence's inside, a continuation).
            None => {
                if let Some(b) = blocks.last_mut() {
                    b.raw = &body[last_start..end];
                }
            }
        }
    }
    // A store is parsed whole (by the engine, twice by the verifier): no spare capacity.
    blocks.shrink_to_fit();
    blocks
}

/// The text's last line is blank, whatever the line endings (`\n\n`, `\r\n\r\n`, or mixed).
fn ends_with_blank_line(raw: &str) -> bool {
    let Some(body) = raw.strip_suffix('\n') else { return false };
    body.contains('\n') && body.rsplit('\n').next().is_some_and(|last| last.trim().is_empty())
}

/// An entry of a store, addressed for reports and policy checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntryRef {
    pub file: String,
    pub line: usize,
    pub text: String,
}

/// Every entry (fact-bearing block) of a parsed store.
pub fn entries<'p, 'a>(files: &'p [ParsedFile<'a>]) -> impl Iterator<Item = (&'p ParsedFile<'a>, &'p Block<'a>)> {
    files.iter().flat_map(|f| f.blocks().iter().filter(|b| b.kind.is_entry()).map(move |b| (f, b)))
}

static EMPHASIS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[*_`~]+").expect("static regex"));
static WS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("static regex"));

/// The text of an entry with formatting removed: marker, case, whitespace, emphasis,
/// trailing punctuation. Two entries with the same normal form say the same thing.
pub fn normalize(text: &str) -> String {
    let no_marker = BULLET.replace(text.trim_start(), "");
    let no_pin = no_marker.replace(PIN_MARKER, "");
    let no_emph = EMPHASIS.replace_all(&no_pin, "");
    let lower = no_emph.to_lowercase();
    let collapsed = WS.replace_all(lower.trim(), " ");
    collapsed.trim_end_matches(['.', '!', ';', ',', ':', '?', ' ']).to_string()
}

#[cfg(test)]
mod tests;
