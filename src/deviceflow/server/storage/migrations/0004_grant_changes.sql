-- deviceflow server schema, version 4: the log of device grants that stopped being pending
-- (approved, denied, revoked, ended early), by change number, so each instance can drop the
-- flows it answers from memory (grant/_pacing.py). Numbers are given in commit order, under
-- the writer's lock, and only the newest few thousand are kept.
CREATE TABLE grant_changes (
    seq         BIGINT PRIMARY KEY,
    device_hash TEXT NOT NULL
);
