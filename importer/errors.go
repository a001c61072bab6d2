package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Sentinel errors, checked with errors.Is; the typed errors below match them.
var (
	// ErrUnknownFormat: the content is none of CSV, TXT, ODS, XLS and XLSX, or
	// the file name's extension names another format than the content.
	ErrUnknownFormat = errors.New("unknown file format")
	// ErrUnreadable: the file has a known format but cannot be read (it is
	// damaged, encrypted, has no email column...).
	ErrUnreadable = errors.New("file cannot be read")
	// ErrTooLarge: the file is over one of the Config's limits.
	ErrTooLarge = errors.New("file too large")
	// ErrThreshold: the import would deactivate more users than allowed.
	ErrThreshold = errors.New("too many users to deactivate")
)

// FileError is a problem with the file as a whole. It matches ErrUnreadable,
// or ErrUnknownFormat when Unknown is set. Its message is safe to show to
// the uploader.
type FileError struct {
	// Format is the detected format ("csv", "xlsx", "ods", "xls"), if any.
	Format  string
	Message string
	Unknown bool
	Err     error
}

func (e *FileError) Error() string {
	msg := e.Message
	if e.Format != "" {
		msg = e.Format + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreadable) or ErrUnknownFormat true.
func (e *FileError) Is(target error) bool {
	if e.Unknown {
		return target == ErrUnknownFormat
	}
	return target == ErrUnreadable
}

func unreadable(format, msg string, err error) error {
	return &FileError{Format: format, Message: msg, Err: err}
}

// LimitError says which limit of the Config a file went over. It matches
// ErrTooLarge.
type LimitError struct {
	// What names the limit: "file size", "rows", "uncompressed size",
	// "columns", "row size", "cells", "length of one XML text or attribute
	// (bytes)", "attributes of an XML element", "repeats of a row with
	// values (number-rows-repeated)", "shared strings", "shared-strings
	// text (bytes)", or the size of an XLSX part ("xl/styles.xml size").
	What  string
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("the file is over the limit of %d for its %s", e.Limit, e.What)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// ThresholdError refuses an import that would deactivate more than the
// Config's Threshold of the tenant's active users. It matches ErrThreshold.
type ThresholdError struct {
	Deactivate, Active int
	Threshold          float64
}

func (e *ThresholdError) Error() string {
	return fmt.Sprintf("the import would deactivate %d of %d active users, more than %g%%; set force to do it anyway",
		e.Deactivate, e.Active, e.Threshold*100)
}

// Is makes errors.Is(err, ErrThreshold) true.
func (e *ThresholdError) Is(target error) bool { return target == ErrThreshold }

// ErrorMessages holds the messages of the rows with errors: row number ->
// column -> messages. It marshals to JSON with the rows in numeric order.
type ErrorMessages map[int]map[string][]string

func (m ErrorMessages) add(row int, column, msg string) {
	cols := m[row]
	if cols == nil {
		cols = map[string][]string{}
		m[row] = cols
	}
	cols[column] = append(cols[column], msg)
}

// MarshalJSON writes the rows in numeric order.
func (m ErrorMessages) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, row := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(row), 10)
		b = append(b, '"', ':')
		cols, err := json.Marshal(m[row])
		if err != nil {
			return nil, err
		}
		b = append(b, cols...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *ErrorMessages) UnmarshalJSON(b []byte) error {
	var raw map[string]map[string][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = make(ErrorMessages, len(raw))
	for k, v := range raw {
		row, err := strconv.Atoi(k)
		if err != nil {
			return fmt.Errorf("importer: error messages: row %q: %w", k, err)
		}
		(*m)[row] = v
	}
	return nil
}
