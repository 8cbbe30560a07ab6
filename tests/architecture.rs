//! The module graph has no import cycle: between the crate's top-level modules, and between
//! sibling files inside a module directory (a parent's `mod.rs` re-exporting its children is
//! not an import). Read from the source, so a new `use` that closes a circle fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Source without tests (`mod tests` blocks and `tests.rs` files import what they like).
fn code_of(path: &Path) -> Option<String> {
    // Test-only modules (`tests.rs`, property tests in `props.rs`) may use any part as a fixture.
    if path.file_name().is_some_and(|n| n == "tests.rs" || n == "props.rs") {
        return None;
    }
    let text = std::fs::read_to_string(path).unwrap();
    Some(match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => text[..i].to_string(),
        None => text,
    })
}

/// Module path of a file: `src/jobs/owner.rs` → ["jobs", "owner"], `src/jobs/mod.rs` → ["jobs"].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().to_string()).collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// Paths named in the file: `crate::a::b…`, `super::x…`, including `use crate::{a, b::c}`.
fn referenced_paths(code: &str, module: &[String], is_mod_rs: bool) -> Vec<Vec<String>> {
    let word = regex::Regex::new(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{([^}]*)\})?").unwrap();
    // A file's own module for `super::`: the parent of `owner.rs` is `jobs`; of `jobs/mod.rs`, the crate.
    let here: Vec<String> = if is_mod_rs { module.to_vec() } else { module[..module.len().saturating_sub(1)].to_vec() };
    let mut out = Vec::new();
    for c in word.captures_iter(code) {
        let base: Vec<String> = match &c[1] {
            "crate" => vec![],
            _ => here[..here.len().saturating_sub(usize::from(is_mod_rs))].to_vec(),
        };
        let mut path = base.clone();
        path.extend(c[2].split("::").filter(|s| !s.is_empty()).map(str::to_string));
        match c.get(4) {
            Some(group) => {
                for item in group.as_str().split(',') {
                    let mut p = path.clone();
                    p.extend(item.trim().split("::").filter(|s| !s.is_empty() && *s != "self").map(str::to_string));
                    out.push(p);
                }
            }
            None => out.push(path),
        }
    }
    out
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Edges between top-level modules, and between siblings of each module directory.
fn graphs(src: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in &files {
        let module = module_of(src, f);
        if module.is_empty() || module == ["main"] || module == ["lib"] {
            continue;
        }
        let Some(code) = code_of(f) else { continue };
        let is_mod_rs = f.file_name().is_some_and(|n| n == "mod.rs");
        for path in referenced_paths(&code, &module, is_mod_rs) {
            // The longest prefix that is a module.
            let target = (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains(p));
            let Some(target) = target else { continue };
            // Top level: a → b.
            if target[0] != module[0] {
                graphs.entry("crate".into()).or_default().entry(module[0].clone()).or_default().insert(target[0].clone());
            }
            // Siblings inside one directory: jobs::owner → jobs::start.
            let depth = module.len().min(target.len());
            if depth >= 2 && module[..depth - 1] == target[..depth - 1] && module[depth - 1] != target[depth - 1] {
                let parent = module[..depth - 1].join("::");
                graphs.entry(parent).or_default().entry(module[depth - 1].clone()).or_default().insert(target[depth - 1].clone());
            }
        }
    }
    graphs
}

#[test]
fn the_module_graph_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graphs = graphs(&src);
    assert!(graphs["crate"].contains_key("jobs"), "the graph was read: {:?}", graphs.keys());
    assert!(graphs.get("jobs").is_some_and(|g| g["owner"].contains("work")), "sibling edges were read: {graphs:?}");
    for (scope, graph) in &graphs {
        if let Some(cycle) = find_cycle(graph) {
            panic!("import cycle in {scope}: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn a_cycle_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("jobs")).unwrap();
    std::fs::write(src.join("app.rs"), "use crate::jobs::Jobs;\n").unwrap();
    std::fs::write(src.join("jobs/mod.rs"), "mod owner;\nmod start;\npub struct Jobs;\n").unwrap();
    std::fs::write(src.join("jobs/owner.rs"), "use super::start::go;\nuse crate::{app::App, jobs::Jobs};\n").unwrap();
    std::fs::write(src.join("jobs/start.rs"), "use super::owner::Owner;\n").unwrap();
    let graphs = graphs(src);
    let top = find_cycle(&graphs["crate"]).expect("app ↔ jobs");
    assert!(top.contains(&"app".to_string()) && top.contains(&"jobs".to_string()), "{top:?}");
    let inner = find_cycle(&graphs["jobs"]).expect("owner ↔ start");
    assert!(inner.contains(&"owner".to_string()) && inner.contains(&"start".to_string()), "{inner:?}");
}

#[test]
fn job_state_is_written_by_the_job_owner_alone() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let writers: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(src.join("state")))
        .filter(|f| {
            code_of(f).is_some_and(|c| c.contains("state.transition(") || c.contains("state.update(") || c.contains("state.insert_job("))
        })
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert_eq!(writers, vec!["jobs/owner.rs"], "only the job owner writes job state");
}
