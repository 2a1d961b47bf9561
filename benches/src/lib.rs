//! The shared part of Frys' benchmarks: the JSON results every bench binary
//! can write (`--json`), and what `frys-bench` does with them (summaries,
//! comparisons between runs, the Markdown report and its plots).

pub mod results;
