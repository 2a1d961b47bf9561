//! The sans-IO RESP protocol layer: bytes in, requests out; replies in,
//! bytes out. No sockets, no clocks.
