//! The interop suite's browser part: headless Chromium (Debian's `chromium`, which
//! `scripts/interop` installs and which runs these tests; alone they are ignored) opens the
//! page of `validate --format html` from a file, runs its script, and the tests read the DOM
//! it built: the counts are json's, the offending cells are highlighted, the cutoffs are drawn,
//! and nothing a CSV holds runs. A screenshot of the page is saved under `target/`.

use crate::util::TestEnv;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEMO: &str = "item-level-errors.csv";
/// Where the screenshot is saved (docs/images/html-report.png is a crop of it).
const SCREENSHOT: &str = "html-report.png";

/// Runs headless Chromium on `args` with a fresh profile, no network of its own (no
/// background requests, no QUIC, no updates) and a time limit; returns its standard output.
fn chromium(env: &TestEnv, args: &[String]) -> String {
    let profile = tempdir(env, "chromium-profile");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .current_dir(env.path())
        .env("HOME", env.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run chromium ({e}): scripts/interop installs it"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium ran for 2 minutes: {}", err.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = err.join().unwrap();
    assert!(status.success(), "chromium failed: {status}\n{stderr}");
    out.join().unwrap().expect("chromium's output is UTF-8")
}

fn tempdir(env: &TestEnv, name: &str) -> PathBuf {
    let mut n = 0;
    loop {
        let dir = env.path().join(format!("{name}-{n}"));
        if std::fs::create_dir(&dir).is_ok() {
            return dir;
        }
        n += 1;
    }
}

fn url(env: &TestEnv, name: &str) -> String {
    format!("file://{}", env.path().join(name).display())
}

/// The DOM after the page's script ran, as Chromium serialises it.
fn dom(env: &TestEnv, page: &str) -> String {
    let dom = chromium(env, &["--dump-dom".into(), url(env, page)]);
    // The page's script ran: it shows the findings filter, hidden in the page as written.
    let form = tag(&dom, "<form class=\"filter\"").expect("a findings filter");
    assert!(
        !form.contains("hidden"),
        "the page's script did not run: {form}"
    );
    assert!(
        tag(&env.read(page), "<form class=\"filter\"")
            .unwrap()
            .contains("hidden")
    );
    dom
}

/// The opening tag starting with `start`.
fn tag<'a>(html: &'a str, start: &str) -> Option<&'a str> {
    let at = html.find(start)?;
    let rest = &html[at..];
    Some(&rest[..=rest.find('>')?])
}

/// The text after the first `open` in `html`, up to the next tag.
fn text_after<'a>(html: &'a str, open: &str) -> Option<&'a str> {
    let at = html.find(open)? + open.len();
    let rest = &html[at..];
    Some(&rest[..rest.find('<')?])
}

/// The text of every cell of one kind (`th` or `td`) in `html`, with whether it has `class`.
fn cells<'a>(html: &'a str, kind: &str, class: &str) -> Vec<(&'a str, bool)> {
    let open = format!("<{kind}");
    let mut out = vec![];
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        // `<th` also opens `<thead>`.
        if !rest.starts_with(['>', ' ']) {
            continue;
        }
        let end = rest.find('>').unwrap();
        let attributes = &rest[..end];
        rest = &rest[end + 1..];
        let text = &rest[..rest.find('<').unwrap()];
        out.push((text, attributes.contains(&format!("class=\"{class}\""))));
    }
    out
}

/// `&lt;`, `&gt;`, `&quot;` and `&amp;` read back.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The json report and the html page of one run of `validate` on `file`.
fn reports(env: &TestEnv, file: &str) -> Value {
    let json = env.validate(&["--format", "json", file]);
    let html = env.validate(&["--format", "html", "--output", "page.html", file]);
    assert_eq!(html.code, json.code, "{html:?}");
    assert_eq!(html.stdout, "");
    serde_json::from_str(&json.stdout).unwrap()
}

#[test]
#[ignore = "needs Debian's chromium, which scripts/interop installs"]
fn chromium_shows_json_counts_highlighted_cells_and_the_cutoffs() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let json = reports(&env, DEMO);
    let dom = dom(&env, "page.html");

    // The verdict: json's totals.
    let summary = &json["summary"];
    for (id, key) in [
        ("total-rows", "rows"),
        ("total-errors", "errors"),
        ("total-warnings", "warnings"),
    ] {
        let shown = text_after(&dom, &format!("id=\"{id}\">")).unwrap();
        assert_eq!(shown, summary[key].to_string(), "{id}");
    }
    let errors = summary["errors"].as_u64().unwrap();
    assert!(errors > 0);
    let headline = text_after(&dom, "<p class=\"headline\">").unwrap();
    assert!(
        headline.starts_with(&format!("Not ready to send: {errors} errors")),
        "{headline}"
    );

    // Each code's count and severity.
    let diagnostics = json["files"][0]["diagnostics"].as_array().unwrap();
    let mut counts = std::collections::BTreeMap::<(&str, &str), u64>::new();
    for d in diagnostics {
        *counts
            .entry((d["code"].as_str().unwrap(), d["severity"].as_str().unwrap()))
            .or_default() += 1;
    }
    assert!(counts.len() > 3);
    for ((code, severity), n) in &counts {
        let group =
            format!("<tbody class=\"code\" data-code=\"{code}\" data-severity=\"{severity}\">");
        let at = dom.find(&group).unwrap_or_else(|| panic!("{group}"));
        let count = text_after(&dom[at..], "<td class=\"num count\">").unwrap();
        assert_eq!(count, n.to_string(), "{code}");
    }

    // Each example in its row, the offending cell highlighted under its column's name.
    let examples: Vec<&str> = dom.split("<div class=\"example\">").skip(1).collect();
    let mut highlighted = 0;
    for d in diagnostics {
        let (Some(line), Some(column)) = (d["line"].as_u64(), d["column"].as_str()) else {
            continue;
        };
        if d["row"].is_null() {
            continue;
        }
        let place = format!("<p><strong>line {line}, column <code>{column}</code>");
        let example = examples
            .iter()
            .find(|e| e.starts_with(&place))
            .unwrap_or_else(|| panic!("no example for {place}"));
        let example = &example[..example.find("</table>").unwrap()];
        let header = cells(example, "th", "more");
        let row = cells(example, "td", "hit");
        assert_eq!(header.len(), row.len(), "{example}");
        let hits: Vec<usize> = (0..row.len()).filter(|&i| row[i].1).collect();
        assert_eq!(hits.len(), 1, "{example}");
        assert_eq!(header[hits[0]].0, column, "{example}");
        assert_eq!(unescape(row[hits[0]].0), d["value"].as_str().unwrap());
        assert_eq!(row[0].0, line.to_string());
        highlighted += 1;
    }
    assert_eq!(highlighted, dom.matches("<td class=\"hit\">").count());
    assert!(highlighted >= 4, "{highlighted}");

    // The EventDate chart: both cutoff lines, the older one left, and the rows they count.
    let chart = &dom[dom
        .find("<svg class=\"chart days\"")
        .expect("the EventDate chart")..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let mut xs = vec![];
    for (days, what) in [
        (88, "older needs a MediaId"),
        (398, "older is never processed"),
    ] {
        let open = format!("<g class=\"cutoff\" data-days=\"{days}\">");
        let cutoff = &chart[chart.find(&open).unwrap_or_else(|| panic!("{open}"))..];
        let cutoff = &cutoff[..cutoff.find("</g>").unwrap()];
        let line = tag(cutoff, "<line ").expect("a cutoff line");
        let x1 = text_between(line, "x1=\"", "\"");
        assert_eq!(x1, text_between(line, "x2=\"", "\""), "a vertical line");
        let x1: f64 = x1.parse().unwrap();
        assert!(
            cutoff.contains(&format!("{days} days: {what}</text>")),
            "{cutoff}"
        );
        xs.push(x1);
    }
    assert!(xs[1] < xs[0], "{xs:?}");
    let too_old = counts
        .get(&("event-too-old", "error"))
        .copied()
        .unwrap_or(0);
    assert!(too_old > 0);
    let plural = if too_old == 1 { "row" } else { "rows" };
    assert_eq!(
        text_after(&dom, "<span id=\"too-old\">").unwrap(),
        format!("{too_old} {plural}")
    );

    // The screenshot (docs/output-formats.md shows a crop of it).
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(SCREENSHOT);
    let _ = std::fs::remove_file(&shot);
    chromium(
        &env,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
            url(&env, "page.html"),
        ],
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (1280, 2000), "width and height");
    assert!(
        png.len() > 20_000,
        "an almost empty screenshot: {} bytes",
        png.len()
    );
}

fn text_between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let at = s.find(start).unwrap() + start.len();
    &s[at..at + s[at..].find(end).unwrap()]
}

#[test]
#[ignore = "needs Debian's chromium, which scripts/interop installs"]
fn markup_in_a_csv_runs_nothing_in_chromium() {
    let env = TestEnv::new();
    // A script as a value (a finding's value and its highlighted cell), as another cell of an
    // example's row, and in column names (which the page shows in the header, in the findings
    // and inside the SVG chart's text and attributes).
    let csv = concat!(
        "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerEmail,CurrencyCode,Amount,",
        "\"<script>document.title='header'</script>\",\"\"\"><svg onload=\"\"document.title='attr'\"\">\"\n",
        "18543,27015,2026-06-28T09:15:00Z,ORD-1,Zq3xLr8TpV2mNc6YwK1sHd9BfG4jUe7A,",
        "b1321dcdd9d4d03a98e20b1669c79ca81802d5daac044544cc6cad43be9d2196,",
        "<script>document.title='value'</script>,49.99,",
        "\"<img src=x onerror=\"\"document.title='img'\"\">\",</td></tr></table><script>document.title='cell'</script>\n",
    );
    env.write("hostile.csv", csv);
    let json = reports(&env, "hostile.csv");
    let diagnostics = json["files"][0]["diagnostics"].as_array().unwrap();
    let codes: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"invalid-currency"), "{codes:?}");
    assert!(codes.contains(&"unknown-column"), "{codes:?}");
    let page = env.read("page.html");
    let title = text_after(&page, "<title>").unwrap().to_string();
    assert!(title.starts_with("convsubmit validate: "), "{title}");

    let dom = dom(&env, "page.html");
    // No script but the page's own ran: the title is the one the page was written with.
    assert_eq!(text_after(&dom, "<title>").unwrap(), title);
    assert_eq!(dom.matches("<script").count(), 1, "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(!dom.contains("<svg onload"), "{dom}");
    assert_eq!(
        dom.matches("<table").count(),
        page.matches("<table").count()
    );
    // And every one shows as text: in the finding, in the row and in the chart.
    for shown in [
        "&lt;script&gt;document.title='value'&lt;/script&gt;",
        "&lt;script&gt;document.title='header'&lt;/script&gt;",
        "&lt;img src=x onerror=\"document.title='img'\"&gt;",
        "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;document.title='cell'&lt;/script&gt;",
        "\"&gt;&lt;svg onload=\"document.title='attr'\"&gt;",
    ] {
        assert!(dom.contains(shown), "{shown} not shown as text\n{dom}");
    }
    assert!(
        dom.contains("<td class=\"hit\">&lt;script&gt;document.title='value'&lt;/script&gt;</td>"),
        "{dom}"
    );
}
