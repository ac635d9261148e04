//go:build !(linux && (amd64 || arm64))

package dist

import (
	"errors"
	"runtime"
)

// openMPI stands in for the loader where purego cannot load Open MPI
// without cgo; loadOpenMPI always fails, so no method is ever called.
type openMPI struct{ commWorld uintptr }

func loadOpenMPI() (*openMPI, error) {
	return nil, errors.New("dist: MPI is supported on linux/amd64 and linux/arm64 only, not " + runtime.GOOS + "/" + runtime.GOARCH)
}

func (*openMPI) mpiInit() (int, int, error)  { panic("unreachable") }
func (*openMPI) start(*call, *uintptr) int32 { panic("unreachable") }
func (*openMPI) poll(*uintptr) (bool, int32) { panic("unreachable") }
func (*openMPI) errString(int32) string      { panic("unreachable") }
func (*openMPI) finalize() int32             { panic("unreachable") }
func (*openMPI) abort(uintptr, int32) int32  { panic("unreachable") }
