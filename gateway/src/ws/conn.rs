//! `Conn`: one upgraded connection's socket, shared on its worker thread by
//! the session actor (which reads it and answers the client) and the
//! thread's Hub (which writes deliveries to it).
//!
//! Nothing is buffered while a connection is idle. A frame is written
//! straight to the socket (header and payload in one `writev`, the payload
//! being the very bytes every member shares); only what the socket cannot
//! take at once is queued, and a flush task exists only while something is
//! queued. Reading keeps bytes only while a frame is incomplete
//! (`ws::frames`). A connection whose queue reaches `OUTBOUND_QUEUE` frames
//! is a slow consumer: [`Conn::send`] says so, and the caller closes it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_http::ws::OpCode;
use actors_common::UserId;
use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

use crate::actors::SessionId;

/// How long a connection closed for not reading (or for silence) has to
/// take its close frame before it is shut down regardless.
const CLOSE_DEADLINE: Duration = Duration::from_secs(2);

/// A frame for the socket, encoded: its header, then its payload.
struct OutFrame {
    header: [u8; 10],
    header_len: usize,
    payload: Bytes,
}

impl OutFrame {
    fn new(op: OpCode, payload: Bytes) -> Self {
        let mut header = [0u8; 10];
        header[0] = 0x80 | u8::from(op);
        let len = payload.len();
        let header_len = if len < 126 {
            header[1] = len as u8;
            2
        } else if len <= usize::from(u16::MAX) {
            header[1] = 126;
            header[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        } else {
            header[1] = 127;
            header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        };
        Self {
            header,
            header_len,
            payload,
        }
    }

    fn len(&self) -> usize {
        self.header_len + self.payload.len()
    }

    /// The unwritten part, as slices for `writev`.
    fn slices(&self, written: usize) -> [IoSlice<'_>; 2] {
        let header = &self.header[..self.header_len];
        if written < header.len() {
            [
                IoSlice::new(&header[written..]),
                IoSlice::new(&self.payload),
            ]
        } else {
            [
                IoSlice::new(&[]),
                IoSlice::new(&self.payload[written - header.len()..]),
            ]
        }
    }
}

/// What waits for the socket: only while the client reads slower than it
/// is written to, a close is on its way, or the session is not open yet.
struct Out {
    frames: VecDeque<OutFrame>,
    /// Bytes of the front frame already written.
    written: usize,
    /// Shut the connection down once the queue is out (a close was queued).
    close_after: bool,
    /// A flush task is writing the queue out (it drops `Out` when done).
    flushing: bool,
}

impl Out {
    fn new(frame: OutFrame, written: usize) -> Box<Self> {
        Box::new(Self {
            frames: VecDeque::from([frame]),
            written,
            close_after: false,
            flushing: false,
        })
    }
}

/// What reading keeps between reads: bytes of an incomplete frame, and a
/// message whose frames are still coming. Exists only while either does.
#[derive(Default)]
pub(crate) struct Input {
    pub buf: Option<BytesMut>,
    pub fragments: Option<(OpCode, BytesMut)>,
}

/// The queue is full: the client does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowConsumer;

/// See the module docs. Every field is paid per connection: what is only
/// sometimes needed is boxed and absent otherwise.
pub struct Conn {
    pub session_id: SessionId,
    pub user: UserId,
    pub(crate) socket: TcpStream,
    out: RefCell<Option<Box<Out>>>,
    pub(crate) input: RefCell<Option<Box<Input>>>,
    last_heard: Cell<Instant>,
    closing: Cell<bool>,
    /// Until the session's first frame (`ready`) everything else waits.
    held: Cell<bool>,
    /// Frames written or queued (for the inspector; fits beside the flags).
    frames_out: Cell<u32>,
    /// Frames a connection may have queued before it is a slow consumer.
    limit: usize,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("session_id", &self.session_id)
            .finish()
    }
}

impl Conn {
    /// A connection just upgraded; `leftover` are bytes the client sent
    /// right after its handshake.
    pub fn new(
        session_id: SessionId,
        user: UserId,
        socket: TcpStream,
        leftover: BytesMut,
        limit: usize,
    ) -> Rc<Self> {
        let input = (!leftover.is_empty()).then(|| {
            Box::new(Input {
                buf: Some(leftover),
                fragments: None,
            })
        });
        Rc::new(Self {
            session_id,
            user,
            socket,
            out: RefCell::new(None),
            input: RefCell::new(input),
            last_heard: Cell::new(Instant::now()),
            closing: Cell::new(false),
            held: Cell::new(true),
            frames_out: Cell::new(0),
            limit,
        })
    }

    pub fn heard(&self) {
        self.last_heard.set(Instant::now());
    }

    pub fn last_heard(&self) -> Instant {
        self.last_heard.get()
    }

    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// Frames written or queued so far.
    pub fn frames_out(&self) -> u32 {
        self.frames_out.get()
    }

    /// Frames waiting for the socket.
    pub fn queued(&self) -> usize {
        self.out.borrow().as_ref().map_or(0, |o| o.frames.len())
    }

    /// Writes a text frame (see [`Conn::send`]).
    pub fn text(self: &Rc<Self>, payload: Bytes) -> Result<(), SlowConsumer> {
        self.send(OpCode::Text, payload)
    }

    /// Writes a frame now if the socket takes it, else queues it;
    /// `SlowConsumer` when the queue is full (the frame is dropped).
    pub fn send(self: &Rc<Self>, op: OpCode, payload: Bytes) -> Result<(), SlowConsumer> {
        if self.closing.get() {
            return Ok(());
        }
        let frame = OutFrame::new(op, payload);
        let mut out = self.out.borrow_mut();
        if out.as_ref().is_some_and(|o| o.frames.len() >= self.limit) {
            return Err(SlowConsumer);
        }
        self.frames_out.set(self.frames_out.get().wrapping_add(1));
        if let Some(out) = out.as_mut() {
            out.frames.push_back(frame);
            return Ok(());
        }
        if self.held.get() {
            *out = Some(Out::new(frame, 0));
            return Ok(());
        }
        let written = match self.write(&frame, 0) {
            Ok(n) if n == frame.len() => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => {
                // The peer is gone; reading will tell the session.
                self.closing.set(true);
                return Ok(());
            }
        };
        self.start_flush(out.insert(Out::new(frame, written)));
        Ok(())
    }

    /// The session's first frame (`ready`): it goes out before everything
    /// that was written to the connection while it was being opened.
    pub fn open(self: &Rc<Self>, first: Bytes) -> Result<(), SlowConsumer> {
        if !self.held.replace(false) {
            return self.text(first);
        }
        let mut out = self.out.borrow_mut();
        let Some(held) = out.as_mut() else {
            drop(out);
            return self.text(first);
        };
        held.frames.push_front(OutFrame::new(OpCode::Text, first));
        self.start_flush(held);
        Ok(())
    }

    fn start_flush(self: &Rc<Self>, out: &mut Out) {
        if !out.flushing {
            out.flushing = true;
            actix_rt::spawn(flush(self.clone()));
        }
    }

    fn write(&self, frame: &OutFrame, written: usize) -> io::Result<usize> {
        let slices = frame.slices(written);
        self.socket.try_write_vectored(&slices).map(|n| written + n)
    }

    /// Closes with `code`. With `drain` (a goodbye to a client that reads:
    /// shutdown, its own close) what is queued goes first and the close
    /// frame after it. Without (a slow consumer, an idle one) the queue is
    /// dropped (but for a frame half written, which must not be cut), the
    /// close frame goes next, and the connection is shut down when it is
    /// out or after `CLOSE_DEADLINE`, whichever is first: the client learns
    /// why when it reads again, and its slot is free within seconds.
    pub fn close(self: &Rc<Self>, code: u16, reason: &str, drain: bool) {
        if self.closing.replace(true) {
            return;
        }
        let mut payload = Vec::with_capacity(2 + reason.len());
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
        let frame = OutFrame::new(OpCode::Close, Bytes::from(payload));
        if !drain {
            let conn = self.clone();
            actix_rt::spawn(async move {
                tokio::time::sleep(CLOSE_DEADLINE).await;
                conn.shutdown();
            });
        }
        // Closed before it opened: what waited was never the client's.
        let never_opened = self.held.replace(false);
        let mut slot = self.out.borrow_mut();
        let out = match slot.as_mut() {
            Some(out) => {
                if !drain || never_opened {
                    let keep = usize::from(out.written > 0);
                    out.frames.truncate(keep);
                }
                out.frames.push_back(frame);
                out
            }
            None => slot.insert(Out::new(frame, 0)),
        };
        out.close_after = true;
        self.start_flush(out);
    }

    /// Ends the connection both ways now: a flush waiting for room wakes
    /// and ends, the session's reading sees the end.
    pub fn shutdown(&self) {
        self.closing.set(true);
        let _ = socket2::SockRef::from(&self.socket).shutdown(Shutdown::Both);
    }
}

/// Writes the queue out as the socket takes it, then drops it; ends then
/// (or when the connection is gone).
async fn flush(conn: Rc<Conn>) {
    loop {
        let ready = conn.socket.writable().await;
        let mut slot = conn.out.borrow_mut();
        let Some(out) = slot.as_mut() else {
            return;
        };
        if ready.is_err() {
            *slot = None;
            conn.closing.set(true);
            return;
        }
        while let Some(front) = out.frames.front() {
            match conn.write(front, out.written) {
                Ok(n) if n == front.len() => {
                    out.frames.pop_front();
                    out.written = 0;
                }
                Ok(n) => out.written = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    out.frames.clear();
                    conn.closing.set(true);
                    break;
                }
            }
        }
        if out.frames.is_empty() {
            let close = out.close_after;
            *slot = None;
            drop(slot);
            if close {
                conn.shutdown();
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_the_opcode_and_length() {
        let short = OutFrame::new(OpCode::Text, Bytes::from_static(b"hi"));
        assert_eq!(&short.header[..short.header_len], &[0x81, 2]);
        let medium = OutFrame::new(OpCode::Text, Bytes::from(vec![b'x'; 300]));
        assert_eq!(&medium.header[..medium.header_len], &[0x81, 126, 1, 44]);
        let long = OutFrame::new(OpCode::Binary, Bytes::from(vec![0; 70_000]));
        assert_eq!(long.header_len, 10);
        assert_eq!(long.header[1], 127);
        assert_eq!(long.len(), 70_010);
        let close = OutFrame::new(OpCode::Close, Bytes::from_static(&[3, 232]));
        assert_eq!(close.header[0], 0x88);
        // Written in two goes: what is left starts where the first ended.
        let parts = medium.slices(3);
        assert_eq!((parts[0].len(), parts[1].len()), (1, 300));
        let parts = medium.slices(10);
        assert_eq!((parts[0].len(), parts[1].len()), (0, 294));
    }
}
