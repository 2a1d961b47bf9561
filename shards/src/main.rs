//! `shard-server`: the Frys Redis-protocol server.

use frys_shards::config::{Config, ConfigError};

// glibc malloc spent ~30% of a SET benchmark's CPU (consolidating and
// splitting chunks); mimalloc's per-thread heaps suit thread-per-core.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("plugin") {
        match frys_shards::plugin_cli::run(&args[1..]) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("shard-server plugin: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if args.first().map(String::as_str) == Some("cluster") {
        match frys_shards::cluster_cli::run(&args[1..]) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("shard-server cluster: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let config = match Config::load(std::env::args_os(), |name| std::env::var(name).ok()) {
        Ok(c) => c,
        Err(ConfigError::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("shard-server: {e}");
            std::process::exit(1);
        }
    };
    let level = match config.get("loglevel") {
        Some("debug") => tracing::Level::DEBUG,
        Some("warning") | Some("nothing") => tracing::Level::WARN,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = frys_shards::server::run(config) {
        tracing::error!("{e}");
        eprintln!("shard-server: {e}");
        std::process::exit(1);
    }
}
