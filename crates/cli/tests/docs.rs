//! The examples of `docs/tools.md` run: the JSON mapping table and the topology
//! (messages and a store).

use broker_cli::harness::{run, Topology};
use broker_cli::json::{parse_value, to_json};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/tools.md")).unwrap()
}

/// The body of the first fenced block whose info string is `info`.
fn block(doc: &str, info: &str) -> String {
    let start = doc
        .find(&format!("```{info}\n"))
        .unwrap_or_else(|| panic!("no {info} block"))
        + info.len()
        + 4;
    doc[start..start + doc[start..].find("```").unwrap()].to_owned()
}

#[test]
fn json_mapping_table_holds() {
    let table = block(&doc(), "json-mapping");
    for line in table.lines() {
        let (json, shown) = line.split_once(" => ").unwrap();
        let data = parse_value(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(data.to_string(), shown, "{json}");
        assert_eq!(
            parse_value(&to_json(&data).unwrap().to_string()).unwrap(),
            data,
            "{json} round-trips"
        );
    }
}

#[test]
fn topology_example_runs() {
    let topology = Topology::parse(&block(&doc(), "toml")).unwrap();
    let report = run(&topology).unwrap();
    assert!(report.passed, "{report}");
    assert_eq!(report.node("b").unwrap().received, 10);
    assert_eq!(report.checks.len(), 2, "{report}");
}
