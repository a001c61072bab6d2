#!/bin/sh
# Regenerates the office fixtures from users.csv with LibreOffice, as the
# importer meets them in the wild. Needs soffice (Debian:
# libreoffice-calc-nogui; these were made with LibreOffice 7.4.7.2) and iconv.
#   sh importer/testdata/make-fixtures.sh
set -eu
cd "$(dirname "$0")"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LO="soffice -env:UserInstallation=file://$TMP/profile --headless"
# CSV import filter: comma, double quote, UTF-8 (76), from line 1; phone (6)
# and zip (11) as text (2), the rest standard (1); en-US; detect special
# numbers, so that hireDate becomes a date and active a boolean.
IN='CSV:44,34,76,1,1/1/2/1/3/1/4/1/5/1/6/2/7/1/8/1/9/1/10/1/11/2,1033,false,true'

$LO --infilter="$IN" --convert-to 'xlsx:Calc MS Excel 2007 XML' --outdir . users.csv
$LO --infilter="$IN" --convert-to 'xls:MS Excel 97' --outdir . users.csv
$LO --infilter="$IN" --convert-to 'ods:calc8' --outdir . users.csv

# Text exports of the spreadsheet, as Excel writes them. LibreOffice 7.4
# ignores the BOM option and writes LF, so the BOM and CRLF are added here.
# Excel's "Unicode Text": UTF-16LE with BOM, TAB, CRLF.
$LO --convert-to 'txt:Text - txt - csv (StarCalc):9,34,76,1,,1033,false,false,true' --outdir "$TMP" users.ods
{ printf '\377\376'; sed 's/$/\r/' "$TMP/users.txt" | iconv -f UTF-8 -t UTF-16LE; } > users_unicode.txt
# German Excel's CSV: semicolon, UTF-8 with BOM, CRLF.
$LO --convert-to 'csv:Text - txt - csv (StarCalc):59,34,76,1,,1031,false,false,true' --outdir "$TMP" users.ods
{ printf '\357\273\277'; sed 's/$/\r/' "$TMP/users.csv"; } > users_semicolon_bom.csv
# Windows-1252 (charset 1): what cannot be written becomes "?" in the file.
$LO --convert-to 'csv:Text - txt - csv (StarCalc):44,34,1,1,,1033,false,false,true' --outdir "$TMP" users.ods
cp "$TMP/users.csv" users_cp1252.csv
