//! `stackctl plan --format markdown` against the real Swarm, read back with a Markdown parser
//! (pulldown-cmark, GitHub's table extension): the summary, the table, the collapsible field
//! diffs with sensitive values masked by the crate's own rule, and a Mermaid diagram checked
//! against the flowchart grammar's basics.

use std::collections::{BTreeMap, BTreeSet};

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use stackctl::sensitive::{MASK, is_sensitive_path};

use crate::swarm::{DockerStack, unique_stack};
use crate::util::{Test, stderr, stdout};

const V1: &str = "services:
  db:
    image: stackctl-test/app:1
    environment:
      DB_PASSWORD: first-secret-value
      MODE: a
    deploy:
      replicas: 0
  web:
    image: stackctl-test/app:1
    depends_on: [db]
    deploy:
      replicas: 0
";

/// db changes a secret and a plain variable; api is new and waits for db; web waits for api
/// and gets a command with a secret flag inside.
const V2: &str = "services:
  db:
    image: stackctl-test/app:1
    environment:
      DB_PASSWORD: second-secret-value
      MODE: b
    deploy:
      replicas: 0
  api:
    image: stackctl-test/app:2
    depends_on: [db]
    deploy:
      replicas: 0
  web:
    image: stackctl-test/app:2
    command: [\"serve\", \"--token=third-secret-value\", \"a|b\"]
    depends_on: [api]
    deploy:
      replicas: 0
configs:
  settings:
    file: ./settings.txt
";

/// The parts of the Markdown a reader sees, as the parser found them.
#[derive(Debug, Default)]
struct Rendered {
    headings: Vec<String>,
    paragraphs: Vec<String>,
    /// Header row first.
    table: Vec<Vec<String>>,
    /// Each `<details>` block: its summary HTML, and the fenced block inside (language, text).
    details: Vec<(String, String, String)>,
    /// Fenced blocks outside `<details>`, by language.
    blocks: Vec<(String, String)>,
}

fn parse(markdown: &str) -> Rendered {
    let mut rendered = Rendered::default();
    let mut text = String::new();
    let mut row: Vec<String> = Vec::new();
    let mut code: Option<(String, String)> = None;
    let mut open_details: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                code = Some((lang.to_string(), String::new()));
            }
            Event::Text(t) => match &mut code {
                Some((_, body)) => body.push_str(&t),
                None => text.push_str(&t),
            },
            Event::Code(t) => text.extend(["`", &t, "`"]),
            Event::InlineHtml(t) => text.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                let block = code.take().expect("a code block was open");
                match open_details.as_mut() {
                    Some(summary) => {
                        let summary = std::mem::take(summary);
                        rendered.details.push((summary, block.0, block.1));
                    }
                    None => rendered.blocks.push(block),
                }
            }
            Event::Html(html) if html.starts_with("<details>") => {
                assert!(open_details.is_none(), "nested details");
                open_details = Some(html.trim().to_owned());
            }
            Event::Html(html) if html.trim() == "</details>" => {
                assert!(
                    open_details.take().is_some(),
                    "</details> without <details>"
                );
            }
            Event::Html(html) => panic!("unexpected HTML block {html:?}"),
            Event::End(TagEnd::TableCell) => row.push(std::mem::take(&mut text).trim().to_owned()),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                rendered.table.push(std::mem::take(&mut row));
            }
            Event::End(TagEnd::Heading(_)) => rendered.headings.push(std::mem::take(&mut text)),
            Event::End(TagEnd::Paragraph) => rendered.paragraphs.push(std::mem::take(&mut text)),
            _ => {}
        }
    }
    assert!(open_details.is_none(), "<details> never closed");
    rendered
}

/// A Mermaid flowchart as the grammar reads it: subgraphs in order with their nodes, edges.
#[derive(Debug, Default)]
struct Flowchart {
    subgraphs: Vec<(String, Vec<String>)>,
    labels: BTreeMap<String, String>,
    edges: Vec<(String, String)>,
}

/// Check a flowchart against the basics of Mermaid's grammar: the `flowchart DIR` header,
/// `subgraph ID["title"]` ... `end`, `ID["label"]` nodes, `A --> B` edges; identifiers are
/// words that are not keywords, labels hold no `"`, every edge joins declared nodes.
fn check_flowchart(source: &str) -> Flowchart {
    const KEYWORDS: &[&str] = &[
        "end",
        "subgraph",
        "graph",
        "flowchart",
        "style",
        "class",
        "click",
        "direction",
        "linkStyle",
        "classDef",
    ];
    let is_id = |id: &str| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !KEYWORDS.contains(&id)
    };
    let node = |text: &str| -> (String, String) {
        let (id, rest) = text
            .split_once("[\"")
            .unwrap_or_else(|| panic!("not ID[\"label\"]: {text}"));
        let label = rest
            .strip_suffix("\"]")
            .unwrap_or_else(|| panic!("unclosed label: {text}"));
        assert!(is_id(id), "bad identifier {id:?}");
        assert!(!label.contains('"'), "quote inside a label: {text}");
        (id.to_owned(), label.to_owned())
    };
    let mut lines = source.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines.next().expect("a header line");
    let (kind, direction) = header.split_once(' ').expect("flowchart DIR");
    assert!(matches!(kind, "flowchart" | "graph"), "{header}");
    assert!(
        ["TB", "TD", "BT", "RL", "LR"].contains(&direction),
        "{header}"
    );
    let mut chart = Flowchart::default();
    let mut open = false;
    for line in lines {
        if let Some(rest) = line.strip_prefix("subgraph ") {
            assert!(!open, "nested subgraph (not produced by stackctl): {line}");
            let (id, _) = node(rest);
            chart.subgraphs.push((id, Vec::new()));
            open = true;
        } else if line == "end" {
            assert!(open, "end without subgraph");
            open = false;
        } else if let Some((from, to)) = line.split_once(" --> ") {
            for id in [from, to] {
                assert!(
                    chart.labels.contains_key(id),
                    "edge to undeclared node {id}"
                );
            }
            chart.edges.push((from.to_owned(), to.to_owned()));
        } else {
            let (id, label) = node(line);
            assert!(
                chart.labels.insert(id.clone(), label).is_none(),
                "node {id} twice"
            );
            if open {
                chart.subgraphs.last_mut().unwrap().1.push(id);
            }
        }
    }
    assert!(!open, "subgraph never ended");
    chart
}

#[test]
fn markdown_plan_has_summary_table_masked_diffs_and_rollout_waves() {
    let name = unique_stack("plan-md");
    let test = Test::new()
        .file("v1.yml", V1)
        .file("v2.yml", V2)
        .file("settings.txt", "x=1\n");
    let _stack = DockerStack::deploy(&name, &[test.path().join("v1.yml").to_str().unwrap()]);
    let out = test
        .args(&[
            "plan",
            "-s",
            &name,
            "--format",
            "markdown",
            "--detailed-exitcode",
            "v2.yml",
        ])
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let markdown = stdout(&out);
    for secret in [
        "first-secret-value",
        "second-secret-value",
        "third-secret-value",
    ] {
        assert!(!markdown.contains(secret), "{secret} shown:\n{markdown}");
    }
    let rendered = parse(&markdown);
    assert_eq!(
        rendered.headings,
        [format!("stackctl plan: stack `{name}`")]
    );
    assert_eq!(
        rendered.paragraphs[0],
        "Plan: 2 to create, 2 to update, 0 to remove, 1 unchanged."
    );
    check_table(&rendered, &name);
    check_field_diffs(&rendered, &name);
    check_waves(&rendered, &name);
}

fn check_table(rendered: &Rendered, name: &str) {
    let rows: BTreeMap<&str, &Vec<String>> = rendered.table[1..]
        .iter()
        .map(|r| (r[2].as_str(), r))
        .collect();
    assert_eq!(rendered.table[0], ["", "Kind", "Name", "Action", "Details"]);
    let row = |object: &str| rows[format!("`{name}_{object}`").as_str()];
    assert_eq!(rows.len(), 4, "{:?}", rendered.table);
    assert_eq!(
        row("api")[..4],
        ["`+`", "service", &format!("`{name}_api`"), "create"]
    );
    assert!(
        row("api")[4].contains("image stackctl-test/app:2"),
        "{:?}",
        row("api")
    );
    assert_eq!(row("db")[3], "update");
    assert!(row("db")[4].starts_with("2 field(s): `environment.DB_PASSWORD`, `environment.MODE`"));
    assert_eq!(
        row("web")[..4],
        ["`~`", "service", &format!("`{name}_web`"), "update"]
    );
    assert_eq!(
        row("settings")[1..4],
        ["config", &format!("`{name}_settings`"), "create"]
    );
}

/// One collapsible block per object with field changes, a diff inside, masked.
fn check_field_diffs(rendered: &Rendered, name: &str) {
    let summaries: Vec<&str> = rendered.details.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        summaries,
        [
            format!(
                "<details><summary>service <code>{name}_db</code>: 2 field change(s)</summary>"
            ),
            format!(
                "<details><summary>service <code>{name}_web</code>: 2 field change(s)</summary>"
            ),
        ]
    );
    let mut masked = BTreeSet::new();
    for (_, lang, body) in &rendered.details {
        assert_eq!(lang, "diff");
        for (path, lines) in diff_sections(body) {
            if is_sensitive_path(&path) {
                assert!(lines.iter().all(|l| l[2..] == *MASK), "{path}: {lines:?}");
                masked.insert(path);
            }
        }
    }
    assert_eq!(
        masked,
        BTreeSet::from(["environment.DB_PASSWORD".to_owned()])
    );
    let db = &rendered.details[0].2;
    assert!(
        db.contains("@@ environment.MODE @@\n- \"a\"\n+ \"b\"\n"),
        "{db}"
    );
    // Inside a list, only the secret part is hidden (the rule's `--flag=` case).
    let web = &rendered.details[1].2;
    let masked_flag = format!("+ [\"serve\",\"--token={MASK}\",\"a|b\"]\n");
    assert!(web.contains(&masked_flag), "{web}");
}

/// The waves: db, then api (it depends on db), then web (it depends on api).
fn check_waves(rendered: &Rendered, name: &str) {
    let [(lang, mermaid)] = &rendered.blocks[..] else {
        panic!("one Mermaid block expected: {:?}", rendered.blocks);
    };
    assert_eq!(lang, "mermaid");
    let chart = check_flowchart(mermaid);
    let waves: Vec<Vec<&str>> = chart
        .subgraphs
        .iter()
        .map(|(_, nodes)| nodes.iter().map(|n| chart.labels[n].as_str()).collect())
        .collect();
    assert_eq!(
        waves,
        [
            vec![format!("{name}_db (update)")],
            vec![format!("{name}_api (create)")],
            vec![format!("{name}_web (update)")],
        ]
    );
    let label = |id: &String| chart.labels[id].split(' ').next().unwrap().to_owned();
    let edges: Vec<(String, String)> = chart
        .edges
        .iter()
        .map(|(a, b)| (label(a), label(b)))
        .collect();
    assert_eq!(
        edges,
        [
            (format!("{name}_db"), format!("{name}_api")),
            (format!("{name}_api"), format!("{name}_web")),
        ]
    );
}

#[test]
fn markdown_plan_without_changes_says_so_and_exits_0() {
    let name = unique_stack("plan-md-same");
    let test = Test::new().file("v1.yml", V1);
    let _stack = DockerStack::deploy(&name, &[test.path().join("v1.yml").to_str().unwrap()]);
    let out = test
        .args(&[
            "plan",
            "-s",
            &name,
            "--format",
            "markdown",
            "--detailed-exitcode",
            "v1.yml",
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rendered = parse(&stdout(&out));
    assert_eq!(
        rendered.paragraphs,
        ["No changes. The stack matches the files (3 objects)."]
    );
    assert!(rendered.table.is_empty() && rendered.details.is_empty() && rendered.blocks.is_empty());
}

#[test]
fn show_sensitive_does_not_unmask_markdown() {
    let name = unique_stack("plan-md-show");
    let test = Test::new()
        .file("v1.yml", V1)
        .file("v2.yml", V2)
        .file("settings.txt", "x=1\n");
    let _stack = DockerStack::deploy(&name, &[test.path().join("v1.yml").to_str().unwrap()]);
    let out = test
        .args(&[
            "plan",
            "-s",
            &name,
            "--format",
            "markdown",
            "--show-sensitive",
            "v2.yml",
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("--show-sensitive does not apply to --format markdown"));
    let markdown = stdout(&out);
    assert!(markdown.contains(MASK), "{markdown}");
    for secret in [
        "first-secret-value",
        "second-secret-value",
        "third-secret-value",
    ] {
        assert!(!markdown.contains(secret), "{secret} shown:\n{markdown}");
    }
}

/// `@@ path @@` sections of a diff body: the path and its `-`/`+` lines.
fn diff_sections(body: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in body.lines() {
        if let Some(path) = line.strip_prefix("@@ ").and_then(|l| l.strip_suffix(" @@")) {
            sections.push((path.to_owned(), Vec::new()));
        } else {
            assert!(line.starts_with(['-', '+', ' ']), "not a diff line: {line}");
            sections
                .last_mut()
                .expect("a section")
                .1
                .push(line.to_owned());
        }
    }
    sections
}
