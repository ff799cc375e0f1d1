//! The module graph of `src/` follows ARCHITECTURE.md's module table: a top-level module uses
//! only modules of its own row or of the rows above it (`crate::x` paths and `use crate::{x,
//! y}` groups, outside unit tests), and the modules form no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect()
}

/// The top-level modules `text` refers to: `crate::name…` and each first segment of a
/// `crate::{a, b::c, …}` group; unit-test modules left out.
fn references(text: &str) -> BTreeSet<String> {
    let code = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or(text);
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            // The first segment of every item at depth one.
            let mut depth = 0usize;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        let name = ident(&group[j..]);
                        if !name.is_empty() {
                            out.insert(name);
                        }
                        item_start = false;
                    }
                    _ => {}
                }
            }
            continue;
        }
        let name = ident(rest);
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// Each module's row in ARCHITECTURE.md's module table (0 = the first row).
fn documented_rows(architecture: &str) -> BTreeMap<String, usize> {
    let table = architecture
        .split("## Modules")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Modules` section");
    let mut rows = BTreeMap::new();
    let mut row = 0;
    for line in table.lines() {
        if line.starts_with("## ") {
            break;
        }
        let Some(first) = line.strip_prefix("| `") else {
            continue;
        };
        let cell = first.split(" |").next().unwrap_or(first);
        for name in cell.split('`').step_by(2) {
            let name = name.trim_matches(|c: char| c == ',' || c.is_whitespace());
            if !name.is_empty() {
                rows.insert(name.to_string(), row);
            }
        }
        row += 1;
    }
    rows
}

/// Every import against the documented order, and every module the table does not place.
fn violations(
    rows: &BTreeMap<String, usize>,
    deps: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (module, uses) in deps {
        let Some(&own) = rows.get(module) else {
            out.push(format!(
                "`{module}` is not in ARCHITECTURE.md's module table"
            ));
            continue;
        };
        for used in uses {
            match rows.get(used) {
                Some(&r) if r > own => out.push(format!(
                    "`{module}` (row {}) uses `{used}` (row {}), which the table puts below it",
                    own + 1,
                    r + 1
                )),
                Some(_) => {}
                None => out.push(format!(
                    "`{module}` uses `{used}`, which is not in ARCHITECTURE.md's module table"
                )),
            }
        }
    }
    out
}

/// A cycle among the modules, if any, as `a -> b -> a`.
fn cycle(deps: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit(
        n: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            return Some(format!("{} -> {n}", stack[i..].join(" -> ")));
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for d in deps.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, deps, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    deps.keys()
        .find_map(|n| visit(n, deps, &mut Vec::new(), &mut done))
}

/// The top-level modules of `src/` and the modules each uses.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let name = rel.file_name().unwrap().to_string_lossy();
        if name == "tests.rs"
            || name.ends_with("_tests.rs")
            || name == "lib.rs"
            || name == "main.rs"
        {
            continue;
        }
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let entry = deps.entry(top.clone()).or_default();
        entry.extend(references(&text).into_iter().filter(|d| *d != top));
    }
    deps
}

#[test]
fn modules_use_only_the_layers_architecture_md_puts_above_them() {
    let architecture =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let rows = documented_rows(&architecture);
    let deps = module_graph();
    assert!(deps.contains_key("commands") && deps.contains_key("rules"));
    let bad = violations(&rows, &deps);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(cycle(&deps), None);
}

#[test]
fn the_check_fails_on_a_downward_import_and_reads_import_groups() {
    let architecture = "## Modules\n\n| module | holds |\n|---|---|\n| `text`, `exit` | leaves |\n| `rules` | engine |\n| `commands` | top |\n\n## Next\n";
    let rows = documented_rows(architecture);
    assert_eq!(rows.get("exit"), Some(&0));
    assert_eq!(rows.get("commands"), Some(&2));
    // `rules` importing `commands` through a group, as a real file would write it.
    let file = "use crate::{text::Pos, commands::{self, main}};\nfn f() { crate::exit::Exit::Ok; }\n#[cfg(test)]\nmod tests {\n    use crate::commands;\n}\n";
    let refs = references(file);
    assert_eq!(
        refs,
        ["commands", "exit", "text"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let mut deps = BTreeMap::new();
    deps.insert("rules".to_string(), refs);
    deps.insert(
        "commands".to_string(),
        BTreeSet::from(["rules".to_string()]),
    );
    let bad = violations(&rows, &deps);
    assert_eq!(
        bad,
        ["`rules` (row 2) uses `commands` (row 3), which the table puts below it"]
    );
    assert_eq!(
        cycle(&deps),
        Some("commands -> rules -> commands".to_string())
    );
    // Without the downward import, nothing to report.
    deps.insert("rules".to_string(), BTreeSet::from(["text".to_string()]));
    assert!(violations(&rows, &deps).is_empty());
    assert_eq!(cycle(&deps), None);
}
