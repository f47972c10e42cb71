//! Id newtypes, so a user id can never be passed where a conversation id belongs.
//!
//! On the wire (JSON, Kafka keys, URLs) each is a plain UUID string. With
//! the `diesel` feature each is also a PostgreSQL `uuid` to diesel, so a
//! model field or a query parameter can be a `ConversationId` and the
//! compiler refuses a `UserId` in its place.

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "diesel")]
use diesel::{
    deserialize::FromSql,
    pg::{Pg, PgValue},
    serialize::{Output, ToSql},
    sql_types,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "diesel", derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow))]
        #[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Uuid))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        #[cfg(feature = "diesel")]
        impl ToSql<sql_types::Uuid, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
                <Uuid as ToSql<sql_types::Uuid, Pg>>::to_sql(&self.0, out)
            }
        }

        #[cfg(feature = "diesel")]
        impl FromSql<sql_types::Uuid, Pg> for $name {
            fn from_sql(value: PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <Uuid as FromSql<sql_types::Uuid, Pg>>::from_sql(value).map(Self)
            }
        }

        impl $name {
            /// The inner UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person: the bff account, the user-store profile, every token's `sub`.
    UserId
);
id_type!(
    /// A private or group conversation; also the Kafka key of its records.
    ConversationId
);
id_type!(
    /// A message. Always a UUIDv7, so ids sort by creation time.
    MessageId
);

impl UserId {
    /// A fresh random user id (UUIDv4).
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl ConversationId {
    /// A fresh conversation id (UUIDv7: recent conversations cluster in the index).
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl MessageId {
    /// A fresh message id: UUIDv7, time-ordered.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    /// The smallest UUIDv7 of millisecond `unix_ms`: every message created at
    /// or after that millisecond has an id `>=` it. History turns a
    /// `joined_at` guard into an index range with it.
    pub fn floor_at_millis(unix_ms: i64) -> Self {
        let ms = u64::try_from(unix_ms.max(0)).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        bytes[6] = 0x70; // version 7
        bytes[8] = 0x80; // RFC 4122 variant
        Self(Uuid::from_bytes(bytes))
    }

    /// The Unix millisecond encoded in a UUIDv7 (`None` for other versions).
    pub fn unix_millis(&self) -> Option<i64> {
        let (secs, nanos) = self.0.get_timestamp()?.to_unix();
        i64::try_from(secs)
            .ok()?
            .checked_mul(1000)?
            .checked_add(i64::from(nanos / 1_000_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_plain_uuid_strings() {
        let raw = "0192f0c1-7b7e-7cc0-8f00-3a1d2b4c5d6e";
        let id: ConversationId = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
        assert_eq!(id.to_string(), raw);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{raw}\""));
    }

    #[test]
    fn message_ids_are_v7_and_time_ordered() {
        let a = MessageId::new_v7();
        let b = MessageId::new_v7();
        assert_eq!(a.0.get_version_num(), 7);
        assert!(a < b, "later v7 ids sort after earlier ones");
    }

    #[test]
    fn floor_sorts_before_every_id_of_its_millisecond() {
        let id = MessageId::new_v7();
        let ms = id.unix_millis().unwrap();
        let floor = MessageId::floor_at_millis(ms);
        assert!(floor <= id);
        assert_eq!(floor.unix_millis(), Some(ms));
        assert!(MessageId::floor_at_millis(ms + 1) > id);
        assert_eq!(floor.0.get_version_num(), 7);
    }
}
