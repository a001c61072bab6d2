package saml

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkACS compares the ACS handling of one signed response (decode,
// prechecks, pending request, crewjam, checks, replay key, mapping and
// Directory.SignIn on the memory store) with crewjam's ParseXMLResponse
// alone. Run: go test -run '^$' -bench . -benchmem ./saml/
func BenchmarkACS(b *testing.B) {
	for _, name := range []string{"both-signed", "encrypted"} {
		xml := fixtureXML(b, name)
		b.Run(name+"/crewjam", func(b *testing.B) {
			e := newEnv(b, nil)
			st, err := e.conn.provider(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			raw := []byte(xml)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.sp.ParseXMLResponse(raw, []string{fixtureRequest}, e.conn.acsURL); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/acs", func(b *testing.B) {
			e := newEnv(b, nil)
			form := b64(xml)
			ctx := context.Background()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				// A fresh key store each time, so that the one response is
				// not a replay; the user exists after the first round.
				i++
				keys := e.db.Keys("bench-"+strconv.Itoa(i), e.clock)
				if _, err := keys.SetIfAbsent(ctx, e.conn.requestKey(fixtureRequest), pendingValue(testBinding, ""), received.Add(60e9)); err != nil {
					b.Fatal(err)
				}
				if _, err := e.conn.ACS(ctx, e.dir, keys, Post{SAMLResponse: form, Binding: testBinding}); err != nil {
					b.Fatalf("%v\n%s", err, e.log)
				}
			}
		})
	}
}

// BenchmarkACSOverhead runs the two of BenchmarkACS alternately, one
// response each per iteration, and reports the fastest of each and their
// ratio: on a shared, loaded machine the minimum is what the code costs, the
// rest is other work. Run: go test -run '^$' -bench ACSOverhead ./saml/
func BenchmarkACSOverhead(b *testing.B) {
	xml := fixtureXML(b, "both-signed")
	e := newEnv(b, nil)
	st, err := e.conn.provider(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	raw, form, ctx := []byte(xml), b64(xml), context.Background()
	minCrewjam, minACS := time.Duration(1<<62), time.Duration(1<<62)
	i := 0
	for b.Loop() {
		i++
		keys := e.db.Keys("bench-"+strconv.Itoa(i), e.clock)
		if _, err := keys.SetIfAbsent(ctx, e.conn.requestKey(fixtureRequest), pendingValue(testBinding, ""), received.Add(60e9)); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := st.sp.ParseXMLResponse(raw, []string{fixtureRequest}, e.conn.acsURL); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := e.conn.ACS(ctx, e.dir, keys, Post{SAMLResponse: form, Binding: testBinding}); err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		minCrewjam = min(minCrewjam, mid.Sub(start))
		minACS = min(minACS, end.Sub(mid))
	}
	b.ReportMetric(float64(minCrewjam.Microseconds()), "µs-min-crewjam")
	b.ReportMetric(float64(minACS.Microseconds()), "µs-min-acs")
	b.ReportMetric(float64(minACS)/float64(minCrewjam), "ratio")
}

// The same response posted at once from many goroutines signs in once: the
// replay key is set atomically.
func TestACSConcurrentReplay(t *testing.T) {
	e := newEnv(t, nil)
	form := b64(fixtureXML(t, "idp-initiated"))
	e.conn.cfg.AllowIDPInitiated = true
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.conn.ACS(context.Background(), e.dir, e.keys, Post{SAMLResponse: form, Binding: testBinding}); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d sign-ins, want 1\n%s", ok.Load(), e.log)
	}
}
