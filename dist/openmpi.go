//go:build linux && (amd64 || arm64)

package dist

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// libEnv names a libmpi.so to load instead of Open MPI's soname, for
// installations outside the loader's search path.
const libEnv = "NABLA_LIBMPI"

// openMPISoname is the library of Open MPI 3.x to 5.x (ABI 40).
const openMPISoname = "libmpi.so.40"

// mpichSonames are MPICH's libraries (and those of MPICH derivatives such
// as Intel MPI and MVAPICH), which this package does not speak: their
// handles are integer constants, Open MPI's are addresses of globals.
var mpichSonames = []string{"libmpi.so.12", "libmpich.so.12", "libmpich.so"}

// Open MPI's thread levels (an enum in mpi.h).
const mpiThreadFunneled = 1

// openMPI is the part of Open MPI's C API that the package calls. Every
// MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler and MPI_Request is a
// pointer in Open MPI, and the predefined ones (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, ...) are the addresses of exported globals, so the
// handles below are those globals' addresses as dlsym returns them.
type openMPI struct {
	commWorld, errorsReturn, opSum         uintptr
	tFloat, tDouble, tInt64, tByte, tInt32 uintptr

	initThread    func(argc, argv unsafe.Pointer, required int32, provided *int32) int32
	finalize      func() int32
	abort         func(comm uintptr, code int32) int32
	commRank      func(comm uintptr, rank *int32) int32
	commSize      func(comm uintptr, size *int32) int32
	setErrhandler func(comm, eh uintptr) int32
	errorString   func(code int32, s *byte, n *int32) int32
	iallreduce    func(send uintptr, recv unsafe.Pointer, count int32, dtype, op, comm uintptr, req *uintptr) int32
	ibcast        func(buf unsafe.Pointer, count int32, dtype uintptr, root int32, comm uintptr, req *uintptr) int32
	iallgather    func(send unsafe.Pointer, scount int32, stype uintptr, recv unsafe.Pointer, rcount int32, rtype uintptr, comm uintptr, req *uintptr) int32
	ibarrier      func(comm uintptr, req *uintptr) int32
	test          func(req *uintptr, flag *int32, status unsafe.Pointer) int32
}

// loadOpenMPI opens libmpi.so.40 (or $NABLA_LIBMPI) and finds the
// functions and handles, saying plainly what is missing.
func loadOpenMPI() (*openMPI, error) {
	path := os.Getenv(libEnv)
	if path == "" {
		path = openMPISoname
	}
	// RTLD_GLOBAL: Open MPI's plugins (mca_*.so), which it opens itself,
	// resolve symbols of libmpi and libopen-pal through the global scope.
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		for _, name := range mpichSonames {
			if mh, merr := purego.Dlopen(name, purego.RTLD_LAZY); merr == nil {
				purego.Dlclose(mh)
				return nil, fmt.Errorf("dist: found %s, which is MPICH (or an MPICH-based MPI such as Intel MPI or MVAPICH), not Open MPI: nabla's dist speaks only Open MPI's ABI (%s); install Open MPI (Debian: apt-get install openmpi-bin) and launch with its mpirun", name, openMPISoname)
			}
		}
		return nil, fmt.Errorf("dist: cannot load Open MPI's %s (%v): install Open MPI (Debian: apt-get install openmpi-bin libopenmpi3) or set %s to its path", path, err, libEnv)
	}
	lib := &openMPI{}
	var missing []string
	sym := func(name string) uintptr {
		p, err := purego.Dlsym(h, name)
		if err != nil || p == 0 {
			missing = append(missing, name)
			return 0
		}
		return p
	}
	fn := func(fptr any, name string) {
		if p := sym(name); p != 0 {
			purego.RegisterFunc(fptr, p)
		}
	}
	lib.commWorld = sym("ompi_mpi_comm_world")
	if len(missing) > 0 {
		if _, err := purego.Dlsym(h, "MPI_Init"); err == nil {
			return nil, fmt.Errorf("dist: %s is an MPI library but not Open MPI (it has no ompi_mpi_comm_world; MPICH and its derivatives use integer handles): nabla's dist speaks only Open MPI's ABI", path)
		}
		return nil, fmt.Errorf("dist: %s is not an MPI library (no ompi_mpi_comm_world, no MPI_Init)", path)
	}
	lib.errorsReturn = sym("ompi_mpi_errors_return")
	lib.opSum = sym("ompi_mpi_op_sum")
	lib.tFloat = sym("ompi_mpi_float")
	lib.tDouble = sym("ompi_mpi_double")
	lib.tByte = sym("ompi_mpi_byte")
	lib.tInt32 = sym("ompi_mpi_int")
	if p, err := purego.Dlsym(h, "ompi_mpi_int64_t"); err == nil && p != 0 {
		lib.tInt64 = p
	} else {
		lib.tInt64 = sym("ompi_mpi_long_long_int")
	}
	fn(&lib.initThread, "MPI_Init_thread")
	fn(&lib.finalize, "MPI_Finalize")
	fn(&lib.abort, "MPI_Abort")
	fn(&lib.commRank, "MPI_Comm_rank")
	fn(&lib.commSize, "MPI_Comm_size")
	fn(&lib.setErrhandler, "MPI_Comm_set_errhandler")
	fn(&lib.errorString, "MPI_Error_string")
	fn(&lib.iallreduce, "MPI_Iallreduce")
	fn(&lib.ibcast, "MPI_Ibcast")
	fn(&lib.iallgather, "MPI_Iallgather")
	fn(&lib.ibarrier, "MPI_Ibarrier")
	fn(&lib.test, "MPI_Test")
	if len(missing) > 0 {
		return nil, fmt.Errorf("dist: %s lacks %s: Open MPI 3.0 or later is needed (non-blocking collectives)", path, strings.Join(missing, ", "))
	}
	// Open MPI catches SIGSEGV, SIGBUS, SIGFPE and SIGABRT to print a
	// backtrace, which would take them from the Go runtime (a nil
	// dereference must become a Go panic). An empty opal_signal keeps
	// them Go's, unless the user chose otherwise.
	if _, ok := os.LookupEnv("OMPI_MCA_opal_signal"); !ok {
		if err := cSetenv("OMPI_MCA_opal_signal", ""); err != nil {
			return nil, err
		}
	}
	return lib, nil
}

// cSetenv sets a variable in the C environment, which MPI_Init reads (Go's
// os.Setenv does not reach it in a build without cgo).
func cSetenv(name, value string) error {
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return fmt.Errorf("dist: cannot load libc.so.6 to set %s: %v", name, err)
	}
	var setenv func(name, value string, overwrite int32) int32
	purego.RegisterLibFunc(&setenv, h, "setenv")
	if setenv(name, value, 1) != 0 {
		return fmt.Errorf("dist: setenv %s failed", name)
	}
	return nil
}

// errString returns Open MPI's text for an error code.
func (l *openMPI) errString(code int32) string {
	buf := make([]byte, 512) // MPI_MAX_ERROR_STRING is 256
	n := int32(0)
	if l.errorString(code, &buf[0], &n) != 0 || n <= 0 || int(n) > len(buf) {
		return fmt.Sprintf("MPI error %d", code)
	}
	return fmt.Sprintf("%s (MPI error %d)", buf[:n], code)
}

// mpiInit initialises MPI on the calling (locked) thread with
// MPI_THREAD_FUNNELED and sets MPI_ERRORS_RETURN on MPI_COMM_WORLD.
func (l *openMPI) mpiInit() (rank, size int, err error) {
	var provided int32
	if rc := l.initThread(nil, nil, mpiThreadFunneled, &provided); rc != 0 {
		return 0, 0, fmt.Errorf("dist: MPI_Init_thread: %s", l.errString(rc))
	}
	if provided < mpiThreadFunneled {
		return 0, 0, errors.New("dist: MPI_Init_thread: Open MPI does not provide MPI_THREAD_FUNNELED")
	}
	if rc := l.setErrhandler(l.commWorld, l.errorsReturn); rc != 0 {
		return 0, 0, fmt.Errorf("dist: MPI_Comm_set_errhandler: %s", l.errString(rc))
	}
	var r, s int32
	if rc := l.commRank(l.commWorld, &r); rc != 0 {
		return 0, 0, fmt.Errorf("dist: MPI_Comm_rank: %s", l.errString(rc))
	}
	if rc := l.commSize(l.commWorld, &s); rc != 0 {
		return 0, 0, fmt.Errorf("dist: MPI_Comm_size: %s", l.errString(rc))
	}
	return int(r), int(s), nil
}

// dtype returns the MPI datatype handle of kind k.
func (l *openMPI) dtype(k kind) uintptr {
	switch k {
	case kFloat32:
		return l.tFloat
	case kFloat64:
		return l.tDouble
	case kInt64:
		return l.tInt64
	}
	return l.tByte
}

// start issues the non-blocking call of c, filling req.
func (l *openMPI) start(c *call, req *uintptr) int32 {
	switch c.coll {
	case collAllReduce:
		const inPlace = 1 // MPI_IN_PLACE
		return l.iallreduce(inPlace, c.buf, int32(c.count), l.dtype(c.kind), l.opSum, l.commWorld, req)
	case collBroadcast:
		return l.ibcast(c.buf, int32(c.count), l.dtype(c.kind), int32(c.root), l.commWorld, req)
	case collAllGather:
		t := l.dtype(c.kind)
		return l.iallgather(c.buf, int32(c.count), t, c.recv, int32(c.count), t, l.commWorld, req)
	case collBarrier:
		return l.ibarrier(l.commWorld, req)
	}
	panic("dist: unknown collective")
}

// poll tests req: done reports completion, rc an MPI error.
func (l *openMPI) poll(req *uintptr) (done bool, rc int32) {
	var flag int32
	rc = l.test(req, &flag, nil) // MPI_STATUS_IGNORE
	return flag != 0, rc
}
