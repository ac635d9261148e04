//go:build unix

package hf

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapping is a read-only view of a whole file.
type mapping struct{ data []byte }

func mapFile(path string) (mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return mapping{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return mapping{}, err
	}
	if !st.Mode().IsRegular() {
		return mapping{}, fmt.Errorf("not a regular file")
	}
	if st.Size() == 0 {
		return mapping{data: nil}, nil
	}
	if int64(int(st.Size())) != st.Size() {
		return mapping{}, fmt.Errorf("too large to map (%d bytes)", st.Size())
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return mapping{}, fmt.Errorf("mmap: %w", err)
	}
	return mapping{data: data}, nil
}

func (m mapping) close() error {
	if m.data == nil {
		return nil
	}
	return unix.Munmap(m.data)
}
