-- deviceflow server schema, version 2: the purge of expired rows finds them by index.
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX counters_reset_at ON counters (reset_at);
