//! [`Behaviour`]: what a trace did to its request, in the terms a reviewer of a rules change
//! compares: the status, the terminating action and the rule that took it, the redirect
//! target, and the set of matched rules. Two traces of one request behave alike when their
//! behaviours are equal, whatever else differs (timing, step order, descriptions).

use std::collections::BTreeSet;

use serde::Serialize;

use super::view::{RATE_LIMIT_PHASE, TraceView};

/// The challenge actions, one family for "newly challenged".
const CHALLENGES: &[&str] = &["challenge", "js_challenge", "managed_challenge"];

/// What one traced request came to.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Behaviour {
    pub(crate) status: Option<i64>,
    /// The terminating action, or `none`.
    pub(crate) action: String,
    /// The id of the rule that took the terminating action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rule: Option<String>,
    /// That rule's description, for people; not part of the behaviour (a reworded
    /// description changes nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// Where a matched redirect sends the visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) redirect: Option<String>,
    /// The ids of every matched rule (steps with an action), rate-limit rules included.
    pub(crate) matched: BTreeSet<String>,
}

impl PartialEq for Behaviour {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.action == other.action
            && self.rule == other.rule
            && self.redirect == other.redirect
            && self.matched == other.matched
    }
}

impl Eq for Behaviour {}

impl Behaviour {
    pub(crate) fn of(view: &TraceView) -> Behaviour {
        let id = |s: &super::Step| {
            s.item
                .step_name
                .clone()
                .or_else(|| s.item.name.clone())
                .unwrap_or_else(|| format!("step {}", s.index))
        };
        let terminating = view.terminating_step();
        let redirect = view
            .steps
            .iter()
            .filter(|s| s.matched() && !s.path.iter().any(|p| p == RATE_LIMIT_PHASE))
            .find_map(|s| s.item.target_url.clone());
        Behaviour {
            status: view.status_code,
            action: view.action().to_string(),
            rule: terminating.map(id),
            description: terminating
                .and_then(|s| s.item.description.clone())
                .filter(|d| !d.is_empty()),
            redirect,
            matched: view
                .steps
                .iter()
                .filter(|s| s.matched() && s.item.action.is_some())
                .map(id)
                .collect(),
        }
    }

    /// [`Behaviour::of`] read straight from the trace tree, without flattening it into a
    /// view: the same answer (a test holds them equal), for callers that trace millions.
    pub(crate) fn of_result(result: &super::TraceResult) -> Behaviour {
        struct Walk<'a> {
            index: usize,
            terminating: Option<(&'a super::TraceItem, usize)>,
            redirect: Option<&'a str>,
            matched: BTreeSet<String>,
        }
        fn id(item: &super::TraceItem, index: usize) -> String {
            item.step_name
                .clone()
                .or_else(|| item.name.clone())
                .unwrap_or_else(|| format!("step {index}"))
        }
        fn walk<'a>(items: &'a [super::TraceItem], limited: bool, w: &mut Walk<'a>) {
            for item in items {
                let index = w.index;
                w.index += 1;
                if item.matched == Some(true) {
                    if let Some(a) = item.action.as_deref() {
                        w.matched.insert(id(item, index));
                        if !limited
                            && w.terminating.is_none()
                            && super::view::TERMINATING_ACTIONS.contains(&a)
                        {
                            w.terminating = Some((item, index));
                        }
                    }
                    if !limited && w.redirect.is_none() {
                        w.redirect = item.target_url.as_deref();
                    }
                }
                // A step's children sit under its id in the path (as the view's walk puts them).
                let under_limit = limited
                    || (!item.trace.is_empty()
                        && item
                            .step_name
                            .as_deref()
                            .or(item.name.as_deref())
                            .or(item.kind_of_step.as_deref())
                            == Some(RATE_LIMIT_PHASE));
                walk(&item.trace, under_limit, w);
            }
        }
        let mut w = Walk {
            index: 0,
            terminating: None,
            redirect: None,
            matched: BTreeSet::new(),
        };
        walk(&result.trace, false, &mut w);
        let terminating = w.terminating;
        Behaviour {
            status: result.status_code,
            action: terminating
                .and_then(|(t, _)| t.action.clone())
                .unwrap_or_else(|| "none".into()),
            rule: terminating.map(|(t, i)| id(t, i)),
            description: terminating
                .and_then(|(t, _)| t.description.clone())
                .filter(|d| !d.is_empty()),
            redirect: w.redirect.map(str::to_string),
            matched: w.matched,
        }
    }

    /// One line: `403 block by r1`, `301 redirect by r2 → https://…`, `200 none`.
    pub(crate) fn headline(&self) -> String {
        let mut s = self
            .status
            .map_or_else(|| "(no status)".to_string(), |c| c.to_string());
        s.push(' ');
        s.push_str(&self.action);
        match (&self.description, &self.rule) {
            (Some(d), _) => {
                s.push_str(" by \"");
                s.push_str(d);
                s.push('"');
            }
            (None, Some(r)) => {
                s.push_str(" by ");
                s.push_str(r);
            }
            (None, None) => {}
        }
        if let Some(t) = &self.redirect {
            s.push_str(" → ");
            s.push_str(t);
        }
        s
    }

    fn is_challenge(&self) -> bool {
        CHALLENGES.contains(&self.action.as_str())
    }
}

/// How a case's behaviour changed, for the totals line: the most telling difference first.
pub(crate) fn change_kind(before: &Behaviour, after: &Behaviour) -> &'static str {
    if before.action != after.action {
        if after.action == "block" {
            "newly blocked"
        } else if after.is_challenge() && !before.is_challenge() {
            "newly challenged"
        } else if before.action == "block" {
            "no longer blocked"
        } else if before.is_challenge() && !after.is_challenge() {
            "no longer challenged"
        } else if after.action == "redirect" {
            "newly redirected"
        } else if before.action == "redirect" {
            "no longer redirected"
        } else {
            "answered by another action"
        }
    } else if before.rule != after.rule {
        "terminated by another rule"
    } else if before.redirect != after.redirect {
        "redirected elsewhere"
    } else if before.status != after.status {
        "answered with another status"
    } else {
        "matching other rules"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(status: i64, action: &str, rule: Option<&str>) -> Behaviour {
        Behaviour {
            status: Some(status),
            action: action.into(),
            rule: rule.map(Into::into),
            description: None,
            redirect: None,
            matched: rule.into_iter().map(Into::into).collect(),
        }
    }

    #[test]
    fn kinds_name_the_most_telling_difference() {
        let none = b(200, "none", None);
        let block = b(403, "block", Some("r1"));
        let chal = b(403, "managed_challenge", Some("r2"));
        assert_eq!(change_kind(&none, &block), "newly blocked");
        assert_eq!(change_kind(&chal, &block), "newly blocked");
        assert_eq!(change_kind(&none, &chal), "newly challenged");
        assert_eq!(change_kind(&block, &none), "no longer blocked");
        assert_eq!(change_kind(&chal, &none), "no longer challenged");
        assert_eq!(
            change_kind(&block, &b(403, "block", Some("r9"))),
            "terminated by another rule"
        );
        let mut more = none.clone();
        more.matched.insert("log1".into());
        assert_eq!(change_kind(&none, &more), "matching other rules");
        assert_eq!(block.headline(), "403 block by r1");
        assert_eq!(none.headline(), "200 none");
    }
}
