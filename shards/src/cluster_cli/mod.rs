//! `shard-server cluster ...`: the operator tool that makes shard-server
//! processes (started with `cluster-enabled yes`) one Redis Cluster. It
//! talks to the nodes over the Redis protocol only: `CLUSTER MYID` for
//! their ids, `CLUSTER NODES` and `CLUSTERX VERSION` to read the map, and
//! `CLUSTERX SETNODES <map> <epoch>` to push a new map to every node.
//!
//! ```text
//! shard-server cluster create <host:port>...              slots split evenly, epoch 1
//! shard-server cluster show <host:port>                   the map one node has
//! shard-server cluster add-node <new host:port> <host:port of a member>
//! shard-server cluster move-slots <host:port> <slots> <to host:port>
//! shard-server cluster rebalance <host:port>              even shares, fewest moves
//! ```
//!
//! `move-slots` and `rebalance` move slots with their keys while clients
//! keep working ([`migrate`]: in steps of a few slots, the slots are
//! opened MIGRATING / IMPORTING, the keys copied one at a time, then a map
//! giving them to the receiver is pushed, one epoch per step), printing
//! one progress line per slot on stderr. An interrupted move is finished
//! by running the same command again. A push that fails on a node leaves
//! the others on the new epoch; running the same command again pushes the
//! same map (the same epoch with the same map is accepted again), so it
//! converges.

mod client;
mod migrate;
pub mod plan;

use client::{Auth, Client};

use crate::cluster::slot_map::parse_range;
use crate::cluster::{Node, SlotMap, SlotRange};

fn cli() -> clap::Command {
    let addr = |name: &'static str, help: &'static str| {
        clap::Arg::new(name)
            .value_name("HOST:PORT")
            .required(true)
            .help(help)
    };
    clap::Command::new("shard-server cluster")
        .about("Make shard-server processes (cluster-enabled yes) one Redis Cluster: the slot map is pushed to every node")
        .subcommand_required(true)
        .arg(
            clap::Arg::new("user")
                .long("user")
                .global(true)
                .help("ACL user to AUTH as (with --password)"),
        )
        .arg(
            clap::Arg::new("password")
                .long("password")
                .global(true)
                .help("Password to AUTH with"),
        )
        .subcommand(
            clap::Command::new("create")
                .about("Split the 16384 slots evenly over the nodes and push the map (epoch 1)")
                .arg(
                    clap::Arg::new("nodes")
                        .value_name("HOST:PORT")
                        .required(true)
                        .num_args(1..)
                        .help("Every node of the new cluster"),
                )
                .arg(
                    clap::Arg::new("force")
                        .long("force")
                        .action(clap::ArgAction::SetTrue)
                        .help("Replace the maps the nodes already have"),
                ),
        )
        .subcommand(
            clap::Command::new("show")
                .about("Print the map a node has")
                .arg(addr("node", "Any node")),
        )
        .subcommand(
            clap::Command::new("add-node")
                .about("Add a node owning no slots (then move-slots or rebalance)")
                .arg(addr("new", "The node to add"))
                .arg(addr("member", "Any node of the cluster")),
        )
        .subcommand(
            clap::Command::new("move-slots")
                .about("Give slots to a node, moving their keys while clients keep working (run it again to finish an interrupted move)")
                .arg(addr("member", "Any node of the cluster"))
                .arg(
                    clap::Arg::new("slots")
                        .value_name("SLOTS")
                        .required(true)
                        .help("Slots, e.g. 0-99,200"),
                )
                .arg(addr("to", "The node that receives them")),
        )
        .subcommand(
            clap::Command::new("rebalance")
                .about("Give every node its even share, moving as few slots as possible (with their keys)")
                .arg(addr("member", "Any node of the cluster")),
        )
}

/// Runs the subcommand of `args` (after `cluster`); the text to print on
/// success, or the error.
pub fn run(args: &[String]) -> Result<String, String> {
    let matches = cli()
        .try_get_matches_from(std::iter::once("cluster".to_string()).chain(args.iter().cloned()))
        .map_err(|e| e.render().to_string())?;
    let auth = Auth {
        user: matches.get_one::<String>("user").cloned(),
        password: matches.get_one::<String>("password").cloned(),
    };
    let one =
        |m: &clap::ArgMatches, name: &str| m.get_one::<String>(name).cloned().unwrap_or_default();
    match matches.subcommand() {
        Some(("create", m)) => {
            let nodes: Vec<String> = m
                .get_many::<String>("nodes")
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            create(&nodes, m.get_flag("force"), &auth)
        }
        Some(("show", m)) => show(&one(m, "node"), &auth),
        Some(("add-node", m)) => add_node(&one(m, "new"), &one(m, "member"), &auth),
        Some(("move-slots", m)) => {
            let slots = one(m, "slots")
                .split(',')
                .map(parse_range)
                .collect::<Result<Vec<_>, _>>()?;
            move_slots(&one(m, "member"), &slots, &one(m, "to"), &auth)
        }
        Some(("rebalance", m)) => rebalance(&one(m, "member"), &auth),
        _ => {
            let mut c = cli();
            Err(c.render_usage().to_string())
        }
    }
}

/// `host:port` split; the port must be a number.
fn split_addr(addr: &str) -> Result<(String, u16), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("'{addr}' is not HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("'{addr}': bad port"))?;
    Ok((host.to_string(), port))
}

fn my_id(c: &mut Client) -> Result<String, String> {
    c.call(&["CLUSTER", "MYID"])?
        .text()
        .map_err(|e| format!("{}: CLUSTER MYID: {e}", c.addr()))
}

fn version(c: &mut Client) -> Result<u64, String> {
    let v = c
        .call(&["CLUSTERX", "VERSION"])?
        .text()
        .map_err(|e| format!("{}: CLUSTERX VERSION: {e}", c.addr()))?;
    v.parse()
        .map_err(|_| format!("{}: CLUSTERX VERSION answered '{v}'", c.addr()))
}

/// The map a node has, read from CLUSTER NODES and CLUSTERX VERSION.
fn read_map(addr: &str, auth: &Auth) -> Result<SlotMap, String> {
    let mut c = Client::connect(addr, auth)?;
    let epoch = version(&mut c)?;
    if epoch == 0 {
        return Err(format!("{addr} has no slot map yet (use create)"));
    }
    let text = c
        .call(&["CLUSTER", "NODES"])?
        .text()
        .map_err(|e| format!("{addr}: CLUSTER NODES: {e}"))?;
    let mut nodes = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 8 {
            return Err(format!("{addr}: unexpected CLUSTER NODES line '{line}'"));
        }
        let hostport = f[1].split('@').next().unwrap_or("");
        let (host, port) = split_addr(hostport)?;
        // This node, when the map does not name it, has no address.
        if host.is_empty() {
            continue;
        }
        let slots = f[8..]
            .iter()
            .filter(|s| !s.starts_with('['))
            .map(|s| parse_range(s))
            .collect::<Result<Vec<_>, _>>()?;
        nodes.push(Node {
            id: f[0].to_string(),
            host,
            port,
            slots,
        });
    }
    SlotMap::new(epoch, nodes).map_err(|e| format!("{addr}: {e}"))
}

/// Pushes `map` to each of its nodes.
fn push(map: &SlotMap, force: bool, auth: &Auth) -> Result<(), String> {
    push_to(map, map.nodes(), force, auth)
}

/// Moves `moved` (with their keys) from their owners in `old` to their
/// owners in `next`, pushing a map per step; the map reached (`next`'s
/// assignment, at the last step's epoch); see [`migrate`].
fn push_move(old: &SlotMap, next: &SlotMap, moved: &[u16], auth: &Auth) -> Result<SlotMap, String> {
    migrate::move_live(old, next, moved, auth, &mut |line| eprintln!("{line}"))
}

/// Pushes `map` to `nodes`.
pub(super) fn push_to(
    map: &SlotMap,
    nodes: &[Node],
    force: bool,
    auth: &Auth,
) -> Result<(), String> {
    let text = map.to_text();
    let epoch = map.epoch().to_string();
    let mut failed = Vec::new();
    for n in nodes {
        let addr = n.addr();
        let mut args = vec!["CLUSTERX", "SETNODES", text.as_str(), epoch.as_str()];
        if force {
            args.push("FORCE");
        }
        let result = Client::connect(&addr, auth).and_then(|mut c| c.call(&args)?.text());
        if let Err(e) = result {
            failed.push(format!("{addr}: {e}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the map of epoch {} was not installed on every node ({}); run the command again once they answer",
            map.epoch(),
            failed.join("; ")
        ))
    }
}

fn create(addrs: &[String], force: bool, auth: &Auth) -> Result<String, String> {
    let mut nodes = Vec::new();
    for addr in addrs {
        let (host, port) = split_addr(addr)?;
        let mut c = Client::connect(addr, auth)?;
        let id = my_id(&mut c)?;
        let v = version(&mut c)?;
        if v > 0 && !force {
            return Err(format!(
                "{addr} already has a slot map (version {v}); use add-node, or --force to replace it"
            ));
        }
        nodes.push((id, host, port));
    }
    let map = plan::create(&nodes, 1)?;
    push(&map, force, auth)?;
    Ok(describe(&map))
}

fn show(addr: &str, auth: &Auth) -> Result<String, String> {
    Ok(describe(&read_map(addr, auth)?))
}

fn add_node(new: &str, member: &str, auth: &Auth) -> Result<String, String> {
    let map = read_map(member, auth)?;
    let (host, port) = split_addr(new)?;
    let mut c = Client::connect(new, auth)?;
    let id = my_id(&mut c)?;
    let next = plan::add_node(&map, &id, &host, port)?;
    push(&next, false, auth)?;
    Ok(describe(&next))
}

fn move_slots(member: &str, slots: &[SlotRange], to: &str, auth: &Auth) -> Result<String, String> {
    let map = read_map(member, auth)?;
    let (host, port) = split_addr(to)?;
    let target = map
        .nodes()
        .iter()
        .find(|n| n.host == host && n.port == port)
        .ok_or_else(|| format!("{to} is not in the cluster (add-node first)"))?
        .id
        .clone();
    let (next, moved) = plan::move_slots(&map, slots, &target)?;
    let next = push_move(&map, &next, &moved, auth)?;
    Ok(format!("moved {} slots\n{}", moved.len(), describe(&next)))
}

fn rebalance(member: &str, auth: &Auth) -> Result<String, String> {
    let map = read_map(member, auth)?;
    let (next, moved) = plan::rebalance(&map)?;
    if moved.is_empty() && next.assigned_slots() == map.assigned_slots() {
        return Ok(format!("balanced already\n{}", describe(&map)));
    }
    let next = push_move(&map, &next, &moved, auth)?;
    Ok(format!("moved {} slots\n{}", moved.len(), describe(&next)))
}

/// The map for people: a summary line, then one line per node.
fn describe(map: &SlotMap) -> String {
    let mut out = format!(
        "epoch {}, {} nodes, {} of 16384 slots assigned",
        map.epoch(),
        map.nodes().len(),
        map.assigned_slots()
    );
    for n in map.nodes() {
        let ranges: Vec<String> = n.slots.iter().map(SlotRange::to_string).collect();
        out.push_str(&format!(
            "\n{} {} {} slots {}",
            n.id,
            n.addr(),
            n.slot_count(),
            ranges.join(" ")
        ));
    }
    out
}
