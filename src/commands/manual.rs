//! `rulegate completions SHELL` and `rulegate man`: generated from the clap definitions, so
//! they list exactly the commands and flags the binary takes; `rulegate schema`: the JSON
//! Schemas in `schema/`.

use std::path::Path;

use clap::CommandFactory;

use super::say;
use crate::cli::{Cli, CompletionsArgs, ManArgs, SchemaArgs, SchemaKind};
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;

/// The schemas as shipped in `schema/` (a test keeps them in step with the loaders).
const SUITE_SCHEMA: &str = include_str!("../../schema/suite.json");
const PROJECT_SCHEMA: &str = include_str!("../../schema/project.json");

pub(super) fn schema(a: &SchemaArgs) -> Result<Exit, Report> {
    say(match a.which {
        SchemaKind::Suite => SUITE_SCHEMA,
        SchemaKind::Project => PROJECT_SCHEMA,
    })?;
    Ok(Exit::Success)
}

pub(super) fn completions(a: &CompletionsArgs) -> Result<Exit, Report> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "rulegate", &mut out);
    say(&String::from_utf8_lossy(&out))?;
    Ok(Exit::Success)
}

fn render(cmd: clap::Command) -> Result<Vec<u8>, Diagnostic> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Diagnostic::could_not_run(format!("cannot render the man page: {e}")))?;
    Ok(out)
}

fn write(dir: &Path, name: &str, page: &[u8]) -> Result<(), Diagnostic> {
    let path = dir.join(name);
    std::fs::write(&path, page)
        .map_err(|e| Diagnostic::could_not_run(format!("cannot write {}: {e}", path.display())))
}

pub(super) fn man(a: &ManArgs) -> Result<Exit, Report> {
    let mut cmd = Cli::command();
    cmd.build();
    let Some(dir) = &a.dir else {
        say(&String::from_utf8_lossy(&render(cmd)?))?;
        return Ok(Exit::Success);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Diagnostic::usage(format!("cannot create {}: {e}", dir.display())))?;
    write(dir, "rulegate.1", &render(cmd.clone())?)?;
    let mut pages = 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("rulegate-{}", sub.get_name());
        let page = render(sub.clone().name(name.clone()))?;
        write(dir, &format!("{name}.1"), &page)?;
        pages += 1;
    }
    say(&format!(
        "wrote {pages} man page(s) into {}\n",
        dir.display()
    ))?;
    Ok(Exit::Success)
}
