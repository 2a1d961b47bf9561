//! A small blocking RESP2 client for the operator tool: one connection,
//! commands sent as multibulk, replies read whole (pipelines supported).
//! Replies are bounded: a bulk or array longer than the limits below is
//! refused, so a wrong peer cannot make the tool allocate without bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Longest bulk string accepted in a reply.
const MAX_BULK: usize = 64 << 20;
/// Most elements accepted in one array reply.
const MAX_ARRAY: usize = 1 << 20;
/// How long one reply may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+...`
    Simple(String),
    /// `-...`
    Error(String),
    /// `:...`
    Int(i64),
    /// `$...` (`None`: the null bulk)
    Bulk(Option<Vec<u8>>),
    /// `*...` (`None`: the null array)
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The reply as text (simple or bulk string), or why not.
    pub fn text(self) -> Result<String, String> {
        match self {
            Value::Simple(s) => Ok(s),
            Value::Bulk(Some(b)) => String::from_utf8(b).map_err(|_| "reply is not UTF-8".into()),
            Value::Error(e) => Err(e),
            other => Err(format!("unexpected reply {other:?}")),
        }
    }

    /// The reply as an integer, or why not.
    pub fn int(self) -> Result<i64, String> {
        match self {
            Value::Int(n) => Ok(n),
            Value::Error(e) => Err(e),
            other => Err(format!("unexpected reply {other:?}")),
        }
    }
}

/// One connection to a node.
pub struct Client {
    addr: String,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects to `addr` (`host:port`), authenticating when `auth` names
    /// a user and password (or a password for `default`).
    pub fn connect(addr: &str, auth: &Auth) -> Result<Client, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        let setup = |s: &TcpStream| {
            s.set_read_timeout(Some(TIMEOUT))?;
            s.set_write_timeout(Some(TIMEOUT))?;
            s.set_nodelay(true)
        };
        setup(&stream).map_err(|e| format!("{addr}: {e}"))?;
        let reader = stream.try_clone().map_err(|e| format!("{addr}: {e}"))?;
        let mut client = Client {
            addr: addr.to_string(),
            writer: stream,
            reader: BufReader::new(reader),
        };
        if let Some(pass) = &auth.password {
            let reply = match &auth.user {
                Some(user) => client.call(&["AUTH", user, pass])?,
                None => client.call(&["AUTH", pass])?,
            };
            reply.text()?;
        }
        Ok(client)
    }

    /// The node's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one command and reads its reply (an error reply is a
    /// `Value::Error`, not an `Err`).
    pub fn call(&mut self, args: &[&str]) -> Result<Value, String> {
        let mut replies = self.pipeline(&[args.iter().map(|a| a.to_string()).collect()])?;
        replies.pop().ok_or_else(|| "no reply".to_string())
    }

    /// Sends every command, then reads every reply, in order.
    pub fn pipeline(&mut self, commands: &[Vec<String>]) -> Result<Vec<Value>, String> {
        let raw: Vec<Vec<Vec<u8>>> = commands
            .iter()
            .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
            .collect();
        self.pipeline_raw(&raw)
    }

    /// [`Client::pipeline`] with binary arguments (keys and values).
    pub fn pipeline_raw(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        for args in commands {
            out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in args {
                out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                out.extend_from_slice(a);
                out.extend_from_slice(b"\r\n");
            }
        }
        self.writer
            .write_all(&out)
            .map_err(|e| format!("{}: {e}", self.addr))?;
        (0..commands.len())
            .map(|_| read_value(&mut self.reader).map_err(|e| format!("{}: {e}", self.addr)))
            .collect()
    }

    /// [`Client::call`] with binary arguments.
    pub fn call_raw(&mut self, args: &[&[u8]]) -> Result<Value, String> {
        let mut replies = self.pipeline_raw(&[args.iter().map(|a| a.to_vec()).collect()])?;
        replies.pop().ok_or_else(|| "no reply".to_string())
    }
}

/// Credentials for AUTH.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// ACL user (`None`: the default user).
    pub user: Option<String>,
    /// Password (`None`: no AUTH).
    pub password: Option<String>,
}

fn read_line(r: &mut impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_BULK as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("connection closed".to_string());
    }
    if !line.ends_with(b"\r\n") {
        return Err("malformed reply line".to_string());
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| "reply line is not UTF-8".to_string())
}

fn read_value(r: &mut impl BufRead) -> Result<Value, String> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    let len = || -> Result<i64, String> {
        rest.parse::<i64>()
            .map_err(|_| format!("bad length in reply '{line}'"))
    };
    match kind {
        "+" => Ok(Value::Simple(rest.to_string())),
        "-" => Ok(Value::Error(rest.to_string())),
        ":" => Ok(Value::Int(len()?)),
        "$" => {
            let n = len()?;
            if n < 0 {
                return Ok(Value::Bulk(None));
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > MAX_BULK {
                return Err(format!("bulk reply of {n} bytes is too long"));
            }
            let mut buf = vec![0u8; n + 2];
            r.read_exact(&mut buf).map_err(|e| e.to_string())?;
            buf.truncate(n);
            Ok(Value::Bulk(Some(buf)))
        }
        "*" => {
            let n = len()?;
            if n < 0 {
                return Ok(Value::Array(None));
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > MAX_ARRAY {
                return Err(format!("array reply of {n} elements is too long"));
            }
            let items = (0..n).map(|_| read_value(r)).collect::<Result<_, _>>()?;
            Ok(Value::Array(Some(items)))
        }
        _ => Err(format!("unknown reply '{line}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_whole_and_bounded() {
        let mut r: &[u8] = b"+OK\r\n-ERR no\r\n:5\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n";
        assert_eq!(read_value(&mut r).unwrap(), Value::Simple("OK".into()));
        assert_eq!(read_value(&mut r).unwrap(), Value::Error("ERR no".into()));
        assert_eq!(read_value(&mut r).unwrap(), Value::Int(5));
        assert_eq!(
            read_value(&mut r).unwrap(),
            Value::Bulk(Some(b"abc".to_vec()))
        );
        assert_eq!(read_value(&mut r).unwrap(), Value::Bulk(None));
        assert_eq!(
            read_value(&mut r).unwrap(),
            Value::Array(Some(vec![Value::Int(1), Value::Bulk(Some(Vec::new()))]))
        );
        assert!(read_value(&mut r).unwrap_err().contains("closed"));
        let mut big: &[u8] = b"*99999999999\r\n";
        assert!(read_value(&mut big).unwrap_err().contains("too long"));
        let mut bad: &[u8] = b"?x\r\n";
        assert!(read_value(&mut bad).is_err());
    }
}
