//! Completions and man pages, generated from the clap definition so they cannot disagree with `--help`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::{Cli, Error, Result};

/// Completions and man pages, as (relative path, contents). Generated from the clap definition so they
/// cannot disagree with `--help`; tests/assets.rs fails when the checked-in copies drift.
pub fn all() -> Result<Vec<(PathBuf, Vec<u8>)>> {
    use clap_complete::Shell;
    let mut out = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "etcdbak.bash"),
        (Shell::Zsh, "_etcdbak"),
        (Shell::Fish, "etcdbak.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "etcdbak", &mut buf);
        out.push((Path::new("completions").join(name), buf));
    }
    let cmd = Cli::command();
    out.push((Path::new("man").join("etcdbak.1"), render_man(cmd.clone())?));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("etcdbak-{}", sub.get_name());
        let page = sub.clone().name(name.clone());
        out.push((
            Path::new("man").join(format!("{name}.1")),
            render_man(page)?,
        ));
    }
    Ok(out)
}

fn render_man(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::io("rendering a man page", e))?;
    Ok(buf)
}

pub fn generate(root: &Path) -> Result<()> {
    for (path, contents) in all()? {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
