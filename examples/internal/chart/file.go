package chart

import (
	"os"
	"path/filepath"
)

func createFile(path string) (*os.File, error) { return os.Create(path) }

// DefaultOut returns where an example writes its picture when -out is not
// given: name in the folder nabla-examples of the system's temporary
// folder (created if need be), so that running an example from the
// repository leaves no file in it.
func DefaultOut(name string) string {
	dir := filepath.Join(os.TempDir(), "nabla-examples")
	os.MkdirAll(dir, 0o755) // a failure shows when the file is created
	return filepath.Join(dir, name)
}
