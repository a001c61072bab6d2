package identity

import (
	"context"
	"fmt"
)

// SyncCompleted is the event of one run of a batch source (a Google sync,
// dry runs and failed runs included): its Fields are the run's report as the
// source writes it ("name=value"; see googlesync.ReportFields). It is kept
// in the tenant's event log like any event, so that every replica, and a
// process started later, reads the last run's report (LastSync).
const SyncCompleted EventType = "sync.completed"

// RecordSync records one SyncCompleted event of source with fields, the
// run's report, in its own transaction, and hands it to Config.Events.
func (d *Directory) RecordSync(ctx context.Context, source Source, fields []string) error {
	err := d.Do(ctx, source, func(ctx context.Context, tx *Tx) error {
		tx.emit(SyncCompleted, "", "", fields...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("identity: record a sync: %w", err)
	}
	return nil
}

// LastSync returns the newest SyncCompleted event of source, and false if
// there is none. It returns an error matching errors.ErrUnsupported if the
// store keeps no event log.
func (d *Directory) LastSync(ctx context.Context, source Source) (Event, bool, error) {
	evs, err := d.SearchEvents(ctx, EventFilter{Type: SyncCompleted, Source: string(source)}, 0, 1)
	if err != nil {
		return Event{}, false, fmt.Errorf("identity: last sync: %w", err)
	}
	if len(evs) == 0 {
		return Event{}, false, nil
	}
	return evs[0], true, nil
}
