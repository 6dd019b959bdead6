use super::super::fixture::{self, assert_snapshot};
use super::*;
use crate::values::date::parse_day;

fn as_of() -> Day {
    parse_day("2026-06-30").unwrap()
}

fn page() -> String {
    fixture::output(|buf| Box::new(Html::new(buf, as_of())))
}

#[test]
fn html_page() {
    assert_snapshot("html.html", &page());
}

#[test]
fn values_are_escaped() {
    let out = page();
    // The fixture's row holds `<script>alert(1)</script>` and a message `<limit> & "quote"`.
    assert!(!out.contains("<script>alert"), "{out}");
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(out.contains("a &lt;limit&gt; &amp; &quot;quote&quot;"));
    // The page's own script is the only one.
    assert_eq!(out.matches("<script>").count(), 1);
}
