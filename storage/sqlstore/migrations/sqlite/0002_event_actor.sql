-- rollcall schema version 2 for SQLite: who made a change, when the host
-- says (identity.Event.Actor); '' for the events before.

ALTER TABLE rollcall_events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
