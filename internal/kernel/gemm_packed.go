// Copyright 2025 The nabla Authors. All rights reserved.

package kernel

import "runtime"

// PackedBF32 is the k×n matrix op(B) packed once into the micro-kernel's
// panels, for a product that multiplies the same B many times: the
// recurrent weight of an LSTM, which every time step multiplies by a few
// rows of states. GemmPackedF32 then packs only A, instead of packing B
// again at every call as GemmF32 does (or reading it unpacked, one dot
// product at a time, as it does for few rows).
type PackedBF32 struct {
	k, n, kc int
	kern     *microKernel[float32]
	data     []float32 // depth block pc at offset pc·npad, as packB lays out a kb×npad block
}

// PackBF32 packs op(B), k×n: B stored k×n with row stride ldb, or n×k
// when transB, as for GemmF32.
func PackBF32(transB bool, k, n int, b []float32, ldb int) *PackedBF32 {
	kern := f32Kernel
	checkGemm(false, transB, 1, n, k, k, max(k, 1), len(b), ldb, n, max(n, 1))
	p := &PackedBF32{k: k, n: n, kern: kern, kc: packedDepth(kern, k)}
	npad := (n + kern.nr - 1) / kern.nr * kern.nr
	p.data = alignedSlice[float32](npad * k)
	for pc := 0; pc < k; pc += p.kc {
		kb := min(p.kc, k-pc)
		packB(kern.nr, transB, b, ldb, pc, kb, 0, n, p.data[pc*npad:])
	}
	return p
}

// packedDepth is the depth of the blocks kern.run would use for k.
func packedDepth[T float](kern *microKernel[T], k int) int {
	kc := min(kern.kc, k)
	if nb := (k + kc - 1) / kc; nb > 1 {
		kc = (k + nb - 1) / nb
	}
	return max(kc, 1)
}

// GemmPackedF32 computes C = alpha·A·B + beta·C for A m×k (row stride
// lda, not transposed) and the packed B, as GemmF32 would (the same
// blocking and micro-kernels, so the same results as GemmF32's packed
// path). It panics if the slices are too short.
func GemmPackedF32(m int, alpha float32, a []float32, lda int, p *PackedBF32, beta float32, c []float32, ldc int) {
	n, k := p.n, p.k
	checkGemm(false, false, m, n, k, len(a), lda, k*n, max(n, 1), len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	kern := p.kern
	g := packedCall{p: p, m: m, alpha: alpha, beta: beta, a: a, lda: lda, c: c, ldc: ldc}
	nw := runtime.GOMAXPROCS(0)
	np := (n + kern.nr - 1) / kern.nr
	if nw == 1 || m*n*k < parallelThreshold || np == 1 {
		g.run(0, n)
		return
	}
	// Split the column panels: each worker packs all of A (few rows) and
	// reads its own part of B.
	job := &packedJob{g: &g, parts: min(nw, np), panels: np, width: kern.nr}
	runParallel(job, job.parts, &job.ps)
}

type packedCall struct {
	p           *PackedBF32
	m           int
	alpha, beta float32
	a, c        []float32
	lda, ldc    int
}

type packedJob struct {
	g                    *packedCall
	parts, panels, width int
	ps                   partSync
}

func (j *packedJob) runPart(i int) {
	lo := j.panels * i / j.parts * j.width
	hi := j.panels * (i + 1) / j.parts * j.width
	j.g.run(lo, min(hi, j.g.p.n))
}

// run computes columns [n0, n1) of C (n0 a multiple of nr) on the calling
// goroutine: kern.run with B's panels read from the packed matrix.
func (g *packedCall) run(n0, n1 int) {
	p, kern := g.p, g.p.kern
	mr, nr := kern.mr, kern.nr
	k, kc := p.k, p.kc
	npad := (p.n + nr - 1) / nr * nr
	mc := min(kern.mc, (g.m+mr-1)/mr*mr)
	bufs := kern.getBufs(mc, kc, nr)
	tile := bufs.tile[:mr*nr]
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		beta := g.beta
		if pc > 0 {
			beta = 1
		}
		bblock := p.data[pc*npad:]
		for ic := 0; ic < g.m; ic += mc {
			mb := min(mc, g.m-ic)
			ap := bufs.a[:(mb+mr-1)/mr*mr*kb]
			full := mb / mr * mr
			packA(mr, false, g.a, g.lda, ic, full, pc, kb, ap)
			if full < mb {
				e := kern.edge(mb - full)
				packA(e.mr, false, g.a, g.lda, ic+full, mb-full, pc, kb, ap[full*kb:])
			}
			for ir := 0; ir < mb; ir += mr {
				mrr := min(mr, mb-ir)
				kk := kern
				if mrr < mr {
					kk = kern.edge(mrr)
				}
				apan := ap[ir*kb : (ir+kk.mr)*kb]
				crow := (ic + ir) * g.ldc
				for jr := n0; jr < n1; jr += nr {
					nrr := min(nr, n1-jr)
					bpan := bblock[jr*kb : (jr+nr)*kb]
					coff := crow + jr
					if mrr == kk.mr && nrr == nr {
						kk.fn(kb, apan, bpan, g.c[coff:], g.ldc, g.alpha, beta)
						continue
					}
					kk.fn(kb, apan, bpan, tile, nr, g.alpha, 0)
					mergeTile(mrr, nrr, tile, nr, beta, g.c[coff:], g.ldc)
				}
			}
		}
	}
	kern.bufs.Put(bufs)
}
