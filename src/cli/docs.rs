//! Shell completions and man pages, generated from the clap definitions so they never drift.

use super::args::{Cli, Shell};
use super::exit::EXIT_CODES;
use anyhow::{Context, Result};
use clap::CommandFactory;
use roff::{bold, roman, Roff};
use std::io::Write;
use std::path::Path;

pub fn completions(shell: Shell, out: &mut dyn Write) {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "dreamd", out);
}

fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// dreamd(1): clap's sections plus exit status, environment, files and see-also.
pub fn main_page(out: &mut dyn Write) -> Result<()> {
    // The exit codes get a section of their own instead of clap's "EXTRA" (the --help epilogue).
    let mut page = Vec::new();
    clap_mangen::Man::new(command().after_long_help(None::<&str>)).render(&mut page)?;
    let page = String::from_utf8(page)?;
    // Each rendering starts with the same apostrophe preamble; the page has it already.
    let extra = extra_sections().render();
    let extra: String = extra.lines().skip_while(|l| l.starts_with(".ie ") || l.starts_with(".el ")).map(|l| format!("{l}\n")).collect();
    let at = page.find(".SH VERSION").unwrap_or(page.len());
    out.write_all(&page.as_bytes()[..at])?;
    out.write_all(extra.as_bytes())?;
    out.write_all(&page.as_bytes()[at..])?;
    Ok(())
}

fn extra_sections() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_CODES {
        r.control("TP", []).text([bold(code.to_string())]).text([roman(meaning)]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    for (name, what) in [
        ("DREAMD_CONFIG", "config file used when --config is not given"),
        ("DREAMD_SOCKET", "daemon socket for the client verbs, overriding the config's api.socket"),
        ("RUST_LOG", "log filter for run (default: info for dreamd, warnings from libraries)"),
        ("NO_COLOR", "when set and not empty, no colours in logs or diffs"),
        ("STATE_DIRECTORY", "set by systemd (StateDirectory=): the default state_dir"),
        ("RUNTIME_DIRECTORY", "set by systemd (RuntimeDirectory=): the default socket directory"),
    ] {
        r.control("TP", []).text([bold(name)]).text([roman(what)]);
    }
    r.control("SH", ["FILES"]);
    for (path, what) in [
        ("/etc/dreamd/dreamd.yaml", "the config of the dreamd.service unit; /etc/dreamd/NAME.yaml for dreamd@NAME.service"),
        ("/var/lib/dreamd", "state under systemd: dreamd.db (SQLite), staged jobs, generations"),
        ("/run/dreamd/dreamd.sock", "the API socket under systemd (mode 0600)"),
    ] {
        r.control("TP", []).text([bold(path)]).text([roman(what)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("systemd.exec(5), systemd-analyze(1); the README's \"Operating dreamd\" section.")]);
    r
}

/// Write dreamd.1 and dreamd-VERB.1 for every verb into `dir`.
pub fn write_pages(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let main = dir.join("dreamd.1");
    let mut f = std::fs::File::create(&main).with_context(|| format!("cannot write {}", main.display()))?;
    main_page(&mut f)?;
    written.push(main);
    for sub in command().get_subcommands() {
        written.push(clap_mangen::Man::new(sub.clone()).generate_to(dir)?);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_documents_every_verb_and_exit_code() {
        let mut out = Vec::new();
        main_page(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.contains("\n.TH dreamd 1"), "{}", &page[..80]);
        assert_eq!(page.matches(".ds Aq").count(), 2, "one apostrophe preamble: {page}");
        assert!(!page.contains("EXTRA"), "{page}");
        for verb in ["run", "check\\-config", "health", "dream", "approve", "rollback", "completions", "man"] {
            assert!(page.contains(&format!("dreamd\\-{verb}(1)")), "missing {verb}: {page}");
        }
        assert!(page.contains(".SH \"EXIT STATUS\"") || page.contains(".SH EXIT STATUS"), "{page}");
        assert!(page.contains("refused for now"));
    }

    #[test]
    fn one_page_per_verb() {
        let dir = tempfile::tempdir().unwrap();
        let pages = write_pages(dir.path()).unwrap();
        let names: Vec<String> = pages.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert!(names.contains(&"dreamd.1".to_string()));
        assert!(names.contains(&"dreamd-dream.1".to_string()), "{names:?}");
        assert!(names.contains(&"dreamd-check-config.1".to_string()), "{names:?}");
    }
}
