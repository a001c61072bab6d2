package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rollcall/rollcall/groups"
)

// EnvAdminToken names the environment variable that holds the admin API's
// bearer token. It overrides Config.AdminToken.
const EnvAdminToken = "ROLLCALL_ADMIN_TOKEN"

// Config is the server's configuration file, in JSON (flag -config). Every
// field may be left out: its zero value means the default written beside it.
// An unknown field is an error, so a misspelt setting never falls back to a
// default unseen. Secrets may come from the environment instead of the file;
// the environment wins.
//
// A source added later (SCIM, SAML, OAuth, Google, import) adds its section
// here as one more field, with its own documented defaults, and one mount call
// in (*server).routes.
type Config struct {
	// Tenant names the one tenant this server serves: letters, digits, ".",
	// "_" and "-", at most 64. Default "default".
	Tenant string `json:"tenant"`

	// AdminToken is the bearer token of the admin API (/api/v1), at least 16
	// characters. The environment variable ROLLCALL_ADMIN_TOKEN overrides it.
	// Default: none, and the server generates a random one at start and
	// prints it once to stderr.
	AdminToken string `json:"adminToken"`

	// LogLevel is "debug", "info", "warn" or "error". Default "info".
	LogLevel string `json:"logLevel"`

	// HTTP holds the HTTP server's limits.
	HTTP HTTPConfig `json:"http"`

	// Directory configures the identity core of the tenant.
	Directory DirectoryConfig `json:"directory"`
}

// HTTPConfig holds the HTTP server's timeouts, each a Go duration string such
// as "5s" or "2m".
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers. Default "5s".
	ReadHeaderTimeout Duration `json:"readHeaderTimeout"`
	// ReadTimeout bounds reading a whole request. Default "30s".
	ReadTimeout Duration `json:"readTimeout"`
	// WriteTimeout bounds writing a response. Default "60s".
	WriteTimeout Duration `json:"writeTimeout"`
	// IdleTimeout bounds an idle keep-alive connection. Default "2m".
	IdleTimeout Duration `json:"idleTimeout"`
	// ShutdownTimeout bounds the wait for requests in flight on SIGINT or
	// SIGTERM. Default "10s".
	ShutdownTimeout Duration `json:"shutdownTimeout"`
}

// DirectoryConfig configures identity.Config for the tenant.
type DirectoryConfig struct {
	// InvitationTTL is how long an invitation token stays valid, as a Go
	// duration. Default "168h" (7 days).
	InvitationTTL Duration `json:"invitationTTL"`
	// SSOOnly turns password login off for the tenant. Default false.
	SSOOnly bool `json:"ssoOnly"`
	// GroupLimit caps the groups one sign-in or sync may carry for a user;
	// more is an error, never a silent cut. Default 100.
	GroupLimit int `json:"groupLimit"`
}

// Duration is a time.Duration written in JSON as a Go duration string ("10s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"10s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"10s\" or \"2m\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// defaults returns the configuration of a server started with no file.
func defaults() Config {
	return Config{
		Tenant:   "default",
		LogLevel: "info",
		HTTP: HTTPConfig{
			ReadHeaderTimeout: Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(60 * time.Second),
			IdleTimeout:       Duration(2 * time.Minute),
			ShutdownTimeout:   Duration(10 * time.Second),
		},
		Directory: DirectoryConfig{
			InvitationTTL: Duration(7 * 24 * time.Hour),
			GroupLimit:    groups.DefaultLimit,
		},
	}
}

// loadConfig reads the configuration file at path (none if path is empty),
// applies the environment through getenv and the defaults, and validates the
// result. Its errors name the file and the field.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	var cfg Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := parseConfig(b, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if tok := getenv(EnvAdminToken); tok != "" {
		cfg.AdminToken = tok
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		if path == "" {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig decodes one JSON object into cfg. Unknown fields and values of
// the wrong type are errors that give the field's path ("http.readTimeout").
func parseConfig(b []byte, cfg *Config) error {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return jsonSyntaxError(b, err)
	}
	if dec.More() {
		return errors.New("want one JSON object, found more after it")
	}
	if _, ok := raw.(map[string]any); !ok {
		return errors.New("want a JSON object")
	}
	if err := checkFields(raw, reflect.TypeFor[Config](), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(b, cfg); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return fmt.Errorf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return err
	}
	return nil
}

// jsonSyntaxError says where a file stops being JSON.
func jsonSyntaxError(b []byte, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Errorf("line %d: invalid JSON: %v", line, se)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("empty file: want a JSON object")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// checkFields walks a decoded JSON value along the Go type it is meant for and
// reports the first key that names no field (matched exactly, unlike
// encoding/json) and the first Duration that does not parse, by path.
func checkFields(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[Duration]() {
		var d Duration
		b, _ := json.Marshal(v)
		if err := d.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("field %q: %w", path, err)
		}
		return nil
	}
	obj, ok := v.(map[string]any)
	if t.Kind() != reflect.Struct || !ok {
		return nil // encoding/json checks the other types
	}
	known := make(map[string]reflect.Type, t.NumField())
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		known[name] = f.Type
		names = append(names, name)
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		p := key
		if path != "" {
			p = path + "." + key
		}
		ft, ok := known[key]
		if !ok {
			for _, n := range names {
				if strings.EqualFold(n, key) {
					return fmt.Errorf("unknown field %q (did you mean %q?)", p, n)
				}
			}
			return fmt.Errorf("unknown field %q (known here: %s)", p, strings.Join(names, ", "))
		}
		if err := checkFields(obj[key], ft, p); err != nil {
			return err
		}
	}
	return nil
}

// setDefaults fills every zero field with its default.
func (c *Config) setDefaults() {
	def := defaults()
	set := func(dst *Duration, v Duration) {
		if *dst == 0 {
			*dst = v
		}
	}
	if c.Tenant == "" {
		c.Tenant = def.Tenant
	}
	if c.LogLevel == "" {
		c.LogLevel = def.LogLevel
	}
	set(&c.HTTP.ReadHeaderTimeout, def.HTTP.ReadHeaderTimeout)
	set(&c.HTTP.ReadTimeout, def.HTTP.ReadTimeout)
	set(&c.HTTP.WriteTimeout, def.HTTP.WriteTimeout)
	set(&c.HTTP.IdleTimeout, def.HTTP.IdleTimeout)
	set(&c.HTTP.ShutdownTimeout, def.HTTP.ShutdownTimeout)
	set(&c.Directory.InvitationTTL, def.Directory.InvitationTTL)
	if c.Directory.GroupLimit == 0 {
		c.Directory.GroupLimit = def.Directory.GroupLimit
	}
}

var tenantName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// minAdminToken is the shortest admin token accepted.
const minAdminToken = 16

// validate checks a configuration with its defaults applied.
func (c *Config) validate() error {
	if !tenantName.MatchString(c.Tenant) {
		return fmt.Errorf("field \"tenant\": %q must be 1 to 64 letters, digits, '.', '_' or '-'", c.Tenant)
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminToken {
		return fmt.Errorf("field \"adminToken\" (or %s): must be at least %d characters", EnvAdminToken, minAdminToken)
	}
	if c.AdminToken != strings.TrimSpace(c.AdminToken) || strings.ContainsFunc(c.AdminToken, func(r rune) bool { return r < '!' || r > '~' }) {
		return fmt.Errorf("field \"adminToken\" (or %s): must be printable ASCII without spaces", EnvAdminToken)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("field \"logLevel\": want \"debug\", \"info\", \"warn\" or \"error\", got %q", c.LogLevel)
	}
	for name, d := range map[string]Duration{
		"http.readHeaderTimeout": c.HTTP.ReadHeaderTimeout, "http.readTimeout": c.HTTP.ReadTimeout,
		"http.writeTimeout": c.HTTP.WriteTimeout, "http.idleTimeout": c.HTTP.IdleTimeout,
		"http.shutdownTimeout": c.HTTP.ShutdownTimeout, "directory.invitationTTL": c.Directory.InvitationTTL,
	} {
		if d < 0 {
			return fmt.Errorf("field %q: must not be negative", name)
		}
	}
	if c.Directory.GroupLimit < 0 {
		return fmt.Errorf("field \"directory.groupLimit\": must not be negative")
	}
	if _, err := c.groupSource(); err != nil {
		return err
	}
	return nil
}

// logLevel returns the configured level; validate has checked it.
func (c *Config) logLevel() slog.Level {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	return lvl
}

// groupSources lists the sources this configuration lets sync groups. Each
// section that can sync groups adds its source here (a SCIM section with a
// token adds "scim"; a SAML connection with a memberOf attribute,
// "saml:<connection>"; Google sync, "google").
func (c *Config) groupSources() []string { return nil }

// groupSource returns the tenant's one group source, or "" for none. It is an
// error to configure two.
func (c *Config) groupSource() (string, error) {
	sources := c.groupSources()
	if err := groups.CheckSources(sources...); err != nil {
		return "", err
	}
	for _, s := range sources {
		if s != "" {
			return s, nil
		}
	}
	return "", nil
}
