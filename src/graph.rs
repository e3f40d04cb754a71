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
        if diags.is_empty() { Ok(g) } else { Err(diags) }
    }

    /// One loop through a strongly connected component, starting at its first resource by name.
    fn cycle_path(&self, scc: &[NodeIndex]) -> Vec<String> {
        let start = *scc.iter().min_by_key(|n| &self.dag[**n]).expect("non-empty");
        let mut path = vec![start];
        let mut seen = vec![start];
        let mut cur = start;
        loop {
            let mut nexts: Vec<NodeIndex> = self.dag.neighbors(cur).filter(|n| scc.contains(n)).collect();
            nexts.sort_by_key(|n| self.dag[*n].clone());
            if nexts.contains(&start) {
                break;
            }
            let Some(next) = nexts.into_iter().find(|n| !seen.contains(n)) else { break };
            path.push(next);
            seen.push(next);
            cur = next;
        }
        path.into_iter().map(|n| self.dag[n].clone()).collect()
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
