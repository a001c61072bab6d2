package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/rollcall/rollcall/identity"
)

// errorStatuses is the one table from the core's errors to HTTP statuses and
// the message a client sees; the error's own text goes to the log only. Any
// error it does not list is a 500 whose detail is logged and never sent.
//
// ErrDeactivated is a 409: the request conflicts with the user's state (an
// invitation for a deactivated user), it is not a matter of permission.
var errorStatuses = []struct {
	err     error
	status  int
	message string
}{
	{identity.ErrNotFound, http.StatusNotFound, "not found"},
	{identity.ErrConflict, http.StatusConflict, "conflict"},
	{identity.ErrInvalid, http.StatusUnprocessableEntity, "invalid input"},
	{identity.ErrNotAllowed, http.StatusForbidden, "not allowed"},
	{identity.ErrDeactivated, http.StatusConflict, "the user is deactivated"},
	{identity.ErrVersionMismatch, http.StatusPreconditionFailed, "the user has changed: read it again"},
	{errors.ErrUnsupported, http.StatusNotImplemented, "not supported by this store"},
}

// errorJSON is the body of every error response.
type errorJSON struct {
	Error  string      `json:"error"`
	Fields []fieldJSON `json:"fields,omitempty"`
}

// fieldJSON is one problem with one field of the request.
type fieldJSON struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// requestError is a problem with the request itself, found before the core
// sees it: malformed JSON, a bad query parameter, a body too large. Its
// message is safe to show.
type requestError struct {
	status  int
	message string
	fields  []fieldJSON
}

func (e *requestError) Error() string { return e.message }

func badRequest(message string, fields ...fieldJSON) error {
	return &requestError{status: http.StatusBadRequest, message: message, fields: fields}
}

// jsonField returns the API's name of a domain field: the same name, but for
// the camelCase of externalId.
func jsonField(field string) string {
	if field == "externalID" {
		return "externalId"
	}
	return field
}

// writeError answers a request that failed: the status and message from
// errorStatuses, the fields of a *ValidationError or *ConflictError. A 5xx is
// logged with its detail at Error level, the others at Debug.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, body := http.StatusInternalServerError, errorJSON{Error: "internal error"}
	if re, ok := errors.AsType[*requestError](err); ok {
		status, body = re.status, errorJSON{Error: re.message, Fields: re.fields}
	} else {
		for _, e := range errorStatuses {
			if errors.Is(err, e.err) {
				status, body.Error = e.status, e.message
				break
			}
		}
		if ve, ok := errors.AsType[*identity.ValidationError](err); ok {
			for _, f := range ve.Fields {
				body.Fields = append(body.Fields, fieldJSON{Field: jsonField(f.Field), Message: f.Message})
			}
		}
		if ce, ok := errors.AsType[*identity.ConflictError](err); ok {
			body.Error = fmt.Sprintf("another %s has this %s", ce.Resource, jsonField(ce.Field))
			body.Fields = []fieldJSON{{Field: jsonField(ce.Field), Message: "is taken"}}
		}
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	logger.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	writeJSON(w, status, body)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client is gone if this fails
}

// maxBody caps a request body: 1 MiB.
const maxBody = 1 << 20

// decodeJSON reads the request body, one JSON object of at most maxBody bytes
// with no field v does not have, into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &requestError{status: http.StatusUnsupportedMediaType, message: "Content-Type must be application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return bodyError(err)
	}
	// Text that is not UTF-8 is refused, naming the field, rather than
	// stored as U+FFFD.
	if ve, ok := errors.AsType[*identity.ValidationError](identity.CheckJSONText(body)); ok {
		f := ve.Fields[0]
		return badRequest("a field is not valid UTF-8", fieldJSON{Field: f.Field, Message: f.Message})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			if be := bodyError(err); be.(*requestError).status != http.StatusBadRequest {
				return be
			}
		}
		return badRequest("the body must hold one JSON object and nothing after it")
	}
	return nil
}

// bodyError turns an error of json.Decoder into a *requestError that tells
// the client what is wrong with the body and no more.
func bodyError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &requestError{status: http.StatusRequestEntityTooLarge, message: "the body is larger than 1 MiB"}
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return badRequest(fmt.Sprintf("malformed JSON at byte %d", se.Offset))
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return badRequest("the body must be a JSON object")
		}
		return badRequest("a field has the wrong type", fieldJSON{Field: te.Field, Message: "must be " + jsonType(te.Type.String())})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		return badRequest("unknown field "+name, fieldJSON{Field: field, Message: "is not a field of this request"})
	}
	if errors.Is(err, io.EOF) {
		return badRequest("the body is empty: want a JSON object")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("malformed JSON: the body ends too soon")
	}
	return badRequest("malformed JSON")
}

// jsonType names a Go type as a JSON type.
func jsonType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	case strings.HasPrefix(goType, "int"):
		return "a number"
	}
	return "of another type"
}
