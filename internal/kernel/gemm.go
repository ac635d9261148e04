// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// GemmF32 computes C = alpha*op(A)*op(B) + beta*C on row-major matrices.
//
// op(A) is m×k; A is stored m×k with row stride lda when transA is false, or
// k×m (row stride lda) when transA is true. op(B) is k×n; B is stored k×n with
// row stride ldb when transB is false, or n×k when transB is true. C is m×n
// with row stride ldc. When beta == 0, C is not read (NaNs in C are
// overwritten). The reference loop is
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += opA(i, p) * opB(p, j)
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// with opA(i, p) = a[i*lda+p] (or a[p*lda+i] when transA) and
// opB(p, j) = b[p*ldb+j] (or b[j*ldb+p] when transB). When k == 0 or
// alpha == 0, A and B are not read and C = beta*C.
//
// GemmF32 panics if a dimension is negative, a stride is too small or a
// slice is too short. Large products are computed in parallel on
// runtime.GOMAXPROCS(0) goroutines; small ones run on the calling goroutine.
func GemmF32(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(f32Kernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// GemmF64 computes C = alpha*op(A)*op(B) + beta*C on row-major matrices.
// It is the float64 version of GemmF32, with the same layout, reference loop
// and conventions.
func GemmF64(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(f64Kernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// PanelFunc packs one panel of a k×n matrix B that is never stored whole:
// it sets dst[p*w+j] = B[p0+p][j0+j] for p < kb, j < cols, and zeroes
// dst[p*w+j] for cols <= j < w (w is the micro-kernel's panel width). It
// must not keep dst, and it may be called from several goroutines at once.
type PanelFunc[T float] func(dst []T, w, p0, kb, j0, cols int)

// GemmPanelsF32 computes C = alpha*A*B + beta*C like GemmF32 with neither
// operand transposed, except that B (k×n) is read only through packB, one
// panel at a time. A convolution packs its panels straight from the padded
// images with it (implicit GEMM), instead of unfolding them into a k×n
// matrix that the product would then copy again. It always takes the
// packed path, so its results are those of GemmF32 on a product with more
// rows than the few that GemmF32 computes without packing.
func GemmPanelsF32(m, n, k int, alpha float32, a []float32, lda int, packB PanelFunc[float32], beta float32, c []float32, ldc int) {
	gemm(f32Kernel, false, false, m, n, k, alpha, a, lda, nil, max(1, n), beta, c, ldc, packB)
}

// GemmPanelsF64 is the float64 version of GemmPanelsF32.
func GemmPanelsF64(m, n, k int, alpha float64, a []float64, lda int, packB PanelFunc[float64], beta float64, c []float64, ldc int) {
	gemm(f64Kernel, false, false, m, n, k, alpha, a, lda, nil, max(1, n), beta, c, ldc, packB)
}

type float interface{ ~float32 | ~float64 }

// microKernel describes a register-blocked micro-kernel together with the
// cache blocking parameters tuned for it.
//
// fn computes the mr×nr tile
//
//	c[i*ldc+j] = alpha*sum_p a[p*mr+i]*b[p*nr+j] (+ beta*c[i*ldc+j] if beta != 0)
//
// from a packed mr×k panel of A and a packed k×nr panel of B. It may read up
// to mr*k elements of a and nr*k elements of b, and it writes the full tile.
type microKernel[T float] struct {
	name   string
	mr, nr int
	fn     func(k int, a, b, c []T, ldc int, alpha, beta T)

	// edges are kernels of fewer rows (and the same nr), fewest first, for
	// the last panel of rows of a block when it has at most that many: it
	// is packed mr' rows wide and wastes fewer multiply-adds.
	edges []*microKernel[T]

	kc int // depth of a packed block
	mc int // rows of A packed at a time (multiple of mr)
	nc int // columns of B packed at a time (multiple of nr); kc×nc should fit in L2

	// Products with few rows of op(A) skip packing (see gemv.go): gemvT
	// computes those with B transposed (and A not) and up to smallMT rows
	// (any number up to smallM when B is too large for the L2 cache), axpy
	// accumulates the rows of B for those with B not transposed and up to
	// smallM rows.
	smallM, smallMT int
	gemvT           func(m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)
	axpy            func(alpha T, x, y []T)

	bufs sync.Pool // *gemmBufs[T]
	jobs sync.Pool // *gemmJob[T]
}

// edge returns the kernel for a panel of rows < mr rows: the first edge
// kernel with at least rows rows, or kern itself.
func (kern *microKernel[T]) edge(rows int) *microKernel[T] {
	for _, e := range kern.edges {
		if rows <= e.mr {
			return e
		}
	}
	return kern
}

// gemmBufs holds the packing buffers of one worker.
type gemmBufs[T float] struct {
	a, b, tile []T
}

// alignedSlice returns a slice of length n whose first element is 64-byte
// aligned (so packed panels never straddle cache lines needlessly).
func alignedSlice[T float](n int) []T {
	var z T
	es := int(unsafe.Sizeof(z))
	pad := 64 / es
	s := make([]T, n+pad)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / es
	if off != 0 {
		off = pad - off
	}
	return s[off : off+n : off+n]
}

func (kern *microKernel[T]) getBufs(mc, kc, nc int) *gemmBufs[T] {
	bp, _ := kern.bufs.Get().(*gemmBufs[T])
	if bp == nil {
		bp = new(gemmBufs[T])
	}
	if n := mc * kc; len(bp.a) < n {
		bp.a = alignedSlice[T](max(n, kern.mc*kern.kc))
	}
	if n := nc * kc; len(bp.b) < n {
		bp.b = alignedSlice[T](max(n, kern.nc*kern.kc))
	}
	if n := kern.mr * kern.nr; len(bp.tile) < n {
		bp.tile = alignedSlice[T](n)
	}
	return bp
}

// gemmArgs are the arguments of one Gemm call.
type gemmArgs[T float] struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
	packB          PanelFunc[T] // packs op(B) when not nil (b is then nil)
}

// checkGemm panics if the arguments of a Gemm call are inconsistent.
func checkGemm(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernel: negative dimension in Gemm: m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	check := func(name string, rows, cols, ld, length int) {
		if ld < max(1, cols) {
			panic(fmt.Sprintf("kernel: bad stride in Gemm: ld%s=%d < %d", name, ld, max(1, cols)))
		}
		if rows > 0 && cols > 0 && length < (rows-1)*ld+cols {
			panic(fmt.Sprintf("kernel: short slice in Gemm: len(%s)=%d < %d", name, length, (rows-1)*ld+cols))
		}
	}
	check("c", m, n, ldc, lenC)
	if m == 0 || n == 0 || k == 0 {
		return
	}
	check("a", ar, ac, lda, lenA)
	check("b", br, bc, ldb, lenB)
}

// parallelThreshold is the number of multiply-adds (m*n*k) from which a
// product is split across goroutines. Tests lower it.
var parallelThreshold = 1 << 20

// gemvParallelThreshold is the same for the dot-product and axpy paths,
// which stream B once and are bound by the bandwidth of the caches, not
// by arithmetic: splitting B's rows between two cores doubles it, and
// the workers, polling between the back-to-back products of a generation
// step, take their parts within a microsecond. A 256×256 matrix-vector
// product (a layer of a small language model at batch 1) is split.
// Tests lower it.
var gemvParallelThreshold = 1 << 15

func gemm[T float](kern *microKernel[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, pb PanelFunc[T]) {
	lenB := len(b)
	if pb != nil {
		lenB = k * n // B is not stored: packB reads it
	}
	checkGemm(transA, transB, m, n, k, len(a), lda, lenB, ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	args := gemmArgs[T]{transA, transB, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc, pb}
	path := kern.choosePath(&args)
	nw := runtime.GOMAXPROCS(0)
	threshold := parallelThreshold
	if path != pathPacked {
		threshold = gemvParallelThreshold
	}
	if nw == 1 || m*n*k < threshold || path != pathPacked && n < 8 {
		kern.runPath(path, &args, 0, m, 0, n)
		return
	}
	if path != pathPacked {
		// Split the columns in groups of four between the workers.
		job, _ := kern.jobs.Get().(*gemmJob[T])
		if job == nil {
			job = &gemmJob[T]{kern: kern}
		}
		job.args = args
		job.path = path
		job.splitM, job.panels, job.width = false, (n+3)/4, 4
		job.parts = min(nw, job.panels)
		runParallel(job, job.parts, &job.ps)
		job.args = gemmArgs[T]{}
		kern.jobs.Put(job)
		return
	}
	// Split the panels of one dimension evenly between the workers,
	// choosing the dimension with the smaller maximum share.
	mp := (m + kern.mr - 1) / kern.mr
	np := (n + kern.nr - 1) / kern.nr
	nwM, nwN := min(nw, mp), min(nw, np)
	costM := (mp + nwM - 1) / nwM * np
	costN := (np + nwN - 1) / nwN * mp
	job, _ := kern.jobs.Get().(*gemmJob[T])
	if job == nil {
		job = &gemmJob[T]{kern: kern}
	}
	job.args = args
	job.path = pathPacked
	if costM <= costN {
		job.splitM, job.parts, job.panels, job.width = true, nwM, mp, kern.mr
	} else {
		job.splitM, job.parts, job.panels, job.width = false, nwN, np, kern.nr
	}
	if job.parts == 1 {
		kern.run(&args, 0, m, 0, n)
	} else {
		runParallel(job, job.parts, &job.ps)
	}
	job.args = gemmArgs[T]{}
	kern.jobs.Put(job)
}

// gemmJob is a parallel Gemm call split into parts along M or N.
type gemmJob[T float] struct {
	kern   *microKernel[T]
	args   gemmArgs[T]
	splitM bool
	parts  int // number of parts
	panels int // number of mr (or nr) panels along the split dimension
	width  int // mr or nr
	path   gemmPath
	ps     partSync
}

// runPart computes part i of the job.
func (j *gemmJob[T]) runPart(i int) {
	lo := j.panels * i / j.parts * j.width
	hi := j.panels * (i + 1) / j.parts * j.width
	if j.splitM {
		j.kern.runPath(j.path, &j.args, lo, min(hi, j.args.m), 0, j.args.n)
	} else {
		j.kern.runPath(j.path, &j.args, 0, j.args.m, lo, min(hi, j.args.n))
	}
}

// gemmPath is the algorithm chosen for one Gemm call.
type gemmPath uint8

const (
	pathPacked gemmPath = iota // packed panels and the micro-kernel
	pathGemvT                  // dot products of rows (gemvT)
	pathGemvN                  // axpy of rows of B (gemvN)
)

// choosePath picks the algorithm for g. Few rows of op(A), or few columns
// of op(B), are computed without packing (see gemv.go): with B transposed,
// the dot-product kernel beats packing while B stays in the L2 cache
// between blocks of rows.
func (kern *microKernel[T]) choosePath(g *gemmArgs[T]) gemmPath {
	switch {
	case kern.gemvT == nil || g.packB != nil:
		return pathPacked
	case g.transB && !g.transA && (g.m <= kern.smallM || (g.m <= kern.smallMT || kern.fewColumns(g)) && g.n*g.k <= smallMTElems):
		return pathGemvT
	case !g.transB && g.m <= kern.smallM:
		return pathGemvN
	}
	return pathPacked
}

// fewColumns reports whether g has so few columns (at most half a panel)
// that the packed micro-kernel would waste most of its tile, and a depth
// of at least half a panel, for which the dot-product kernel (measured on
// Zen 4, 128×10×128: 3.7µs against 12.6µs packed) is faster.
func (kern *microKernel[T]) fewColumns(g *gemmArgs[T]) bool {
	return 2*g.n <= kern.nr && 2*g.k >= kern.nr
}

// runPath computes rows [m0, m1) and columns [n0, n1) of C with path on the
// calling goroutine. The gemv paths take m0 = 0 and m1 = m.
func (kern *microKernel[T]) runPath(path gemmPath, g *gemmArgs[T], m0, m1, n0, n1 int) {
	switch path {
	case pathGemvT:
		kern.gemvT(g.m, n1-n0, g.k, g.alpha, g.a, g.lda, g.b[n0*g.ldb:], g.ldb, g.beta, g.c[n0:], g.ldc)
	case pathGemvN:
		gemvN(kern.axpy, g.transA, g.m, n1-n0, g.k, g.alpha, g.a, g.lda, g.b[n0:], g.ldb, g.beta, g.c[n0:], g.ldc)
	default:
		kern.run(g, m0, m1, n0, n1)
	}
}

// scaleC sets C = beta*C (C = 0 when beta == 0, without reading C).
func scaleC[T float](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// run computes rows [m0, m1) and columns [n0, n1) of C on the calling
// goroutine.
func (kern *microKernel[T]) run(g *gemmArgs[T], m0, m1, n0, n1 int) {
	mr, nr := kern.mr, kern.nr
	kc := min(kern.kc, g.k)
	// Balance the depth blocks so that the last one is not tiny.
	if nb := (g.k + kc - 1) / kc; nb > 1 {
		kc = (g.k + nb - 1) / nb
	}
	mc := min(kern.mc, (m1-m0+mr-1)/mr*mr)
	nc := min(kern.nc, (n1-n0+nr-1)/nr*nr)
	bufs := kern.getBufs(mc, kc, nc)
	tile := bufs.tile[:mr*nr]
	for pc := 0; pc < g.k; pc += kc {
		kb := min(kc, g.k-pc)
		beta := g.beta
		if pc > 0 {
			beta = 1
		}
		for ic := m0; ic < m1; ic += mc {
			mb := min(mc, m1-ic)
			ap := bufs.a[:(mb+mr-1)/mr*mr*kb]
			full := mb / mr * mr
			packA(mr, g.transA, g.a, g.lda, ic, full, pc, kb, ap)
			if full < mb {
				e := kern.edge(mb - full)
				packA(e.mr, g.transA, g.a, g.lda, ic+full, mb-full, pc, kb, ap[full*kb:])
			}
			for jc := n0; jc < n1; jc += nc {
				nb := min(nc, n1-jc)
				bp := bufs.b[:(nb+nr-1)/nr*nr*kb]
				if g.packB != nil {
					for jr := 0; jr < nb; jr += nr {
						g.packB(bp[jr*kb:(jr+nr)*kb], nr, pc, kb, jc+jr, min(nr, nb-jr))
					}
				} else {
					packB(nr, g.transB, g.b, g.ldb, pc, kb, jc, nb, bp)
				}
				for ir := 0; ir < mb; ir += mr {
					mrr := min(mr, mb-ir)
					k := kern
					if mrr < mr {
						k = kern.edge(mrr)
					}
					apan := ap[ir*kb : (ir+k.mr)*kb]
					crow := (ic+ir)*g.ldc + jc
					for jr := 0; jr < nb; jr += nr {
						nrr := min(nr, nb-jr)
						bpan := bp[jr*kb : (jr+nr)*kb]
						coff := crow + jr
						if mrr == k.mr && nrr == nr {
							k.fn(kb, apan, bpan, g.c[coff:], g.ldc, g.alpha, beta)
							continue
						}
						k.fn(kb, apan, bpan, tile, nr, g.alpha, 0)
						mergeTile(mrr, nrr, tile, nr, beta, g.c[coff:], g.ldc)
					}
				}
			}
		}
	}
	kern.bufs.Put(bufs)
}

// mergeTile sets the m×n block c = t + beta*c (c = t when beta == 0).
func mergeTile[T float](m, n int, t []T, ldt int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		tr := t[i*ldt : i*ldt+n]
		cr := c[i*ldc : i*ldc+n]
		if beta == 0 {
			copy(cr, tr)
			continue
		}
		for j, v := range tr {
			cr[j] = v + beta*cr[j]
		}
	}
}

// packA packs the mb×kb block of op(A) starting at (i0, p0) into panels of
// mr rows: dst[(i/mr)*mr*kb + p*mr + i%mr] = op(A)[i0+i][p0+p], zero padded
// to a multiple of mr rows.
func packA[T float](mr int, trans bool, a []T, lda, i0, mb, p0, kb int, dst []T) {
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		pan := dst[ir*kb : ir*kb+mr*kb]
		if trans {
			// op(A)[i][p] = a[p*lda+i]: rows of a are contiguous in i.
			copyPanel(pan, mr, a[(p0*lda)+i0+ir:], lda, kb, rows)
		} else {
			// op(A)[i][p] = a[i*lda+p].
			transposePanel(pan, mr, a[(i0+ir)*lda+p0:], lda, rows, kb)
		}
	}
}

// packB packs the kb×nb block of op(B) starting at (p0, j0) into panels of
// nr columns: dst[(j/nr)*nr*kb + p*nr + j%nr] = op(B)[p0+p][j0+j], zero
// padded to a multiple of nr columns.
func packB[T float](nr int, trans bool, b []T, ldb, p0, kb, j0, nb int, dst []T) {
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		pan := dst[jr*kb : jr*kb+nr*kb]
		if trans {
			// op(B)[p][j] = b[j*ldb+p].
			transposePanel(pan, nr, b[(j0+jr)*ldb+p0:], ldb, cols, kb)
		} else {
			copyPanel(pan, nr, b[p0*ldb+j0+jr:], ldb, kb, cols)
		}
	}
}

// copyPanel sets dst[p*w+j] = src[p*ld+j] for p < kb, j < cols, and zeroes
// dst[p*w+j] for cols <= j < w.
func copyPanel[T float](dst []T, w int, src []T, ld, kb, cols int) {
	if cols == w && kb > 0 {
		// Whole panels of the micro-kernels' widths (the AVX-512 float32
		// B panel, and the A panels of a transposed A, 12, 8 or 4 rows
		// wide): fixed-size copies and element moves, cheaper than a call
		// to memmove per row of a few elements (a generic [12]T copy is
		// one).
		switch w {
		case 32:
			_, _ = src[(kb-1)*ld+31], dst[kb*32-1]
			for p := 0; p < kb; p++ {
				*(*[32]T)(dst[p*32:]) = *(*[32]T)(src[p*ld:])
			}
			return
		case 16:
			_, _ = src[(kb-1)*ld+15], dst[kb*16-1]
			for p := 0; p < kb; p++ {
				*(*[16]T)(dst[p*16:]) = *(*[16]T)(src[p*ld:])
			}
			return
		case 12:
			for p := 0; p < kb; p++ {
				r := src[p*ld : p*ld+12 : p*ld+12]
				d := dst[p*12 : p*12+12 : p*12+12]
				d[0], d[1], d[2], d[3] = r[0], r[1], r[2], r[3]
				d[4], d[5], d[6], d[7] = r[4], r[5], r[6], r[7]
				d[8], d[9], d[10], d[11] = r[8], r[9], r[10], r[11]
			}
			return
		case 8:
			for p := 0; p < kb; p++ {
				r := src[p*ld : p*ld+8 : p*ld+8]
				d := dst[p*8 : p*8+8 : p*8+8]
				d[0], d[1], d[2], d[3] = r[0], r[1], r[2], r[3]
				d[4], d[5], d[6], d[7] = r[4], r[5], r[6], r[7]
			}
			return
		case 6:
			for p := 0; p < kb; p++ {
				r := src[p*ld : p*ld+6 : p*ld+6]
				d := dst[p*6 : p*6+6 : p*6+6]
				d[0], d[1], d[2], d[3] = r[0], r[1], r[2], r[3]
				d[4], d[5] = r[4], r[5]
			}
			return
		case 4:
			for p := 0; p < kb; p++ {
				r := src[p*ld : p*ld+4 : p*ld+4]
				d := dst[p*4 : p*4+4 : p*4+4]
				d[0], d[1], d[2], d[3] = r[0], r[1], r[2], r[3]
			}
			return
		}
	}
	for p := 0; p < kb; p++ {
		d := dst[p*w : p*w+w]
		copy(d, src[p*ld:p*ld+cols])
		clear(d[cols:])
	}
}

// transposePanel sets dst[p*w+r] = src[r*ld+p] for r < rows, p < kb, and
// zeroes dst[p*w+r] for rows <= r < w.
func transposePanel[T float](dst []T, w int, src []T, ld, rows, kb int) {
	dst = dst[:w*kb]
	if d, ok := any(dst).([]float32); ok {
		// The vector kernel does blocks of 4 or 8 rows and 8 columns; the
		// loops below finish the columns past them, then the rows.
		rd, pd := transposeF32(d, w, any(src).([]float32), ld, rows, kb)
		if pd > 0 {
			transposeRows(dst, w, src, ld, 0, rd, pd, kb)
			transposeRows(dst, w, src, ld, rd, rows, 0, kb)
			zeroPad(dst, w, rows, kb)
			return
		}
	}
	transposeRows(dst, w, src, ld, 0, rows, 0, kb)
	zeroPad(dst, w, rows, kb)
}

// transposeRows sets dst[p*w+r] = src[r*ld+p] for r0 <= r < r1 and
// p0 <= p < p1.
func transposeRows[T any](dst []T, w int, src []T, ld, r0, r1, p0, p1 int) {
	if p0 >= p1 {
		return
	}
	r := r0
	for ; r+4 <= r1; r += 4 {
		s0 := src[r*ld+p0 : r*ld+p1]
		s1 := src[(r+1)*ld+p0 : (r+1)*ld+p1]
		s2 := src[(r+2)*ld+p0 : (r+2)*ld+p1]
		s3 := src[(r+3)*ld+p0 : (r+3)*ld+p1]
		d := dst[p0*w+r:]
		for p := range s0 {
			q := (*[4]T)(d[p*w:])
			q[0], q[1], q[2], q[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; r < r1; r++ {
		s0 := src[r*ld+p0 : r*ld+p1]
		d := dst[p0*w+r:]
		for p, v := range s0 {
			d[p*w] = v
		}
	}
}

// zeroPad zeroes dst[p*w+r] for rows <= r < w and p < kb.
func zeroPad[T float](dst []T, w, rows, kb int) {
	if rows < w {
		for p := 0; p < kb; p++ {
			clear(dst[p*w+rows : p*w+w])
		}
	}
}
