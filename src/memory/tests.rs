use super::*;

fn file(text: &str) -> MemoryFile {
    MemoryFile { bytes: text.as_bytes().to_vec(), mtime: None }
}

/// Parsed files borrow their text; a test's file lives as long as the test process.
fn parse(path: &str, text: &str) -> ParsedFile<'static> {
    parse_file(path, Box::leak(Box::new(file(text))), Layout::ClaudeCode, &PinRules::default())
}

#[test]
fn render_is_byte_identical() {
    let texts = [
        "",
        "\n\n",
        "---\nname: x\ndescription: y\ntype: user\n---\n# Title\n\n- a\n- b\n  continued\n\npara\nline 2\n\n```sh\nls\n\n```\n- tail",
        "no newline at end",
        "- [A](a.md) — hook\r\n- [B](b.md)\r\n",
    ];
    for t in texts {
        let p = parse("x.md", t);
        assert_eq!(p.render().as_deref(), Some(t), "round trip of {t:?}");
    }
}

#[test]
fn blocks_have_kinds_lines_and_sections() {
    let p = parse("x.md", "---\nname: x\n---\n# Deploys\n\n- uses blue/green\n- rollback with `make undo`\n\nA paragraph\nthat wraps.\n");
    let kinds: Vec<_> = p.blocks().iter().map(|b| (b.kind, b.line)).collect();
    assert_eq!(kinds, vec![(BlockKind::Heading, 4), (BlockKind::Bullet, 6), (BlockKind::Bullet, 7), (BlockKind::Paragraph, 9)]);
    assert_eq!(p.blocks()[1].section, Some("Deploys"));
    assert_eq!(p.frontmatter().unwrap().fields["name"], "x");
}

#[test]
fn index_lines_are_recognised_only_in_memory_md() {
    let p = parse("MEMORY.md", "- [Role](user_role.md) — who\n- plain bullet\n- [site](https://x.y)\n");
    let kinds: Vec<_> = p.blocks().iter().map(|b| b.kind).collect();
    assert_eq!(kinds, vec![BlockKind::IndexLine, BlockKind::Bullet, BlockKind::Bullet]);
    assert_eq!(p.blocks()[0].link, Some("user_role.md"));
    let q = parse("other.md", "- [Role](user_role.md)\n");
    assert_eq!(q.blocks()[0].kind, BlockKind::Bullet);
}

#[test]
fn pins_from_marker_frontmatter_and_patterns() {
    let p = parse("x.md", "- keep me <!-- pinned -->\n- not me\n");
    assert!(p.blocks()[0].pinned);
    assert!(!p.blocks()[1].pinned);
    let p = parse("x.md", "---\npinned: true\n---\n- all\n- pinned\n");
    assert!(p.blocks().iter().all(|b| b.pinned));
    let rules = PinRules::new(&["(?i)api contract".into()]).unwrap();
    let f = file("- The API contract is v2\n- other\n");
    let p = parse_file("x.md", &f, Layout::Generic, &rules);
    assert!(p.blocks()[0].pinned && !p.blocks()[1].pinned);
}

#[test]
fn broken_input_is_opaque_not_lost() {
    let bad_utf8 = MemoryFile { bytes: vec![b'-', b' ', 0xff, b'\n'], mtime: None };
    let p = parse_file("x.md", &bad_utf8, Layout::ClaudeCode, &PinRules::default());
    assert!(matches!(p.body, FileBody::Opaque { .. }));
    let p = parse("y.md", "---\nname: x\n- no closing\n");
    assert!(matches!(&p.body, FileBody::Opaque { reason } if reason.contains("closing")));
    let p = parse("z.md", "---\nname: [unclosed\n---\nbody\n");
    assert!(matches!(&p.body, FileBody::Opaque { reason } if reason.contains("YAML")));
    let p = parse("img.png", "binary");
    assert!(matches!(p.body, FileBody::Opaque { .. }));
}

#[test]
fn normalize_ignores_formatting_only() {
    assert_eq!(normalize("- The **build** uses  `cargo`."), normalize("* the build uses cargo"));
    assert_eq!(normalize("1. Deploy on Fridays!"), normalize("- deploy on fridays"));
    assert_ne!(normalize("- port 8080"), normalize("- port 9090"));
}

#[test]
fn frontmatter_pins_accept_yaml_truths() {
    for v in ["true", "True", "TRUE", "yes", "Yes", "on", "ON", "y", "'yes'", "\"true\"", "1"] {
        let p = parse("x.md", &format!("---\npinned: {v}\n---\n- fact\n"));
        assert!(p.blocks()[0].pinned, "pinned: {v}");
    }
    for v in ["false", "no", "off", "n", "0", "", "maybe"] {
        let p = parse("x.md", &format!("---\npinned: {v}\n---\n- fact\n"));
        assert!(!p.blocks()[0].pinned, "pinned: {v}");
    }
}

#[test]
fn loose_pin_markers_pin() {
    for t in ["- a <!--pinned-->\n", "- a <!-- PINNED -->\n", "- a <!--  Pinned\t-->\n"] {
        assert!(parse("x.md", t).blocks()[0].pinned, "{t}");
    }
    assert!(!parse("x.md", "- a <!-- pinned later -->\n").blocks()[0].pinned);
}
