//! The shared part of Frys' benchmarks: a server process's CPU time
//! (`proc_cpu`), the JSON results every bench binary can write (`--json`),
//! and what `frys-bench` does with them (summaries, comparisons between
//! runs, the Markdown report and its plots).

pub mod proc_cpu;
pub mod results;
