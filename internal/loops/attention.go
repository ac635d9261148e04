package loops

import (
	"math"

	"github.com/nabla-go/nabla/internal/kernel"
)

// Scaled dot-product attention, forward and backward, tiled over blocks of
// query rows and key columns with an online softmax, as FlashAttention
// does: a (query block × key block) tile of scores is the only score
// storage per batch entry, whatever L and S are, and the backward pass
// recomputes the tiles from the log-sum-exp of each query row saved by the
// forward pass. The block products go through the GEMM kernels.

// AttnMat is one operand of attention, a batch of matrices: matrix b
// starts at Data[Off[b]] and is stored row-major with row stride LD, or,
// when Trans, as its transpose (column i of the stored matrix is row i).
type AttnMat[T Float] struct {
	Data  []T
	Off   []int
	LD    int
	Trans bool
}

// at returns the slice from row i of matrix b.
func (m AttnMat[T]) at(b, i int) []T {
	if m.Trans {
		return m.Data[m.Off[b]+i:]
	}
	return m.Data[m.Off[b]+i*m.LD:]
}

// ContigMat describes b contiguous matrices of rows×cols, one after the
// other, as AttnFwd's and AttnBwd's outputs usually are.
func ContigMat[T Float](data []T, b, rows, cols int) AttnMat[T] {
	off := make([]int, b)
	for i := range off {
		off[i] = i * rows * cols
	}
	return AttnMat[T]{Data: data, Off: off, LD: max(cols, 1)}
}

// row returns row i of matrix b, n elements (the matrix must not be
// stored transposed).
func (m AttnMat[T]) row(b, i, n int) []T {
	o := m.Off[b] + i*m.LD
	return m.Data[o : o+n]
}

// clearRows zeroes rows i0..i0+n of matrix b, w elements each.
func (m AttnMat[T]) clearRows(b, i0, n, w int) {
	for i := i0; i < i0+n; i++ {
		clear(m.row(b, i, w))
	}
}

// AttnMask is an additive mask broadcast over the (B, L, S) scores: the
// value for entry (b, i, j) is Data[Off[b] + i·RS + j·CS].
type AttnMask[T Float] struct {
	Data   []T
	Off    []int
	RS, CS int
}

// Attn describes one attention call: B batch entries (batch × heads) of L
// queries and S keys of width E, values of width Ev; scores are scaled by
// Scale, keys after a query are masked out when Causal (key j is seen by
// query i when j <= i), and the weights are dropped with probability P,
// the kept ones scaled by 1/(1-P), by a mask that DropKeep derives from
// Seed, so that the backward pass can recompute it.
type Attn struct {
	B, L, S, E, Ev int
	Scale          float64
	Causal         bool
	P              float64
	Seed           uint64
}

// Tile sizes: blocks of attnRows query rows against attnCols keys. With
// S <= attnCols a row block sees every key at once (the plain softmax);
// longer sequences take several key blocks and the online rescaling.
const (
	attnRows = 64
	attnCols = 128
	// attnDirectRows is the most queries for which the forward pass reads
	// the keys untransposed
	attnDirectRows = 8
)

// DropKeep reports whether dropout keeps the weight of key j for query i
// of batch entry b: a hash of the position and the seed, uniform in
// [0, 1), compared with p, so that the mask costs no memory and the same
// call gives the same mask in the forward and the backward pass.
func DropKeep(seed uint64, a Attn, b, i, j int) bool {
	z := seed + uint64((b*a.L+i)*a.S+j+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/(1<<53) >= a.P
}

// AttnDropMask fills dst (B, L, S; contiguous) with the dropout factors
// of the weights: 1/(1-P) where DropKeep keeps them, 0 elsewhere.
func AttnDropMask[T Float](dst []T, a Attn) {
	keep := T(1 / (1 - a.P))
	for b := range a.B {
		for i := range a.L {
			row := dst[(b*a.L+i)*a.S : (b*a.L+i+1)*a.S]
			for j := range row {
				row[j] = 0
				if DropKeep(a.Seed, a, b, i, j) {
					row[j] = keep
				}
			}
		}
	}
}

// attnGemm is kernel.GemmF32 or GemmF64.
func attnGemm[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if c32, ok := any(c).([]float32); ok {
		kernel.GemmF32(ta, tb, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), c32, ldc)
		return
	}
	kernel.GemmF64(ta, tb, m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
}

// expShift sets row[c] = e^(row[c] - m) and returns the row's sum.
func expShift[T Float](row []T, m float64) float64 {
	if r, ok := any(row).([]float32); ok {
		kernel.AddConstF32(r, r, float32(-m))
		kernel.ExpF32(r, r)
		return kernel.SumF32F64(r)
	}
	var s float64
	for c, v := range row {
		e := math.Exp(float64(v) - m)
		row[c] = T(e)
		s += e
	}
	return s
}

// attnScores fills s (rows i0..i0+br, keys j0..j0+nc; row stride nc)
// with the scaled, masked scores of batch entry b; kt is that entry's
// keys stored transposed (E×S, row stride ldk), so that the product takes
// GEMM's packed path, not the dot products it uses for a transposed B.
//
// With kt nil, the keys are read as k stores them (row-major, S×E): the
// product is then dot products of query and key rows, which is what a
// few queries (a generation step) want, since transposing every key for
// one query would cost as much as the product.
func attnScores[T Float](a Attn, s []T, q, k AttnMat[T], kt []T, ldk int, mask *AttnMask[T], b, i0, br, j0, nc int) {
	if kt == nil {
		attnGemm(q.Trans, true, br, nc, a.E, T(a.Scale), q.at(b, i0), q.LD, k.at(b, j0), k.LD, 0, s, nc)
	} else {
		attnGemm(q.Trans, false, br, nc, a.E, T(a.Scale), q.at(b, i0), q.LD, kt[j0:], ldk, 0, s, nc)
	}
	for r := range br {
		row := s[r*nc : (r+1)*nc]
		i := i0 + r
		if mask != nil {
			mo := mask.Off[b] + i*mask.RS + j0*mask.CS
			for c := range row {
				row[c] += mask.Data[mo+c*mask.CS]
			}
		}
		if a.Causal && j0+nc-1 > i {
			for c := max(i+1-j0, 0); c < nc; c++ {
				row[c] = T(math.Inf(-1))
			}
		}
	}
}

// transposed returns matrix b of m (rows×cols) stored transposed
// (cols×rows) and its row stride: m's own storage if it is already so
// stored, otherwise a copy in buf.
func transposed[T Float](m AttnMat[T], b, rows, cols int, buf []T) ([]T, int) {
	if m.Trans {
		return m.Data[m.Off[b]:], m.LD
	}
	kernel.Transpose(buf[:rows*cols], rows, m.Data[m.Off[b]:], m.LD, rows, cols)
	return buf, rows
}

// keyEnd is the end of the keys that rows before i1 can see.
func (a Attn) keyEnd(i1 int) int {
	if a.Causal {
		return min(a.S, i1)
	}
	return a.S
}

// AttnFwd sets out (B matrices L×Ev, rows of unit stride; ContigMat for
// a contiguous (B, L, Ev)) to softmax(scale·q·kᵀ + mask)·v (with dropout
// of the weights) and lse (B·L) to the log-sum-exp of each row of masked
// scores, which AttnBwd needs. A row whose every key is masked out gives
// NaN, as the softmax of -Inf scores does.
func AttnFwd[T Float](a Attn, out AttnMat[T], lse []float64, q, k, v AttnMat[T], mask *AttnMask[T]) {
	nrb := (a.L + attnRows - 1) / attnRows
	// few queries read the keys as they are (see attnScores)
	direct := !k.Trans && a.L <= attnDirectRows
	parallelFor(a.B*nrb, a.B*a.L*a.S*(a.E+a.Ev), func(lo, hi int) {
		bc := min(a.S, attnCols)
		rows := min(attnRows, a.L)
		s := make([]T, rows*bc)
		m := make([]float64, rows)
		l := make([]float64, rows)
		var ktBuf, kt []T
		if !k.Trans && !direct {
			ktBuf = make([]T, a.S*a.E)
		}
		ldk, lastB := 0, -1
		for t := lo; t < hi; t++ {
			b, i0 := t/nrb, t%nrb*attnRows
			if b != lastB && !direct {
				kt, ldk = transposed(k, b, a.S, a.E, ktBuf)
				lastB = b
			}
			br := min(attnRows, a.L-i0)
			o, ldo := out.at(b, i0), out.LD
			out.clearRows(b, i0, br, a.Ev)
			for r := range br {
				m[r], l[r] = math.Inf(-1), 0
			}
			for j0, jEnd := 0, a.keyEnd(i0+br); j0 < jEnd; j0 += bc {
				nc := min(bc, jEnd-j0)
				attnScores(a, s, q, k, kt, ldk, mask, b, i0, br, j0, nc)
				for r := range br {
					row := s[r*nc : (r+1)*nc]
					mnew := max(m[r], rowMax(row))
					if math.IsInf(mnew, -1) {
						clear(row) // every key so far masked: no weight yet
						continue
					}
					sum := expShift(row, mnew)
					if corr := math.Exp(m[r] - mnew); corr != 1 {
						scaleRow(o[r*ldo:r*ldo+a.Ev], corr)
						l[r] *= corr
					}
					l[r] += sum
					m[r] = mnew
					if a.P > 0 {
						keep := T(1 / (1 - a.P))
						for c := range row {
							if DropKeep(a.Seed, a, b, i0+r, j0+c) {
								row[c] *= keep
							} else {
								row[c] = 0
							}
						}
					}
				}
				attnGemm(false, v.Trans, br, a.Ev, nc, 1, s, nc, v.at(b, j0), v.LD, 1, o, ldo)
			}
			for r := range br {
				scaleRow(o[r*ldo:r*ldo+a.Ev], 1/l[r])
				lse[b*a.L+i0+r] = m[r] + math.Log(l[r])
			}
		}
	})
}

// rowMax returns the largest element of row (-Inf for an empty row).
func rowMax[T Float](row []T) float64 {
	if r, ok := any(row).([]float32); ok && len(r) > 0 {
		return float64(kernel.MaxF32(r))
	}
	mx := math.Inf(-1)
	for _, x := range row {
		if float64(x) > mx {
			mx = float64(x)
		}
	}
	return mx
}

// mulRows sets dst = x∘y.
func mulRows[T Float](dst, x, y []T) {
	if d, ok := any(dst).([]float32); ok {
		kernel.MulF32(d, any(x).([]float32), any(y).([]float32))
		return
	}
	for i := range dst {
		dst[i] = x[i] * y[i]
	}
}

// softmaxGradRow sets dp = p∘(dp - di), the gradient of the scores
// from that of the weights.
func softmaxGradRow[T Float](dp, p []T, di float64) {
	if d, ok := any(dp).([]float32); ok {
		kernel.AddConstF32(d, d, float32(-di))
		kernel.MulF32(d, d, any(p).([]float32))
		return
	}
	for i := range dp {
		dp[i] = p[i] * (dp[i] - T(di))
	}
}

func scaleRow[T Float](row []T, c float64) {
	if r, ok := any(row).([]float32); ok {
		kernel.MulConstF32(r, r, float32(c))
		return
	}
	for i := range row {
		row[i] = T(float64(row[i]) * c)
	}
}

// AttnBwd sets dq (B matrices L×E), dk (S×E) and dv (S×Ev), rows of unit
// stride, to the gradients of AttnFwd's output given its upstream
// gradient g (L×Ev each), the output out and lse. It recomputes each
// score tile from lse:
//
//	P = e^(S - lse), dV += (P∘Z)ᵀ·g, dP = (g·vᵀ)∘Z, dS = P∘(dP - rowsum(g∘out)),
//	dQ += scale·dS·k, dK += scale·dSᵀ·q
//
// with Z the dropout factors.
func AttnBwd[T Float](a Attn, dq, dk, dv, g, out AttnMat[T], lse []float64, q, k, v AttnMat[T], mask *AttnMask[T]) {
	parallelFor(a.B, 2*a.B*a.L*a.S*(a.E+a.Ev), func(lo, hi int) {
		bc := min(a.S, attnCols)
		s := make([]T, attnRows*bc)
		ds := make([]T, attnRows*bc)
		var pd, z []T
		if a.P > 0 {
			pd, z = make([]T, attnRows*bc), make([]T, attnRows*bc)
		}
		d := make([]float64, a.L)
		var ktBuf, vtBuf []T
		if !k.Trans {
			ktBuf = make([]T, a.S*a.E)
		}
		if !v.Trans {
			vtBuf = make([]T, a.S*a.Ev)
		}
		for b := lo; b < hi; b++ {
			kt, ldk := transposed(k, b, a.S, a.E, ktBuf)
			vt, ldv := transposed(v, b, a.S, a.Ev, vtBuf)
			for i := range a.L {
				gr, or := g.row(b, i, a.Ev), out.row(b, i, a.Ev)
				var acc float64
				for c, x := range gr {
					acc += float64(x) * float64(or[c])
				}
				d[i] = acc
			}
			dq.clearRows(b, 0, a.L, a.E)
			dk.clearRows(b, 0, a.S, a.E)
			dv.clearRows(b, 0, a.S, a.Ev)
			dqb, dkb, dvb := dq.at(b, 0), dk.at(b, 0), dv.at(b, 0)
			for i0 := 0; i0 < a.L; i0 += attnRows {
				br := min(attnRows, a.L-i0)
				gi := g.at(b, i0)
				for j0, jEnd := 0, a.keyEnd(i0+br); j0 < jEnd; j0 += bc {
					nc := min(bc, jEnd-j0)
					attnScores(a, s, q, k, kt, ldk, mask, b, i0, br, j0, nc)
					for r := range br {
						row := s[r*nc : (r+1)*nc]
						li := lse[b*a.L+i0+r]
						if math.IsInf(li, -1) {
							li = math.NaN() // a row with every key masked: NaN, as its output
						}
						expShift(row, li)
					}
					w := s // the weights after dropout
					if a.P > 0 {
						w = pd[:br*nc]
						keep := T(1 / (1 - a.P))
						for r := range br {
							for c := range nc {
								x := r*nc + c
								z[x] = 0
								if DropKeep(a.Seed, a, b, i0+r, j0+c) {
									z[x] = keep
								}
								w[x] = s[x] * z[x]
							}
						}
					}
					attnGemm(true, false, nc, a.Ev, br, 1, w, nc, gi, g.LD, 1, dvb[j0*dv.LD:], dv.LD)
					attnGemm(false, false, br, nc, a.Ev, 1, gi, g.LD, vt[j0:], ldv, 0, ds, nc)
					for r := range br {
						lo, hi := r*nc, (r+1)*nc
						if a.P > 0 {
							mulRows(ds[lo:hi], ds[lo:hi], z[lo:hi])
						}
						softmaxGradRow(ds[lo:hi], s[lo:hi], d[i0+r])
					}
					attnGemm(false, k.Trans, br, a.E, nc, T(a.Scale), ds, nc, k.at(b, j0), k.LD, 1, dqb[i0*dq.LD:], dq.LD)
					attnGemm(true, q.Trans, nc, a.E, br, T(a.Scale), ds, nc, q.at(b, i0), q.LD, 1, dkb[j0*dk.LD:], dk.LD)
				}
			}
		}
	})
}
