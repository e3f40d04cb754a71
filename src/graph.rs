//! The dependency graph of a stack: an edge `a -> b` when `b` references `a` or names it in
//! `depends_on`. Cycles are reported with every resource on the loop, in order.

use std::collections::HashMap;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::stack::{Diagnostic, Stack};

pub struct Graph {
    pub dag: DiGraph<String, ()>,
    pub index: HashMap<String, NodeIndex>,
}

impl Graph {
    pub fn build(stack: &Stack) -> Result<Graph, Vec<Diagnostic>> {
        let mut dag = DiGraph::new();
        let mut index = HashMap::new();
        for id in stack.resources.keys() {
            index.insert(id.clone(), dag.add_node(id.clone()));
        }
        for r in stack.resources.values() {
            for dep in r.dependencies() {
                if let (Some(&from), Some(&to)) = (index.get(&dep), index.get(&r.id)) {
                    dag.update_edge(from, to, ());
                }
            }
        }
        let g = Graph { dag, index };
        let mut diags = Vec::new();
        for scc in tarjan_scc(&g.dag) {
            if scc.len() < 2 {
                continue;
            }
            let names = g.cycle_path(&scc);
            let first = &stack.resources[&names[0]];
            diags.push(
                Diagnostic::at(
                    &stack.source,
                    first.span,
                    format!("dependency cycle: {}", names.join(" -> ") + " -> " + &names[0]),
                )
                .resource(&names[0])
                .help("break the loop: remove a reference or a `depends_on` entry"),
            );
        }
        // In file order, as the stack loader reports its diagnostics.
        diags.sort_by_key(|d| (d.span.offset, d.message.clone()));
        if diags.is_empty() { Ok(g) } else { Err(diags) }
    }

    /// The shortest loop through a strongly connected component, from its first resource by
    /// name, each resource followed by one it depends on.
    fn cycle_path(&self, scc: &[NodeIndex]) -> Vec<String> {
        let start = *scc.iter().min_by_key(|n| &self.dag[**n]).expect("non-empty");
        let deps = |n: NodeIndex| {
            let mut d: Vec<NodeIndex> =
                self.dag.neighbors_directed(n, petgraph::Direction::Incoming).filter(|m| scc.contains(m)).collect();
            d.sort_by_key(|m| self.dag[*m].clone());
            d
        };
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for m in deps(n) {
                if m == start {
                    let mut path = vec![n];
                    while let Some(&p) = parent.get(path.last().expect("non-empty")) {
                        path.push(p);
                    }
                    path.reverse();
                    return path.into_iter().map(|n| self.dag[n].clone()).collect();
                }
                if m != start && !parent.contains_key(&m) {
                    parent.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        vec![self.dag[start].clone()]
    }

    /// Resources in an order where each comes after everything it depends on.
    pub fn order(&self) -> Vec<String> {
        toposort(&self.dag, None).map(|o| o.into_iter().map(|n| self.dag[n].clone()).collect()).unwrap_or_default()
    }

    pub fn dot(&self) -> String {
        let mut out = String::from("digraph stack {\n  rankdir=LR;\n");
        for n in self.dag.node_indices() {
            out += &format!("  \"{}\";\n", self.dag[n]);
        }
        for e in self.dag.raw_edges() {
            out += &format!("  \"{}\" -> \"{}\";\n", self.dag[e.source()], self.dag[e.target()]);
        }
        out + "}\n"
    }

    pub fn mermaid(&self) -> String {
        let mut out = String::from("graph LR\n");
        for n in self.dag.node_indices() {
            if self.dag.neighbors_undirected(n).next().is_none() {
                out += &format!("  {}\n", self.dag[n]);
            }
        }
        for e in self.dag.raw_edges() {
            out += &format!("  {} --> {}\n", self.dag[e.source()], self.dag[e.target()]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::stack::{Source, load_str};

    fn errors(text: &str) -> Vec<String> {
        let st = load_str(&crate::kinds::KINDS, Source::new("g.yaml", text), &Default::default())
            .unwrap_or_else(|(_, d)| panic!("{d:?}"));
        match super::Graph::build(&st) {
            Ok(_) => vec![],
            Err(d) => d.iter().map(|d| d.message.clone()).collect(),
        }
    }

    fn stack(resources: &str) -> String {
        format!("stack: g\nregion: us-east-1\nresources:\n{resources}")
    }

    #[test]
    fn cycles_name_every_resource_in_dependency_order() {
        let three = stack(
            "  a: { type: vpc, cidr: 10.0.0.0/16, depends_on: [b] }\n  b: { type: vpc, cidr: 10.1.0.0/16, depends_on: [c] }\n  c: { type: vpc, cidr: 10.2.0.0/16, depends_on: [a] }\n",
        );
        assert_eq!(errors(&three), ["dependency cycle: a -> b -> c -> a"]);
        // Two security groups letting each other in: a loop of references of the right kinds.
        let refs = stack(
            "  a: { type: security_group, vpc: vpc-1, ingress: [{ port: 1, security_group: '${b.id}' }] }\n  b: { type: security_group, vpc: vpc-1, ingress: [{ port: 1, security_group: '${a.id}' }] }\n",
        );
        assert_eq!(errors(&refs), ["dependency cycle: a -> b -> a"]);
    }

    #[test]
    fn several_cycles_are_reported_in_file_order() {
        // Each is located at its first resource by name: `d` (line 5) comes before `c` (line 7).
        let two = stack(
            "  m: { type: vpc, cidr: 10.0.0.0/16, depends_on: [c] }\n  d: { type: vpc, cidr: 10.1.0.0/16, depends_on: [e] }\n  e: { type: vpc, cidr: 10.2.0.0/16, depends_on: [d] }\n  c: { type: vpc, cidr: 10.3.0.0/16, depends_on: [m] }\n",
        );
        assert_eq!(errors(&two), ["dependency cycle: d -> e -> d", "dependency cycle: c -> m -> c"]);
    }

    #[test]
    fn order_puts_dependencies_first() {
        let text = stack(
            "  s: { type: subnet, vpc: '${v.id}', cidr: 10.0.0.0/24 }\n  v: { type: vpc, cidr: 10.0.0.0/16 }\n  i: { type: internet_gateway, vpc: '${v.id}' }\n",
        );
        let st = load_str(&crate::kinds::KINDS, Source::new("g.yaml", text), &Default::default())
            .unwrap_or_else(|(_, d)| panic!("{d:?}"));
        let order = super::Graph::build(&st).unwrap().order();
        let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
        assert!(pos("v") < pos("s") && pos("v") < pos("i"));
        let dot = super::Graph::build(&st).unwrap().dot();
        assert!(dot.contains("\"v\" -> \"s\""), "{dot}");
    }
}
