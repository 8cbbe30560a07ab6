//! Issue 7, first finding: any word that started with a multi-byte character made the engine
//! (and the loss guard, which shares its tokenizer) panic, so every dream of a real memory
//! failed. Each character named there, through the real binary and through the loss guard.

use dreamd::store::Store;
use std::process::Command;

const OPENERS: &[&str] = &["über", "✅", "→", "×", "“quoted”", "‘single’", "état", "日本語", "É", "👩‍👩‍👧", "é\u{301}"];

#[test]
fn words_opening_with_any_character_do_not_panic() {
    for w in OPENERS {
        let tmp = tempfile::tempdir().unwrap();
        let m = tmp.path().join("m");
        std::fs::create_dir(&m).unwrap();
        // Twice, with a variant, so the dedupe and conflict passes see it too.
        let text = format!("- {w} alles\n- {w} alles.\n- {w}-svc listens on port 8080\n- {w}-svc listens on port 9090\n");
        std::fs::write(m.join("n.md"), &text).unwrap();
        let out = tmp.path().join("o");
        let o = Command::new(env!("CARGO_BIN_EXE_dreamd")).arg("consolidate").arg(&m).arg("--out").arg(&out).output().unwrap();
        assert!(o.status.success(), "{w}: {}", String::from_utf8_lossy(&o.stderr));
        let result = std::fs::read_to_string(out.join("n.md")).unwrap();
        assert!(result.contains(&format!("- {w} alles")), "{w}: {result}");
        assert!(result.contains(&format!("- {w}-svc listens on port 9090")), "{w}: {result}");

        // The verifier classifies the same store without panicking.
        let live = Store::read(&m).unwrap();
        let cand = Store::read(&out).unwrap();
        let report: dreamd::report::Report = dreamd::corpus::quality::dream(&live, Vec::new(), chrono::Utc::now()).1;
        assert_eq!(dreamd::verify::lost(&live, &cand, &report), vec![], "{w}");
    }
}
