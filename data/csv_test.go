package data

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	in := "sepal length, sepal width ,\"class\"\n5.1,3.5,0\n\n 4.9 ,3e0,1\r\n-1.5,NaN,2\n"
	tab, err := ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sepal length", "sepal width", "class"}; !reflect.DeepEqual(tab.Header, want) {
		t.Errorf("Header = %q, want %q", tab.Header, want)
	}
	if len(tab.Rows) != 3 {
		t.Fatalf("got %d rows, want 3", len(tab.Rows))
	}
	if !reflect.DeepEqual(tab.Rows[:2], [][]float64{{5.1, 3.5, 0}, {4.9, 3, 1}}) || tab.Rows[2][0] != -1.5 || !math.IsNaN(tab.Rows[2][1]) {
		t.Errorf("Rows = %v", tab.Rows)
	}
	if c, err := tab.Column("class"); err != nil || !reflect.DeepEqual(c, []float64{0, 1, 2}) {
		t.Errorf("Column(class) = %v, %v", c, err)
	}
	if _, err := tab.Column("nope"); err == nil {
		t.Error("Column(nope) succeeded")
	}
	if tab.ColumnIndex("sepal width") != 1 || tab.ColumnIndex("x") != -1 {
		t.Error("ColumnIndex is wrong")
	}

	// A header alone is a valid, empty table.
	tab, err = ReadCSV(strings.NewReader("a,b\n"))
	if err != nil || len(tab.Rows) != 0 || len(tab.Header) != 2 {
		t.Errorf("header only: %+v, %v", tab, err)
	}
	// A header may mix names and numbers.
	if _, err := ReadCSV(strings.NewReader("150,4,setosa\n1,2,3\n")); err != nil {
		t.Errorf("mixed header: %v", err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"blank lines only", "\n\n\n", "empty input"},
		{"missing header", "1,2,3\n4,5,6\n", "missing header: line 1 holds only numbers"},
		{"empty column name", "a,,c\n1,2,3\n", "line 1, column 2: empty column name"},
		{"ragged short", "a,b,c\n1,2,3\n4,5\n", "line 3: ragged row: 2 fields, but the header has 3"},
		{"ragged long", "a,b\n1,2,3\n", "line 2: ragged row: 3 fields"},
		{"not a number", "a,b\n1,2\n3,x4\n", `line 3, column 2: not a number`},
		{"empty cell", "a,b\n1,\n", `line 2, column 2: empty cell`},
		{"out of range", "a\n1e999\n", `line 2, column 1: the number is out of range`},
		{"bad quote", "a,b\n1,\"2\n", "csv: parse error on line 2"},
		{"bare quote", "a,b\"c\n", "bare \""},
		{"multi-line quoted field", "a,b\n\"1\n\",2\n3,z\n", `line 4, column 2`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("ReadCSV succeeded: %+v", tab)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReadCSVFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.csv")
	os.WriteFile(path, []byte("x,y\n1,2\n"), 0o644)
	tab, err := ReadCSVFile(path)
	if err != nil || len(tab.Rows) != 1 {
		t.Errorf("ReadCSVFile = %+v, %v", tab, err)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("x,y\n1\n"), 0o644)
	if _, err := ReadCSVFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("ReadCSVFile(bad) = %v", err)
	}
	if _, err := ReadCSVFile(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("ReadCSVFile(missing) = %v", err)
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n3,4\n",
		"x\n1e5\n-0.5\nNaN\n",
		"\"q,uoted\",b\n\"1\",2\n",
		"a,b\n1,2,3\n",
		"1,2\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := ReadCSV(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "csv: ") {
				t.Fatalf("error %q lacks the csv: prefix", err)
			}
			return
		}
		if len(tab.Header) == 0 {
			t.Fatal("empty header accepted")
		}
		for i, row := range tab.Rows {
			if len(row) != len(tab.Header) {
				t.Fatalf("row %d has %d cells, header %d", i, len(row), len(tab.Header))
			}
		}
	})
}

func TestReadCSVByteOrderMark(t *testing.T) {
	tab, err := ReadCSV(strings.NewReader("\ufefflabel,x\n1,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tab.ColumnIndex("label") != 0 {
		t.Errorf("header %q: the byte-order mark was not skipped", tab.Header)
	}
	// A byte-order mark later in the file is not skipped.
	if _, err := ReadCSV(strings.NewReader("a\n\ufeff1\n")); err == nil {
		t.Error("a mark inside the data was accepted as part of a number")
	}
}
