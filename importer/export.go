package importer

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// Export writes every user of the tenant, active and deactivated, in the
// import's columns (Columns), as format "csv" or "xlsx". Groups are the
// user's internal groups, comma-separated; a name that holds a comma is
// quoted ("Sales, EMEA"). Importing the export again with
// Update reports every row as skipped. A CSV export starts with a UTF-8 BOM
// (so that Excel reads it as UTF-8) and neutralises formula injection: a
// cell that starts with = + - @, a tab or a carriage return gets a quote in
// front, which the importer takes off again.
func Export(ctx context.Context, r identity.Reader, format string, w io.Writer) error {
	out, err := newTableWriter(format, w)
	if err != nil {
		return err
	}
	if err := out.write(Columns); err != nil {
		return err
	}
	after := ""
	for {
		page, err := r.ListUsers(ctx, identity.UserQuery{After: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("importer: export: %w", err)
		}
		for _, u := range page.Users {
			gs, err := r.UserGroups(ctx, u.ID)
			if err != nil {
				return fmt.Errorf("importer: export: %w", err)
			}
			if err := out.write(exportRow(u, gs)); err != nil {
				return err
			}
		}
		if len(page.Users) < 1000 {
			break
		}
		after = page.Users[len(page.Users)-1].ID
	}
	return out.close()
}

func exportRow(u identity.User, gs []identity.Group) []string {
	var names []string
	for _, g := range gs {
		if g.Kind == groups.Internal {
			names = append(names, g.Name)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(groups.Key(a), groups.Key(b)) })
	active := "false"
	if u.Active {
		active = "true"
	}
	return []string{u.Email, u.GivenName, u.FamilyName, u.DisplayName,
		u.Attributes[identity.AttrDepartment], u.Attributes[identity.AttrPhone], u.Attributes[identity.AttrEmployeeNumber],
		active, joinGroups(names)}
}

// Template writes an import template as format "csv" or "xlsx": the header
// and one example row.
func Template(format string, w io.Writer) error {
	out, err := newTableWriter(format, w)
	if err != nil {
		return err
	}
	if err := out.write(Columns); err != nil {
		return err
	}
	if err := out.write([]string{"ada.lovelace@example.com", "Ada", "Lovelace", "Ada Lovelace", "Research",
		"030 1234567", "00042", "true", "Berlin, Engineering"}); err != nil {
		return err
	}
	return out.close()
}

// ContentType returns the MIME type of an export format.
func ContentType(format string) string {
	if format == FormatXLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

type tableWriter interface {
	write(cells []string) error
	close() error
}

func newTableWriter(format string, w io.Writer) (tableWriter, error) {
	switch format {
	case FormatCSV:
		if _, err := io.WriteString(w, "\uFEFF"); err != nil {
			return nil, err
		}
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		return &csvWriter{w: cw}, nil
	case FormatXLSX:
		f := excelize.NewFile()
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			return nil, err
		}
		// Text cells, so that leading zeros stay and nothing is a formula.
		style, err := f.NewStyle(&excelize.Style{NumFmt: 49})
		if err != nil {
			return nil, err
		}
		if err := sw.SetColWidth(1, len(Columns), 18); err != nil {
			return nil, err
		}
		return &xlsxWriter{f: f, sw: sw, w: w, style: style}, nil
	}
	return nil, &FileError{Unknown: true, Message: fmt.Sprintf("cannot export as %q: want csv or xlsx", format)}
}

type csvWriter struct {
	w   *csv.Writer
	buf []string
}

func (c *csvWriter) write(cells []string) error {
	c.buf = c.buf[:0]
	for _, s := range cells {
		c.buf = append(c.buf, neutralise(s))
	}
	return c.w.Write(c.buf)
}

func (c *csvWriter) close() error {
	c.w.Flush()
	return c.w.Error()
}

type xlsxWriter struct {
	f     *excelize.File
	sw    *excelize.StreamWriter
	w     io.Writer
	style int
	row   int
}

func (x *xlsxWriter) write(cells []string) error {
	x.row++
	vals := make([]any, len(cells))
	for i, s := range cells {
		if strings.HasPrefix(s, "'") {
			// The import takes a quote off such a cell (see unneutralise).
			s = neutralise(s)
		}
		vals[i] = excelize.Cell{StyleID: x.style, Value: s}
	}
	cell, err := excelize.CoordinatesToCellName(1, x.row)
	if err != nil {
		return err
	}
	return x.sw.SetRow(cell, vals)
}

func (x *xlsxWriter) close() error {
	defer x.f.Close()
	if err := x.sw.Flush(); err != nil {
		return err
	}
	_, err := x.f.WriteTo(x.w)
	return err
}
