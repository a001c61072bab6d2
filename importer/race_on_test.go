//go:build race

package importer_test

// raceEnabled tells that the race detector runs, which makes writing the
// hostile files' gigabytes of compressed input many times slower.
const raceEnabled = true
