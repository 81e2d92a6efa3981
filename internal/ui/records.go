package ui

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Format is a machine output format.
type Format string

// Formats.
const (
	FormatTable Format = "table"
	FormatJSONL Format = "jsonl"
	FormatCSV   Format = "csv"
)

// ParseFormat checks a --format value against the allowed ones.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	for _, f := range allowed {
		if Format(s) == f {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want one of %v)", s, allowed)
}

// Column names a field of a record for CSV output.
type Column struct {
	Name string
	Get  func(any) string
}

// RecordWriter streams records in one format.
type RecordWriter interface {
	Write(rec any) error
	Flush() error
}

// NewJSONL writes one JSON object per line.
func NewJSONL(w io.Writer) RecordWriter { return &jsonl{enc: json.NewEncoder(w)} }

type jsonl struct{ enc *json.Encoder }

func (j *jsonl) Write(rec any) error { return j.enc.Encode(rec) }
func (j *jsonl) Flush() error        { return nil }

// NewCSV writes a header and one row per record, using row to flatten
// each record into the header's columns.
func NewCSV(w io.Writer, header []string, row func(any) []string) RecordWriter {
	return &csvw{w: csv.NewWriter(w), header: header, row: row}
}

type csvw struct {
	w      *csv.Writer
	header []string
	row    func(any) []string
	wrote  bool
}

func (c *csvw) Write(rec any) error {
	if !c.wrote {
		c.wrote = true
		if err := c.w.Write(c.header); err != nil {
			return err
		}
	}
	return c.w.Write(c.row(rec))
}

func (c *csvw) Flush() error {
	if !c.wrote {
		c.wrote = true
		c.w.Write(c.header)
	}
	c.w.Flush()
	return c.w.Error()
}

// Time formats a time for records: RFC 3339 in UTC with nanoseconds, or
// "" for the zero time.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Int formats an integer for CSV.
func Int(n int64) string { return strconv.FormatInt(n, 10) }
