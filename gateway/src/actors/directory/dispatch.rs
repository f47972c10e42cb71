//! `Dispatch`: what happens when a Kafka record arrives, after the consumer
//! parsed it (`crate::inbound`) and the ledger let it through. Records come
//! in each conversation's log order, so a membership change takes effect
//! exactly between the messages before and after it.
//!
//! | record | what the Directory does |
//! |---|---|
//! | a message | its Conversation hands the frame to every member session here |
//! | users joined | each one's sessions join (the Conversation starts if needed), the roster lets them send; founders of a new conversation each hear of their own arrival, a user added later is announced to everyone |
//! | a user left | everyone (them included) hears it, then their sessions leave and the roster stops their sends |
//! | a rename | every member hears `conversation_updated` |
//! | typing | every member but the typist hears it |
//! | a session ended | its sockets here close with 1008 (`sign_out`) |

use std::time::Instant;

use actix::prelude::*;
use actors_common::frames::ServerFrame;
use actors_common::{ConversationId, UserId};
use bytestring::ByteString;

use super::Directory;
use crate::actors::conversation::Broadcast;
use crate::inbound::{Inbound, Position};
use crate::inspect::stats::Handled;
use crate::inspect::trace::Trace;

/// A message the ledger accepted, with its frame serialised once.
#[derive(Debug)]
pub struct Delivery {
    pub at: Position,
    pub conversation_id: ConversationId,
    pub frame: ByteString,
    /// When the consumer received the record.
    pub received: Instant,
    /// Its hops so far, when it is traced.
    pub trace: Option<Box<Trace>>,
}

/// A record for the Directory to act on.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum Dispatch {
    /// A new message, to deliver.
    Message(Delivery),
    /// Anything else that was read: membership, renames, typing.
    Event(Inbound),
}

fn frame(f: ServerFrame) -> ByteString {
    f.to_json().into()
}

impl Handler<Dispatch> for Directory {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::DirectoryDispatch);
        let at = match msg {
            Dispatch::Message(d) => {
                let at = d.at;
                let trace = d.trace.map(|mut t| {
                    t.hops
                        .push(self.metrics.tracer.hop("directory", "directory"));
                    t
                });
                let broadcast = Broadcast {
                    frame: d.frame,
                    received: Some(d.received),
                    except: None,
                    trace,
                };
                self.broadcast(d.conversation_id, broadcast, ctx);
                Some(at)
            }
            Dispatch::Event(inbound) => {
                let at = inbound.position();
                self.apply(inbound, ctx);
                at
            }
        };
        if let Some(at) = at {
            self.roster.applied_through(at.partition, at.seq);
        }
    }
}

impl Directory {
    fn apply(&mut self, inbound: Inbound, ctx: &mut Context<Self>) {
        match inbound {
            Inbound::Posted { .. } => {} // messages come as `Dispatch::Message`
            Inbound::Joined {
                conversation_id,
                user_ids,
                created,
                version,
                ..
            } => {
                for user in user_ids {
                    self.joined(version, conversation_id, user, created, ctx);
                }
            }
            Inbound::Left {
                conversation_id,
                user_id,
                version,
                ..
            } => self.left(version, conversation_id, user_id, ctx),
            Inbound::Renamed {
                conversation_id,
                name,
                ..
            } => {
                let frame = frame(ServerFrame::ConversationUpdated {
                    conversation_id,
                    name,
                });
                let broadcast = Broadcast {
                    frame,
                    received: None,
                    except: None,
                    trace: None,
                };
                self.broadcast(conversation_id, broadcast, ctx);
            }
            Inbound::Typing {
                conversation_id,
                user_id,
            } => {
                let frame = frame(ServerFrame::Typing {
                    conversation_id,
                    user_id,
                });
                let broadcast = Broadcast {
                    frame,
                    received: None,
                    except: Some(user_id),
                    trace: None,
                };
                self.broadcast(conversation_id, broadcast, ctx);
            }
            Inbound::SessionEnded {
                user_id,
                sid,
                replayed_at_ms,
            } => {
                // A live end is as old as its arrival; a replayed one is aged
                // by its record's time (the writer's clock: only a gateway
                // that started within the memory is exposed to skew).
                let age = replayed_at_ms.map_or(0, |at| {
                    actors_common::time::now_millis().timestamp_millis() - at
                });
                let age = std::time::Duration::from_millis(u64::try_from(age).unwrap_or(0));
                self.session_ended(user_id, &sid, age)
            }
        }
    }

    fn joined(
        &mut self,
        seq: i64,
        conversation: ConversationId,
        user: UserId,
        created: bool,
        ctx: &mut Context<Self>,
    ) {
        if !self.is_newer(conversation, user, seq, true) {
            log::debug!(
                "directory: repeated add conversation_id={conversation} user_id={user} seq={seq}"
            );
            return;
        }
        // Every session of the user joins at once: live from this point of
        // the log on.
        let sessions = self.sessions_of(user);
        if !sessions.is_empty() {
            self.roster.add(user, conversation);
        }
        for &session_id in &sessions {
            self.join(session_id, conversation, ctx);
        }
        let notice = frame(ServerFrame::ParticipantAdded {
            conversation_id: conversation,
            user_id: user,
        });
        if created {
            // The conversation was just created with all its members: each
            // hears of their own arrival (and loads the conversation, with
            // everyone in it). Announcing every founder to every other
            // would be N² frames for a group created with N people.
            for session_id in sessions {
                self.deliver_to_session(session_id, notice.clone());
            }
        } else {
            let broadcast = Broadcast {
                frame: notice,
                received: None,
                except: None,
                trace: None,
            };
            self.broadcast(conversation, broadcast, ctx);
        }
    }

    fn left(
        &mut self,
        seq: i64,
        conversation: ConversationId,
        user: UserId,
        ctx: &mut Context<Self>,
    ) {
        if !self.is_newer(conversation, user, seq, false) {
            log::debug!(
                "directory: repeated removal conversation_id={conversation} user_id={user} seq={seq}"
            );
            return;
        }
        // Announce first, so the removed user's sessions hear it too; the
        // Leave messages that follow stop their delivery at once.
        let broadcast = Broadcast {
            frame: frame(ServerFrame::ParticipantRemoved {
                conversation_id: conversation,
                user_id: user,
            }),
            received: None,
            except: None,
            trace: None,
        };
        self.broadcast(conversation, broadcast, ctx);
        self.roster.remove(user, conversation);
        for session_id in self.sessions_of(user) {
            self.leave(session_id, conversation, ctx);
        }
    }
}
