//! A topology described as data and run by the harness (`broker-cli`): a full mesh
//! delivers every message exactly once, around a cut link and a dead node.

use broker_cli::harness::{run, Topology};

const MESH: &str = r#"
name = "mesh-4"

[[node]]
name = "a"
peers = ["b", "c", "d"]
subscribe = ["/mesh"]

[[node]]
name = "b"
peers = ["c", "d"]
subscribe = ["/mesh"]

[[node]]
name = "c"
peers = ["d"]
subscribe = ["/mesh"]

[[node]]
name = "d"
subscribe = ["/mesh"]

[[step]]
publish = { from = "a", topic = "/mesh/1", count = 20 }

[[step]]
expect = { node = "d", count = 20 }

[[step]]
partition = { link = ["a", "b"] }

[[step]]
publish = { from = "a", topic = "/mesh/2", count = 10 }

[[step]]
expect = { node = "b", count = 10, topic = "/mesh/2" }

[[step]]
heal = { link = ["a", "b"] }

[[step]]
kill = { node = "d" }

[[step]]
publish = { from = "b", topic = "/mesh/3", count = 10 }

[[step]]
expect = { node = "a", count = 10, topic = "/mesh/3" }

[[step]]
restart = { node = "d" }

[[step]]
publish = { from = "c", topic = "/mesh/4", count = 10 }

[[step]]
expect = { node = "d", count = 10, topic = "/mesh/4" }
"#;

#[test]
fn full_mesh_delivers_once_around_a_cut_link_and_a_dead_node() {
    let report = run(&Topology::parse(MESH).unwrap()).unwrap();
    assert!(report.passed, "{report}");
    let counts: Vec<(&str, u64, u64, u64)> = report
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.received, n.lost, n.duplicates))
        .collect();
    // d was dead while b published /mesh/3; nothing else is lost or duplicated.
    assert_eq!(
        counts,
        [
            ("a", 20, 0, 0),
            ("b", 40, 0, 0),
            ("c", 40, 0, 0),
            ("d", 40, 10, 0)
        ],
        "{report}"
    );
}
