-- rollcall schema version 5 for SQLite: webhook endpoints with the state of
-- their delivery, and the delivery log (identity.WebhookStore).

CREATE TABLE rollcall_webhooks (
	tenant          TEXT    NOT NULL,
	id              TEXT    NOT NULL,
	url             TEXT    NOT NULL,
	secrets         TEXT    NOT NULL,
	event_types     TEXT    NOT NULL,
	disabled        INTEGER NOT NULL,
	disabled_reason TEXT    NOT NULL,
	event_cursor    INTEGER NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt    INTEGER NOT NULL,
	failing_since   INTEGER NOT NULL,
	created         INTEGER NOT NULL,
	updated         INTEGER NOT NULL,
	version         INTEGER NOT NULL,
	PRIMARY KEY (tenant, id)
) STRICT;

CREATE TABLE rollcall_webhook_deliveries (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant      TEXT    NOT NULL,
	endpoint_id TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	attempt     INTEGER NOT NULL,
	time        INTEGER NOT NULL,
	status      INTEGER NOT NULL,
	error       TEXT    NOT NULL,
	latency     INTEGER NOT NULL,
	answer      BLOB    NOT NULL,
	FOREIGN KEY (tenant, endpoint_id) REFERENCES rollcall_webhooks (tenant, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX rollcall_webhook_deliveries_endpoint ON rollcall_webhook_deliveries (tenant, endpoint_id, id);
CREATE INDEX rollcall_webhook_deliveries_time ON rollcall_webhook_deliveries (tenant, time);
