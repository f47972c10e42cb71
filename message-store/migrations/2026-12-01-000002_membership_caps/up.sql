-- How many conversations each user is in now, kept in the same transaction
-- as every participant row that joins or leaves, so a cap on it is exact
-- under concurrency (the row is locked by the upsert that takes a place).
CREATE TABLE user_conversation_counts (
    user_id uuid   PRIMARY KEY,
    active  bigint NOT NULL CHECK (active >= 0)
);
INSERT INTO user_conversation_counts (user_id, active)
SELECT user_id, count(*) FROM participants WHERE left_at IS NULL GROUP BY user_id;
