//! Connection and server commands against the real binary.

mod common;

use common::*;
use redis::Value;

#[test]
fn ping_answers_pong_and_echoes_its_argument() {
    let s = Server::start(1);
    let mut c = s.conn();
    assert_eq!(qa::<String>(&mut c, &["PING"]), "PONG");
    assert_eq!(qa::<String>(&mut c, &["PING", "hi"]), "hi");
    assert_eq!(err(&mut c, &["PING", "a", "b"]), arity_error("ping"));
}
