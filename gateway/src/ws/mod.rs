//! The WebSocket layer under the session actors, on actix-http directly.
//!
//! actix-web-actors keeps, for every connection, the HTTP/1 dispatcher
//! with its read and write buffers, a codec, a frame encoder buffer and the
//! actor's own write buffer, alive from the upgrade to the close: tens of
//! KiB per connection that hold nothing while it is idle. Here the upgrade
//! hands the socket over ([`handshake`]), the dispatcher ends, and what a
//! connection keeps is its [`conn::Conn`]: the socket, an output queue that
//! is empty unless the client reads slower than it is written to, and input
//! bytes only while a frame is incomplete ([`frames`]).
//! BENCHMARKS.md has the memory and throughput measured both ways.
//!
//! | module | holds |
//! |---|---|
//! | [`handshake`] | `GET /ws`: path, origin, token, capacity and WebSocket headers checked; 101, or the refusal's JSON body; the session started on this worker thread |
//! | [`conn`] | `Conn`: a connection's socket, written to directly (`writev`), queued only on `WouldBlock`; closes |
//! | [`frames`] | the `Stream` of client frames a session actor reads (actix-http's parser, 64 KiB cap) |

pub mod conn;
pub mod frames;
pub mod handshake;
