#!/bin/sh
# Generates the benchmark files (not committed) in importer/testdata/bench:
# users_100k.csv and its XLSX, ODS and XLS (BIFF8 stops at 65,536 rows)
# conversions by LibreOffice, with the CSV filter of make-fixtures.sh.
#   sh importer/testdata/make-bench.sh
set -eu
cd "$(dirname "$0")"
mkdir -p bench
go run ./gen/main.go -n 100000 -o bench/users_100k.csv
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LO="soffice -env:UserInstallation=file://$TMP/profile --headless"
IN='CSV:44,34,76,1,1/1/2/1/3/1/4/1/5/1/6/2/7/1/8/1/9/1/10/1/11/2,1033,false,true'
$LO --infilter="$IN" --convert-to 'xlsx:Calc MS Excel 2007 XML' --outdir bench bench/users_100k.csv
$LO --infilter="$IN" --convert-to 'ods:calc8' --outdir bench bench/users_100k.csv
$LO --infilter="$IN" --convert-to 'xls:MS Excel 97' --outdir bench bench/users_100k.csv
