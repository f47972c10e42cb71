-- Chat user profiles. The id is the bff account id and every token's `sub`.
-- Usernames are [a-z0-9_.-]: the "C" collation orders them bytewise, which
-- lets the unique index serve prefix search (LIKE 'ab%') and keyset paging.
CREATE TABLE users (
    id           uuid        PRIMARY KEY,
    username     text        COLLATE "C" NOT NULL,
    display_name text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username)
);
