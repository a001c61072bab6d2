// Command gen writes the benchmark files' source: a CSV of n users (seed 42)
// in the importer's columns plus hireDate and zip, with non-ASCII names,
// phone numbers and zip codes with leading zeros, dates and booleans.
//
//	go run ./importer/testdata/gen -n 100000 -o importer/testdata/bench/users_100k.csv
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 100000, "rows")
	out := flag.String("o", "users_100k.csv", "output file")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewSource(42))
	first := []string{"Anna", "Łukasz", "太郎", "Олег", "Αλέξανδρος", "Françoise", "Nguyễn", "Jürgen", "María", "Søren", "John", "Aoife"}
	last := []string{"Müller", "Dvořák", "山田", "Петров", "Παπαδόπουλος", "Côté", "Trần", "Schäfer", "García", "Ødegaard", "Smith", "O'Brien"}
	depts := []string{"Entwicklung", "Ops", "Sales", "東京", "Marketing", "Finance"}
	grps := []string{"Staff", "Berlin", "東京", "Contractors", "Paris", "Remote"}
	w := csv.NewWriter(f)
	w.Write([]string{"email", "firstName", "lastName", "displayName", "department", "phone", "employeeNumber", "active", "groups", "hireDate", "zip"})
	start := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range *n {
		fn, ln := first[r.Intn(len(first))], last[r.Intn(len(last))]
		var phone string
		switch r.Intn(3) {
		case 0:
			phone = fmt.Sprintf("0%d", 1000000000+r.Intn(900000000))
		case 1:
			phone = fmt.Sprintf("+49 151 %08d", r.Intn(100000000))
		default:
			phone = fmt.Sprintf("(555) %03d-%04d", r.Intn(1000), r.Intn(10000))
		}
		var g []string
		for _, x := range grps {
			if r.Intn(4) == 0 {
				g = append(g, x)
			}
		}
		display := ""
		if r.Intn(3) == 0 {
			display = fn + " " + ln
		}
		w.Write([]string{
			fmt.Sprintf("user%06d@example.com", i+1), fn, ln, display, depts[r.Intn(len(depts))], phone,
			fmt.Sprint(100001 + i), fmt.Sprint(r.Intn(10) != 0), strings.Join(g, ","),
			start.AddDate(0, 0, r.Intn(5000)).Format("2006-01-02"), fmt.Sprintf("%05d", r.Intn(100000)),
		})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
