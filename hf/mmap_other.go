//go:build !unix

package hf

import (
	"fmt"
	"os"
)

// mapping holds a whole file; without mmap it is read into memory.
type mapping struct{ data []byte }

func mapFile(path string) (mapping, error) {
	st, err := os.Stat(path)
	if err != nil {
		return mapping{}, err
	}
	if !st.Mode().IsRegular() {
		return mapping{}, fmt.Errorf("not a regular file")
	}
	data, err := os.ReadFile(path)
	return mapping{data: data}, err
}

func (m mapping) close() error { return nil }
