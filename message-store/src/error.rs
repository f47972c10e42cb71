//! Domain errors to HTTP answers, in one place.

use service_kit::HttpError;

use crate::db::conversations::MembershipError;

impl From<MembershipError> for HttpError {
    fn from(e: MembershipError) -> Self {
        match e {
            // Whether the conversation exists is not told to outsiders.
            MembershipError::NotFound => HttpError::not_found("no such conversation"),
            MembershipError::ParticipantNotFound => HttpError::not_found("no such participant"),
            MembershipError::PrivateImmutable => HttpError::bad_request(
                "private_conversation",
                "private conversations cannot change",
            ),
            MembershipError::AlreadyParticipant => {
                HttpError::conflict("already_participant", "already a participant")
            }
            // Which participant is at the cap is not said: that is theirs.
            MembershipError::ConversationLimit => HttpError::conflict(
                "conversation_limit",
                "someone it would add is in the most conversations a user may be in",
            ),
            MembershipError::GroupFull => HttpError::conflict(
                "group_full",
                "the group has the most participants a group may have",
            ),
            MembershipError::Db(e) => e.into(),
        }
    }
}
