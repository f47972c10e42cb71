//! HTTP routes of message-store.

pub mod conversations;
pub mod messages;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    conversations::configure(cfg);
    messages::configure(cfg);
}
