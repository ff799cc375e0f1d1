//! Compiler tests.

use super::*;
use memchr::memmem;

#[test]
fn nodes_stay_small() {
    assert!(size_of::<Test>() <= 24, "{}", size_of::<Test>());
    assert!(size_of::<Op>() <= 32, "{}", size_of::<Op>());
}

#[test]
fn short_equality_agrees_with_slices() {
    let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
    for n in 0..=30 {
        for at in 0..n {
            let a = &text[..n];
            let mut b = a.to_vec();
            assert!(same_short(a, &b), "{n}");
            b[at] ^= 1;
            assert!(!same_short(a, &b), "{n} {at}");
        }
        assert!(!same_short(&text[..n], &text[..n + 1]));
    }
}

#[test]
fn lower_with_a_lowercase_literal_is_a_caseless_test_with_the_same_answers() {
    use crate::rules::{Context, Lists, compile_filter};
    let lists = Lists::new();
    let agents: &[&str] = &[
        "",
        "curl/8",
        "CURL/8",
        "Mozilla Googlebot",
        "BOT",
        "xbo",
        "b",
    ];
    let exprs = [
        r#"lower(http.user_agent) eq "curl/8""#,
        r#"lower(http.user_agent) ne "curl/8""#,
        r#"lower(http.user_agent) contains "bot""#,
        r#"lower(http.user_agent) contains "b""#,
        r#"lower(http.user_agent) in {"bot" "curl/8"}"#,
        r#"lower(http.user_agent) eq "CURL/8""#,
    ];
    for e in exprs {
        let f = compile_filter(e, &lists).unwrap();
        // The same comparison through the general path: the lowered value as a field.
        let general =
            compile_filter(&e.replace("lower(http.user_agent)", "http.host"), &lists).unwrap();
        for ua in agents {
            let mut ctx = Context::new();
            ctx.set("http.user_agent", Value::bytes(*ua)).unwrap();
            let mut lowered = Context::new();
            lowered
                .set("http.host", Value::bytes(ua.to_ascii_lowercase()))
                .unwrap();
            assert_eq!(f.execute(&ctx), general.execute(&lowered), "{e} on {ua:?}");
        }
    }
    let f = compile_filter(r#"lower(http.user_agent) contains "bot""#, &lists).unwrap();
    assert!(matches!(f.ops[0], Op::Field(_, Test::CaselessContains(_))));
}

#[test]
fn starts_and_ends_with_on_a_field_are_field_tests_with_the_same_answers() {
    use crate::rules::{Context, Lists, compile_filter};
    let lists = Lists::new();
    for (e, path, want) in [
        (
            r#"starts_with(http.request.uri.path, "/api/")"#,
            "/api/v1",
            true,
        ),
        (
            r#"starts_with(http.request.uri.path, "/api/")"#,
            "/ap",
            false,
        ),
        (
            r#"ends_with(http.request.uri.path, ".php")"#,
            "/x.php",
            true,
        ),
        (
            r#"ends_with(http.request.uri.path, ".php")"#,
            "/x.phpx",
            false,
        ),
        (r#"not ends_with(http.request.uri.path, "")"#, "/", false),
    ] {
        let f = compile_filter(e, &lists).unwrap();
        assert!(
            matches!(
                f.ops.last(),
                Some(Op::Field(_, Test::StartsWith(_) | Test::EndsWith(_)))
            ),
            "{e}"
        );
        let mut ctx = Context::new();
        ctx.set("http.request.uri.path", Value::bytes(path))
            .unwrap();
        assert_eq!(f.execute(&ctx), want, "{e} on {path}");
        // Missing field: false, as the call on a missing value is.
        assert_eq!(f.execute(&Context::new()), e.starts_with("not "), "{e}");
    }
}

#[test]
fn short_contains_agrees_with_memmem() {
    let hays: &[&[u8]] = &[b"", b"a", b"aaab", b"/admin/users", b"xadmixadmin", b"admi"];
    let needles: &[&[u8]] = &[b"", b"a", b"ab", b"admin", b"min", b"users", b"x"];
    for h in hays {
        for n in needles {
            assert_eq!(
                contains_short(h, n, false),
                memmem::find(h, n).is_some(),
                "{h:?} {n:?}"
            );
        }
    }
}
