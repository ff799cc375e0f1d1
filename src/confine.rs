//! Confinement (a leaf module: it depends only on `escape`): suites, rulesets and Terraform
//! come from pull requests, so every path a project file names (`terraform:`, `rulesets:`, `lists:`, `junit:`, a module `source`, a committed
//! symlink) must stay inside the repository that holds the project (or the project directory
//! when it is in none). Paths the user typed on the command line are trusted, with what lies
//! under them. A path is judged by where it really leads (symlinks resolved), so neither `..`
//! nor a link can reach `/proc/self/environ` or a file beside the checkout.

use std::path::{Component, Path, PathBuf};

/// The directories reads (and `junit:` writes) may reach.
#[derive(Debug, Clone)]
pub(crate) struct Confine {
    /// The repository's top level (or the project directory), resolved.
    root: PathBuf,
    /// Paths given on the command line, resolved.
    trusted: Vec<PathBuf>,
}

/// `path` resolved as far as it exists: its longest existing ancestor canonicalized, then the
/// rest of its components with `.` dropped and `..` folded lexically.
fn resolve(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(c) = abs.canonicalize() {
        return c;
    }
    let mut rest: Vec<Component> = Vec::new();
    let mut base = abs.as_path();
    loop {
        match base.parent() {
            Some(parent) => {
                if let Some(last) = base.components().next_back() {
                    rest.push(last);
                }
                base = parent;
                if let Ok(c) = base.canonicalize() {
                    let mut out = c;
                    for comp in rest.iter().rev() {
                        match comp {
                            Component::ParentDir => {
                                out.pop();
                            }
                            Component::CurDir => {}
                            other => out.push(other.as_os_str()),
                        }
                    }
                    return out;
                }
            }
            None => return abs,
        }
    }
}

/// `path` with `.` dropped and `dir/..` folded lexically, for display: the project's
/// `rulesets: ../../suites/rulesets` names its files `suites/rulesets/…`, as a reader and a
/// GitHub annotation expect. A leading `..` (above the working directory) is kept; so is
/// `path` itself when folding would name another place (a `..` after a symbolic link).
pub(crate) fn folded(path: &Path) -> PathBuf {
    let f = fold(path);
    let f = if f.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        f
    };
    match (f.canonicalize(), path.canonicalize()) {
        (Ok(a), Ok(b)) if a != b => path.to_path_buf(),
        _ => f,
    }
}

/// `path` with `.` dropped and `dir/..` folded, lexically (empty when nothing is left).
pub(crate) fn fold(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.iter().map(|c| c.as_os_str()).collect()
}

/// The top level of the git work tree holding `dir` (a `.git` directory or file), if any.
fn repository_of(dir: &Path) -> Option<PathBuf> {
    let mut at = resolve(dir);
    loop {
        if at.join(".git").exists() {
            return Some(at);
        }
        if !at.pop() {
            return None;
        }
    }
}

impl Confine {
    /// Reads confined to the repository holding `project_dir`, else to `project_dir` itself.
    pub(crate) fn for_project(project_dir: &Path) -> Confine {
        let dir = if project_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            project_dir
        };
        Confine::at(&repository_of(dir).unwrap_or_else(|| resolve(dir)))
    }

    /// Reads confined to `root` (a baseline's checked-out tree).
    pub(crate) fn at(root: &Path) -> Confine {
        Confine {
            root: resolve(root),
            trusted: Vec::new(),
        }
    }

    /// Trusts `path` (typed on the command line) and what lies under it.
    pub(crate) fn trust(&mut self, path: &Path) {
        let r = resolve(path);
        let r = if r.is_file() {
            r.parent().map_or(r.clone(), Path::to_path_buf)
        } else {
            r
        };
        self.trusted.push(r);
    }

    /// Trusts `path` (typed on the command line) itself: a file, or a directory's own
    /// location, but not links inside it that lead elsewhere (unlike [`Confine::trust`]).
    pub(crate) fn trust_exactly(&mut self, path: &Path) {
        self.trusted.push(resolve(path));
    }

    /// Whether `path`, resolved, lies inside the root or a trusted path.
    pub(crate) fn allows(&self, path: &Path) -> bool {
        let r = resolve(path);
        r.starts_with(&self.root) || self.trusted.iter().any(|t| r.starts_with(t))
    }

    /// `Ok` when `path` may be read or written; else why not, in words, for a diagnostic whose
    /// title names the path as the project file wrote it.
    pub(crate) fn check(&self, path: &Path) -> Result<(), String> {
        if self.allows(path) {
            return Ok(());
        }
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        Err(format!(
            "{} {}leads outside the repository ({})",
            crate::escape::visible(&path.display().to_string()),
            if link { "is a symbolic link that " } else { "" },
            crate::escape::visible(&self.root.display().to_string())
        ))
    }
}

/// The hint every confinement error carries.
pub(crate) const HINT: &str = "files a project names must be inside its repository: rulegate reads what pull requests commit, so a path may not reach outside it (paths given as command-line flags may)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_paths_drop_dot_dot_only_where_it_names_the_same_place() {
        assert_eq!(
            folded(Path::new("examples/demo/../../suites/rulesets")),
            Path::new("suites/rulesets")
        );
        assert_eq!(folded(Path::new("./a/./b/..")), Path::new("a"));
        assert_eq!(folded(Path::new("../x/../y")), Path::new("../y"));
        assert_eq!(folded(Path::new("a/..")), Path::new("."));
        #[cfg(unix)]
        {
            let d = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(d.path().join("real/sub")).unwrap();
            std::fs::create_dir_all(d.path().join("rules")).unwrap();
            std::fs::create_dir_all(d.path().join("real/rules")).unwrap();
            std::os::unix::fs::symlink(d.path().join("real/sub"), d.path().join("link")).unwrap();
            // link/.. is real/, not d/: folding would name another directory.
            let through = d.path().join("link/../rules");
            assert_eq!(folded(&through), through);
        }
    }

    #[test]
    fn paths_outside_are_refused_even_through_links() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        let project = repo.path().join("waf");
        std::fs::create_dir_all(project.join("rulesets")).unwrap();
        let c = Confine::for_project(&project);
        assert!(c.allows(&project.join("rulesets")));
        assert!(c.allows(&project.join("../infra/main.tf")));
        assert!(c.allows(&project.join("not/yet/there.xml")));
        assert!(!c.allows(Path::new("/proc/self/environ")));
        assert!(!c.allows(&project.join("../../../etc/passwd")));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", project.join("rulesets/out")).unwrap();
            assert!(!c.allows(&project.join("rulesets/out")));
            let err = c.check(&project.join("rulesets/out")).unwrap_err();
            assert!(
                err.contains("is a symbolic link that leads outside"),
                "{err}"
            );
        }
        let mut t = c.clone();
        t.trust(Path::new("/etc"));
        assert!(t.allows(Path::new("/etc/hosts")));
    }

    #[test]
    fn without_a_repository_the_project_is_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let c = Confine::for_project(dir.path());
        assert!(c.allows(&dir.path().join("a.json")));
        assert!(!c.allows(&dir.path().join("../x")));
    }
}
