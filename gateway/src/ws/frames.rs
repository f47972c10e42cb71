//! Reading a connection: a `Stream` of client frames for its session actor.
//!
//! Bytes are read into one buffer per worker thread; a connection keeps
//! bytes of its own only while a frame (or a fragmented message) is
//! incomplete, and drops them when it is done. Frames are parsed with
//! actix-http's WebSocket parser (masking, lengths, control frames), with
//! the protocol's 64 KiB cap on a frame and on a message.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_http::ws::{CloseReason, OpCode, Parser, ProtocolError};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::conn::Conn;

/// Largest frame (and message) a client may send; a bigger one closes with 1009.
pub const MAX_FRAME: usize = 64 * 1024;

/// Bytes read per `read` call.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// A frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary,
    Ping(Bytes),
    Pong,
    Close(Option<CloseReason>),
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("frame over 64 KiB")]
    TooBig,
    #[error("text frame is not UTF-8")]
    NotUtf8,
    #[error(transparent)]
    Protocol(ProtocolError),
}

impl ReadError {
    /// The close code that answers it.
    pub fn close_code(&self) -> u16 {
        match self {
            ReadError::TooBig => 1009,
            ReadError::NotUtf8 => 1007,
            ReadError::Protocol(_) => 1002,
        }
    }
}

fn protocol(e: ProtocolError) -> ReadError {
    match e {
        ProtocolError::Overflow => ReadError::TooBig,
        e => ReadError::Protocol(e),
    }
}

/// The frames of one connection.
pub struct Frames {
    conn: Rc<Conn>,
}

impl Frames {
    pub fn new(conn: Rc<Conn>) -> Self {
        Self { conn }
    }
}

impl Conn {
    /// The next whole frame among the bytes read so far.
    fn parse_buffered(&self) -> Result<Option<Frame>, ReadError> {
        let mut slot = self.input.borrow_mut();
        let Some(input) = slot.as_mut() else {
            return Ok(None);
        };
        let parsed = Self::parse_input(input);
        if input.buf.is_none() && input.fragments.is_none() {
            *slot = None;
        }
        parsed
    }

    fn parse_input(input: &mut super::conn::Input) -> Result<Option<Frame>, ReadError> {
        loop {
            let Some(buf) = input.buf.as_mut() else {
                return Ok(None);
            };
            let parsed = Parser::parse(buf, true, MAX_FRAME).map_err(protocol)?;
            if buf.is_empty() {
                input.buf = None;
            }
            let Some((fin, op, payload)) = parsed else {
                return Ok(None);
            };
            let payload = payload.unwrap_or_default();
            let message = match op {
                OpCode::Continue => {
                    let Some((_, so_far)) = input.fragments.as_mut() else {
                        return Err(ReadError::Protocol(ProtocolError::ContinuationNotStarted));
                    };
                    if so_far.len() + payload.len() > MAX_FRAME {
                        return Err(ReadError::TooBig);
                    }
                    so_far.extend_from_slice(&payload);
                    if !fin {
                        continue;
                    }
                    input.fragments.take()
                }
                OpCode::Text | OpCode::Binary if !fin => {
                    if input.fragments.is_some() {
                        return Err(ReadError::Protocol(ProtocolError::ContinuationStarted));
                    }
                    input.fragments = Some((op, payload));
                    continue;
                }
                OpCode::Text | OpCode::Binary => Some((op, payload)),
                OpCode::Ping => return Ok(Some(Frame::Ping(payload.freeze()))),
                OpCode::Pong => return Ok(Some(Frame::Pong)),
                OpCode::Close => {
                    let reason = Parser::try_parse_close_payload(&payload).map_err(protocol)?;
                    return Ok(Some(Frame::Close(reason)));
                }
                OpCode::Bad => return Err(ReadError::Protocol(ProtocolError::BadOpCode)),
            };
            return Ok(match message {
                Some((OpCode::Text, bytes)) => Some(Frame::Text(
                    String::from_utf8(bytes.to_vec()).map_err(|_| ReadError::NotUtf8)?,
                )),
                Some(_) => Some(Frame::Binary),
                None => None,
            });
        }
    }

    /// Reads what the socket has; false at its end.
    fn read_some(&self) -> std::io::Result<Option<bool>> {
        READ_BUF.with(|b| {
            let mut chunk = b.borrow_mut();
            match self.socket.try_read(&mut chunk) {
                Ok(0) => Ok(Some(false)),
                Ok(n) => {
                    let mut slot = self.input.borrow_mut();
                    slot.get_or_insert_with(Box::default)
                        .buf
                        .get_or_insert_with(|| BytesMut::with_capacity(n))
                        .extend_from_slice(&chunk[..n]);
                    Ok(Some(true))
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

impl Stream for Frames {
    type Item = Result<Frame, ReadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let conn = &self.conn;
        loop {
            match conn.parse_buffered() {
                Ok(Some(frame)) => {
                    conn.heard();
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            match conn.socket.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(())) => {}
            }
            match conn.read_some() {
                Ok(Some(true)) | Ok(None) => {}
                Ok(Some(false)) | Err(_) => return Poll::Ready(None),
            }
        }
    }
}
