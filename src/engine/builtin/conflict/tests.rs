use super::super::text::features;
use super::*;

fn check(a: &str, b: &str) -> Option<String> {
    let mut v = Vocab::default();
    let (fa, fb) = (features(a, &mut v), features(b, &mut v));
    let ab = conflict(&fa, &fb, &v);
    // The shape is symmetric.
    assert_eq!(ab.is_some(), conflict(&fb, &fa, &v).is_some(), "{a} / {b}");
    ab
}

#[test]
fn value_and_preference_conflicts_are_found() {
    assert_eq!(check("billing listens on port 8080", "billing listens on port 9090").as_deref(), Some("8080 vs 9090"));
    assert_eq!(
        check("- 2026-05-01: billing listens on port 8080", "- billing listens on port 9090 (as of 2026-06-01)").as_deref(),
        Some("8080 vs 9090")
    );
    assert_eq!(check("The user prefers npm", "the user prefers pnpm").as_deref(), Some("npm vs pnpm"));
    assert!(check("We run Postgres 15.2", "We run Postgres 16.1").is_some());
    assert!(check("edge-worker runs 3 replicas", "edge-worker runs 5 replicas").is_some());
    assert!(check("supports Python 3.9 through 3.13", "supports Python 3.10 through 3.13").is_some());
    assert!(check("edge-worker stores its data in ClickHouse 24", "edge-worker stores its data in Postgres 16").is_some());
    assert!(check("the billing service is owned by Dana", "the billing service is owned by Emeka").is_some());
    assert!(check("Ask Alice before changing the billing schema", "Ask Bruno before changing the billing schema").is_some());
}

#[test]
fn plain_word_conflicts_are_found() {
    assert!(check("Atlas status is blue", "Atlas status is green").is_some());
    assert!(check("Guest access is enabled", "Guest access is disabled").is_some());
    assert!(check("edge-worker runs in the west region", "edge-worker runs in the east region").is_some());
    assert!(check("the release train ships every Monday", "the release train ships every Friday").is_some());
}

#[test]
fn rewordings_are_conflicts() {
    assert!(check("- Requires Python 3.9+.", "- Requires Python 3.10+.").is_some(), "version bump in prose");
    assert!(
        check("- Checks: `make lint`, `make mypy` and `make test`", "- Checks: `make lint`, `make typecheck` and `make test`").is_some(),
        "one command of a list"
    );
    assert!(check("- Install with `pnpm i`", "- Install with `pnpm i --frozen-lockfile`").is_some(), "options added to a command");
    assert!(check("- Install with `pnpm i`", "- Install with `npm ci`").is_none(), "another command, not a list: maybe both hold");
    assert!(check("- CI installs with `pnpm i`, then `pnpm build`", "- CI installs with `pnpm i --frozen-lockfile`, then `pnpm build`")
        .is_some());
    assert!(check(
        "Code style follows eslint.config.js and prettier defaults.",
        "Code style follows eslint.config.mjs and prettier defaults."
    )
    .is_some());
    assert!(check(
        "- Types layer (src/types.ts) - protocol types generated from the spec",
        "- Types layer (packages/core/src/types/types.ts) - protocol types generated from the spec"
    )
    .is_some());
    assert!(check(
        "- SSE (src/server/sse.ts, src/client/sse.ts) - legacy transport",
        "- SSE (packages/server/src/server/sse.ts, packages/client/src/client/sse.ts) - legacy transport"
    )
    .is_some());
}

#[test]
fn different_subjects_are_not_conflicts() {
    for (a, b) in [
        ("billing listens on port 8080", "auth listens on port 9090"),
        ("edge-worker stores its data in ClickHouse 24", "core-proxy stores its data in ClickHouse 24"),
        ("edge-worker is owned by Dana", "core-proxy is owned by Dana"),
        ("the edge-worker service runs 3 replicas", "the core-proxy service runs 3 replicas"),
        ("server alpha-1 has 4 GB", "server beta-2 has 8 GB"),
        ("Alice owns billing", "Alice owns payments"),
        ("the frontend team is led by Alice", "the backend team is led by Alice"),
        ("deployed to staging on 2026-06-01", "deployed to staging on 2026-06-03"),
        ("billing listens on port 8080", "billing listens on port 8080"),
        ("the user prefers npm", "the user never prefers pnpm"),
        ("Ask Alice before changing the edge-worker schema", "Ask Alice before changing the core-proxy schema"),
        ("Run `make lint` before pushing", "Run `make fmt` before pushing"),
        ("Install Zéphyr dependencies with `npm ci`", "Install Cygnus dependencies with `npm ci`"),
        ("Ask Dana before changing the Quasar schema", "Ask Dana before changing the Vega schema"),
        ("Ask Dana before changing the Cluster 3 schema", "Ask Dana before changing the Cluster 12 schema"),
        ("Dana owns the Cluster 3 schema", "Dana owns the Cluster 12 schema"),
        ("Server 42 is owned by Dana", "Server 7 is owned by Dana"),
        ("Install façade-gateway-masuka deps", "Install façade-gateway-dapuka deps"),
        ("the dashboard reads from façade-gateway-masuka", "the dashboard reads from façade-gateway-dapuka"),
        ("CI runs `make lint`", "CI runs `make fmt`"),
        ("the dashboard reads from svc-a", "the dashboard reads from svc-b"),
        ("eslint.config.js: eslint configuration", "eslint.config.mjs: eslint configuration"),
        ("sessionId: transport session identifier", "sessionId?: transport session identifier"),
    ] {
        assert_eq!(check(a, b), None, "{a} / {b}");
    }
}

#[test]
fn renames_are_small_edits_not_enumerators() {
    assert!(rename("eslint.config.js", "eslint.config.mjs"));
    assert!(rename("sessionid", "sessionid?"));
    assert!(rename("docs/agents.md", "docs/agent.md"));
    assert!(rename("3.9+", "3.9"));
    assert!(rename("config.js", "config.ts") && rename("src/dev.ts", "src/dev.mts"));
    assert!(rename("pnpm i", "pnpm i --frozen-lockfile") && !rename("make lint", "make typecheck"));
    for (a, b) in
        [("svc-a", "svc-b"), ("node-1", "node-2"), ("replica1", "replica2"), ("postgres", "postgis"), ("edge-worker", "core-proxy")]
    {
        assert!(!rename(a, b), "{a} / {b}");
    }
    assert!(!rename("über-a", "über-b"));
    assert!(rename("日本語のファイル", "日本語のファイル名"));
}
