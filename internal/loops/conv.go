package loops

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Window is the geometry of sliding kh×kw windows over the planes of an
// NCHW tensor: N images of C planes of H×W, windows of KH×KW taps moved by
// (SH, SW), with PH, PW rows and columns of padding on each side and
// dilation (DH, DW) between taps, giving OH×OW window positions.
type Window struct {
	N, C, H, W int
	KH, KW     int
	SH, SW     int
	PH, PW     int
	DH, DW     int
	OH, OW     int
}

// ColLayout says how unfolded columns are laid out.
type ColLayout int

const (
	// ImageMajor is (N, C·KH·KW, OH·OW), as torch.nn.functional.unfold.
	ImageMajor ColLayout = iota
	// TapMajor is (C·KH·KW, N·OH·OW): the batch joins the window
	// positions, so that a convolution of the whole batch is one matrix
	// product.
	TapMajor
)

// rowOffset returns where the row of tap k of image n starts in cols.
func (g *Window) rowOffset(lay ColLayout, n, k int) int {
	L := g.OH * g.OW
	if lay == TapMajor {
		return (k*g.N + n) * L
	}
	return (n*g.C*g.KH*g.KW + k) * L
}

// parallelMin is the number of elements from which the loops below split
// their work between goroutines.
const parallelMin = 1 << 15

// parallelFor calls f on consecutive ranges [lo, hi) covering [0, n),
// on up to GOMAXPROCS goroutines when work (the number of elements
// touched) is large enough, else once on the calling goroutine. The
// ranges run on the kernel's worker goroutines, which poll for work a
// while before sleeping: waking a parked goroutine on an idle core costs
// 100–150 µs in this VM (measured for GEMM's workers), and a training
// step makes dozens of these calls.
func parallelFor(n, work int, f func(lo, hi int)) {
	p := min(runtime.GOMAXPROCS(0), n, work/parallelMin)
	if p <= 1 {
		f(0, n)
		return
	}
	kernel.ParallelParts(n, p, f)
}

// Unfold copies the windows of img (N, C, H, W; contiguous) into cols in
// the given layout (im2col): row (c·KH + i)·KW + j of image n holds tap
// (i, j) of channel c at every window position. Taps in the padding read
// pad. Every element of cols is written.
func Unfold[T Float](cols, img []T, g Window, lay ColLayout, pad T) {
	K := g.C * g.KH * g.KW
	L := g.OH * g.OW
	parallelFor(g.N*g.C, g.N*K*L, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			n, c := nc/g.C, nc%g.C
			plane := img[nc*g.H*g.W : (nc+1)*g.H*g.W]
			for i := 0; i < g.KH; i++ {
				for j := 0; j < g.KW; j++ {
					k := (c*g.KH+i)*g.KW + j
					row := cols[g.rowOffset(lay, n, k):][:L]
					unfoldRow(row, plane, &g, i, j, pad)
				}
			}
		}
	})
}

// Fold adds cols, laid out as Unfold writes them, back into img (col2im):
// the adjoint of Unfold with pad 0. img must hold its starting values
// (zeros for a plain fold).
func Fold[T Float](img, cols []T, g Window, lay ColLayout) {
	K := g.C * g.KH * g.KW
	L := g.OH * g.OW
	parallelFor(g.N*g.C, g.N*K*L, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			n, c := nc/g.C, nc%g.C
			plane := img[nc*g.H*g.W : (nc+1)*g.H*g.W]
			for i := 0; i < g.KH; i++ {
				for j := 0; j < g.KW; j++ {
					k := (c*g.KH+i)*g.KW + j
					row := cols[g.rowOffset(lay, n, k):][:L]
					foldRow(plane, row, &g, i, j)
				}
			}
		}
	})
}

// span returns the window positions [lo, hi) along one axis whose tap at
// offset off (= tap index · dilation - padding) falls inside [0, size),
// for out positions at the given stride.
func span(out, size, stride, off int) (lo, hi int) {
	// position o reads o·stride + off; need 0 <= o·stride + off < size.
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = 0
	if size-off > 0 {
		hi = (size - off + stride - 1) / stride
	}
	return min(lo, out), max(min(hi, out), min(lo, out))
}

// unfoldRow fills the OH·OW positions of tap (i, j) from one plane.
func unfoldRow[T Float](row, plane []T, g *Window, i, j int, pad T) {
	offY := i*g.DH - g.PH
	offX := j*g.DW - g.PW
	ylo, yhi := span(g.OH, g.H, g.SH, offY)
	xlo, xhi := span(g.OW, g.W, g.SW, offX)
	fill(row[:ylo*g.OW], pad)
	fill(row[yhi*g.OW:], pad)
	if xlo >= xhi {
		fill(row[ylo*g.OW:yhi*g.OW], pad)
		return
	}
	n := xhi - xlo
	for oy := ylo; oy < yhi; oy++ {
		r := row[oy*g.OW : (oy+1)*g.OW]
		line := plane[(oy*g.SH+offY)*g.W:][:g.W]
		if xlo > 0 {
			fill(r[:xlo], pad)
		}
		if xhi < g.OW {
			fill(r[xhi:], pad)
		}
		if g.SW == 1 {
			copyShort(r[xlo:xhi], line[xlo+offX:][:n])
			continue
		}
		ix := xlo*g.SW + offX
		for ox := xlo; ox < xhi; ox++ {
			r[ox] = line[ix]
			ix += g.SW
		}
	}
}

// copyShort is copy for the short row segments of small images, where
// the call to memmove costs more than the copy.
func copyShort[T Float](dst, src []T) {
	if len(dst) >= 16 {
		copy(dst, src)
		return
	}
	src = src[:len(dst)]
	//lint:ignore S1001 the loop is the point: memmove's call costs more here
	for k, v := range src {
		dst[k] = v
	}
}

// foldRow adds the OH·OW positions of tap (i, j) into one plane.
func foldRow[T Float](plane, row []T, g *Window, i, j int) {
	offY := i*g.DH - g.PH
	offX := j*g.DW - g.PW
	ylo, yhi := span(g.OH, g.H, g.SH, offY)
	xlo, xhi := span(g.OW, g.W, g.SW, offX)
	if xlo >= xhi {
		return
	}
	n := xhi - xlo
	for oy := ylo; oy < yhi; oy++ {
		r := row[oy*g.OW : (oy+1)*g.OW]
		line := plane[(oy*g.SH+offY)*g.W:][:g.W]
		if g.SW == 1 {
			d := line[xlo+offX:][:n]
			s := r[xlo:][:n]
			for k, v := range s {
				d[k] += v
			}
			continue
		}
		ix := xlo*g.SW + offX
		for ox := xlo; ox < xhi; ox++ {
			line[ix] += r[ox]
			ix += g.SW
		}
	}
}

func fill[T Float](s []T, v T) {
	if len(s) >= 16 && v == 0 {
		clear(s)
		return
	}
	if len(s) >= 64 {
		// a block of v, then doubling copies (memmove, vectorized) of
		// what is filled: a bias row of thousands of elements
		for i := range s[:16] {
			s[i] = v
		}
		for k := 16; k < len(s); k *= 2 {
			copy(s[k:], s[:k])
		}
		return
	}
	for i := range s {
		s[i] = v
	}
}

// MaxPool writes the maximum of every window of img (N·C planes; padding
// reads as -Inf) into out (N·C planes of OH×OW) and the index within its
// plane (iy·W + ix) of the element it came from into idx. Windows may
// hang over the bottom and right edges (PyTorch's ceil_mode); they take
// the taps inside the input. Ties go to the first maximum in row-major
// window order, and a NaN wins over any number, as in PyTorch's
// max_pool2d; a window that is all -Inf points at its first element
// inside the image. A dilated window with no tap inside the image (see
// [Window.Holes]) gets -Inf and the index -1.
func MaxPool[T Float](out []T, idx []int32, img []T, g Window) {
	hw, L := g.H*g.W, g.OH*g.OW
	planes := g.N * g.C
	fast := g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.DH == 1 && g.DW == 1
	dilated := g.DH != 1 || g.DW != 1
	parallelFor(planes, planes*(hw+L), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := img[p*hw : (p+1)*hw]
			o := out[p*L : (p+1)*L]
			ix := idx[p*L : (p+1)*L]
			switch {
			case fast:
				maxPool2x2(o, ix, plane, &g)
			case dilated:
				maxPoolDilated(o, ix, plane, &g)
			default:
				maxPoolPlane(o, ix, plane, &g)
			}
		}
	})
}

// maxPool2x2 is MaxPool for 2×2 windows at stride 2 without padding. It
// works on two input rows at a time; see maxPool2x2Rows. With ceil_mode
// and an odd height or width, the last row or column of windows hangs
// over the edge; those windows go through maxIndex.
func maxPool2x2[T Float](out []T, idx []int32, plane []T, g *Window) {
	w, ow := g.W, g.OW
	fh, fw := min(g.OH, g.H/2), min(ow, w/2) // windows wholly inside
	for oy := 0; oy < fh; oy++ {
		base := 2 * oy * w
		o := out[oy*ow:][:fw]
		ix := idx[oy*ow:][:fw]
		if fw < ow {
			k := maxIndex(plane, w, 2*oy, 2*oy+2, 2*fw, w)
			out[oy*ow+fw], idx[oy*ow+fw] = plane[k], int32(k)
		}
		rows := plane[base : base+w+2*fw]
		if o32, ok := any(o).([]float32); ok {
			if maxPool2x2RowsF32(o32, ix, any(rows).([]float32), w, base) {
				continue
			}
		} else if maxPool2x2Rows(o, ix, rows, w, base) {
			continue
		}
		// A NaN in these two rows (or an infinity that the fast loop
		// cannot tell from one): by definition.
		for ox := range o {
			k := maxIndex(plane, w, 2*oy, 2*oy+2, 2*ox, 2*ox+2)
			o[ox], ix[ox] = plane[k], int32(k)
		}
	}
	for oy := fh; oy < g.OH; oy++ {
		for ox := 0; ox < ow; ox++ {
			k := maxIndex(plane, w, 2*oy, g.H, 2*ox, min(2*ox+2, w))
			out[oy*ow+ox], idx[oy*ow+ox] = plane[k], int32(k)
		}
	}
}

// maxPool2x2Rows pools the two rows that start at rows[0] and rows[w]
// into o and ix (offsets from base). It reports false when the rows hold
// a NaN or both infinities, where its picks are not those of maxIndex.
//
// On random data a branch on each comparison mispredicts half the time,
// so the first maximum is found with arithmetic and conditional moves on
// the comparisons' outcomes: the first of each row's pair, then the top
// row's unless the bottom row's is larger. A window without a NaN picks
// the same element as maxIndex; a sum that is NaN flags the others.
func maxPool2x2Rows[T Float](o []T, ix []int32, rows []T, w, base int) bool {
	ix = ix[:len(o)]
	var bad int
	for q := range o {
		x := 2 * q
		top := rows[x : x+2]
		bot := rows[x+w : x+w+2]
		a, b, c, d := top[0], top[1], bot[0], bot[1]
		s := (a + b) + (c + d)
		bad |= b2i(s != s)
		k0 := b2i(b > a)
		k1 := b2i(d > c)
		// k0, or w + k1 when the bottom row's pick is larger, by a mask:
		// a branch here would be a coin toss.
		m := -b2i(bot[k1&1] > top[k0&1])
		k := k0 ^ ((k0 ^ (w + k1)) & m)
		o[q] = rows[x+k]
		ix[q] = int32(base + x + k)
	}
	return bad == 0
}

// maxPool2x2RowsF32 is maxPool2x2Rows for float32, with the picks made
// on the values' bits in registers (a second load of the picked element
// waits on the stores of earlier windows), no bounds checks in the loop
// (the one up front covers every read) and a flag that costs two
// instructions a window: it reports false for rows with any NaN or
// infinity.
func maxPool2x2RowsF32(o []float32, ix []int32, rows []float32, w, base int) bool {
	n := len(o)
	if n == 0 {
		return true
	}
	ix = ix[:n]
	_ = rows[w+2*n-1] // the last element of the bottom row's last window
	p := unsafe.Pointer(unsafe.SliceData(rows))
	wsz := uintptr(w) * 4
	var acc float32
	for q := range o {
		top := (*[2]float32)(p)
		bot := (*[2]float32)(unsafe.Add(p, wsz))
		p = unsafe.Add(p, 8)
		a, b, c, d := top[0], top[1], bot[0], bot[1]
		// NaN from here on when the window holds a NaN or an infinity
		acc += ((a + b) + (c + d)) * 0
		k0 := b2i(b > a)
		k1 := b2i(d > c)
		ua, ub := math.Float32bits(a), math.Float32bits(b)
		uc, ud := math.Float32bits(c), math.Float32bits(d)
		u0 := ua ^ ((ua ^ ub) & -uint32(k0))
		u1 := uc ^ ((uc ^ ud) & -uint32(k1))
		m := -b2i(math.Float32frombits(u1) > math.Float32frombits(u0))
		u := u0 ^ ((u0 ^ u1) & uint32(m))
		k := k0 ^ ((k0 ^ (w + k1)) & m)
		o[q] = math.Float32frombits(u)
		ix[q] = int32(base + 2*q + k)
	}
	return acc == 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxIndex returns the plane offset of the element that max pooling picks
// in rows [ya, yb) and columns [xa, xb) of a plane of width w: the first
// maximum in row-major order, or the last NaN, as PyTorch's max_pool2d.
func maxIndex[T Float](plane []T, w, ya, yb, xa, xb int) int {
	m, k := T(math.Inf(-1)), ya*w+xa
	for y := ya; y < yb; y++ {
		line := plane[y*w : (y+1)*w]
		for x := xa; x < xb; x++ {
			if v := line[x]; v > m || v != v {
				m, k = v, y*w+x
			}
		}
	}
	return k
}

func maxPoolPlane[T Float](out []T, idx []int32, plane []T, g *Window) {
	for oy := 0; oy < g.OH; oy++ {
		y0 := oy*g.SH - g.PH
		ya, yb := max(y0, 0), min(y0+g.KH, g.H)
		for ox := 0; ox < g.OW; ox++ {
			x0 := ox*g.SW - g.PW
			k := maxIndex(plane, g.W, ya, yb, max(x0, 0), min(x0+g.KW, g.W))
			out[oy*g.OW+ox] = plane[k]
			idx[oy*g.OW+ox] = int32(k)
		}
	}
}

// taps returns the taps start, start+d, ... (k of them) of one axis that
// fall inside [0, size), as the first one and a bound: lo, lo+d, ... < hi.
// They are none when lo >= hi.
func taps(start, k, d, size int) (lo, hi int) {
	lo = start
	if lo < 0 {
		lo += (-lo + d - 1) / d * d
	}
	return lo, min(start+(k-1)*d+1, size)
}

// maxPoolDilated is maxPoolPlane for dilated windows, with PyTorch's
// picks: the first maximum over the taps inside the plane, in row-major
// order, or the last NaN; -Inf and index -1 for a window without any.
func maxPoolDilated[T Float](out []T, idx []int32, plane []T, g *Window) {
	for oy := 0; oy < g.OH; oy++ {
		ya, yb := taps(oy*g.SH-g.PH, g.KH, g.DH, g.H)
		for ox := 0; ox < g.OW; ox++ {
			xa, xb := taps(ox*g.SW-g.PW, g.KW, g.DW, g.W)
			q := oy*g.OW + ox
			if ya >= yb || xa >= xb {
				out[q], idx[q] = T(math.Inf(-1)), -1
				continue
			}
			m, k := T(math.Inf(-1)), ya*g.W+xa
			for y := ya; y < yb; y += g.DH {
				line := plane[y*g.W : (y+1)*g.W]
				for x := xa; x < xb; x += g.DW {
					if v := line[x]; v > m || v != v {
						m, k = v, y*g.W+x
					}
				}
			}
			out[q], idx[q] = plane[k], int32(k)
		}
	}
}

// Holes reports whether some window has no tap inside the image: with
// dilation, the taps of a window can straddle a small image. (Without
// dilation every window of a valid pooling geometry holds one.) Max
// pooling marks such a window's index -1; PoolGather and PoolScatter
// must then be told.
func (g *Window) Holes() bool {
	if g.DH == 1 && g.DW == 1 {
		return false
	}
	empty := func(out, stride, pad, k, d, size int) bool {
		for o := range out {
			if lo, hi := taps(o*stride-pad, k, d, size); lo >= hi {
				return true
			}
		}
		return false
	}
	return empty(g.OH, g.SH, g.PH, g.KH, g.DH, g.H) || empty(g.OW, g.SW, g.PW, g.KW, g.DW, g.W)
}

// PoolGather sets out[p·L + q] = img[p·HW + idx[p·L + q]] for every plane p
// of the P = len(out)/L planes. With holes, an index -1 gives 0.
func PoolGather[T Float](out, img []T, idx []int32, hw, L int, holes bool) {
	planes := len(out) / max(L, 1)
	parallelFor(planes, len(out), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := img[p*hw : (p+1)*hw]
			o := out[p*L : (p+1)*L]
			if holes {
				for q, k := range idx[p*L : (p+1)*L] {
					o[q] = 0
					if k >= 0 {
						o[q] = plane[k]
					}
				}
				continue
			}
			for q, k := range idx[p*L : (p+1)*L] {
				o[q] = plane[k]
			}
		}
	})
}

// PoolScatter sets img to zeros plus src[p·L + q] added into
// img[p·HW + idx[p·L + q]]: the adjoint of PoolGather. img's old values
// do not matter; each plane is cleared just before its scatter, while it
// is in the cache. With holes, an index -1 adds nothing.
func PoolScatter[T Float](img, src []T, idx []int32, hw, L int, holes bool) {
	planes := len(src) / max(L, 1)
	parallelFor(planes, len(src)+planes*hw, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := img[p*hw : (p+1)*hw]
			clear(plane)
			s := src[p*L : (p+1)*L]
			if holes {
				for q, k := range idx[p*L : (p+1)*L] {
					if k >= 0 {
						plane[k] += s[q]
					}
				}
				continue
			}
			for q, k := range idx[p*L : (p+1)*L] {
				plane[k] += s[q]
			}
		}
	})
}

// AvgDivisor says what average pooling divides each window's sum by, as
// PyTorch's avg_pool2d: Override when it is not 0; else, with
// ExcludePad (count_include_pad=False), the number of the window's cells
// inside the image; else the number inside the padded image, which is
// kh·kw except for a window that hangs over the padding (ceil_mode).
type AvgDivisor struct {
	Override   int
	ExcludePad bool
}

// uniform returns the divisor that every window shares, or 0 when the
// windows at the edges have their own.
func (dv AvgDivisor) uniform(g *Window) int {
	if dv.Override != 0 {
		return dv.Override
	}
	// where the last windows end: past the input (ceil mode) or not
	endY := (g.OH-1)*g.SH - g.PH + g.KH
	endX := (g.OW-1)*g.SW - g.PW + g.KW
	if dv.ExcludePad {
		if g.PH == 0 && g.PW == 0 && endY <= g.H && endX <= g.W {
			return g.KH * g.KW
		}
		return 0
	}
	if endY <= g.H+g.PH && endX <= g.W+g.PW {
		return g.KH * g.KW
	}
	return 0
}

// axis returns the count along one axis, as in AvgDivisor, of the window
// that starts at start (in image coordinates; taps [lo, hi) inside it).
func (dv AvgDivisor) axis(start, k, size, pad, lo, hi int) int {
	if dv.ExcludePad {
		return hi - lo
	}
	return min(start+k, size+pad) - start
}

// AvgPool writes the sum of every window of img (N·C planes; dilation 1;
// padding reads as 0) divided by the window's divisor (see AvgDivisor)
// into out. Windows may hang over the bottom and right edges (PyTorch's
// ceil_mode); they sum the cells inside the image.
func AvgPool[T Float](out, img []T, g Window, dv AvgDivisor) {
	hw, L := g.H*g.W, g.OH*g.OW
	planes := g.N * g.C
	// Most geometries divide every window by the same number. Their loop
	// is a function of its own, free of the divisor's bookkeeping, which
	// would take registers from it.
	var scale T
	if d := dv.uniform(&g); d != 0 {
		scale = 1 / T(d)
	}
	parallelFor(planes, planes*(hw+L), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := img[p*hw : (p+1)*hw]
			o := out[p*L : (p+1)*L]
			if scale != 0 {
				avgPoolPlane(o, plane, &g, scale)
			} else {
				avgPoolEdges(o, plane, &g, dv)
			}
		}
	})
}

// avgPoolPlane is AvgPool on one plane with one scale for every window.
func avgPoolPlane[T Float](o, plane []T, g *Window, scale T) {
	for oy := 0; oy < g.OH; oy++ {
		y0 := oy*g.SH - g.PH
		ya, yb := max(y0, 0), min(y0+g.KH, g.H)
		for ox := 0; ox < g.OW; ox++ {
			x0 := ox*g.SW - g.PW
			xa, xb := max(x0, 0), min(x0+g.KW, g.W)
			var s T
			for y := ya; y < yb; y++ {
				for _, v := range plane[y*g.W+xa : y*g.W+xb] {
					s += v
				}
			}
			o[oy*g.OW+ox] = s * scale
		}
	}
}

// avgPoolEdges is AvgPool on one plane for the geometries whose windows
// do not share a divisor.
func avgPoolEdges[T Float](o, plane []T, g *Window, dv AvgDivisor) {
	for oy := 0; oy < g.OH; oy++ {
		y0 := oy*g.SH - g.PH
		ya, yb := max(y0, 0), min(y0+g.KH, g.H)
		ny := dv.axis(y0, g.KH, g.H, g.PH, ya, yb)
		for ox := 0; ox < g.OW; ox++ {
			x0 := ox*g.SW - g.PW
			xa, xb := max(x0, 0), min(x0+g.KW, g.W)
			var s T
			for y := ya; y < yb; y++ {
				for _, v := range plane[y*g.W+xa : y*g.W+xb] {
					s += v
				}
			}
			o[oy*g.OW+ox] = s / T(ny*dv.axis(x0, g.KW, g.W, g.PW, xa, xb))
		}
	}
}

// AvgPoolAdjoint adds src[window] divided by the window's divisor into
// every element of img that the window covers: the adjoint of AvgPool.
// img must hold its starting values (zeros).
func AvgPoolAdjoint[T Float](img, src []T, g Window, dv AvgDivisor) {
	hw, L := g.H*g.W, g.OH*g.OW
	planes := g.N * g.C
	var scale T
	if d := dv.uniform(&g); d != 0 {
		scale = 1 / T(d)
	}
	parallelFor(planes, planes*(hw+L), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := img[p*hw : (p+1)*hw]
			s := src[p*L : (p+1)*L]
			if scale != 0 {
				avgPoolAdjointPlane(plane, s, &g, scale)
			} else {
				avgPoolAdjointEdges(plane, s, &g, dv)
			}
		}
	})
}

// avgPoolAdjointPlane is AvgPoolAdjoint on one plane with one scale for
// every window.
func avgPoolAdjointPlane[T Float](plane, s []T, g *Window, scale T) {
	for oy := 0; oy < g.OH; oy++ {
		y0 := oy*g.SH - g.PH
		ya, yb := max(y0, 0), min(y0+g.KH, g.H)
		for ox := 0; ox < g.OW; ox++ {
			x0 := ox*g.SW - g.PW
			xa, xb := max(x0, 0), min(x0+g.KW, g.W)
			v := s[oy*g.OW+ox] * scale
			for y := ya; y < yb; y++ {
				line := plane[y*g.W+xa : y*g.W+xb]
				for k := range line {
					line[k] += v
				}
			}
		}
	}
}

// avgPoolAdjointEdges is AvgPoolAdjoint on one plane for the geometries
// whose windows do not share a divisor.
func avgPoolAdjointEdges[T Float](plane, s []T, g *Window, dv AvgDivisor) {
	for oy := 0; oy < g.OH; oy++ {
		y0 := oy*g.SH - g.PH
		ya, yb := max(y0, 0), min(y0+g.KH, g.H)
		ny := dv.axis(y0, g.KH, g.H, g.PH, ya, yb)
		for ox := 0; ox < g.OW; ox++ {
			x0 := ox*g.SW - g.PW
			xa, xb := max(x0, 0), min(x0+g.KW, g.W)
			v := s[oy*g.OW+ox] / T(ny*dv.axis(x0, g.KW, g.W, g.PW, xa, xb))
			for y := ya; y < yb; y++ {
				line := plane[y*g.W+xa : y*g.W+xb]
				for k := range line {
					line[k] += v
				}
			}
		}
	}
}

// ColsToImages moves the (O, N·L) product of a convolution of the whole
// batch to the (N, O, L) layout of images, adding bias[o] to channel o
// when bias is not nil.
func ColsToImages[T Float](dst, src, bias []T, n, o, l int) {
	parallelFor(n, n*o*l, func(lo, hi int) {
		colsToImagesRange(dst, src, bias, n, o, l, lo, hi)
	})
}

func colsToImagesRange[T Float](dst, src, bias []T, n, o, l, lo, hi int) {
	for b := lo; b < hi; b++ {
		for c := 0; c < o; c++ {
			d := dst[(b*o+c)*l:][:l]
			s := src[(c*n+b)*l:][:l]
			if bias == nil {
				copy(d, s)
				continue
			}
			v := bias[c]
			for k, x := range s {
				d[k] = x + v
			}
		}
	}
}

// ImagesToCols moves (N, O, L) images to the (O, N·L) layout: the adjoint
// (and inverse) of ColsToImages without bias.
func ImagesToCols[T Float](dst, src []T, n, o, l int) {
	parallelFor(n, n*o*l, func(lo, hi int) {
		imagesToColsRange(dst, src, n, o, l, lo, hi)
	})
}

func imagesToColsRange[T Float](dst, src []T, n, o, l, lo, hi int) {
	for b := lo; b < hi; b++ {
		for c := 0; c < o; c++ {
			copy(dst[(c*n+b)*l:][:l], src[(b*o+c)*l:][:l])
		}
	}
}

// gemm is kernel.GemmF32 or GemmF64 with alpha 1.
func gemm[T Float](ta, tb bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		kernel.GemmF32(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		kernel.GemmF64(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// gemmPanelsSerial is kernel.GemmPanelsSerialF32 or GemmPanelsSerialF64
// with alpha 1.
func gemmPanelsSerial[T Float](m, n, k int, a []T, lda int, pack func(dst []T, w, p0, kb, j0, cols int), beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		kernel.GemmPanelsSerialF32(m, n, k, 1, a, lda, any(pack).(func([]float32, int, int, int, int, int)), float32(beta), any(c).([]float32), ldc)
	case []float64:
		kernel.GemmPanelsSerialF64(m, n, k, 1, a, lda, any(pack).(func([]float64, int, int, int, int, int)), float64(beta), any(c).([]float64), ldc)
	}
}

// gemmPanels is kernel.GemmPanelsF32 or GemmPanelsF64 with alpha 1.
func gemmPanels[T Float](m, n, k int, a []T, lda int, pack func(dst []T, w, p0, kb, j0, cols int), beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		kernel.GemmPanelsF32(m, n, k, 1, a, lda, any(pack).(func([]float32, int, int, int, int, int)), float32(beta), any(c).([]float32), ldc)
	case []float64:
		kernel.GemmPanelsF64(m, n, k, 1, a, lda, any(pack).(func([]float64, int, int, int, int, int)), float64(beta), any(c).([]float64), ldc)
	}
}

// Conv is a 2-d convolution (cross-correlation) of N images by O filters
// of C/Groups channels, with the geometry of Window.
//
// Its passes work on a few images at a time: the unfolded columns of one
// chunk stay in the cache between the unfold, the matrix products and the
// fold, and the chunks are shared between goroutines.
type Conv struct {
	Window
	O, Groups int
}

// chunk returns how many images to process at a time, given lc columns
// per image: the columns (C·KH·KW × images·lc) of a chunk fit in 256 KB,
// and one product per group stays under the size from which the GEMM
// splits itself between goroutines (the chunks are already spread over
// them).
func (cv *Conv) chunk(elem, lc int) int {
	K := cv.C * cv.KH * cv.KW
	nb := max(1, (256<<10)/max(1, elem*K*lc))
	og, kg := cv.O/cv.Groups, K/cv.Groups
	nb = min(nb, max(1, (1<<20-1)/max(1, og*kg*lc)))
	// at least two chunks per goroutine when there are enough images
	nb = min(nb, max(1, cv.N/(2*runtime.GOMAXPROCS(0))))
	return min(nb, max(cv.N, 1))
}

// eachChunk calls f with the image ranges [n0, n1) of the chunks, on up to
// GOMAXPROCS goroutines; f's calls on one range of chunks share its scratch
// state, which start makes and finish consumes. finish runs on the calling
// goroutine after every range is done, in the order of the ranges, not in
// the order the workers finish: a finish that adds partial sums into a
// total (the weight gradient) then gives the same bits on every run at a
// given thread count.
func eachChunk[S any](cv *Conv, nb int, start func() S, f func(s S, n0, n1 int), finish func(s S)) {
	chunks := (cv.N + nb - 1) / nb
	type part struct {
		lo int
		s  S
	}
	var (
		mu    sync.Mutex
		parts []part
	)
	parallelFor(chunks, chunks*parallelMin, func(lo, hi int) {
		s := start()
		for ch := lo; ch < hi; ch++ {
			f(s, ch*nb, min((ch+1)*nb, cv.N))
		}
		mu.Lock()
		parts = append(parts, part{lo, s})
		mu.Unlock()
	})
	if finish == nil {
		return
	}
	slices.SortFunc(parts, func(a, b part) int { return a.lo - b.lo })
	for _, p := range parts {
		finish(p.s)
	}
}

func (cv *Conv) sub(n int) Window {
	g := cv.Window
	g.N = n
	return g
}

// wide is the geometry of the stride-1 path of Conv: each image plane is
// copied into a zero-padded plane of width WP = W + 2·PW, and the windows
// are taken at every column of the padded rows, OW valid ones and
// WP - OW that run into the next row and are dropped. The columns of tap
// (i, j) are then one contiguous stretch of the padded plane, and the fold
// adds one stretch back.
type wide struct {
	wp, hp int // padded width and height
	p      int // elements per padded plane: hp·wp and slack for the last row's extra columns
	l      int // window positions per image, OH·WP
}

func (cv *Conv) wide() (w wide, ok bool) {
	if cv.SH != 1 || cv.SW != 1 {
		return w, false
	}
	w.wp, w.hp = cv.W+2*cv.PW, cv.H+2*cv.PH
	w.p = w.hp*w.wp + (cv.KW-1)*cv.DW
	w.l = cv.OH * w.wp
	return w, true
}

// ConvForward sets out (N, O, OH·OW) to the convolution of img (N, C, H,
// W) with w (O, C/Groups·KH·KW), plus bias[o] for each channel o when bias
// is not nil.
//
// It is an implicit GEMM (see convForwardImplicit) with more than 8
// filters per group, unless there are fewer than 32 and the output rows
// are short: then the columns are unfolded first (convForwardCols). With
// 8 filters or fewer the GEMM computes the product without packing it;
// with few filters and short rows packing dominates, and packing from the
// unfolded columns (whole panels of 32 consecutive columns) beats copying
// the short runs of a window row (LeNet's second convolution, 16 filters
// on 10-wide rows: 20 % slower forward and backward implicitly).
func ConvForward[T Float](out, img, w, bias []T, cv Conv) {
	ConvForwardFused(out, img, w, bias, cv, ConvEpilogue[T]{})
}

// ConvEpilogue is what ConvForwardFused applies to the convolution's
// output after the bias, chunk by chunk while it is in the cache: ResNet's
// residual add and ReLU. The results are those of the separate ops, bit
// for bit: out + res, rounded, then max(·, 0) as the Relu op computes it.
type ConvEpilogue[T Float] struct {
	Res  []T  // added when not nil; laid out as out (N, O, OH·OW)
	ReLU bool // then negatives (not NaNs) are set to 0
}

func (ep *ConvEpilogue[T]) none() bool { return ep.Res == nil && !ep.ReLU }

// at applies the epilogue to d, the elements of the output from offset off.
func (ep *ConvEpilogue[T]) at(d []T, off int) {
	if ep.Res != nil {
		addTo(d, ep.Res[off:off+len(d)])
	}
	if ep.ReLU {
		unary(Relu, d, d, 0)
	}
}

// apply applies the epilogue to dst, the output of images [n0, n0+n) of
// the convolution cv, on the calling goroutine or, when split is set (a
// chunk that is the convolution's only one), on the worker pool.
func (ep *ConvEpilogue[T]) apply(dst []T, cv *Conv, n0 int, split bool) {
	if ep.none() {
		return
	}
	off := n0 * cv.O * cv.OH * cv.OW
	run := func(lo, hi int) { ep.at(dst[lo:hi], off+lo) }
	if split {
		kernel.ParallelFor(len(dst), 1<<14, run)
		return
	}
	run(0, len(dst))
}

// ConvForwardFused is ConvForward followed by the epilogue ep.
func ConvForwardFused[T Float](out, img, w, bias []T, cv Conv, ep ConvEpilogue[T]) {
	if og := cv.O / cv.Groups; og > 8 && (og >= 32 || cv.OW >= 32) {
		convForwardImplicit(out, img, w, bias, cv, &ep)
		return
	}
	convForwardCols(out, img, w, bias, cv, &ep)
}

// convForwardImplicit is ConvForward as an implicit GEMM: the product's
// panels of B are packed straight from the (zero-padded) images by
// convPanels, so the unfolded columns are never materialized (the unfold
// and then the GEMM's packing copied every tap twice). A chunk of one
// image computes its product straight into out, which is (O, OH·OW) for
// that image, with the bias written first; a chunk of several images (for
// small images, so that the product has enough columns to amortize packing
// the filters) computes (O, n·OH·OW) and moves it to out.
func convForwardImplicit[T Float](out, img, w, bias []T, cv Conv, ep *ConvEpilogue[T]) {
	K, L := cv.C*cv.KH*cv.KW, cv.OH*cv.OW
	og, kg := cv.O/cv.Groups, K/cv.Groups
	hw := cv.C * cv.H * cv.W
	ph := newPhases(&cv)
	// enough images for 256 columns, and two chunks per goroutine when
	// there are enough images
	nb := max(1, (256+L-1)/L)
	nb = min(nb, max(1, cv.N/(2*runtime.GOMAXPROCS(0))), max(cv.N, 1))
	// With at least a chunk per goroutine, each chunk's product runs on
	// the goroutine of its chunk; a single image large enough to be worth
	// it is split by its positions (see below); fewer chunks than
	// goroutines leave the products to split themselves.
	procs := runtime.GOMAXPROCS(0)
	chunks := (cv.N + nb - 1) / nb
	serial := chunks >= procs
	split := chunks == 1 && procs > 1 && cv.O*L*kg >= 1<<20
	// rowOff[k] is where tap k = (c·KH + i)·KW + j reads in an image's
	// planes, relative to the window position.
	rowOff := make([]int, K)
	for c := 0; c < cv.C; c++ {
		for i := 0; i < cv.KH; i++ {
			for j := 0; j < cv.KW; j++ {
				rowOff[(c*cv.KH+i)*cv.KW+j] = c*ph.plane + ph.tap(i*cv.DH, j*cv.DW)
			}
		}
	}
	type scratch struct {
		pad, y []T
		colOff []int
	}
	eachChunk(&cv, nb, func() *scratch {
		s := &scratch{colOff: make([]int, nb*L)}
		if !ph.direct {
			s.pad = getBuf[T](nb * cv.C * ph.plane)
		}
		if nb > 1 {
			s.y = getBuf[T](cv.O * nb * L)
		}
		return s
	}, func(s *scratch, n0, n1 int) {
		n := n1 - n0
		src := img[n0*hw : n1*hw]
		if !ph.direct {
			splitPhases(&ph, s.pad, src, &cv, n)
			src = s.pad[:n*cv.C*ph.plane]
		}
		// colOff[b·L + q] is where window position q of image b starts.
		colOff := s.colOff[:n*L]
		for b := 0; b < n; b++ {
			for oy := 0; oy < cv.OH; oy++ {
				r := colOff[b*L+oy*cv.OW:][:cv.OW]
				base := b*cv.C*ph.plane + oy*ph.rowStep
				for ox := range r {
					r[ox] = base + ox*ph.colStep
				}
			}
		}
		dst := out[n0*cv.O*L : n1*cv.O*L]
		if n == 1 {
			// One image: with several goroutines and the only chunk, its
			// product is split between them by window positions (a range
			// of whole panels each, so that each packs only its own
			// panels and all the weights) or, where splitFilters finds it
			// cheaper, by filters (each packs its own weights and all the
			// panels). Each adds the bias and applies the epilogue to its
			// block of the output while it is in its cache.
			parts := 1
			if split {
				parts = procs
			}
			finish := func(o0, o1, j0, j1 int) {
				for o := o0; o < o1; o++ {
					d := dst[o*L+j0 : o*L+j1]
					if bias != nil {
						addConst(d, d, bias[o])
					}
					ep.at(d, n0*cv.O*L+o*L+j0)
				}
			}
			if parts > 1 && cv.Groups == 1 && splitFilters(cv.O, L, parts) {
				kernel.ParallelParts((cv.O+15)/16, parts, func(lo, hi int) {
					o0, o1 := lo*16, min(hi*16, cv.O)
					cp := &convPanels[T]{src: src, rowOff: rowOff, colOff: colOff}
					gemmPanelsSerial(o1-o0, L, kg, w[o0*kg:], kg, cp.pack, 0, dst[o0*L:], L)
					finish(o0, o1, 0, L)
				})
				return
			}
			kernel.ParallelParts((L+31)/32, parts, func(lo, hi int) {
				j0, j1 := lo*32, min(hi*32, L)
				for gi := 0; gi < cv.Groups; gi++ {
					cp := &convPanels[T]{src: src, rowOff: rowOff[gi*kg : (gi+1)*kg], colOff: colOff[j0:j1]}
					gemmPanelsSerial(og, j1-j0, kg, w[gi*og*kg:], kg, cp.pack, 0, dst[gi*og*L+j0:], L)
				}
				finish(0, cv.O, j0, j1)
			})
			return
		}
		y := s.y[:cv.O*n*L]
		nl := n * L
		for gi := 0; gi < cv.Groups; gi++ {
			cp := &convPanels[T]{src: src, rowOff: rowOff[gi*kg : (gi+1)*kg], colOff: colOff}
			if serial {
				gemmPanelsSerial(og, nl, kg, w[gi*og*kg:], kg, cp.pack, 0, y[gi*og*nl:], nl)
			} else {
				gemmPanels(og, nl, kg, w[gi*og*kg:], kg, cp.pack, 0, y[gi*og*nl:], nl)
			}
		}
		colsToImages(dst, y, bias, n, cv.O, L)
		ep.apply(dst, &cv, n0, false)
	}, func(s *scratch) {
		putBuf(s.pad)
		putBuf(s.y)
	})
}

// convPackCost is what packing one element of weights or panels costs,
// in multiply-adds of the GEMM micro-kernel (a load and a store at about
// 0.1-0.2 cycles, against 32 multiply-adds a cycle with AVX-512).
const convPackCost = 6

// splitFilters reports whether one image's implicit GEMM of o filters by
// l window positions is better split between parts goroutines by filters
// (rows of 16) than by positions (panels of 32). Each goroutine of a split
// by positions packs all the weights and its panels; each of a split by
// filters packs its weights and all the panels. The costs compare the
// largest share, tiles and packing, per unit of depth: resnet18's 3×3
// convolutions of 512 filters at 7×7 (2 panels, split 32 | 17, each
// goroutine packing 2.4M weights) and of 256 at 14×14 split by filters;
// those of 64 filters at 56×56 by positions.
func splitFilters(o, l, parts int) bool {
	p := (l + 31) / 32
	shareP := (p + parts - 1) / parts * 32
	costP := shareP*o + convPackCost*(o+shareP)
	shareF := ((o+15)/16 + parts - 1) / parts * 16
	costF := shareF*p*32 + convPackCost*(shareF+p*32)
	return costF < costP
}

// convPanels packs the panels of the implicit GEMM of a convolution: row p
// and column q of B is src[rowOff[p] + colOff[q]], the tap p of window
// position q.
type convPanels[T Float] struct {
	src            []T
	rowOff, colOff []int
}

// pack is a kernel.PanelFunc. The columns of a panel are a few runs of
// consecutive offsets at stride 1 (a window row, then the next); each run
// is one copy per row of the panel. At larger strides they are gathered.
func (cp *convPanels[T]) pack(dst []T, w, p0, kb, j0, cols int) {
	co := cp.colOff[j0 : j0+cols]
	ro := cp.rowOff[p0 : p0+kb]
	src := cp.src
	nrun := 1
	for q := 1; q < cols; q++ {
		if co[q] != co[q-1]+1 {
			nrun++
		}
	}
	var runBuf [32][2]int // (first column, length)
	var runs [][2]int
	if 2*nrun <= cols && nrun <= len(runBuf) {
		runs = runBuf[:0]
		for q := 0; q < cols; {
			e := q + 1
			for e < cols && co[e] == co[e-1]+1 {
				e++
			}
			runs = append(runs, [2]int{q, e - q})
			q = e
		}
	}
	dst = dst[:kb*w]
	switch {
	case nrun == 1 && cols == 32 && w == 32:
		// a whole AVX-512 float32 panel from one run: fixed-size moves
		o := co[0]
		for p, r := range ro {
			*(*[32]T)(dst[p*32:]) = *(*[32]T)(src[r+o:])
		}
	case runs == nil:
		// short runs (stride > 1): gather
		for p, r := range ro {
			d := dst[p*w : (p+1)*w]
			s := src[r:]
			for j, o := range co {
				d[j] = s[o]
			}
			clear(d[cols:])
		}
	default:
		for p, r := range ro {
			d := dst[p*w : (p+1)*w]
			for _, run := range runs {
				j, m := run[0], run[1]
				copyShort(d[j:j+m], src[r+co[j]:][:m])
			}
			clear(d[cols:])
		}
	}
}

// phases is how the implicit GEMM lays out an image's planes so that the
// window positions along a row read consecutive elements. Each plane is
// zero-padded, and at a stride s > 1 split into s×s phase planes (rows
// and columns of each residue mod the stride): tap (i, j) of window
// (oy, ox) then reads element (oy + i/sh, ox + j/sw) of phase
// (i mod sh, j mod sw), so a window row's taps are a run of consecutive
// elements which packing copies, instead of gathering every s-th. A
// 1×1 kernel uses one phase only, so it keeps the padded planes and
// gathers.
type phases struct {
	sh, sw           int  // phases per axis: the stride, or 1
	hq, wq           int  // height and width of a phase plane
	plane            int  // elements per channel: sh·sw·hq·wq
	rowStep, colStep int  // offset between window rows and columns
	direct           bool // the images are read as they are (no padding, stride 1)
}

func newPhases(cv *Conv) phases {
	hp, wp := cv.H+2*cv.PH, cv.W+2*cv.PW
	ph := phases{sh: 1, sw: 1}
	if cv.KH > 1 {
		ph.sh = cv.SH
	}
	if cv.KW > 1 {
		ph.sw = cv.SW
	}
	ph.hq, ph.wq = (hp+ph.sh-1)/ph.sh, (wp+ph.sw-1)/ph.sw
	ph.plane = ph.sh * ph.sw * ph.hq * ph.wq
	ph.rowStep = cv.SH / ph.sh * ph.wq
	ph.colStep = cv.SW / ph.sw
	ph.direct = cv.PH == 0 && cv.PW == 0 && ph.sh == 1 && ph.sw == 1
	return ph
}

// tap returns where the tap at padded offset (dy, dx) from a window's
// corner reads, relative to the window's offset in the channel's planes.
func (ph *phases) tap(dy, dx int) int {
	return (dy%ph.sh*ph.sw+dx%ph.sw)*ph.hq*ph.wq + dy/ph.sh*ph.wq + dx/ph.sw
}

// splitPhases writes the n images img (n, C, H, W) into dst in the layout
// of ph.
func splitPhases[T Float](ph *phases, dst, img []T, cv *Conv, n int) {
	dst = dst[:n*cv.C*ph.plane]
	clear(dst)
	pq := ph.hq * ph.wq
	for q := 0; q < n*cv.C; q++ {
		plane := img[q*cv.H*cv.W:][:cv.H*cv.W]
		pc := dst[q*ph.plane:][:ph.plane]
		// the phase and position of the first column
		b0, x0 := cv.PW%ph.sw, cv.PW/ph.sw
		for y := 0; y < cv.H; y++ {
			yp := y + cv.PH
			row := plane[y*cv.W:][:cv.W]
			base := yp%ph.sh*ph.sw*pq + yp/ph.sh*ph.wq
			if ph.sw == 1 {
				copy(pc[base+cv.PW:][:cv.W], row)
				continue
			}
			b, xq := b0, x0
			for _, v := range row {
				pc[base+b*pq+xq] = v
				if b++; b == ph.sw {
					b, xq = 0, xq+1
				}
			}
		}
	}
}

// convForwardCols is ConvForward by unfolding the columns of a few images
// at a time and one GEMM per group.
func convForwardCols[T Float](out, img, w, bias []T, cv Conv, ep *ConvEpilogue[T]) {
	var z T
	elem := int(unsafeSizeof(z))
	K, L := cv.C*cv.KH*cv.KW, cv.OH*cv.OW
	og, kg := cv.O/cv.Groups, K/cv.Groups
	hw := cv.C * cv.H * cv.W
	wd, isWide := cv.wide()
	lc := L // columns per image
	if isWide {
		lc = wd.l
	}
	nb := cv.chunk(elem, lc)
	type scratch struct{ cols, y, pad []T }
	eachChunk(&cv, nb, func() *scratch {
		s := &scratch{cols: getBuf[T](K * nb * lc), y: getBuf[T](cv.O * nb * lc)}
		if isWide {
			s.pad = getBuf[T](nb * cv.C * wd.p)
		}
		return s
	}, func(s *scratch, n0, n1 int) {
		n := n1 - n0
		nl := n * lc
		cols, y := s.cols[:K*nl], s.y[:cv.O*nl]
		if isWide {
			padImages(s.pad, img[n0*hw:n1*hw], &cv, &wd, n)
			unfoldWide(cols, s.pad, &cv, &wd, n)
		} else {
			unfoldSerial(cols, img[n0*hw:n1*hw], cv.sub(n))
		}
		for gi := 0; gi < cv.Groups; gi++ {
			gemm(false, false, og, nl, kg, w[gi*og*kg:], kg, cols[gi*kg*nl:], nl, 0, y[gi*og*nl:], nl)
		}
		dst := out[n0*cv.O*L : n1*cv.O*L]
		if isWide {
			wideToImages(dst, y, bias, &cv, &wd, n)
		} else {
			colsToImages(dst, y, bias, n, cv.O, L)
		}
		ep.apply(dst, &cv, n0, n == cv.N)
	}, func(s *scratch) {
		putBuf(s.cols)
		putBuf(s.y)
		putBuf(s.pad)
	})
}

// ConvBackward computes the gradients of the convolution from the
// gradient gout (N, O, OH·OW) of its output: it sets gimg (N, C, H, W), gw
// (O, C/Groups·KH·KW) and gbias (O), whatever they held. A nil gradient is
// not computed.
func ConvBackward[T Float](gimg, gw, gbias, gout, img, w []T, cv Conv) {
	var z T
	elem := int(unsafeSizeof(z))
	K, L := cv.C*cv.KH*cv.KW, cv.OH*cv.OW
	og, kg := cv.O/cv.Groups, K/cv.Groups
	hw := cv.C * cv.H * cv.W
	if gbias != nil {
		clear(gbias)
		for n := 0; n < cv.N; n++ {
			for o := range gbias {
				gbias[o] += sum(gout[(n*cv.O+o)*L:][:L])
			}
		}
	}
	if gimg == nil && gw == nil {
		return
	}
	if gw != nil {
		clear(gw)
	}
	wd, isWide := cv.wide()
	lc := L
	if isWide {
		lc = wd.l
	}
	nb := cv.chunk(elem, lc)
	type scratch struct{ cols, g2, gw, pad []T }
	eachChunk(&cv, nb, func() *scratch {
		s := &scratch{cols: getBuf[T](K * nb * lc), g2: getBuf[T](cv.O * nb * lc)}
		if gw != nil {
			s.gw = getBuf[T](len(gw))
			clear(s.gw)
		}
		if isWide {
			s.pad = getBuf[T](nb * cv.C * wd.p)
		}
		return s
	}, func(s *scratch, n0, n1 int) {
		n := n1 - n0
		nl := n * lc
		g2, cols := s.g2[:cv.O*nl], s.cols[:K*nl]
		src := gout[n0*cv.O*L : n1*cv.O*L]
		if isWide {
			imagesToWide(g2, src, &cv, &wd, n)
		} else {
			imagesToCols(g2, src, n, cv.O, L)
		}
		sub := cv.sub(n)
		if gw != nil {
			if isWide {
				padImages(s.pad, img[n0*hw:n1*hw], &cv, &wd, n)
				unfoldWide(cols, s.pad, &cv, &wd, n)
			} else {
				unfoldSerial(cols, img[n0*hw:n1*hw], sub)
			}
			for gi := 0; gi < cv.Groups; gi++ {
				gemm(false, true, og, kg, nl, g2[gi*og*nl:], nl, cols[gi*kg*nl:], nl, 1, s.gw[gi*og*kg:], kg)
			}
		}
		if gimg != nil {
			for gi := 0; gi < cv.Groups; gi++ {
				gemm(true, false, kg, nl, og, w[gi*og*kg:], kg, g2[gi*og*nl:], nl, 0, cols[gi*kg*nl:], nl)
			}
			if isWide {
				foldWide(s.pad, cols, &cv, &wd, n)
				unpadImages(gimg[n0*hw:n1*hw], s.pad, &cv, &wd, n)
			} else {
				clear(gimg[n0*hw : n1*hw])
				foldSerial(gimg[n0*hw:n1*hw], cols, sub)
			}
		}
	}, func(s *scratch) {
		if gw != nil {
			addTo(gw, s.gw)
		}
		putBuf(s.cols)
		putBuf(s.g2)
		putBuf(s.gw)
		putBuf(s.pad)
	})
}

var bufs32, bufs64 sync.Pool // *[]float32, *[]float64

// getBuf returns a scratch slice of n elements holding old values, from
// the pool when it has one large enough.
func getBuf[T Float](n int) []T {
	var b any
	var z T
	if any(z) == any(float32(0)) {
		b = bufs32.Get()
	} else {
		b = bufs64.Get()
	}
	if p, ok := b.(*[]T); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]T, n)
}

// putBuf returns a slice from getBuf to the pool.
func putBuf[T Float](b []T) {
	if cap(b) == 0 {
		return
	}
	switch p := any(&b).(type) {
	case *[]float32:
		bufs32.Put(p)
	case *[]float64:
		bufs64.Put(p)
	}
}

// padImages copies the n images img (n, C, H, W) into the zero-padded
// planes pad.
func padImages[T Float](pad, img []T, cv *Conv, wd *wide, n int) {
	pad = pad[:n*cv.C*wd.p]
	clear(pad)
	for q := 0; q < n*cv.C; q++ {
		plane := img[q*cv.H*cv.W:][:cv.H*cv.W]
		pp := pad[q*wd.p:][:wd.p]
		for y := 0; y < cv.H; y++ {
			copy(pp[(y+cv.PH)*wd.wp+cv.PW:][:cv.W], plane[y*cv.W:][:cv.W])
		}
	}
}

// unpadImages copies the interior of the padded planes pad to the n
// images img (n, C, H, W).
func unpadImages[T Float](img, pad []T, cv *Conv, wd *wide, n int) {
	for q := 0; q < n*cv.C; q++ {
		plane := img[q*cv.H*cv.W:][:cv.H*cv.W]
		pp := pad[q*wd.p:][:wd.p]
		for y := 0; y < cv.H; y++ {
			copyShort(plane[y*cv.W:][:cv.W], pp[(y+cv.PH)*wd.wp+cv.PW:][:cv.W])
		}
	}
}

// unfoldWide copies the columns of every tap from the padded planes: the
// row of tap (c, i, j) of image b is the stretch of plane (b, c) that
// starts at row i·DH, column j·DW.
func unfoldWide[T Float](cols, pad []T, cv *Conv, wd *wide, n int) {
	for b := 0; b < n; b++ {
		for c := 0; c < cv.C; c++ {
			pp := pad[(b*cv.C+c)*wd.p:][:wd.p]
			for i := 0; i < cv.KH; i++ {
				for j := 0; j < cv.KW; j++ {
					k := (c*cv.KH+i)*cv.KW + j
					copy(cols[(k*n+b)*wd.l:][:wd.l], pp[i*cv.DH*wd.wp+j*cv.DW:][:wd.l])
				}
			}
		}
	}
}

// foldWide is the adjoint of unfoldWide: it sets the padded planes to the
// sum of the stretches of every tap.
func foldWide[T Float](pad, cols []T, cv *Conv, wd *wide, n int) {
	pad = pad[:n*cv.C*wd.p]
	clear(pad)
	for b := 0; b < n; b++ {
		for c := 0; c < cv.C; c++ {
			pp := pad[(b*cv.C+c)*wd.p:][:wd.p]
			for i := 0; i < cv.KH; i++ {
				for j := 0; j < cv.KW; j++ {
					k := (c*cv.KH+i)*cv.KW + j
					addTo(pp[i*cv.DH*wd.wp+j*cv.DW:][:wd.l], cols[(k*n+b)*wd.l:][:wd.l])
				}
			}
		}
	}
}

// wideToImages moves the valid columns of the (O, n·OH·WP) product y to
// the images out (n, O, OH·OW), adding bias[o] when bias is not nil.
func wideToImages[T Float](out, y, bias []T, cv *Conv, wd *wide, n int) {
	L := cv.OH * cv.OW
	for b := 0; b < n; b++ {
		for o := 0; o < cv.O; o++ {
			d := out[(b*cv.O+o)*L:][:L]
			s := y[(o*n+b)*wd.l:][:wd.l]
			for oy := 0; oy < cv.OH; oy++ {
				dr, sr := d[oy*cv.OW:][:cv.OW], s[oy*wd.wp:][:cv.OW]
				if bias == nil {
					copy(dr, sr)
				} else {
					addConst(dr, sr, bias[o])
				}
			}
		}
	}
}

// imagesToWide is the adjoint of wideToImages without bias: it moves the
// images g (n, O, OH·OW) to the (O, n·OH·WP) layout, with zeros in the
// dropped columns.
func imagesToWide[T Float](dst, g []T, cv *Conv, wd *wide, n int) {
	L := cv.OH * cv.OW
	for b := 0; b < n; b++ {
		for o := 0; o < cv.O; o++ {
			s := g[(b*cv.O+o)*L:][:L]
			d := dst[(o*n+b)*wd.l:][:wd.l]
			for oy := 0; oy < cv.OH; oy++ {
				dr := d[oy*wd.wp:][:wd.wp]
				copy(dr, s[oy*cv.OW:][:cv.OW])
				clear(dr[cv.OW:])
			}
		}
	}
}

// shortRow is the length below which addTo and addConst loop in Go: the
// call into a vector kernel costs more than it saves on short rows.
const shortRow = 16

// addTo sets dst[i] += src[i].
func addTo[T Float](dst, src []T) {
	if d, ok := any(dst).([]float32); ok && len(d) >= shortRow {
		kernel.AddF32(d, d, any(src).([]float32)[:len(d)])
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// addConst sets dst[i] = src[i] + c.
func addConst[T Float](dst, src []T, c T) {
	if d, ok := any(dst).([]float32); ok && len(d) >= shortRow {
		kernel.AddConstF32(d, any(src).([]float32)[:len(d)], float32(c))
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v + c
	}
}

func sum[T Float](s []T) T {
	if f, ok := any(s).([]float32); ok {
		return T(kernel.SumF32(f))
	}
	var t T
	for _, v := range s {
		t += v
	}
	return t
}

// unfoldSerial is Unfold in the TapMajor layout on the calling goroutine.
func unfoldSerial[T Float](cols, img []T, g Window) {
	L := g.OH * g.OW
	for nc := 0; nc < g.N*g.C; nc++ {
		n, c := nc/g.C, nc%g.C
		plane := img[nc*g.H*g.W : (nc+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				k := (c*g.KH+i)*g.KW + j
				unfoldRow(cols[g.rowOffset(TapMajor, n, k):][:L], plane, &g, i, j, 0)
			}
		}
	}
}

// foldSerial is Fold in the TapMajor layout on the calling goroutine.
func foldSerial[T Float](img, cols []T, g Window) {
	L := g.OH * g.OW
	for nc := 0; nc < g.N*g.C; nc++ {
		n, c := nc/g.C, nc%g.C
		plane := img[nc*g.H*g.W : (nc+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				k := (c*g.KH+i)*g.KW + j
				foldRow(plane, cols[g.rowOffset(TapMajor, n, k):][:L], &g, i, j)
			}
		}
	}
}

func colsToImages[T Float](dst, src, bias []T, n, o, l int) {
	colsToImagesRange(dst, src, bias, n, o, l, 0, n)
}

func imagesToCols[T Float](dst, src []T, n, o, l int) {
	imagesToColsRange(dst, src, n, o, l, 0, n)
}

func unsafeSizeof[T Float](z T) uintptr { return unsafe.Sizeof(z) }
