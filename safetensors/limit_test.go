package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeSample(t *testing.T) (string, []byte) {
	t.Helper()
	b := encode(t, sampleTensors(), map[string]string{"k": "v"})
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

func TestReadFileLimit(t *testing.T) {
	path, b := writeSample(t)
	f, err := ReadFileLimit(path, int64(len(b)))
	if err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if len(f.Tensors) != len(sampleTensors()) || f.Metadata["k"] != "v" {
		t.Errorf("got %d tensors, metadata %v", len(f.Tensors), f.Metadata)
	}
	if _, err := ReadFileLimit(path, int64(len(b))-1); !errors.Is(err, ErrFormat) {
		t.Errorf("one byte over the limit: err %v; want ErrFormat", err)
	}
	// A link to an endless device is read only up to the limit.
	zero := filepath.Join(t.TempDir(), "zero.safetensors")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Skip(err)
	}
	if _, err := ReadFileLimit(zero, 1<<20); !errors.Is(err, ErrFormat) {
		t.Errorf("/dev/zero: err %v; want ErrFormat", err)
	}
}

func TestReadHeaderFile(t *testing.T) {
	path, b := writeSample(t)
	h, err := ReadHeaderFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.Metadata, full.Metadata) || !reflect.DeepEqual(h.Names(), full.Names()) {
		t.Errorf("header %v %v; want %v %v", h.Names(), h.Metadata, full.Names(), full.Metadata)
	}
	for i, ht := range h.Tensors {
		ft := full.Tensors[i]
		if ht.Data != nil || ht.DType != ft.DType || !reflect.DeepEqual(ht.Shape, ft.Shape) {
			t.Errorf("%s: %v %v %d bytes; want %v %v and no data", ht.Name, ht.DType, ht.Shape, len(ht.Data), ft.DType, ft.Shape)
		}
	}

	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"truncated body", b[:len(b)-1]},
		{"trailing bytes", append(append([]byte{}, b...), 0)},
		{"short", b[:5]},
		{"header longer than file", append([]byte{0xff, 0xff, 0xff, 0, 0, 0, 0, 0}, b[8:]...)},
	} {
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadHeaderFile(p); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v; want ErrFormat", tt.name, err)
		}
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err == nil {
		if _, err := ReadHeaderFile(zero); !errors.Is(err, ErrFormat) {
			t.Errorf("/dev/zero: err %v; want ErrFormat", err)
		}
	}
}
