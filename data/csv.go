package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Table is a numeric table read from a CSV file with a header row.
type Table struct {
	// Header holds the column names from the first row.
	Header []string
	// Rows holds one slice per data row, each len(Header) long.
	Rows [][]float64
}

// ColumnIndex returns the index of the first column with the given name,
// or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, h := range t.Header {
		if h == name {
			return i
		}
	}
	return -1
}

// Column returns a copy of the named column's values.
func (t *Table) Column(name string) ([]float64, error) {
	j := t.ColumnIndex(name)
	if j < 0 {
		return nil, fmt.Errorf("csv: no column %q", name)
	}
	out := make([]float64, len(t.Rows))
	for i, row := range t.Rows {
		out[i] = row[j]
	}
	return out, nil
}

// ReadCSV reads comma-separated values with a header row from r (RFC 4180
// quoting; blank lines are skipped; spaces around cells are ignored).
// Every cell after the header must be a number as strconv.ParseFloat
// accepts it (so "NaN" and "Inf" are allowed). Errors give the line and
// the column (1-based field number) of the problem: an
// empty input, a missing header (a first row made only of numbers), an
// empty column name, a row with a different number of fields than the
// header (ragged), a cell that is empty or not a number, or malformed CSV
// quoting. The errors quote nothing of the file (neither cells nor column
// names), so that they can be shown whatever the file holds. A UTF-8 byte-order mark at
// the start, as spreadsheet programs write, is skipped.
func ReadCSV(r io.Reader) (*Table, error) {
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); string(bom) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, with a better message
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("csv: empty input: no header row")
	}
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	allNumbers := true
	for j := range header {
		header[j] = strings.TrimSpace(header[j])
		if header[j] == "" {
			line, _ := cr.FieldPos(j)
			return nil, fmt.Errorf("csv: line %d, column %d: empty column name in the header", line, j+1)
		}
		if _, err := strconv.ParseFloat(header[j], 64); err != nil {
			allNumbers = false
		}
	}
	if allNumbers {
		line, _ := cr.FieldPos(0)
		return nil, fmt.Errorf("csv: missing header: line %d holds only numbers, not column names", line)
	}
	t := &Table{Header: header}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("csv: line %d: ragged row: %d fields, but the header has %d", line, len(rec), len(header))
		}
		row := make([]float64, len(rec))
		for j, cell := range rec {
			cell = strings.TrimSpace(cell)
			line, _ := cr.FieldPos(j)
			if cell == "" {
				return nil, fmt.Errorf("csv: line %d, column %d: empty cell", line, j+1)
			}
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
					return nil, fmt.Errorf("csv: line %d, column %d: the number is out of range for a float64", line, j+1)
				}
				return nil, fmt.Errorf("csv: line %d, column %d: not a number", line, j+1)
			}
			row[j] = v
		}
		t.Rows = append(t.Rows, row)
	}
}

// ReadCSVFile reads the CSV file at path; see [ReadCSV].
func ReadCSVFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
