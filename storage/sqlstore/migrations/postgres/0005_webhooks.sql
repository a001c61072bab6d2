-- rollcall schema version 5 for PostgreSQL: webhook endpoints with the state
-- of their delivery, and the delivery log (identity.WebhookStore).

CREATE TABLE rollcall_webhooks (
	tenant          text COLLATE "C" NOT NULL,
	id              text COLLATE "C" NOT NULL,
	url             text COLLATE "C" NOT NULL,
	secrets         text COLLATE "C" NOT NULL,
	event_types     text COLLATE "C" NOT NULL,
	disabled        boolean NOT NULL,
	disabled_reason text COLLATE "C" NOT NULL,
	event_cursor    bigint NOT NULL,
	attempts        bigint NOT NULL,
	next_attempt    bigint NOT NULL,
	failing_since   bigint NOT NULL,
	created         bigint NOT NULL,
	updated         bigint NOT NULL,
	version         bigint NOT NULL,
	CONSTRAINT rollcall_webhooks_pkey PRIMARY KEY (tenant, id)
);

CREATE TABLE rollcall_webhook_deliveries (
	id          bigint GENERATED ALWAYS AS IDENTITY,
	tenant      text COLLATE "C" NOT NULL,
	endpoint_id text COLLATE "C" NOT NULL,
	seq         bigint NOT NULL,
	attempt     bigint NOT NULL,
	time        bigint NOT NULL,
	status      bigint NOT NULL,
	error       text COLLATE "C" NOT NULL,
	latency     bigint NOT NULL,
	answer      bytea NOT NULL,
	CONSTRAINT rollcall_webhook_deliveries_pkey PRIMARY KEY (id),
	CONSTRAINT rollcall_webhook_deliveries_endpoint_fkey FOREIGN KEY (tenant, endpoint_id)
		REFERENCES rollcall_webhooks (tenant, id) ON DELETE CASCADE
);

CREATE INDEX rollcall_webhook_deliveries_endpoint ON rollcall_webhook_deliveries (tenant, endpoint_id, id);
CREATE INDEX rollcall_webhook_deliveries_time ON rollcall_webhook_deliveries (tenant, time);
