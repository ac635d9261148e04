package safetensors

import (
	"bufio"
	"os"
	"path/filepath"
)

// ReadFile reads and decodes the safetensors file at path. The whole file is
// read into memory; see [Decode].
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, &os.PathError{Op: "decode", Path: path, Err: err}
	}
	return f, nil
}

// syncFile flushes a file to stable storage; a variable so tests can make
// the write fail after the data has been written.
var syncFile = (*os.File).Sync

// WriteFile encodes tensors and metadata (see [Encode]) into the file at
// path, atomically: it writes a temporary file in the same directory,
// syncs and closes it, and then renames it over path. On any failure the
// temporary file is removed and an existing file at path is left
// untouched. A new file gets permissions 0644; an existing file keeps its
// permissions.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if fi, statErr := os.Stat(path); statErr == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close() // may already be closed; the error is irrelevant then
			os.Remove(tmpName)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = Encode(bw, tensors, metadata); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = syncFile(tmp); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmpName, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable where the platform supports it;
// failures are ignored because the rename itself has already succeeded.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
