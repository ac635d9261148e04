package chart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultOutIsTemporary(t *testing.T) {
	p := DefaultOut("x.png")
	if !strings.HasPrefix(p, os.TempDir()) || filepath.Base(p) != "x.png" {
		t.Errorf("DefaultOut = %s; want x.png under %s", p, os.TempDir())
	}
	if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
		t.Errorf("folder of %s: %v", p, err)
	}
}
