//! Conversations and membership. Every membership change bumps the
//! conversation's `membership_version` and writes its log event to the
//! outbox in the same transaction, so an event exists exactly when the
//! change committed; so does a rename.

use std::collections::HashMap;

use actors_common::api::{Conversation, Participant};
use actors_common::log::{ConversationRenamed, LogEvent, ParticipantRemoved, ParticipantsAdded};
use actors_common::{ConversationId, Message, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::models::{ConversationRow, MessageRow, ParticipantRow, KIND_GROUP, KIND_PRIVATE};
use super::outbox;
use super::schema::{conversations, log_members, participants, user_conversation_counts};

/// Founders named in one `participants_added` record: a group created with
/// 10,000 people is ten records of about 40 KB, not one of 400 KB.
pub const FOUNDERS_PER_RECORD: usize = 1000;

/// Why a membership change or a lookup was refused.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// No such conversation, or the caller is not (or no longer) in it.
    #[error("conversation not found")]
    NotFound,
    /// The target user is not an active participant.
    #[error("participant not found")]
    ParticipantNotFound,
    #[error("private conversations cannot change")]
    PrivateImmutable,
    #[error("already a participant")]
    AlreadyParticipant,
    /// Someone it would add is already in the most conversations a user
    /// may be in (`MAX_CONVERSATIONS_PER_USER`).
    #[error("a participant is in too many conversations")]
    ConversationLimit,
    /// The group holds the most participants a group may have.
    #[error("the group is full")]
    GroupFull,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn now() -> DateTime<Utc> {
    actors_common::time::now_millis()
}

fn added_event(
    conversation: ConversationId,
    users: &[UserId],
    joined_at: DateTime<Utc>,
    version: i64,
    created: bool,
) -> LogEvent {
    LogEvent::ParticipantsAdded(ParticipantsAdded {
        conversation_id: conversation,
        user_ids: users.to_vec(),
        joined_at,
        version,
        created,
    })
}

/// Most conversations one user may be in, and most participants of a group.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    pub conversations_per_user: i64,
    pub participants_per_group: i64,
}

/// Takes a place in one more conversation for each of `users` (each at
/// most once), or none of them when any is at `cap`: their counts are
/// upserted in id order (so two transactions lock them in one order) and
/// only those under the cap come back.
async fn take_places(
    conn: &mut AsyncPgConnection,
    users: &[UserId],
    cap: i64,
) -> Result<(), MembershipError> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = SqlUuid)]
        #[allow(dead_code)]
        user_id: UserId,
    }
    let mut sorted = users.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let taken: Vec<Taken> = diesel::sql_query(
        "INSERT INTO user_conversation_counts (user_id, active) \
         SELECT u, 1 FROM unnest($1) AS u ORDER BY u \
         ON CONFLICT (user_id) DO UPDATE SET active = user_conversation_counts.active + 1 \
         WHERE user_conversation_counts.active < $2 \
         RETURNING user_id",
    )
    .bind::<Array<SqlUuid>, _>(&sorted)
    .bind::<BigInt, _>(cap)
    .load(conn)
    .await?;
    if taken.len() < sorted.len() {
        // The caller's transaction rolls back the places already taken.
        return Err(MembershipError::ConversationLimit);
    }
    Ok(())
}

/// Gives back `user`'s place in one conversation.
async fn give_place(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<()> {
    diesel::update(user_conversation_counts::table.find(user))
        .filter(user_conversation_counts::active.gt(0))
        .set(user_conversation_counts::active.eq(user_conversation_counts::active - 1))
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_participants(
    conn: &mut AsyncPgConnection,
    conversation: &ConversationRow,
    users: &[UserId],
    joined_at: DateTime<Utc>,
    caps: Caps,
) -> Result<(), MembershipError> {
    take_places(conn, users, caps.conversations_per_user).await?;
    let rows: Vec<ParticipantRow> = users
        .iter()
        .map(|u| ParticipantRow {
            conversation_id: conversation.id,
            user_id: *u,
            joined_at,
            left_at: None,
        })
        .collect();
    // Large groups: stay under PostgreSQL's 65,535 bind parameters.
    for chunk in rows.chunks(5000) {
        diesel::insert_into(participants::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for founders in users.chunks(FOUNDERS_PER_RECORD) {
        let event = added_event(
            conversation.id,
            founders,
            joined_at,
            conversation.membership_version,
            true,
        );
        outbox::enqueue(conn, &event).await?;
    }
    Ok(())
}

/// The private conversation of `a` and `b`: the existing one (`false`), or a
/// new one (`true`). The partial unique index on the ordered pair makes
/// concurrent calls converge on one row.
pub async fn create_private(
    conn: &mut AsyncPgConnection,
    a: UserId,
    b: UserId,
    caps: Caps,
) -> Result<(ConversationRow, bool), MembershipError> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    conn.transaction(async |conn| {
        let created_at = now();
        let row = ConversationRow {
            id: ConversationId::new_v7(),
            kind: KIND_PRIVATE.to_owned(),
            name: None,
            private_low: Some(low),
            private_high: Some(high),
            created_at,
            membership_version: 1,
            activity_at: created_at,
            // Counted in by the participants' insert (migration 000004).
            participant_count: 0,
        };
        let inserted: Option<ConversationRow> = diesel::insert_into(conversations::table)
            .values(&row)
            .on_conflict_do_nothing()
            .returning(ConversationRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        match inserted {
            Some(row) => {
                insert_participants(conn, &row, &[low, high], created_at, caps).await?;
                Ok((row, true))
            }
            None => {
                let existing = conversations::table
                    .filter(conversations::kind.eq(KIND_PRIVATE))
                    .filter(conversations::private_low.eq(low))
                    .filter(conversations::private_high.eq(high))
                    .select(ConversationRow::as_select())
                    .first(conn)
                    .await?;
                Ok((existing, false))
            }
        }
    })
    .await
}

/// A new group with `creator` and `members` (duplicates ignored).
pub async fn create_group(
    conn: &mut AsyncPgConnection,
    creator: UserId,
    name: &str,
    members: &[UserId],
    caps: Caps,
) -> Result<ConversationRow, MembershipError> {
    let mut users = vec![creator];
    for &m in members {
        if !users.contains(&m) {
            users.push(m);
        }
    }
    if users.len() as i64 > caps.participants_per_group {
        return Err(MembershipError::GroupFull);
    }
    let name = name.to_owned();
    conn.transaction(async |conn| {
        let created_at = now();
        let row = ConversationRow {
            id: ConversationId::new_v7(),
            kind: KIND_GROUP.to_owned(),
            name: Some(name),
            private_low: None,
            private_high: None,
            created_at,
            membership_version: 1,
            activity_at: created_at,
            participant_count: 0,
        };
        let row = diesel::insert_into(conversations::table)
            .values(&row)
            .returning(ConversationRow::as_returning())
            .get_result(conn)
            .await?;
        insert_participants(conn, &row, &users, created_at, caps).await?;
        Ok(row)
    })
    .await
}

/// `user`'s active membership of `conversation`, with the conversation.
pub async fn membership(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    user: UserId,
) -> QueryResult<Option<(ConversationRow, ParticipantRow)>> {
    conversations::table
        .inner_join(participants::table)
        .filter(conversations::id.eq(conversation))
        .filter(participants::user_id.eq(user))
        .filter(participants::left_at.is_null())
        .select((ConversationRow::as_select(), ParticipantRow::as_select()))
        .first(conn)
        .await
        .optional()
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    conversation_id: ConversationId,
}

/// The ids of `user`'s conversations whose event adding them is in the log
/// (what a gateway joins a session to at connect). A membership whose event
/// is still in the outbox is left out: the gateway applies it when the
/// event arrives, so a message of the user can never precede their arrival.
pub async fn ids_for_user(
    conn: &mut AsyncPgConnection,
    user: UserId,
) -> QueryResult<Vec<ConversationId>> {
    let rows: Vec<IdRow> = diesel::sql_query(
        "SELECT p.conversation_id FROM participants p \
          WHERE p.user_id = $1 AND p.left_at IS NULL \
            AND NOT EXISTS (SELECT 1 FROM outbox o \
                  WHERE o.key = p.conversation_id::text AND o.event = 'participants_added' \
                    AND o.payload->'user_ids' @> jsonb_build_array(p.user_id::text))",
    )
    .bind::<SqlUuid, _>(user)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.conversation_id).collect())
}

/// Whether `user` may send to `conversation` now: `None` when they are not a
/// participant, `Some(false)` while the event adding them is still unsent,
/// `Some(true)` when it is in the log.
pub async fn announced_member(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    user: UserId,
) -> QueryResult<Option<bool>> {
    if membership(conn, conversation, user).await?.is_none() {
        return Ok(None);
    }
    let pending = outbox::add_pending(conn, conversation, user).await?;
    Ok(Some(!pending))
}

/// Participants a list entry names (a group's first, in joining order);
/// `GET /conversations/{id}` names them all.
pub const LISTED_PARTICIPANTS: i64 = 20;

/// How many participants of each conversation a view names.
#[derive(Clone, Copy, Debug)]
enum Named {
    All,
    First(i64),
}

/// Active participants of each conversation, in joining order: all, or
/// the first few of each (read from the `participants_active_by_join`
/// index).
async fn participants_of(
    conn: &mut AsyncPgConnection,
    ids: &[ConversationId],
    named: Named,
) -> QueryResult<HashMap<ConversationId, Vec<Participant>>> {
    let rows: Vec<ParticipantRow> = match named {
        Named::All => {
            participants::table
                .filter(participants::conversation_id.eq_any(ids))
                .filter(participants::left_at.is_null())
                .order((participants::joined_at, participants::user_id))
                .select(ParticipantRow::as_select())
                .load(conn)
                .await?
        }
        Named::First(n) => {
            diesel::sql_query(
                "SELECT p.* FROM unnest($1) AS c(id) \
                 CROSS JOIN LATERAL (SELECT * FROM participants \
                     WHERE conversation_id = c.id AND left_at IS NULL \
                     ORDER BY joined_at, user_id LIMIT $2) p \
                 ORDER BY p.conversation_id, p.joined_at, p.user_id",
            )
            .bind::<Array<SqlUuid>, _>(ids)
            .bind::<BigInt, _>(n)
            .load(conn)
            .await?
        }
    };
    let mut by_conversation: HashMap<ConversationId, Vec<Participant>> = HashMap::new();
    for r in rows {
        by_conversation
            .entry(r.conversation_id)
            .or_default()
            .push(Participant {
                user_id: r.user_id,
                joined_at: r.joined_at,
                names: None,
            });
    }
    Ok(by_conversation)
}

/// From where `viewer` may see each of `ids` (see
/// `messages::visible_after`); conversations whose event adding them ingest
/// has not read yet are absent.
async fn floors(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    ids: &[ConversationId],
) -> QueryResult<HashMap<ConversationId, i64>> {
    let rows: Vec<(ConversationId, i64)> = log_members::table
        .filter(log_members::user_id.eq(viewer))
        .filter(log_members::conversation_id.eq_any(ids))
        .filter(log_members::active.eq(true))
        .select((log_members::conversation_id, log_members::seq))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The newest message of each conversation that its viewer may see (one
/// index probe per conversation, in one statement).
async fn last_messages(
    conn: &mut AsyncPgConnection,
    floors: &HashMap<ConversationId, i64>,
) -> QueryResult<HashMap<ConversationId, Message>> {
    let (ids, floors): (Vec<ConversationId>, Vec<i64>) =
        floors.iter().map(|(c, f)| (*c, *f)).unzip();
    let rows: Vec<MessageRow> = diesel::sql_query(
        "SELECT m.* FROM unnest($1, $2) AS c(id, floor) \
         CROSS JOIN LATERAL (SELECT * FROM messages \
             WHERE conversation_id = c.id AND seq > c.floor \
             ORDER BY seq DESC LIMIT 1) m",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<BigInt>, _>(floors)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.conversation_id, Message::from(r)))
        .collect())
}

/// Builds the views of conversations a viewer belongs to, in the order given.
async fn views(
    conn: &mut AsyncPgConnection,
    memberships: Vec<(ConversationRow, ParticipantRow)>,
    named: Named,
) -> QueryResult<Vec<Conversation>> {
    let ids: Vec<ConversationId> = memberships.iter().map(|(c, _)| c.id).collect();
    let Some(viewer) = <[_]>::first(&memberships).map(|(_, p)| p.user_id) else {
        return Ok(Vec::new());
    };
    let mut people = participants_of(conn, &ids, named).await?;
    let floors = floors(conn, viewer, &ids).await?;
    let mut last = last_messages(conn, &floors).await?;
    Ok(memberships
        .into_iter()
        .map(|(c, _)| {
            let participants = people.remove(&c.id).unwrap_or_default();
            // Naming everyone, the count is theirs (the row was read a
            // statement earlier, and a change may have come between).
            let participant_count = match named {
                Named::All => participants.len() as i64,
                Named::First(_) => c.participant_count,
            };
            Conversation {
                id: c.id,
                participants,
                participant_count,
                last_message: last.remove(&c.id),
                kind: c.api_kind(),
                name: c.name,
                created_at: c.created_at,
            }
        })
        .collect())
}

/// One conversation as `viewer` sees it, with every participant.
pub async fn view(
    conn: &mut AsyncPgConnection,
    conversation: ConversationRow,
    viewer: ParticipantRow,
) -> QueryResult<Conversation> {
    let mut all = views(conn, vec![(conversation, viewer)], Named::All).await?;
    all.pop().ok_or(diesel::result::Error::NotFound)
}

/// Where a page of a conversation list ends: the last entry's sort key.
/// Opaque to clients: `<activity_at in microseconds>.<id>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCursor {
    pub activity_at: DateTime<Utc>,
    pub id: ConversationId,
}

impl ListCursor {
    fn of(row: &ConversationRow) -> Self {
        Self {
            activity_at: row.activity_at,
            id: row.id,
        }
    }

    /// Reads a cursor this module wrote; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let (micros, id) = s.split_once('.')?;
        Some(Self {
            activity_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.activity_at.timestamp_micros(), self.id)
    }
}

/// A page of `user`'s conversations, newest activity first, after `after`
/// (keyset on `(activity_at, id)`), and where the next page starts. Each
/// entry names at most [`LISTED_PARTICIPANTS`] participants.
pub async fn list_page(
    conn: &mut AsyncPgConnection,
    user: UserId,
    after: Option<ListCursor>,
    limit: i64,
) -> QueryResult<(Vec<Conversation>, Option<ListCursor>)> {
    let mut query = conversations::table
        .inner_join(participants::table)
        .filter(participants::user_id.eq(user))
        .filter(participants::left_at.is_null())
        .select((ConversationRow::as_select(), ParticipantRow::as_select()))
        .order((conversations::activity_at.desc(), conversations::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = after {
        query = query.filter(
            conversations::activity_at
                .lt(c.activity_at)
                .or(conversations::activity_at
                    .eq(c.activity_at)
                    .and(conversations::id.lt(c.id))),
        );
    }
    let mut memberships: Vec<(ConversationRow, ParticipantRow)> = query.load(conn).await?;
    let more = memberships.len() as i64 > limit;
    memberships.truncate(usize::try_from(limit).unwrap_or(0));
    let next = more
        .then(|| memberships.last().map(|(c, _)| ListCursor::of(c)))
        .flatten();
    let page = views(conn, memberships, Named::First(LISTED_PARTICIPANTS)).await?;
    Ok((page, next))
}

/// Renames a group `caller` belongs to.
pub async fn rename(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    caller: UserId,
    name: &str,
) -> Result<(), MembershipError> {
    let (row, _) = membership(conn, conversation, caller)
        .await?
        .ok_or(MembershipError::NotFound)?;
    if row.is_private() {
        return Err(MembershipError::PrivateImmutable);
    }
    conn.transaction(async |conn| {
        diesel::update(conversations::table.find(conversation))
            .set(conversations::name.eq(name))
            .execute(conn)
            .await?;
        let event = LogEvent::ConversationRenamed(ConversationRenamed {
            conversation_id: conversation,
            name: name.to_owned(),
        });
        outbox::enqueue(conn, &event).await?;
        Ok(())
    })
    .await
}

/// Locks the conversation row (serialising membership changes of one
/// conversation), checks the caller may change it, and bumps the version.
/// Returns the new version and the participant count before the change
/// (the database keeps it: see migration `000004`).
async fn begin_change(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    caller: UserId,
) -> Result<(i64, i64), MembershipError> {
    let row: Option<ConversationRow> = conversations::table
        .find(conversation)
        .for_update()
        .select(ConversationRow::as_select())
        .first(conn)
        .await
        .optional()?;
    let row = row.ok_or(MembershipError::NotFound)?;
    let caller_active: Option<UserId> = participants::table
        .filter(participants::conversation_id.eq(conversation))
        .filter(participants::user_id.eq(caller))
        .filter(participants::left_at.is_null())
        .select(participants::user_id)
        .first(conn)
        .await
        .optional()?;
    if caller_active.is_none() {
        return Err(MembershipError::NotFound);
    }
    if row.is_private() {
        return Err(MembershipError::PrivateImmutable);
    }
    let version = row.membership_version + 1;
    diesel::update(conversations::table.find(conversation))
        .set(conversations::membership_version.eq(version))
        .execute(conn)
        .await?;
    Ok((version, row.participant_count))
}

/// Adds `user` to a group `caller` belongs to; returns the new participant.
pub async fn add_participant(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    caller: UserId,
    user: UserId,
    caps: Caps,
) -> Result<Participant, MembershipError> {
    conn.transaction(async |conn| {
        let (version, members) = begin_change(conn, conversation, caller).await?;
        let existing: Option<ParticipantRow> = participants::table
            .find((conversation, user))
            .select(ParticipantRow::as_select())
            .first(conn)
            .await
            .optional()?;
        if existing.is_some_and(|p| p.left_at.is_none()) {
            return Err(MembershipError::AlreadyParticipant);
        }
        if members >= caps.participants_per_group {
            return Err(MembershipError::GroupFull);
        }
        take_places(conn, &[user], caps.conversations_per_user).await?;
        let joined_at = now();
        diesel::insert_into(participants::table)
            .values(ParticipantRow {
                conversation_id: conversation,
                user_id: user,
                joined_at,
                left_at: None,
            })
            .on_conflict((participants::conversation_id, participants::user_id))
            .do_update()
            .set((
                participants::joined_at.eq(joined_at),
                participants::left_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await?;
        outbox::enqueue(
            conn,
            &added_event(conversation, &[user], joined_at, version, false),
        )
        .await?;
        Ok(Participant {
            user_id: user,
            joined_at,
            names: None,
        })
    })
    .await
}

/// Removes `user` from a group `caller` belongs to (`user == caller` is leaving).
pub async fn remove_participant(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    caller: UserId,
    user: UserId,
) -> Result<(), MembershipError> {
    conn.transaction(async |conn| {
        let (version, _) = begin_change(conn, conversation, caller).await?;
        let removed = diesel::update(
            participants::table
                .find((conversation, user))
                .filter(participants::left_at.is_null()),
        )
        .set(participants::left_at.eq(Some(now())))
        .execute(conn)
        .await?;
        if removed == 0 {
            return Err(MembershipError::ParticipantNotFound);
        }
        give_place(conn, user).await?;
        let event = LogEvent::ParticipantRemoved(ParticipantRemoved {
            conversation_id: conversation,
            user_id: user,
            version,
        });
        outbox::enqueue(conn, &event).await?;
        Ok(())
    })
    .await
}
