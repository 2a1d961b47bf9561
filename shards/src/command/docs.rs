//! COMMAND DOCS replies, built from each spec's [`Doc`]: summary, since,
//! group, complexity, and the arguments tree that redis-cli turns into
//! hints, parsed from the usage text (`key value [NX | XX] [EX seconds]`).

use super::spec::CommandSpec;
use crate::protocol::Reply;

/// The COMMAND DOCS entry of `spec`.
pub fn doc_reply(spec: &CommandSpec, parent: Option<&str>) -> Reply {
    let d = &spec.doc;
    let mut fields = vec![
        (Reply::bulk("summary"), Reply::bulk(d.summary)),
        (Reply::bulk("since"), Reply::bulk(d.since)),
        (Reply::bulk("group"), Reply::bulk(d.group)),
        (Reply::bulk("complexity"), Reply::bulk(d.complexity)),
    ];
    let args = parse_usage(d.args);
    if !args.is_empty() {
        fields.push((
            Reply::bulk("arguments"),
            Reply::Array(args.iter().map(Arg::reply).collect()),
        ));
    }
    if !spec.subcommands.is_empty() {
        let me = match parent {
            Some(p) => format!("{p}|{}", spec.name),
            None => spec.name.to_string(),
        };
        let subs = spec
            .subcommands
            .iter()
            .map(|s| {
                (
                    Reply::bulk(format!("{me}|{}", s.name)),
                    doc_reply(s, Some(&me)),
                )
            })
            .collect();
        fields.push((Reply::bulk("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(fields)
}

#[derive(Debug, Clone, PartialEq)]
struct Arg {
    name: String,
    kind: &'static str,
    token: Option<String>,
    optional: bool,
    multiple: bool,
    children: Vec<Arg>,
}

impl Arg {
    fn reply(&self) -> Reply {
        let mut f = vec![
            (Reply::bulk("name"), Reply::bulk(self.name.clone())),
            (Reply::bulk("type"), Reply::bulk(self.kind)),
        ];
        if self.kind != "oneof" && self.kind != "block" && self.kind != "pure-token" {
            f.push((Reply::bulk("display_text"), Reply::bulk(self.name.clone())));
        }
        if let Some(t) = &self.token {
            f.push((Reply::bulk("token"), Reply::bulk(t.clone())));
        }
        let mut flags = Vec::new();
        if self.optional {
            flags.push(Reply::simple("optional"));
        }
        if self.multiple {
            flags.push(Reply::simple("multiple"));
        }
        if !flags.is_empty() {
            f.push((Reply::bulk("flags"), Reply::Array(flags)));
        }
        if !self.children.is_empty() {
            f.push((
                Reply::bulk("arguments"),
                Reply::Array(self.children.iter().map(Arg::reply).collect()),
            ));
        }
        Reply::Map(f)
    }
}

fn tokenize(usage: &str) -> Vec<String> {
    usage
        .replace('[', " [ ")
        .replace(']', " ] ")
        .replace('<', " < ")
        .replace('>', " > ")
        .replace('|', " | ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn kind_of(name: &str) -> &'static str {
    const INTS: &[&str] = &[
        "seconds",
        "milliseconds",
        "count",
        "index",
        "offset",
        "start",
        "end",
        "increment",
        "decrement",
        "db",
        "index1",
        "index2",
        "destination-db",
        "min-match-len",
        "client-id",
        "cursor",
        "protover",
    ];
    if name.contains("key") || name == "source" || name == "destination" {
        "key"
    } else if name == "pattern" {
        "pattern"
    } else if name.starts_with("unix-time") {
        "unix-time"
    } else if INTS.contains(&name) {
        "integer"
    } else {
        "string"
    }
}

fn is_token(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_uppercase()) && !word.chars().any(|c| c.is_ascii_lowercase())
}

/// Parses a sequence until `]`, `|` or the end.
fn parse_seq(tokens: &[String], pos: &mut usize) -> Vec<Arg> {
    let mut out: Vec<Arg> = Vec::new();
    while let Some(t) = tokens.get(*pos) {
        match t.as_str() {
            "]" | ">" | "|" => break,
            "<" => {
                // `<A | B>`: a required choice.
                *pos += 1;
                let mut alts = vec![parse_seq(tokens, pos)];
                while tokens.get(*pos).map(String::as_str) == Some("|") {
                    *pos += 1;
                    alts.push(parse_seq(tokens, pos));
                }
                *pos += 1; // '>'
                out.push(Arg {
                    name: alts
                        .iter()
                        .map(|a| one(a.clone()).name)
                        .collect::<Vec<_>>()
                        .join("-"),
                    kind: "oneof",
                    token: None,
                    optional: false,
                    multiple: false,
                    children: alts.into_iter().map(one).collect(),
                });
            }
            "..." => {
                if let Some(last) = out.last_mut() {
                    last.multiple = true;
                }
                *pos += 1;
            }
            "[" => {
                *pos += 1;
                let mut alts = vec![parse_seq(tokens, pos)];
                while tokens.get(*pos).map(String::as_str) == Some("|") {
                    *pos += 1;
                    alts.push(parse_seq(tokens, pos));
                }
                *pos += 1; // ']'
                let repeat = tokens.get(*pos).map(String::as_str) == Some("...");
                // `x [x ...]`: the previous argument repeats.
                if alts.len() == 1 && alts[0].iter().all(|a| !a.optional) {
                    let names: Vec<&str> = alts[0].iter().map(|a| a.name.as_str()).collect();
                    let tail: Vec<&str> = out
                        .iter()
                        .rev()
                        .take(names.len())
                        .rev()
                        .map(|a| a.name.as_str())
                        .collect();
                    if !names.is_empty()
                        && names == tail
                        && alts[0].last().is_some_and(|a| a.multiple)
                    {
                        let n = names.len();
                        if n == 1 {
                            if let Some(last) = out.last_mut() {
                                last.multiple = true;
                            }
                        } else {
                            let start = out.len() - n;
                            let children: Vec<Arg> = out.drain(start..).collect();
                            out.push(Arg {
                                name: "data".into(),
                                kind: "block",
                                token: None,
                                optional: false,
                                multiple: true,
                                children,
                            });
                        }
                        continue;
                    }
                }
                let mut arg = if alts.len() == 1 {
                    one(alts.remove(0))
                } else {
                    Arg {
                        name: alts
                            .iter()
                            .map(|a| one(a.clone()).name)
                            .collect::<Vec<_>>()
                            .join("-"),
                        kind: "oneof",
                        token: None,
                        optional: false,
                        multiple: false,
                        children: alts.into_iter().map(one).collect(),
                    }
                };
                arg.optional = true;
                if repeat {
                    arg.multiple = true;
                    *pos += 1;
                }
                out.push(arg);
            }
            word if is_token(word) => {
                *pos += 1;
                let next = tokens.get(*pos).filter(|n| {
                    !is_token(n) && !["[", "]", "<", ">", "|", "..."].contains(&n.as_str())
                });
                match next {
                    Some(value) => {
                        *pos += 1;
                        out.push(Arg {
                            name: value.clone(),
                            kind: kind_of(value),
                            token: Some(word.to_string()),
                            optional: false,
                            multiple: false,
                            children: vec![],
                        });
                    }
                    None => out.push(Arg {
                        name: word.to_ascii_lowercase(),
                        kind: "pure-token",
                        token: Some(word.to_string()),
                        optional: false,
                        multiple: false,
                        children: vec![],
                    }),
                }
            }
            word => {
                *pos += 1;
                out.push(Arg {
                    name: word.to_string(),
                    kind: kind_of(word),
                    token: None,
                    optional: false,
                    multiple: false,
                    children: vec![],
                });
            }
        }
    }
    out
}

/// One argument from a sequence: itself if alone, else a block.
fn one(mut seq: Vec<Arg>) -> Arg {
    if seq.len() == 1 {
        return seq.remove(0);
    }
    Arg {
        name: seq
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
            .join("-"),
        kind: "block",
        token: None,
        optional: false,
        multiple: false,
        children: seq,
    }
}

fn parse_usage(usage: &str) -> Vec<Arg> {
    let tokens = tokenize(usage);
    let mut pos = 0;
    parse_seq(&tokens, &mut pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_text_becomes_an_argument_tree() {
        let args =
            parse_usage("key value [NX | XX] [GET] [EX seconds | PX milliseconds | KEEPTTL]");
        assert_eq!(args.len(), 5);
        assert_eq!((args[0].name.as_str(), args[0].kind), ("key", "key"));
        assert_eq!(args[2].kind, "oneof");
        assert!(args[2].optional);
        assert_eq!(args[2].children[0].token.as_deref(), Some("NX"));
        assert_eq!(args[3].kind, "pure-token");
        let ex = &args[4].children[0];
        assert_eq!(
            (ex.name.as_str(), ex.kind, ex.token.as_deref()),
            ("seconds", "integer", Some("EX"))
        );
    }

    #[test]
    fn repeated_arguments_are_marked_multiple() {
        let args = parse_usage("key [key ...]");
        assert_eq!(args.len(), 1);
        assert!(args[0].multiple);
        let pairs = parse_usage("key value [key value ...]");
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].kind, "block");
        assert!(pairs[0].multiple);
    }

    #[test]
    fn angle_brackets_are_a_required_choice() {
        let args = parse_usage("numkeys key [key ...] <MIN | MAX> [COUNT count]");
        assert_eq!(args.len(), 4);
        assert_eq!((args[2].kind, args[2].optional), ("oneof", false));
        assert_eq!(args[2].children[1].token.as_deref(), Some("MAX"));
        assert_eq!(args[3].token.as_deref(), Some("COUNT"));
    }
}
