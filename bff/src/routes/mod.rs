//! HTTP routes of the bff.
//!
//! | module | paths |
//! |---|---|
//! | [`auth`] | `/api/auth/register`, `/api/auth/login`, `/api/auth/logout`, `/api/me`, `/api/ws-token` |
//! | [`users`] | `/api/users`, `/api/users/{id}` |
//! | [`conversations`] | `/api/conversations…` (message-store, with names from user-store) |
//! | [`ui`] | `/`, `/style.css` and the UI's modules (`/app.js`, `/api.js`, `/state.js`, `/socket.js`, `/views.js`): the web UI, compiled in |

pub mod auth;
pub mod conversations;
pub mod ui;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    auth::configure(cfg);
    users::configure(cfg);
    conversations::configure(cfg);
    ui::configure(cfg);
}
