//! Secret detection, shared by the verifier (no new secrets in a candidate) and by everything that
//! turns untrusted text (transcripts, engine output) into memory or logs (redaction).
//!
//! One ruleset, one place: callers ask `find` for matches or `redact` for safe text. The rules
//! follow the public rule descriptions of gitleaks, trufflehog and detect-secrets (provider token
//! formats, keyword-anchored values with an entropy test, credentials in URLs, base64-wrapped
//! values); the expressions are our own. No Rust crate offered a maintained ruleset as a library.

use base64::Engine as _;
use regex::Regex;
use std::sync::LazyLock;

/// One secret-looking value found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMatch {
    /// Which rule matched (stable id, e.g. `github-pat`).
    pub rule: &'static str,
    /// Byte range of the secret in the text searched (always on char boundaries). For rules
    /// anchored on a keyword (`password: …`) only the value, so redaction keeps the keyword.
    pub start: usize,
    pub end: usize,
}

/// What a candidate value must also look like, beyond its pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    /// The pattern is specific enough (a provider prefix, a fixed shape).
    None,
    /// Not a placeholder (`$VAR`, `<your-key>`, `${{ secrets.X }}`, `****`).
    NotPlaceholder,
    /// A password: not a placeholder and not a plain word (`password: required`).
    Password,
    /// Random-looking: long, mixed character classes, high Shannon entropy.
    Random,
}

struct Rule {
    id: &'static str,
    re: Regex,
    test: Test,
}

/// (id, pattern, test). The secret is capture group 1 when the pattern has one, else the
/// whole match. Specific rules come first: when two rules match the same value, the first names it.
const RULES: &[(&str, &str, Test)] = &[
    ("private-key", r"-----BEGIN[ A-Z0-9_-]{0,30}PRIVATE KEY(?: BLOCK)?-----[\s\\A-Za-z0-9+/=:,.-]{0,160}", Test::None),
    ("putty-private-key", r"PuTTY-User-Key-File-\d+:[^\r\n]{0,80}", Test::None),
    ("aws-access-key-id", r"\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})\b", Test::None),
    (
        "aws-secret-access-key",
        r#"(?i)(?:aws[\w.\- ]{0,20}(?:secret|key)|secret[_\-. ]?access[_\-. ]?key)[\w.\-]{0,20}["'\s]{0,3}(?:=>|:=|[:=])\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        Test::None,
    ),
    ("aws-secret-access-key", r#"AKIA[0-9A-Z]{16}["'\s:,;|=/]{1,10}([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#, Test::Random),
    ("github-token", r"\b(gh[pousr]_[A-Za-z0-9]{36,255})\b", Test::None),
    ("github-fine-grained-pat", r"\b(github_pat_[A-Za-z0-9_]{50,255})\b", Test::None),
    ("gitlab-token", r"\b(gl(?:pat|dt|ptt|rt|soat|ffct|cbt|oas|imt|agent)-[A-Za-z0-9_\-]{20,})", Test::None),
    ("gitlab-runner-token", r"\b(GR1348941[A-Za-z0-9_\-]{20,})", Test::None),
    ("slack-token", r"\b(xox[abposer]-[A-Za-z0-9-]{10,})", Test::None),
    ("slack-app-token", r"\b(xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)\b", Test::None),
    ("slack-webhook", r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,})", Test::None),
    ("stripe-key", r"\b((?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,99})\b", Test::None),
    ("stripe-webhook-secret", r"\b(whsec_[A-Za-z0-9]{24,})\b", Test::None),
    ("google-api-key", r"\b(AIza[0-9A-Za-z_\-]{35})", Test::None),
    ("google-oauth-client-secret", r"\b(GOCSPX-[A-Za-z0-9_\-]{28})", Test::None),
    ("azure-storage-key", r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)", Test::None),
    ("azure-client-secret", r"(?:^|[^A-Za-z0-9_~.])([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)", Test::None),
    ("anthropic-api-key", r"\b(sk-ant-[A-Za-z0-9_\-]{20,})", Test::None),
    (
        "openai-api-key",
        r"\b(sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{32,})\b",
        Test::None,
    ),
    ("huggingface-token", r"\b(hf_[A-Za-z0-9]{30,})\b", Test::None),
    ("twilio-api-key", r"\b(SK[0-9a-fA-F]{32})\b", Test::None),
    ("sendgrid-api-key", r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})", Test::None),
    ("mailgun-api-key", r"\b(key-[0-9a-f]{32})\b", Test::None),
    ("mailchimp-api-key", r"\b([0-9a-f]{32}-us\d{1,2})\b", Test::None),
    ("npm-token", r"\b(npm_[A-Za-z0-9]{36})\b", Test::None),
    ("pypi-token", r"\b(pypi-AgE[A-Za-z0-9_\-]{50,})", Test::None),
    ("digitalocean-token", r"\b(do[opr]_v1_[a-f0-9]{64})\b", Test::None),
    ("shopify-token", r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b", Test::None),
    ("discord-webhook", r"(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{60,})", Test::None),
    ("discord-bot-token", r"\b([MN][A-Za-z\d]{23,25}\.[\w-]{6}\.[\w-]{27,38})\b", Test::None),
    ("telegram-bot-token", r"\b(\d{8,10}:AA[0-9A-Za-z_\-]{33})(?:[^0-9A-Za-z_\-]|$)", Test::None),
    ("square-token", r"\b(sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43})", Test::None),
    ("facebook-access-token", r"\b(EAA[CG][A-Za-z0-9]{80,})\b", Test::None),
    ("databricks-token", r"\b(dapi[a-f0-9]{32}(?:-\d)?)\b", Test::None),
    ("doppler-token", r"\b(dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44})\b", Test::None),
    ("age-secret-key", r"\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b", Test::None),
    ("vault-token", r"\b(hv[sbr]\.[A-Za-z0-9_\-]{24,})", Test::None),
    ("grafana-token", r"\b(glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})", Test::None),
    ("atlassian-api-token", r"\b(ATATT3[A-Za-z0-9_\-=]{60,})", Test::None),
    ("linear-api-key", r"\b(lin_api_[A-Za-z0-9]{40})\b", Test::None),
    ("postman-api-key", r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b", Test::None),
    ("newrelic-key", r"\b(NR(?:AK|JS|II)-[A-Za-z0-9]{19,32})\b", Test::None),
    ("sentry-token", r"\b(sntry[su]_[A-Za-z0-9+/=_]{40,})", Test::None),
    ("flyio-token", r"\b(fo1_[A-Za-z0-9_\-]{40,}|fm[12][ar]?_[A-Za-z0-9+/=]{40,})", Test::None),
    (
        "heroku-api-key",
        r#"(?i)heroku[\w.\- ]{0,20}(?:key|token|secret)[\w.\-]{0,10}["'\s]{0,3}(?:=>|[:=])\s*["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|HRKU-[A-Za-z0-9_\-]{30,})"#,
        Test::None,
    ),
    ("jwt", r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})", Test::None),
    (
        "connection-string-password",
        r#"(?i)\b[a-z][a-z0-9+.\-]{1,30}://[^\s:/@'"<>`]{0,64}:([^\s@/'"<>`]{1,128})@[^\s/@'"<>`]+"#,
        Test::NotPlaceholder,
    ),
    ("basic-auth-header", r#"(?i)\bauthorization["']?\s*[:=]\s*["']?basic\s+([A-Za-z0-9+/]{8,}={0,2})"#, Test::NotPlaceholder),
    ("bearer-token", r#"(?i)\bauthorization["']?\s*[:=]\s*["']?bearer\s+([A-Za-z0-9._~+/\-]{16,}=*)"#, Test::Random),
    (
        "url-query-secret",
        r"(?i)[?&](?:access_token|api_?key|token|secret|password|passwd|client_secret|sig|signature|auth)=([^&\s#'<>`]{12,})",
        Test::Random,
    ),
    (
        "password-assignment",
        r#"(?i)(?:password|passwd|passphrase|\bpwd|\bpass)(?:_[a-z0-9]+){0,2}["']?\s{0,3}(?:=>|:=|[:=]|\bis\b)\s*["']?([^\s"'`,;]{6,128})"#,
        Test::Password,
    ),
    (
        "generic-secret",
        r#"(?i)(?:api[_\-. ]?key|apikey|secret|token|access[_\-. ]?key|auth[_\-. ]?key|credential|session[_\-. ]?key|signing[_\-. ]?key|encryption[_\-. ]?key|master[_\-. ]?key|private[_\-. ]?key)[\w.\-]{0,20}["']?\s{0,3}(?:=>|:=|[:=])\s*["']?([A-Za-z0-9+/=_\-.~!@#$%^&*]{12,200})"#,
        Test::Random,
    ),
];

static RULE_SET: LazyLock<Vec<Rule>> =
    LazyLock::new(|| RULES.iter().map(|&(id, p, test)| Rule { id, re: Regex::new(p).expect("static regex"), test }).collect());

/// Runs of base64 (standard or URL-safe), possibly wrapped over lines, long enough to hide a key.
static BASE64_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_-]{24,}={0,2}(?:\r?\n[ \t]*[A-Za-z0-9+/_-]{16,}={0,2})*").expect("static regex"));

pub const BASE64_RULE: &str = "base64-wrapped-secret";

/// The ids of every rule, in order (for documentation and tests).
pub fn rule_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = RULES.iter().map(|r| r.0).collect();
    ids.dedup();
    ids.push(BASE64_RULE);
    ids
}

/// Every secret-looking value in `text`, in order of position. Where several rules match the
/// same value, the most specific rule names it once.
pub fn find(text: &str) -> Vec<SecretMatch> {
    find_at_depth(text, 0)
}

fn find_at_depth(text: &str, depth: usize) -> Vec<SecretMatch> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (ri, rule) in RULE_SET.iter().enumerate() {
        for caps in rule.re.captures_iter(text) {
            let Some(m) = caps.get(1).or_else(|| caps.get(0)) else { continue };
            if passes(rule.test, m.as_str()) {
                out.push((m.start(), m.end(), ri));
            }
        }
    }
    let mut found: Vec<SecretMatch> = Vec::new();
    out.sort_by_key(|&(s, e, ri)| (s, std::cmp::Reverse(e), ri));
    out.dedup_by_key(|x| (x.0, x.1));
    found.extend(out.into_iter().map(|(start, end, ri)| SecretMatch { rule: RULE_SET[ri].id, start, end }));
    if depth == 0 {
        // A key wrapped in base64 (a k8s secret, a `creds: <b64>` line) is still a key.
        for m in BASE64_RUN.find_iter(text) {
            if found.iter().any(|f| f.start < m.end() && m.start() < f.end) {
                continue;
            }
            if decodes_to_secret(m.as_str()) {
                found.push(SecretMatch { rule: BASE64_RULE, start: m.start(), end: m.end() });
            }
        }
        found.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    }
    found
}

fn decodes_to_secret(run: &str) -> bool {
    let compact: String = run.chars().filter(|c| !c.is_whitespace()).collect();
    let unpadded = compact.trim_end_matches('=');
    let usable = &unpadded[..unpadded.len() - unpadded.len() % 4];
    let engine = if usable.contains(['-', '_']) {
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    };
    let Ok(bytes) = engine.decode(usable) else { return false };
    // Only text can hold a textual key; most base64 in notes is binary (hashes, images).
    let Ok(decoded) = std::str::from_utf8(&bytes) else { return false };
    !find_at_depth(decoded, 1).is_empty()
}

fn passes(test: Test, value: &str) -> bool {
    match test {
        Test::None => true,
        Test::NotPlaceholder => !is_placeholder(value),
        Test::Password => !is_placeholder(value) && !is_plain_word(value),
        Test::Random => looks_random(value),
    }
}

/// Template values, references to where a secret lives, and masks: not secrets themselves.
fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let masked = v.chars().all(|c| matches!(c, '*' | 'x' | 'X' | '.' | '•' | '#' | '-' | '_'));
    masked
        || v.starts_with(['$', '<', '{', '%', '['])
        || lower.starts_with("your")
        || lower.starts_with("process.env")
        || lower.starts_with("os.environ")
        || lower.starts_with("env.")
        || lower.starts_with("env:")
        || lower.starts_with("secrets.")
        || lower.starts_with("vault:")
        || lower.starts_with("op://")
        || lower.contains("placeholder")
        || lower.contains("redacted")
        || lower.contains("xxxx")
}

/// A word or an identifier made of words (`required`, `stored-in-vault`): prose, not a password.
fn is_plain_word(v: &str) -> bool {
    let core = v.trim_end_matches(['.', ')', '!', '?']);
    core.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
        || (core.chars().all(|c| c.is_alphabetic()) && core.chars().skip(1).all(|c| c.is_lowercase()))
}

/// Long, several character classes and high entropy: what a generated key looks like, unlike
/// an identifier (`process_env_name`), a number or a word.
pub fn looks_random(v: &str) -> bool {
    if v.chars().count() < 12 || is_placeholder(v) || is_identifier(v) {
        return false;
    }
    let classes = [
        v.chars().any(|c| c.is_ascii_lowercase()),
        v.chars().any(|c| c.is_ascii_uppercase()),
        v.chars().any(|c| c.is_ascii_digit()),
        v.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    let has_digit = classes[2];
    let n_classes = classes.iter().filter(|&&b| b).count();
    // A digit, or both cases: words and constants alone are not keys.
    if !(has_digit || classes[0] && classes[1]) {
        return false;
    }
    n_classes >= 2 && shannon_entropy(v) >= 3.0
}

/// Words joined by separators, maybe with a short version (`prod-db-credentials-v2`): a name.
fn is_identifier(v: &str) -> bool {
    v.split(['-', '_', '.', '/', ':']).all(|seg| {
        let letters = seg.bytes().take_while(u8::is_ascii_lowercase).count();
        let rest = &seg[letters..];
        let rest = rest.strip_prefix('v').unwrap_or(rest);
        (letters >= 2 || seg.is_empty() || rest.len() == seg.len() - letters) && rest.len() <= 3 && rest.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts.values().map(|&k| k as f64 / n as f64).map(|p| -p * p.log2()).sum()
}

/// `text` with every secret replaced by `[redacted:RULE]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in find(text) {
        if m.start < at {
            continue; // overlaps a secret already redacted
        }
        out.push_str(&text[at..m.start]);
        out.push_str("[redacted:");
        out.push_str(m.rule);
        out.push(']');
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A short, safe description of a secret for reports: its first characters and length.
pub fn describe(secret: &str) -> String {
    let head: String = secret.chars().take(6).collect();
    format!("{head}… ({} chars)", secret.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_redacts() {
        let t = "key sk-ant-abcdefghijklmnopqrstuvwxyz0123 and ghp_abcdefghijklmnopqrstuvwxyz0123456789AB é";
        let found = find(t);
        assert_eq!(found.iter().map(|m| m.rule).collect::<Vec<_>>(), vec!["anthropic-api-key", "github-token"]);
        assert_eq!(redact(t), "key [redacted:anthropic-api-key] and [redacted:github-token] é");
        assert_eq!(redact("nothing here ✅"), "nothing here ✅");
    }

    #[test]
    fn keyword_rules_redact_the_value_only() {
        assert_eq!(redact("DB_PASSWORD=Tr0ub4dor&3x"), "DB_PASSWORD=[redacted:password-assignment]");
        assert_eq!(
            redact("postgres://app:s3cr3tFAKE@db.internal:5432/app"),
            "postgres://app:[redacted:connection-string-password]@db.internal:5432/app"
        );
    }

    #[test]
    fn randomness_test() {
        assert!(looks_random("Zx9FAKEq8Lw2pR7tK4m"));
        assert!(!looks_random("process_env_name"));
        assert!(!looks_random("123456789012345"));
        assert!(!looks_random("${{ secrets.TOKEN }}"));
        assert!(!looks_random("short1A"));
        assert!(!looks_random("prod-db-credentials-v2"));
        assert!(!looks_random("deploy_key_name"));
        assert!(looks_random("deadbeef0123deadbeef0123"));
    }

    #[test]
    fn the_same_value_is_named_once_by_the_most_specific_rule() {
        let found = find("GITHUB_TOKEN=ghp_FAKEabcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "github-token");
    }

    #[test]
    fn non_ascii_text_is_safe() {
        for t in ["password: pässwörd123€", "token = ✅✅✅✅✅✅✅✅✅✅✅✅", "ключ: AKIAIOSFODNN7EXAMPLE…", "é\u{301}://ü:ö@ä"]
        {
            let r = redact(t);
            assert!(r.is_char_boundary(r.len()));
        }
    }
}
