// Copyright 2025 The nabla Authors. All rights reserved.

//go:build ignore

// mkasm generates gemm_amd64.s, the register-blocked GEMM micro-kernels,
// gemv_amd64.s, the small-m kernels, gemvbf16_amd64.s, their twins for
// bfloat16 weights, elem_amd64.s, the AVX2 elementwise kernels (Adam,
// exp, sigmoid, tanh and GELU among them), and halfconv_amd64.s, the
// float16 and bfloat16 conversions.
//
// Run with: go run mkasm.go
//
// Each micro-kernel computes an mr×nr tile of C from packed panels:
//
//	for i := 0; i < mr; i++ {
//		for j := 0; j < nr; j++ {
//			var s T
//			for p := 0; p < k; p++ {
//				s += a[p*mr+i] * b[p*nr+j]
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// The vector dimension is nr (the columns of C); elements of the A panel are
// broadcast.
package main

import (
	"bytes"
	"fmt"
	"log"
	"math"
	"os"
	"strings"
)

type kern struct {
	name   string
	f64    bool
	zmm    bool // AVX-512 (zmm, 32 registers) or AVX2 (ymm, 16 registers)
	mr, nv int  // rows, vectors per row
}

func (k kern) es() int { // element size
	if k.f64 {
		return 8
	}
	return 4
}

func (k kern) vw() int { // elements per vector
	bytes := 32
	if k.zmm {
		bytes = 64
	}
	return bytes / k.es()
}

func (k kern) nr() int { return k.nv * k.vw() }

func (k kern) reg(i int) string {
	if k.zmm {
		return fmt.Sprintf("Z%d", i)
	}
	return fmt.Sprintf("Y%d", i)
}

func (k kern) sfx() string {
	if k.f64 {
		return "PD"
	}
	return "PS"
}

func (k kern) bcast() string {
	if k.f64 {
		return "VBROADCASTSD"
	}
	return "VBROADCASTSS"
}

var out bytes.Buffer

func p(format string, args ...any) {
	fmt.Fprintf(&out, format, args...)
	out.WriteByte('\n')
}

func gen(k kern) {
	es, nr, mr, nv := k.es(), k.nr(), k.mr, k.nv
	nacc := mr * nv
	nregs := 16
	if k.zmm {
		nregs = 32
	}
	bReg := func(v int) string { return k.reg(nacc + v) }
	// Remaining registers rotate as broadcast registers.
	nbc := nregs - nacc - nv
	if nbc < 1 {
		log.Fatalf("%s: not enough registers", k.name)
	}
	aReg := func(i int) string { return k.reg(nacc + nv + i%nbc) }
	acc := func(i, v int) string { return k.reg(i*nv + v) }

	argSize := 48
	betaOff := 44
	if k.f64 {
		argSize = 56
		betaOff = 48
	}
	typ := "float32"
	if k.f64 {
		typ = "float64"
	}
	p("// func %s(k int, a, b, c *%s, ldc int, alpha, beta %s)", k.name, typ, typ)
	p("// %d×%d tile (%d accumulators).", mr, nr, nacc)
	p("TEXT ·%s(SB), NOSPLIT, $0-%d", k.name, argSize)
	p("\tMOVQ k+0(FP), CX")
	p("\tMOVQ a+8(FP), SI")
	p("\tMOVQ b+16(FP), DI")
	p("\tMOVQ c+24(FP), DX")
	p("\tMOVQ ldc+32(FP), R8")
	p("\tSHLQ $%d, R8", map[int]int{4: 2, 8: 3}[es])
	// Prefetch the C tile so that the final loads/stores hit the cache.
	p("\tMOVQ DX, R9")
	for i := 0; i < mr; i++ {
		for off := 0; off < nr*es; off += 64 {
			p("\tPREFETCHT0 %d(R9)", off)
		}
		if (nr*es)%64 != 0 {
			p("\tPREFETCHT0 %d(R9)", nr*es-1)
		}
		if i < mr-1 {
			p("\tADDQ R8, R9")
		}
	}
	for i := 0; i < nacc; i++ {
		if k.zmm {
			p("\tVPXORD %s, %s, %s", k.reg(i), k.reg(i), k.reg(i))
		} else {
			p("\tVXORPS %s, %s, %s", k.reg(i), k.reg(i), k.reg(i))
		}
	}
	const unroll = 4
	step := func(u int, bc *int) {
		for v := 0; v < nv; v++ {
			p("\tVMOVUP%s %d(DI), %s", k.sfx()[1:], u*nr*es+v*k.vw()*es, bReg(v))
		}
		for i := 0; i < mr; i++ {
			r := aReg(*bc)
			*bc++
			p("\t%s %d(SI), %s", k.bcast(), (u*mr+i)*es, r)
			for v := 0; v < nv; v++ {
				p("\tVFMADD231%s %s, %s, %s", k.sfx(), bReg(v), r, acc(i, v))
			}
		}
	}
	p("\tMOVQ CX, BX")
	p("\tSHRQ $%d, BX", 2)
	p("\tJZ %s_tail", k.name)
	p("%s_loop4:", k.name)
	bc := 0
	for u := 0; u < unroll; u++ {
		// Prefetch B ahead; A is small and stays in L1.
		for off := 0; off < nr*es; off += 64 {
			p("\tPREFETCHT0 %d(DI)", (u+8)*nr*es+off)
		}
		step(u, &bc)
	}
	p("\tADDQ $%d, SI", unroll*mr*es)
	p("\tADDQ $%d, DI", unroll*nr*es)
	p("\tDECQ BX")
	p("\tJNZ %s_loop4", k.name)
	p("%s_tail:", k.name)
	p("\tANDQ $%d, CX", unroll-1)
	p("\tJZ %s_store", k.name)
	p("%s_loop1:", k.name)
	bc = 0
	step(0, &bc)
	p("\tADDQ $%d, SI", mr*es)
	p("\tADDQ $%d, DI", nr*es)
	p("\tDECQ CX")
	p("\tJNZ %s_loop1", k.name)
	p("%s_store:", k.name)
	alpha, beta := aReg(0), aReg(1)
	if nbc < 2 {
		log.Fatal("need 2 free registers")
	}
	p("\t%s alpha+40(FP), %s", k.bcast(), alpha)
	if k.f64 {
		p("\tMOVQ beta+%d(FP), AX", betaOff)
		p("\tSHLQ $1, AX") // drop the sign: -0 counts as 0
	} else {
		p("\tMOVL beta+%d(FP), AX", betaOff)
		p("\tSHLL $1, AX")
	}
	p("\tJZ %s_beta0", k.name)
	p("\t%s beta+%d(FP), %s", k.bcast(), betaOff, beta)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("\tVMUL%s %s, %s, %s", k.sfx(), alpha, acc(i, v), acc(i, v))
			p("\tVFMADD231%s %d(DX), %s, %s", k.sfx(), v*k.vw()*es, beta, acc(i, v))
			p("\tVMOVUP%s %s, %d(DX)", k.sfx()[1:], acc(i, v), v*k.vw()*es)
		}
		if i < mr-1 {
			p("\tADDQ R8, DX")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("%s_beta0:", k.name)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("\tVMUL%s %s, %s, %s", k.sfx(), alpha, acc(i, v), acc(i, v))
			p("\tVMOVUP%s %s, %d(DX)", k.sfx()[1:], acc(i, v), v*k.vw()*es)
		}
		if i < mr-1 {
			p("\tADDQ R8, DX")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func main() {
	p("// Code generated by mkasm.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	for _, k := range []kern{
		{name: "kernF32AVX512", zmm: true, mr: 12, nv: 2},
		{name: "kernF32AVX2", zmm: false, mr: 6, nv: 2},
		{name: "kernF64AVX512", f64: true, zmm: true, mr: 12, nv: 2},
		{name: "kernF64AVX2", f64: true, zmm: false, mr: 6, nv: 2},
		// Edge kernels for the last panel of rows (m%12 in 1..8).
		{name: "kernF32AVX512x8", zmm: true, mr: 8, nv: 2},
		{name: "kernF32AVX512x4", zmm: true, mr: 4, nv: 2},
	} {
		gen(k)
	}
	genTranspose(8)
	genTranspose(4)
	if err := os.WriteFile("gemm_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	out.Reset()
	genElem()
	if err := os.WriteFile("elem_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	out.Reset()
	p("// Code generated by mkasm.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	genMaskTable()
	for mr := 1; mr <= 4; mr++ {
		genGemvT(true, mr, false)
	}
	for mr := 1; mr <= 2; mr++ {
		genGemvT(false, mr, false)
	}
	if err := os.WriteFile("gemv_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	out.Reset()
	p("// Code generated by mkasm.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	for mr := 1; mr <= 4; mr++ {
		genGemvT(true, mr, true)
	}
	for mr := 1; mr <= 2; mr++ {
		genGemvT(false, mr, true)
	}
	if err := os.WriteFile("gemvbf16_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	genHalfFile()
}

// genMaskTable emits gemvMask<>: eight all-ones words then eight zero
// words. The eight words at index 8-r are the VMASKMOVPS mask of the first r
// lanes.
func genMaskTable() {
	for i := 0; i < 16; i++ {
		v := "0xffffffff"
		if i >= 8 {
			v = "0"
		}
		p("DATA gemvMask<>+%d(SB)/4, $%s", 4*i, v)
	}
	p("GLOBL gemvMask<>(SB), RODATA|NOPTR, $64")
	p("")
}

// genGemvT emits gemvTF32x<mr>AVX512 (zmm) or gemvTF32x<mr>AVX2 (ymm):
//
//	for i := 0; i < mr; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[i*lda+p] * b[j*ldb+p]
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// Each output is a dot product of two contiguous rows: the rows of A stay
// in registers while they meet four rows of B at a time (4*mr vector
// accumulators), so B is streamed once without packing. The last k%vw
// elements are read with masked loads, which touch no memory past the rows.
//
// Registers: SI, DI walk the rows of A and B; R12 and R13 hold their
// starts; R10/R11 are lda and 3*lda in bytes, R8/R9 ldb and 3*ldb; DX walks
// C, CX is ldc in bytes; AX counts column groups and BX depth steps.
//
// With bf16, B holds bfloat16 bit patterns (gemvTBF16x<mr>...): each load
// of B widens eight or sixteen of them to float32 (zero-extend, shift left
// by 16, which is exact), and k must be a multiple of the vector width,
// since there is no masked 16-bit load in AVX2; the caller adds the last
// k%vw products.
func genGemvT(zmm bool, mr int, bf16 bool) {
	kind := "F32"
	if bf16 {
		kind = "BF16"
	}
	name := fmt.Sprintf("gemvT%sx%dAVX2", kind, mr)
	vw := 8
	if zmm {
		name = fmt.Sprintf("gemvT%sx%dAVX512", kind, mr)
		vw = 16
	}
	bes := 4 // bytes per element of B
	if bf16 {
		bes = 2
	}
	const nb = 4
	reg := func(i int) string {
		if zmm {
			return fmt.Sprintf("Z%d", i)
		}
		return fmt.Sprintf("Y%d", i)
	}
	acc := func(i, j int) string { return reg(i*nb + j) }
	var xReg, wReg func(i int) string
	if zmm {
		xReg = func(i int) string { return reg(16 + i) }
		wReg = func(j int) string { return reg(20 + j) }
	} else {
		xReg = func(i int) string { return reg(nb*mr + i) }
		wReg = func(j int) string { return reg(nb*mr + mr + j) }
		if nb*mr+mr+nb > 15 {
			log.Fatalf("%s: not enough registers", name)
		}
	}
	y := func(i int) string { return fmt.Sprintf("Y%d", i) }
	x := func(i int) string { return fmt.Sprintf("X%d", i) }
	aRow := func(i int) string {
		return [...]string{"(SI)", "(SI)(R10*1)", "(SI)(R10*2)", "(SI)(R11*1)"}[i]
	}
	bRow := func(j int) string {
		return [...]string{"(DI)", "(DI)(R8*1)", "(DI)(R8*2)", "(DI)(R9*1)"}[j]
	}
	zero := func(r string) {
		if zmm {
			p("\tVPXORD %s, %s, %s", r, r, r)
		} else {
			p("\tVXORPS %s, %s, %s", r, r, r)
		}
	}
	load := func(masked bool, mem, r string) {
		switch {
		case !masked:
			p("\tVMOVUPS %s, %s", mem, r)
		case zmm:
			p("\tVMOVUPS.Z %s, K1, %s", mem, r)
		default:
			p("\tVMASKMOVPS %s, Y15, %s", mem, r)
		}
	}
	// step emits one depth step of vw elements against ncol rows of B.
	step := func(masked bool, ncol int) {
		for i := 0; i < mr; i++ {
			load(masked, aRow(i), xReg(i))
		}
		for j := 0; j < ncol; j++ {
			if bf16 {
				p("\tVPMOVZXWD %s, %s", bRow(j), wReg(j))
				p("\tVPSLLD $16, %s, %s", wReg(j), wReg(j))
				for i := 0; i < mr; i++ {
					p("\tVFMADD231PS %s, %s, %s", wReg(j), xReg(i), acc(i, j))
				}
				continue
			}
			if mr == 1 && !masked {
				p("\tVFMADD231PS %s, %s, %s", bRow(j), xReg(0), acc(0, j))
				continue
			}
			load(masked, bRow(j), wReg(j))
			for i := 0; i < mr; i++ {
				p("\tVFMADD231PS %s, %s, %s", wReg(j), xReg(i), acc(i, j))
			}
		}
	}
	// depth emits the depth loop (label prefix l) against ncol rows of B.
	depth := func(l string, ncol int) {
		p("\tMOVQ R12, SI")
		p("\tMOVQ R13, DI")
		p("\tMOVQ k+0(FP), BX")
		p("\tSHRQ $%d, BX", map[int]int{8: 3, 16: 4}[vw])
		p("\tJZ %s_%stail", name, l)
		p("%s_%sloop:", name, l)
		step(false, ncol)
		p("\tADDQ $%d, SI", 4*vw)
		p("\tADDQ $%d, DI", bes*vw)
		p("\tDECQ BX")
		p("\tJNZ %s_%sloop", name, l)
		p("%s_%stail:", name, l)
		if bf16 {
			p("%s_%sreduce:", name, l)
			return
		}
		p("\tMOVQ k+0(FP), BX")
		p("\tANDQ $%d, BX", vw-1)
		p("\tJZ %s_%sreduce", name, l)
		step(true, ncol)
		p("%s_%sreduce:", name, l)
	}
	// half folds the vector accumulator r to its low 256 bits.
	half := func(r, tmp int) {
		if zmm {
			p("\tVEXTRACTF64X4 $1, Z%d, Y%d", r, tmp)
			p("\tVADDPS Y%d, Y%d, Y%d", tmp, r, r)
		}
	}
	cRow := func(i int) string {
		return [...]string{"(DX)", "(DX)(CX*1)", "(DX)(CX*2)", "(BX)(CX*1)"}[i]
	}
	// epilogue stores row results X(acc(i,0)) scaled by alpha (X(acc(0,1)))
	// plus beta (X(acc(0,2))) times C when withBeta.
	epilogue := func(ps string, withBeta bool) {
		if mr == 4 {
			p("\tLEAQ (DX)(CX*2), BX")
		}
		for i := 0; i < mr; i++ {
			r := x(i * nb)
			p("\tVMUL%s %s, %s, %s", ps, x(1), r, r)
			if withBeta {
				p("\tVFMADD231%s %s, %s, %s", ps, cRow(i), x(2), r)
			}
			mov := "VMOVUPS"
			if ps == "SS" {
				mov = "VMOVSS"
			}
			p("\t%s %s, %s", mov, r, cRow(i))
		}
	}
	stores := func(l, ps string) {
		p("\tVBROADCASTSS alpha+64(FP), %s", x(1))
		p("\tMOVL beta+68(FP), BX")
		p("\tSHLL $1, BX") // -0 counts as 0
		p("\tJZ %s_%sbeta0", name, l)
		p("\tVBROADCASTSS beta+68(FP), %s", x(2))
		epilogue(ps, true)
		p("\tJMP %s_%snext", name, l)
		p("%s_%sbeta0:", name, l)
		epilogue(ps, false)
		p("%s_%snext:", name, l)
	}

	bType := "float32"
	if bf16 {
		bType = "uint16"
	}
	p("// func %s(k int, a *float32, lda int, b *%s, ldb int, n int, c *float32, ldc int, alpha, beta float32)", name, bType)
	p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("\tMOVQ a+8(FP), R12")
	p("\tMOVQ lda+16(FP), R10")
	p("\tSHLQ $2, R10")
	p("\tLEAQ (R10)(R10*2), R11")
	p("\tMOVQ b+24(FP), R13")
	p("\tMOVQ ldb+32(FP), R8")
	p("\tSHLQ $%d, R8", map[int]int{2: 1, 4: 2}[bes])
	p("\tLEAQ (R8)(R8*2), R9")
	p("\tMOVQ c+48(FP), DX")
	switch {
	case bf16: // no tail, no mask
	case zmm:
		p("\tMOVQ k+0(FP), CX")
		p("\tANDQ $%d, CX", vw-1)
		p("\tMOVL $1, AX")
		p("\tSHLL CX, AX")
		p("\tDECL AX")
		p("\tKMOVW AX, K1")
	default:
		p("\tMOVQ k+0(FP), CX")
		p("\tANDQ $%d, CX", vw-1)
		p("\tNEGQ CX")
		p("\tADDQ $8, CX")
		p("\tLEAQ gemvMask<>(SB), AX")
		p("\tVMOVUPS (AX)(CX*4), Y15")
	}
	p("\tMOVQ ldc+56(FP), CX")
	p("\tSHLQ $2, CX")
	p("\tMOVQ n+40(FP), AX")
	p("\tSHRQ $2, AX")
	p("\tJZ %s_cols1", name)
	p("%s_cols4:", name)
	for i := 0; i < mr*nb; i++ {
		zero(reg(i))
	}
	depth("c4", nb)
	// Fold each row's four accumulators into one X register of four sums:
	// [s(i,0), s(i,1), s(i,2), s(i,3)].
	for i := 0; i < mr; i++ {
		for j := 0; j < nb; j++ {
			half(i*nb+j, 24+j%4)
		}
		a0, a1, a2, a3 := i*nb, i*nb+1, i*nb+2, i*nb+3
		p("\tVHADDPS %s, %s, %s", y(a1), y(a0), y(a0))
		p("\tVHADDPS %s, %s, %s", y(a3), y(a2), y(a2))
		p("\tVHADDPS %s, %s, %s", y(a2), y(a0), y(a0))
		p("\tVEXTRACTF128 $1, %s, %s", y(a0), x(a1))
		p("\tVADDPS %s, %s, %s", x(a1), x(a0), x(a0))
	}
	stores("c4", "PS")
	p("\tADDQ $16, DX")
	p("\tLEAQ (R13)(R8*4), R13")
	p("\tDECQ AX")
	p("\tJNZ %s_cols4", name)
	p("%s_cols1:", name)
	p("\tMOVQ n+40(FP), AX")
	p("\tANDQ $3, AX")
	p("\tJZ %s_done", name)
	p("%s_col1:", name)
	for i := 0; i < mr; i++ {
		zero(acc(i, 0))
	}
	depth("c1", 1)
	for i := 0; i < mr; i++ {
		a0, a1 := i*nb, i*nb+1
		half(a0, a1)
		p("\tVEXTRACTF128 $1, %s, %s", y(a0), x(a1))
		p("\tVADDPS %s, %s, %s", x(a1), x(a0), x(a0))
		p("\tVHADDPS %s, %s, %s", x(a0), x(a0), x(a0))
		p("\tVHADDPS %s, %s, %s", x(a0), x(a0), x(a0))
	}
	stores("c1", "SS")
	p("\tADDQ $4, DX")
	p("\tADDQ R8, R13")
	p("\tDECQ AX")
	p("\tJNZ %s_col1", name)
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// mapLoops emits the 32/8/1-element loops over CX elements, with AX as the
// element index and BX as scratch.
func mapLoops(name string, unroll int, body func(r int, off string), scalar func(off string)) {
	p("\tXORQ AX, AX")
	p("\tMOVQ CX, BX")
	p("\tSHRQ $5, BX")
	p("\tJZ %s_tail8", name)
	p("%s_loop32:", name)
	for u := 0; u < unroll; u++ {
		body(u, fmt.Sprintf("%d(%%s)(AX*4)", 32*u))
	}
	p("\tADDQ $32, AX")
	p("\tDECQ BX")
	p("\tJNZ %s_loop32", name)
	p("%s_tail8:", name)
	p("\tMOVQ CX, BX")
	p("\tANDQ $31, BX")
	p("\tSHRQ $3, BX")
	p("\tJZ %s_tail1", name)
	p("%s_loop8:", name)
	body(0, "(%s)(AX*4)")
	p("\tADDQ $8, AX")
	p("\tDECQ BX")
	p("\tJNZ %s_loop8", name)
	p("%s_tail1:", name)
	p("\tANDQ $7, CX")
	p("\tJZ %s_done", name)
	p("%s_loop1:", name)
	scalar("(%s)(AX*4)")
	p("\tINCQ AX")
	p("\tDECQ CX")
	p("\tJNZ %s_loop1", name)
	p("%s_done:", name)
}

func at(off, reg string) string { return fmt.Sprintf(off, reg) }

func genElem() {
	p("// Code generated by mkasm.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	binary := func(name, op string) {
		p("// func %s(dst, a, b []float32)", name)
		p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
		p("\tMOVQ dst_base+0(FP), DI")
		p("\tMOVQ dst_len+8(FP), CX")
		p("\tMOVQ a_base+24(FP), SI")
		p("\tMOVQ b_base+48(FP), DX")
		mapLoops(name, 4, func(r int, off string) {
			p("\tVMOVUPS %s, Y%d", at(off, "SI"), r)
			p("\tV%sPS %s, Y%d, Y%d", op, at(off, "DX"), r, r)
			p("\tVMOVUPS Y%d, %s", r, at(off, "DI"))
		}, func(off string) {
			p("\tVMOVSS %s, X0", at(off, "SI"))
			p("\tV%sSS %s, X0, X0", op, at(off, "DX"))
			p("\tVMOVSS X0, %s", at(off, "DI"))
		})
		p("\tVZEROUPPER")
		p("\tRET")
		p("")
	}
	binary("addF32AVX2", "ADD")
	binary("mulF32AVX2", "MUL")
	binary("subF32AVX2", "SUB")

	// dst = x op c, with c broadcast in Y15.
	constOp := func(name, op string) {
		p("// func %s(dst, x []float32, c float32)", name)
		p("TEXT ·%s(SB), NOSPLIT, $0-52", name)
		p("\tMOVQ dst_base+0(FP), DI")
		p("\tMOVQ dst_len+8(FP), CX")
		p("\tMOVQ x_base+24(FP), SI")
		p("\tVBROADCASTSS c+48(FP), Y15")
		mapLoops(name, 4, func(r int, off string) {
			p("\tV%sPS %s, Y15, Y%d", op, at(off, "SI"), r)
			p("\tVMOVUPS Y%d, %s", r, at(off, "DI"))
		}, func(off string) {
			p("\tV%sSS %s, X15, X0", op, at(off, "SI"))
			p("\tVMOVSS X0, %s", at(off, "DI"))
		})
		p("\tVZEROUPPER")
		p("\tRET")
		p("")
	}
	constOp("addConstF32AVX2", "ADD")
	constOp("mulConstF32AVX2", "MUL")

	// y += alpha*x
	p("// func axpyF32AVX2(alpha float32, x, y []float32)")
	p("TEXT ·axpyF32AVX2(SB), NOSPLIT, $0-56")
	p("\tVBROADCASTSS alpha+0(FP), Y15")
	p("\tMOVQ x_base+8(FP), SI")
	p("\tMOVQ y_base+32(FP), DI")
	p("\tMOVQ y_len+40(FP), CX")
	mapLoops("axpyF32AVX2", 4, func(r int, off string) {
		p("\tVMOVUPS %s, Y%d", at(off, "DI"), r)
		p("\tVFMADD231PS %s, Y15, Y%d", at(off, "SI"), r)
		p("\tVMOVUPS Y%d, %s", r, at(off, "DI"))
	}, func(off string) {
		p("\tVMOVSS %s, X0", at(off, "DI"))
		p("\tVFMADD231SS %s, X15, X0", at(off, "SI"))
		p("\tVMOVSS X0, %s", at(off, "DI"))
	})
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	// x *= alpha
	p("// func scaleF32AVX2(alpha float32, x []float32)")
	p("TEXT ·scaleF32AVX2(SB), NOSPLIT, $0-32")
	p("\tVBROADCASTSS alpha+0(FP), Y15")
	p("\tMOVQ x_base+8(FP), DI")
	p("\tMOVQ x_len+16(FP), CX")
	mapLoops("scaleF32AVX2", 4, func(r int, off string) {
		p("\tVMULPS %s, Y15, Y%d", at(off, "DI"), r)
		p("\tVMOVUPS Y%d, %s", r, at(off, "DI"))
	}, func(off string) {
		p("\tVMULSS %s, X15, X0", at(off, "DI"))
		p("\tVMOVSS X0, %s", at(off, "DI"))
	})
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	// dst = x < 0 ? 0 : x (NaN propagates): VMAXPS with zero as the first
	// source returns the second source when either is NaN.
	p("// func reluF32AVX2(dst, x []float32)")
	p("TEXT ·reluF32AVX2(SB), NOSPLIT, $0-48")
	p("\tMOVQ dst_base+0(FP), DI")
	p("\tMOVQ dst_len+8(FP), CX")
	p("\tMOVQ x_base+24(FP), SI")
	p("\tVXORPS Y15, Y15, Y15")
	mapLoops("reluF32AVX2", 4, func(r int, off string) {
		p("\tVMAXPS %s, Y15, Y%d", at(off, "SI"), r)
		p("\tVMOVUPS Y%d, %s", r, at(off, "DI"))
	}, func(off string) {
		p("\tVMAXSS %s, X15, X0", at(off, "SI"))
		p("\tVMOVSS X0, %s", at(off, "DI"))
	})
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	hsum := func() {
		p("\tVADDPS Y1, Y0, Y0")
		p("\tVADDPS Y3, Y2, Y2")
		p("\tVADDPS Y2, Y0, Y0")
		p("\tVEXTRACTF128 $1, Y0, X1")
		p("\tVADDPS X1, X0, X0")
		p("\tVHADDPS X0, X0, X0")
		p("\tVHADDPS X0, X0, X0")
	}
	// Reductions keep four vector accumulators in Y0-Y3 and reduce them
	// before the scalar tail, which accumulates into X0.
	p("// func sumF32AVX2(x []float32) float32")
	p("TEXT ·sumF32AVX2(SB), NOSPLIT, $0-28")
	p("\tMOVQ x_base+0(FP), SI")
	p("\tMOVQ x_len+8(FP), CX")
	for r := 0; r < 4; r++ {
		p("\tVXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	reduceLoops("sumF32AVX2", func(r int, off string) {
		p("\tVADDPS %s, Y%d, Y%d", at(off, "SI"), r, r)
	}, hsum, func(off string) {
		p("\tVADDSS %s, X0, X0", at(off, "SI"))
	})
	p("\tVMOVSS X0, ret+24(FP)")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	// The float64 sum widens four elements at a time into four float64
	// accumulators (16 partial sums).
	p("// func sumF32F64AVX2(x []float32) float64")
	p("TEXT ·sumF32F64AVX2(SB), NOSPLIT, $0-32")
	p("\tMOVQ x_base+0(FP), SI")
	p("\tMOVQ x_len+8(FP), CX")
	for r := 0; r < 4; r++ {
		p("\tVXORPD Y%d, Y%d, Y%d", r, r, r)
	}
	p("\tXORQ AX, AX")
	p("\tMOVQ CX, BX")
	p("\tSHRQ $4, BX")
	p("\tJZ sumF32F64AVX2_tail4")
	p("sumF32F64AVX2_loop16:")
	for u := 0; u < 4; u++ {
		p("\tVCVTPS2PD %d(SI)(AX*4), Y%d", 16*u, u+4)
		p("\tVADDPD Y%d, Y%d, Y%d", u+4, u, u)
	}
	p("\tADDQ $16, AX")
	p("\tDECQ BX")
	p("\tJNZ sumF32F64AVX2_loop16")
	p("sumF32F64AVX2_tail4:")
	p("\tMOVQ CX, BX")
	p("\tANDQ $15, BX")
	p("\tSHRQ $2, BX")
	p("\tJZ sumF32F64AVX2_reduce")
	p("sumF32F64AVX2_loop4:")
	p("\tVCVTPS2PD (SI)(AX*4), Y4")
	p("\tVADDPD Y4, Y0, Y0")
	p("\tADDQ $4, AX")
	p("\tDECQ BX")
	p("\tJNZ sumF32F64AVX2_loop4")
	p("sumF32F64AVX2_reduce:")
	p("\tVADDPD Y1, Y0, Y0")
	p("\tVADDPD Y3, Y2, Y2")
	p("\tVADDPD Y2, Y0, Y0")
	p("\tVEXTRACTF128 $1, Y0, X1")
	p("\tVADDPD X1, X0, X0")
	p("\tVHADDPD X0, X0, X0")
	p("\tANDQ $3, CX")
	p("\tJZ sumF32F64AVX2_done")
	p("sumF32F64AVX2_loop1:")
	p("\tVCVTSS2SD (SI)(AX*4), X1, X1")
	p("\tVADDSD X1, X0, X0")
	p("\tINCQ AX")
	p("\tDECQ CX")
	p("\tJNZ sumF32F64AVX2_loop1")
	p("sumF32F64AVX2_done:")
	p("\tVMOVSD X0, ret+24(FP)")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	p("// func dotF32AVX2(x, y []float32) float32")
	p("TEXT ·dotF32AVX2(SB), NOSPLIT, $0-52")
	p("\tMOVQ x_base+0(FP), SI")
	p("\tMOVQ x_len+8(FP), CX")
	p("\tMOVQ y_base+24(FP), DX")
	for r := 0; r < 4; r++ {
		p("\tVXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	reduceLoops("dotF32AVX2", func(r int, off string) {
		p("\tVMOVUPS %s, Y%d", at(off, "DX"), r+4)
		p("\tVFMADD231PS %s, Y%d, Y%d", at(off, "SI"), r+4, r)
	}, hsum, func(off string) {
		p("\tVMOVSS %s, X1", at(off, "DX"))
		p("\tVFMADD231SS %s, X1, X0", at(off, "SI"))
	})
	p("\tVMOVSS X0, ret+48(FP)")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	// Max tracks NaNs separately in Y8 (VMAXPS does not propagate them).
	p("// func maxF32AVX2(x []float32) float32")
	p("TEXT ·maxF32AVX2(SB), NOSPLIT, $0-28")
	p("\tMOVQ x_base+0(FP), SI")
	p("\tMOVQ x_len+8(FP), CX")
	for r := 0; r < 4; r++ {
		p("\tVBROADCASTSS (SI), Y%d", r)
	}
	p("\tVXORPS Y8, Y8, Y8")
	reduceLoops("maxF32AVX2", func(r int, off string) {
		p("\tVMOVUPS %s, Y%d", at(off, "SI"), r+4)
		p("\tVMAXPS Y%d, Y%d, Y%d", r+4, r, r)
		p("\tVCMPPS $3, Y%d, Y%d, Y%d", r+4, r+4, r+4)
		p("\tVORPS Y%d, Y8, Y8", r+4)
	}, func() {
		p("\tVMOVMSKPS Y8, BX")
		p("\tTESTL BX, BX")
		p("\tJNZ maxF32AVX2_nan")
		p("\tVMAXPS Y1, Y0, Y0")
		p("\tVMAXPS Y3, Y2, Y2")
		p("\tVMAXPS Y2, Y0, Y0")
		p("\tVEXTRACTF128 $1, Y0, X1")
		p("\tVMAXPS X1, X0, X0")
		p("\tVPERMILPS $0x4e, X0, X1")
		p("\tVMAXPS X1, X0, X0")
		p("\tVPERMILPS $0xb1, X0, X1")
		p("\tVMAXPS X1, X0, X0")
	}, func(off string) {
		p("\tVMOVSS %s, X1", at(off, "SI"))
		p("\tVUCOMISS X1, X1")
		p("\tJPS maxF32AVX2_nan")
		p("\tVMAXSS X1, X0, X0")
	})
	p("\tVMOVSS X0, ret+24(FP)")
	p("\tVZEROUPPER")
	p("\tRET")
	p("maxF32AVX2_nan:")
	p("\tMOVL $0x7fc00000, ret+24(FP)")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	// dst = y > 0 ? x : 0 (0 for a NaN y): the mask of 0 < y ands x.
	p("// func reluGradF32AVX2(dst, x, y []float32)")
	p("TEXT ·reluGradF32AVX2(SB), NOSPLIT, $0-72")
	p("\tMOVQ dst_base+0(FP), DI")
	p("\tMOVQ dst_len+8(FP), CX")
	p("\tMOVQ x_base+24(FP), SI")
	p("\tMOVQ y_base+48(FP), DX")
	p("\tVXORPS Y15, Y15, Y15")
	mapLoops("reluGradF32AVX2", 4, func(r int, off string) {
		p("\tVCMPPS $1, %s, Y15, Y%d", at(off, "DX"), r)
		p("\tVANDPS %s, Y%d, Y%d", at(off, "SI"), r, r)
		p("\tVMOVUPS Y%d, %s", r, at(off, "DI"))
	}, func(off string) {
		p("\tVCMPSS $1, %s, X15, X0", at(off, "DX"))
		p("\tVMOVSS %s, X1", at(off, "SI"))
		p("\tVANDPS X1, X0, X0")
		p("\tVMOVSS X0, %s", at(off, "DI"))
	})
	p("\tVZEROUPPER")
	p("\tRET")
	p("")

	genAdam()
	genTransConsts()
	for _, kind := range []string{"gelu", "geluDeriv", "geluGrad"} {
		genGelu(kind, false)
		genGelu(kind, true)
	}
	genExp32Consts()
	genExp32(false)
	genExp32(true)
	genTrans32Consts()
	for _, avx512 := range []bool{false, true} {
		genTrans32("sigmoid", avx512)
		genTrans32("tanh", avx512)
		genTrans32("log", avx512)
		genTrans32("softplus", avx512)
	}
}

// Offsets in exp32Const<> of the constants of genExp32, each a float32 (or
// int32) repeated 16 times (64 bytes, a ZMM; YMM code reads the first 32).
const (
	e32Lo    = 0   // lower clamp of x: e^-104 < 2^-150 rounds to 0
	e32Hi    = 64  // upper clamp: e^89 overflows
	e32Log2e = 128 // log2(e)
	e32Shift = 192 // 0x1.8p23: adding it rounds to an integer
	e32Ln2Hi = 256 // ln2 to 12 bits, so that n·ln2Hi is exact for |n| <= 150
	e32Ln2Lo = 320 // float32(ln2 - ln2Hi)
	e32Bias  = 384 // int32 127, the exponent bias
	e32Poly  = 448 // exp32Deg+1 coefficients, highest degree first
	exp32Deg = 7
	e32Size  = e32Poly + 64*(exp32Deg+1)
)

// exp32Ln2Hi and exp32Ln2Lo split ln2 for Cody-Waite range reduction:
// ln2Hi keeps 12 significant bits (n·ln2Hi is exact for |n| < 2^12), ln2Lo
// is the float32 nearest the rest. exp32Poly are 1/k! rounded to float32,
// k = 7 down to 0: on |r| <= ln2/2 the Taylor remainder r^8/8! is below
// 2^-27, an eighth of a float32 ulp of e^r.
var (
	exp32Ln2Hi = float32(math.Float64frombits(math.Float64bits(math.Ln2) &^ (1<<41 - 1)))
	exp32Ln2Lo = float32(math.Ln2 - float64(exp32Ln2Hi))
)

func exp32Poly() []float32 {
	c := make([]float32, exp32Deg+1)
	fact := 1.0
	for k := 0; k <= exp32Deg; k++ {
		if k > 0 {
			fact *= float64(k)
		}
		c[exp32Deg-k] = float32(1 / fact)
	}
	return c
}

// genExp32Consts emits exp32Const<> (see the offsets above).
func genExp32Consts() {
	f := func(off int, v float32) {
		for i := 0; i < 16; i++ {
			p("DATA exp32Const<>+%d(SB)/4, $0x%08x", off+4*i, math.Float32bits(v))
		}
	}
	f(e32Lo, -104)
	f(e32Hi, 89)
	f(e32Log2e, math.Log2E)
	f(e32Shift, 0x1.8p23)
	f(e32Ln2Hi, exp32Ln2Hi)
	f(e32Ln2Lo, exp32Ln2Lo)
	f(e32Bias, math.Float32frombits(127))
	for i, v := range exp32Poly() {
		f(e32Poly+64*i, v)
	}
	p("GLOBL exp32Const<>(SB), RODATA|NOPTR, $%d", e32Size)
	p("")
}

// genExp32 emits expF32AVX2 (8 lanes, YMM) or expF32AVX512 (16 lanes,
// ZMM), e^x computed in float32 with FMA, as expF32Twin does step for
// step:
//
//	x = clamp(x, -104, 89)                  (NaN passes through)
//	k = round(x·log2e), by adding and subtracting 0x1.8p23
//	r = x - k·ln2Hi - k·ln2Lo               (two FMAs; |r| <= ln2/2 + tiny)
//	p = P(r) ≈ e^r                          (Horner, FMA)
//	e^x = p·2^k1·2^k2, k1 = k>>1, k2 = k-k1
//
// The scaling in two steps keeps both factors normal for k in [-150, 128]:
// p·2^k1 is exact, and the one multiplication by 2^k2 rounds the result
// once, into a denormal, or to +Inf on overflow. The AVX2 tail uses
// VMASKMOVPS, the AVX-512 one an opmask.
func genExp32(avx512 bool) {
	name, v, w := "expF32AVX2", "Y", 8
	if avx512 {
		name, v, w = "expF32AVX512", "Z", 16
	}
	r := func(i int) string { return fmt.Sprintf("%s%d", v, i) }
	c := func(off int) string { return fmt.Sprintf("%d(R8)", off) }
	body := func() {
		// r(0) = x in, result in r(3).
		p("\tVMAXPS %s, %s, %s", r(0), r(14), r(0))
		p("\tVMINPS %s, %s, %s", r(0), r(15), r(0))
		p("\tVMOVUPS %s, %s", c(e32Shift), r(1))
		p("\tVFMADD231PS %s, %s, %s", c(e32Log2e), r(0), r(1))
		p("\tVSUBPS %s, %s, %s", c(e32Shift), r(1), r(2))
		p("\tVFNMADD231PS %s, %s, %s", c(e32Ln2Hi), r(2), r(0))
		p("\tVFNMADD231PS %s, %s, %s", c(e32Ln2Lo), r(2), r(0))
		p("\tVMOVUPS %s, %s", c(e32Poly), r(3))
		for i := 1; i <= exp32Deg; i++ {
			p("\tVFMADD213PS %s, %s, %s", c(e32Poly+64*i), r(0), r(3))
		}
		p("\tVCVTPS2DQ %s, %s", r(2), r(2))
		p("\tVPSRAD $1, %s, %s", r(2), r(4))
		p("\tVPSUBD %s, %s, %s", r(4), r(2), r(2))
		p("\tVPADDD %s, %s, %s", c(e32Bias), r(4), r(4))
		p("\tVPSLLD $23, %s, %s", r(4), r(4))
		p("\tVPADDD %s, %s, %s", c(e32Bias), r(2), r(2))
		p("\tVPSLLD $23, %s, %s", r(2), r(2))
		p("\tVMULPS %s, %s, %s", r(4), r(3), r(3))
		p("\tVMULPS %s, %s, %s", r(2), r(3), r(3))
	}
	p("// func %s(dst, x []float32)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	p("\tMOVQ dst_base+0(FP), DI")
	p("\tMOVQ dst_len+8(FP), CX")
	p("\tMOVQ x_base+24(FP), SI")
	p("\tLEAQ exp32Const<>(SB), R8")
	p("\tVMOVUPS %s, %s", c(e32Lo), r(14))
	p("\tVMOVUPS %s, %s", c(e32Hi), r(15))
	p("\tXORQ AX, AX")
	p("\tMOVQ CX, BX")
	p("\tSHRQ $%d, BX", map[int]int{8: 3, 16: 4}[w])
	p("\tJZ %s_tail", name)
	p("%s_loop:", name)
	p("\tVMOVUPS (SI)(AX*4), %s", r(0))
	body()
	p("\tVMOVUPS %s, (DI)(AX*4)", r(3))
	p("\tADDQ $%d, AX", w)
	p("\tDECQ BX")
	p("\tJNZ %s_loop", name)
	p("%s_tail:", name)
	p("\tANDQ $%d, CX", w-1)
	p("\tJZ %s_done", name)
	if avx512 {
		p("\tMOVL $1, BX")
		p("\tSHLL CX, BX")
		p("\tDECL BX")
		p("\tKMOVW BX, K1")
		p("\tVMOVUPS.Z (SI)(AX*4), K1, %s", r(0))
		body()
		p("\tVMOVUPS %s, K1, (DI)(AX*4)", r(3))
	} else {
		p("\tNEGQ CX")
		p("\tADDQ $8, CX")
		p("\tLEAQ elemMask<>(SB), BX")
		p("\tVMOVUPS (BX)(CX*4), Y10")
		p("\tVMASKMOVPS (SI)(AX*4), Y10, Y0")
		body()
		p("\tVMASKMOVPS Y3, Y10, (DI)(AX*4)")
	}
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// The constants of genTrans32 in trans32Const<>, each a float32 (or int32)
// repeated 16 times (64 bytes, a ZMM; YMM code reads the first 32), at the
// offsets t32Off assigns in genTrans32Consts.
var t32Off = map[string]int{}

// exp32xPoly and tanh32Poly are those of trans32.go (see there).
var (
	exp32xPoly = []float32{1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5}
	tanh32Poly = []float32{
		-0x1.9ae2e2p-8,
		0x1.592c22p-6,
		-0x1.b925fp-5,
		0x1.110d12p-3,
		-0x1.55554ap-2,
	}
)

const tanh32Lim = 0.54930615 // the float32 nearest atanh(1/2)

// log32Poly and log32SqrtHalf are those of trans32.go (see there).
var log32Poly = []float32{2.0 / 11, 2.0 / 9, 2.0 / 7, 2.0 / 5, 2.0 / 3}

const log32SqrtHalf = 0x3f3504f3

// softplus32Lo and softplus32Hi are those of trans32.go.
const (
	softplus32Lo = -20
	softplus32Hi = 32
)

// genTrans32Consts emits trans32Const<> and fills t32Off.
func genTrans32Consts() {
	off := 0
	f := func(name string, v float32) {
		t32Off[name] = off
		for i := 0; i < 16; i++ {
			p("DATA trans32Const<>+%d(SB)/4, $0x%08x", off+4*i, math.Float32bits(v))
		}
		off += 64
	}
	i32 := func(name string, v int32) { f(name, math.Float32frombits(uint32(v))) }
	f("lo", -104)
	f("log2e", math.Log2E)
	f("shift", 0x1.8p23)
	f("ln2Hi", exp32Ln2Hi)
	f("ln2Lo", exp32Ln2Lo)
	i32("bias", 127)
	i32("kMin", -60)
	f("one", 1)
	i32("abs", 1<<31-1)
	i32("sign", -1<<31)
	for i, v := range exp32xPoly {
		f(fmt.Sprint("expPoly", i), v)
	}
	f("tanhLim", tanh32Lim)
	for i, v := range tanh32Poly {
		f(fmt.Sprint("tanhPoly", i), v)
	}
	for i, v := range log32Poly {
		f(fmt.Sprint("logPoly", i), v)
	}
	f("two", 2)
	f("zero", 0)
	f("minNorm", 0x1p-126)
	f("two23", 0x1p23)
	f("f23", 23)
	i32("sqrtHalf", log32SqrtHalf)
	f("negInf", float32(math.Inf(-1)))
	f("posInf", float32(math.Inf(1)))
	i32("nan", 0x7fc00000)
	f("mHalf", -0.5)
	f("spLo", softplus32Lo)
	f("spHi", softplus32Hi)
	p("GLOBL trans32Const<>(SB), RODATA|NOPTR, $%d", off)
	p("")
}

// genTrans32 emits sigmoidF32AVX2, tanhF32AVX2 or logF32AVX2 (8 lanes,
// YMM), or the AVX512 forms (16 lanes, ZMM), in float32 arithmetic with
// FMA, as sigmoid32, tanh32 and log32 in trans32.go compute them step for
// step (the comments there explain the steps): exp32x, recip1p32, then
// sigmoid's product or tanh's 2q - 1, which tanh blends with its
// polynomial below atanh(1/2); log's reduction, series and exact sum, then
// the special inputs patched in. Blends are VBLENDVPS on the sign bit or a compare result
// with AVX2, VBLENDMPS under K2 with AVX-512. NaN passes through the
// clamp (the input is VMAXPS's second source) and then every operation.
//
// Registers: Z/Y0 holds x, 1-12 are scratch, 13 the AVX2 tail mask, 15
// the clamp; R8 points at trans32Const<>.
func genTrans32(kind string, avx512 bool) {
	name, v, w := kind+"F32AVX2", "Y", 8
	if avx512 {
		name, v, w = kind+"F32AVX512", "Z", 16
	}
	r := func(i int) string { return fmt.Sprintf("%s%d", v, i) }
	c := func(name string) string {
		off, ok := t32Off[name]
		if !ok {
			panic("no constant " + name)
		}
		return fmt.Sprintf("%d(R8)", off)
	}
	// blend sets dst = mask ? set : clear; mask is a register whose sign
	// bits select (AVX2), or K2 (AVX-512). clear must be a register.
	blend := func(mask, set, clear, dst string) {
		if avx512 {
			p("\tVBLENDMPS %s, %s, K2, %s", set, clear, dst)
		} else {
			p("\tVBLENDVPS %s, %s, %s, %s", mask, set, clear, dst)
		}
	}
	// exp32x: y in 1 -> k (int32) in 2, t in 1, tlo in 3; 4-7 scratch.
	exp32x := func() {
		p("\tVMAXPS %s, %s, %s", r(1), r(15), r(1))
		p("\tVMOVUPS %s, %s", c("shift"), r(2))
		p("\tVFMADD231PS %s, %s, %s", c("log2e"), r(1), r(2))
		p("\tVSUBPS %s, %s, %s", c("shift"), r(2), r(2))
		p("\tVFNMADD231PS %s, %s, %s", c("ln2Hi"), r(2), r(1))
		p("\tVMOVAPS %s, %s", r(1), r(3))
		p("\tVFNMADD231PS %s, %s, %s", c("ln2Lo"), r(2), r(3))
		p("\tVSUBPS %s, %s, %s", r(3), r(1), r(4))
		p("\tVFNMADD231PS %s, %s, %s", c("ln2Lo"), r(2), r(4))
		p("\tVCVTPS2DQ %s, %s", r(2), r(2))
		p("\tVMOVUPS %s, %s", c("expPoly0"), r(5))
		for i := 1; i < len(exp32xPoly); i++ {
			p("\tVFMADD213PS %s, %s, %s", c(fmt.Sprint("expPoly", i)), r(3), r(5))
		}
		p("\tVMULPS %s, %s, %s", r(5), r(3), r(5))
		p("\tVMOVAPS %s, %s", r(3), r(6))
		p("\tVFMADD231PS %s, %s, %s", r(5), r(3), r(6))
		p("\tVSUBPS %s, %s, %s", r(6), r(3), r(7))
		p("\tVFMADD231PS %s, %s, %s", r(5), r(3), r(7))
		p("\tVFMADD231PS %s, %s, %s", r(4), r(6), r(7))
		p("\tVADDPS %s, %s, %s", r(4), r(7), r(7))
		p("\tVADDPS %s, %s, %s", c("one"), r(6), r(1))
		p("\tVMOVUPS %s, %s", c("one"), r(3))
		p("\tVSUBPS %s, %s, %s", r(1), r(3), r(3))
		p("\tVADDPS %s, %s, %s", r(6), r(3), r(3))
		p("\tVADDPS %s, %s, %s", r(7), r(3), r(3))
	}
	// recip1p32: k, t, tlo in 2, 1, 3 -> r0 in 5, res in 6; 4, 7 scratch.
	recip1p := func() {
		p("\tVPMAXSD %s, %s, %s", c("kMin"), r(2), r(4))
		p("\tVPADDD %s, %s, %s", c("bias"), r(4), r(4))
		p("\tVPSLLD $23, %s, %s", r(4), r(4))
		p("\tVMULPS %s, %s, %s", r(4), r(1), r(5))
		p("\tVMULPS %s, %s, %s", r(4), r(3), r(6))
		p("\tVADDPS %s, %s, %s", c("one"), r(5), r(7))
		p("\tVMOVUPS %s, %s", c("one"), r(4))
		p("\tVSUBPS %s, %s, %s", r(7), r(4), r(4))
		p("\tVADDPS %s, %s, %s", r(5), r(4), r(4))
		p("\tVADDPS %s, %s, %s", r(6), r(4), r(4))
		p("\tVMOVUPS %s, %s", c("one"), r(5))
		p("\tVDIVPS %s, %s, %s", r(7), r(5), r(5))
		p("\tVMOVUPS %s, %s", c("one"), r(6))
		p("\tVFNMADD231PS %s, %s, %s", r(5), r(7), r(6))
		p("\tVFNMADD231PS %s, %s, %s", r(5), r(4), r(6))
	}
	// cmp sets mask (AVX2) or K2 (AVX-512) to src1 imm src2.
	cmp := func(imm int, src2, src1, mask string) {
		if avx512 {
			mask = "K2"
		}
		p("\tVCMPPS $%d, %s, %s, %s", imm, src2, src1, mask)
	}
	// logParts: x in 1 (normal, positive), adj in 6 if adj -> s in 4,
	// lo in 8 (log32Parts); 1-10 scratch.
	logParts := func(adj bool) {
		// 2 = e (float32), 3 = m.
		p("\tVPSUBD %s, %s, %s", c("sqrtHalf"), r(1), r(2))
		p("\tVPSRAD $23, %s, %s", r(2), r(2))
		p("\tVPSLLD $23, %s, %s", r(2), r(3))
		p("\tVPSUBD %s, %s, %s", r(3), r(1), r(3))
		p("\tVCVTDQ2PS %s, %s", r(2), r(2))
		if adj {
			p("\tVSUBPS %s, %s, %s", r(6), r(2), r(2))
		}
		// 4 = f, 5 + 6 = 2 + f, 7 + 8 = u + ulo.
		p("\tVSUBPS %s, %s, %s", c("one"), r(3), r(4))
		p("\tVADDPS %s, %s, %s", c("two"), r(4), r(5))
		p("\tVMOVUPS %s, %s", c("two"), r(6))
		p("\tVSUBPS %s, %s, %s", r(5), r(6), r(6))
		p("\tVADDPS %s, %s, %s", r(4), r(6), r(6))
		p("\tVDIVPS %s, %s, %s", r(5), r(4), r(7))
		p("\tVMOVAPS %s, %s", r(4), r(8))
		p("\tVFNMADD231PS %s, %s, %s", r(7), r(5), r(8))
		p("\tVFNMADD231PS %s, %s, %s", r(7), r(6), r(8))
		p("\tVDIVPS %s, %s, %s", r(5), r(8), r(8))
		// 8 = small = u³·L(u²) + 2ulo.
		p("\tVMULPS %s, %s, %s", r(7), r(7), r(9))
		p("\tVMOVUPS %s, %s", c("logPoly0"), r(10))
		for i := 1; i < len(log32Poly); i++ {
			p("\tVFMADD213PS %s, %s, %s", c(fmt.Sprint("logPoly", i)), r(9), r(10))
		}
		p("\tVMULPS %s, %s, %s", r(9), r(7), r(9))
		p("\tVADDPS %s, %s, %s", r(8), r(8), r(8))
		p("\tVFMADD231PS %s, %s, %s", r(10), r(9), r(8))
		// 4 + 3 = e·ln2Hi + 2u exactly; 4 = the sum of all.
		p("\tVMULPS %s, %s, %s", c("ln2Hi"), r(2), r(3))
		p("\tVADDPS %s, %s, %s", r(7), r(7), r(7))
		p("\tVADDPS %s, %s, %s", r(7), r(3), r(4))
		p("\tVSUBPS %s, %s, %s", r(4), r(3), r(3))
		p("\tVADDPS %s, %s, %s", r(7), r(3), r(3))
		p("\tVFMADD231PS %s, %s, %s", c("ln2Lo"), r(2), r(8))
		p("\tVADDPS %s, %s, %s", r(3), r(8), r(8))
	}
	body := func() string {
		if kind == "softplus" {
			p("\tVORPS %s, %s, %s", c("sign"), r(0), r(1))
			exp32x()
			// 11 = below -20: (t + tlo)·2^k1·2^k2.
			p("\tVADDPS %s, %s, %s", r(3), r(1), r(11))
			p("\tVPSRAD $1, %s, %s", r(2), r(12))
			p("\tVPSUBD %s, %s, %s", r(12), r(2), r(14))
			p("\tVPADDD %s, %s, %s", c("bias"), r(12), r(12))
			p("\tVPSLLD $23, %s, %s", r(12), r(12))
			p("\tVPADDD %s, %s, %s", c("bias"), r(14), r(14))
			p("\tVPSLLD $23, %s, %s", r(14), r(14))
			p("\tVMULPS %s, %s, %s", r(12), r(11), r(11))
			p("\tVMULPS %s, %s, %s", r(14), r(11), r(11))
			// 7 + 4 = dHi + dLo; 12 = c - c²/2, c = dLo/dHi.
			p("\tVPMAXSD %s, %s, %s", c("kMin"), r(2), r(4))
			p("\tVPADDD %s, %s, %s", c("bias"), r(4), r(4))
			p("\tVPSLLD $23, %s, %s", r(4), r(4))
			p("\tVMULPS %s, %s, %s", r(4), r(1), r(5))
			p("\tVMULPS %s, %s, %s", r(4), r(3), r(6))
			p("\tVADDPS %s, %s, %s", c("one"), r(5), r(7))
			p("\tVMOVUPS %s, %s", c("one"), r(4))
			p("\tVSUBPS %s, %s, %s", r(7), r(4), r(4))
			p("\tVADDPS %s, %s, %s", r(5), r(4), r(4))
			p("\tVADDPS %s, %s, %s", r(6), r(4), r(4))
			p("\tVDIVPS %s, %s, %s", r(7), r(4), r(4))
			p("\tVMULPS %s, %s, %s", c("mHalf"), r(4), r(12))
			p("\tVFMADD213PS %s, %s, %s", r(4), r(4), r(12))
			p("\tVMOVAPS %s, %s", r(7), r(1))
			logParts(false)
			p("\tVADDPS %s, %s, %s", r(12), r(8), r(8))
			// TwoSum of 9 = max(x, 0) and 4 = s: 10 + 2.
			p("\tVXORPS %s, %s, %s", r(9), r(9), r(9))
			p("\tVMAXPS %s, %s, %s", r(9), r(0), r(9))
			p("\tVADDPS %s, %s, %s", r(4), r(9), r(10))
			p("\tVSUBPS %s, %s, %s", r(9), r(10), r(1))
			p("\tVSUBPS %s, %s, %s", r(1), r(10), r(2))
			p("\tVSUBPS %s, %s, %s", r(2), r(9), r(2))
			p("\tVSUBPS %s, %s, %s", r(1), r(4), r(3))
			p("\tVADDPS %s, %s, %s", r(3), r(2), r(2))
			p("\tVADDPS %s, %s, %s", r(2), r(8), r(8))
			p("\tVADDPS %s, %s, %s", r(8), r(10), r(10))
			cmp(1, c("spLo"), r(0), r(5))
			blend(r(5), r(11), r(10), r(10))
			cmp(14, c("spHi"), r(0), r(5))
			blend(r(5), r(0), r(10), r(10))
			cmp(3, r(0), r(0), r(5))
			blend(r(5), r(0), r(10), r(10))
			return r(10)
		}
		if kind == "log" {
			// Denormals: 1 = x·2^23, 6 = 23 (else x and 0).
			p("\tVMULPS %s, %s, %s", c("two23"), r(0), r(1))
			cmp(1, c("minNorm"), r(0), r(5))
			blend(r(5), r(1), r(0), r(1))
			if avx512 {
				p("\tVMOVUPS.Z %s, K2, %s", c("f23"), r(6))
			} else {
				p("\tVANDPS %s, %s, %s", c("f23"), r(5), r(6))
			}
			logParts(true)
			p("\tVADDPS %s, %s, %s", r(8), r(4), r(4))
			// log(±0) = -Inf, log(x<0) = NaN, log(+Inf) = +Inf, NaN stays.
			cmp(0, c("zero"), r(0), r(5))
			blend(r(5), c("negInf"), r(4), r(4))
			cmp(1, c("zero"), r(0), r(5))
			blend(r(5), c("nan"), r(4), r(4))
			cmp(0, c("posInf"), r(0), r(5))
			blend(r(5), c("posInf"), r(4), r(4))
			cmp(3, r(0), r(0), r(5))
			blend(r(5), r(0), r(4), r(4))
			return r(4)
		}
		if kind == "sigmoid" {
			p("\tVORPS %s, %s, %s", c("sign"), r(0), r(1))
			exp32x()
			recip1p()
			// x >= 0: t, tlo, k = 1, 0, 0.
			if avx512 {
				p("\tVPMOVD2M %s, K2", r(0))
			}
			p("\tVMOVUPS %s, %s", c("one"), r(4))
			p("\tVXORPS %s, %s, %s", r(7), r(7), r(7))
			blend(r(0), r(1), r(4), r(1))
			blend(r(0), r(3), r(7), r(3))
			blend(r(0), r(2), r(7), r(2))
			p("\tVMULPS %s, %s, %s", r(5), r(1), r(4))
			p("\tVMOVAPS %s, %s", r(4), r(7))
			p("\tVFMSUB231PS %s, %s, %s", r(5), r(1), r(7))
			p("\tVFMADD231PS %s, %s, %s", r(6), r(4), r(7))
			p("\tVFMADD231PS %s, %s, %s", r(5), r(3), r(7))
			p("\tVADDPS %s, %s, %s", r(7), r(4), r(4))
			p("\tVPSRAD $1, %s, %s", r(2), r(6))
			p("\tVPSUBD %s, %s, %s", r(6), r(2), r(2))
			p("\tVPADDD %s, %s, %s", c("bias"), r(6), r(6))
			p("\tVPSLLD $23, %s, %s", r(6), r(6))
			p("\tVPADDD %s, %s, %s", c("bias"), r(2), r(2))
			p("\tVPSLLD $23, %s, %s", r(2), r(2))
			p("\tVMULPS %s, %s, %s", r(6), r(4), r(4))
			p("\tVMULPS %s, %s, %s", r(2), r(4), r(4))
			return r(4)
		}
		// tanh: 8 = |x|, y = -2|x|.
		p("\tVANDPS %s, %s, %s", c("abs"), r(0), r(8))
		p("\tVADDPS %s, %s, %s", r(8), r(8), r(1))
		p("\tVORPS %s, %s, %s", c("sign"), r(1), r(1))
		exp32x()
		recip1p()
		p("\tVADDPS %s, %s, %s", r(5), r(5), r(5))
		p("\tVSUBPS %s, %s, %s", c("one"), r(5), r(7))
		p("\tVFMADD231PS %s, %s, %s", r(6), r(5), r(7))
		// The polynomial a + a·(z·R(z)), z = a².
		p("\tVMULPS %s, %s, %s", r(8), r(8), r(10))
		p("\tVMOVUPS %s, %s", c("tanhPoly0"), r(11))
		for i := 1; i < len(tanh32Poly); i++ {
			p("\tVFMADD213PS %s, %s, %s", c(fmt.Sprint("tanhPoly", i)), r(10), r(11))
		}
		p("\tVMULPS %s, %s, %s", r(11), r(10), r(11))
		p("\tVFMADD213PS %s, %s, %s", r(8), r(8), r(11))
		if avx512 {
			p("\tVCMPPS $1, %s, %s, K2", c("tanhLim"), r(8))
		} else {
			p("\tVCMPPS $1, %s, %s, %s", c("tanhLim"), r(8), r(12))
		}
		blend(r(12), r(11), r(7), r(7))
		p("\tVANDPS %s, %s, %s", c("sign"), r(0), r(9))
		p("\tVORPS %s, %s, %s", r(9), r(7), r(7))
		return r(7)
	}
	p("// func %s(dst, x []float32)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	p("\tMOVQ dst_base+0(FP), DI")
	p("\tMOVQ dst_len+8(FP), CX")
	p("\tMOVQ x_base+24(FP), SI")
	p("\tLEAQ trans32Const<>(SB), R8")
	p("\tVMOVUPS %s, %s", c("lo"), r(15))
	p("\tXORQ AX, AX")
	p("\tMOVQ CX, BX")
	p("\tSHRQ $%d, BX", map[int]int{8: 3, 16: 4}[w])
	p("\tJZ %s_tail", name)
	p("%s_loop:", name)
	p("\tVMOVUPS (SI)(AX*4), %s", r(0))
	res := body()
	p("\tVMOVUPS %s, (DI)(AX*4)", res)
	p("\tADDQ $%d, AX", w)
	p("\tDECQ BX")
	p("\tJNZ %s_loop", name)
	p("%s_tail:", name)
	p("\tANDQ $%d, CX", w-1)
	p("\tJZ %s_done", name)
	if avx512 {
		p("\tMOVL $1, BX")
		p("\tSHLL CX, BX")
		p("\tDECL BX")
		p("\tKMOVW BX, K1")
		p("\tVMOVUPS.Z (SI)(AX*4), K1, %s", r(0))
		res = body()
		p("\tVMOVUPS %s, K1, (DI)(AX*4)", res)
	} else {
		p("\tNEGQ CX")
		p("\tADDQ $8, CX")
		p("\tLEAQ elemMask<>(SB), BX")
		p("\tVMOVUPS (BX)(CX*4), Y13")
		p("\tVMASKMOVPS (SI)(AX*4), Y13, Y0")
		res = body()
		p("\tVMASKMOVPS %s, Y13, (DI)(AX*4)", res)
	}
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// Offsets in transConst<> of the constants of genTrans, each a float64
// repeated four times (32 bytes).
const (
	tcLo         = 0                         // lower clamp of the exponent argument
	tcHi         = 32                        // upper clamp
	tcLog2e      = 64                        // log2(e)
	tcShift      = 96                        // 0x1.8p52 + 1023: adding it rounds to an integer, biased
	tcLn2        = 128                       // ln(2)
	tcOne        = 160                       // 1
	tcTwo        = 192                       // 2
	tcAbs        = 224                       // 0x7fff... (and-mask of |x|)
	tcSign       = 256                       // 0x8000... (sign bit)
	tcMinus2     = 288                       // -2
	tcPoly       = 320                       // polyDeg+1 coefficients, highest degree first
	polyDeg      = 8                         // degree of P below
	tcMant       = tcPoly + 32*(polyDeg+1)   // 0x000f... (mantissa bits)
	tcTwo52      = tcMant + 32               // 2^52
	tcTwo52b     = tcTwo52 + 32              // 2^52 + 1023
	tcSqrt2      = tcTwo52b + 32             // √2
	tcSqrt2m1    = tcSqrt2 + 32              // √2 - 1
	tcHalf       = tcSqrt2m1 + 32            // 0.5
	tcZero       = tcHalf + 32               // 0
	tcNegInf     = tcZero + 32               // -Inf
	tcPosInf     = tcNegInf + 32             // +Inf
	tcNaN        = tcPosInf + 32             // NaN
	tcLogPoly    = tcNaN + 32                // logDeg+1 coefficients of L, highest first
	logDeg       = 6                         // degree of L below
	tcInvSqrt2   = tcLogPoly + 32*(logDeg+1) // 1/√2
	tcInvSqrt2Pi = tcInvSqrt2 + 32           // 1/√(2π)
	tcGeluLo     = tcInvSqrt2Pi + 32         // -geluClamp
	tcGeluHi     = tcGeluLo + 32             // geluClamp
	tcGeluPoly   = tcGeluHi + 32             // len(geluPoly) coefficients, highest first
	transSize    = tcGeluPoly + 32*len(geluPoly)
)

// geluPoly and geluClamp are those of gelu.go (see there).
var geluPoly = [...]float64{
	0x1.928faf7b9f523p-6,
	-0x1.33a8e560bc5ccp-3,
	0x1.71d2de3263bdap-2,
	-0x1.80f008f8514d6p-2,
	0x1.2ee597695344cp-6,
	0x1.3ca9eada2429ep-2,
	-0x1.ba19ace23bffep-3,
	0x1.4c596e88721cap-5,
	-0x1.535ab8d500dc6p-4,
	0x1.f90182db2c600p-13,
	0x1.54e7abf6e3b18p-4,
	0x1.69268853f2be3p-3,
	0x1.f982f5546f1eep-3,
	0x1.20dd75ff3633ap-2,
	0x1.20dd7503a1bf2p-2,
}

const geluClamp = 20

// genTransConsts emits transConst<> (see the offsets above) and elemMask<>,
// eight all-ones words then eight zero words: the eight words at index 8-r
// are the VMASKMOVPS mask of the first r lanes.
func genTransConsts() {
	f := func(off int, v float64) {
		for i := 0; i < 4; i++ {
			p("DATA transConst<>+%d(SB)/8, $0x%016x", off+8*i, math.Float64bits(v))
		}
	}
	bits := func(off int, v uint64) {
		for i := 0; i < 4; i++ {
			p("DATA transConst<>+%d(SB)/8, $0x%016x", off+8*i, v)
		}
	}
	f(tcLo, -110)
	f(tcHi, 110)
	f(tcLog2e, math.Log2E)
	f(tcShift, 0x1.8p52+1023)
	f(tcLn2, math.Ln2)
	f(tcOne, 1)
	f(tcTwo, 2)
	bits(tcAbs, 1<<63-1)
	bits(tcSign, 1<<63)
	f(tcMinus2, -2)
	// P(r) = sum_{k=0}^{polyDeg} r^k/(k+1)!, so that r*P(r) is the Taylor
	// polynomial of degree polyDeg+1 of e^r - 1.
	fact := 1.0
	coef := make([]float64, polyDeg+1)
	for k := 0; k <= polyDeg; k++ {
		fact *= float64(k + 1)
		coef[k] = 1 / fact
	}
	for i := 0; i <= polyDeg; i++ {
		f(tcPoly+32*i, coef[polyDeg-i])
	}
	bits(tcMant, 1<<52-1)
	f(tcTwo52, 0x1p52)
	f(tcTwo52b, 0x1p52+1023)
	f(tcSqrt2, math.Sqrt2)
	f(tcSqrt2m1, math.Sqrt2-1)
	f(tcHalf, 0.5)
	f(tcZero, 0)
	f(tcNegInf, math.Inf(-1))
	f(tcPosInf, math.Inf(1))
	bits(tcNaN, 0x7ff8000000000000)
	// L(z) = sum_{k=0}^{logDeg} 2/(2k+1) z^k, so that u*L(u²) is the
	// series of 2·atanh(u) = log((1+u)/(1-u)).
	for i := 0; i <= logDeg; i++ {
		k := logDeg - i
		f(tcLogPoly+32*i, 2/float64(2*k+1))
	}
	f(tcInvSqrt2, 1/math.Sqrt2)
	f(tcInvSqrt2Pi, 1/math.Sqrt(2*math.Pi))
	f(tcGeluLo, -geluClamp)
	f(tcGeluHi, geluClamp)
	for i, v := range geluPoly {
		f(tcGeluPoly+32*i, v)
	}
	p("GLOBL transConst<>(SB), RODATA|NOPTR, $%d", transSize)
	p("")
	for i := 0; i < 16; i++ {
		v := "0xffffffff"
		if i >= 8 {
			v = "0"
		}
		p("DATA elemMask<>+%d(SB)/4, $%s", 4*i, v)
	}
	p("GLOBL elemMask<>(SB), RODATA|NOPTR, $64")
	p("")
}

// genGelu emits geluF32AVX2 (x·Φ(x)), geluDerivF32AVX2 (Φ(x) + x·φ(x)),
// or geluGradF32AVX2 (g·(Φ(x) + x·φ(x)), the backward pass in one sweep),
// explained in gelu.go, or their AVX512 forms. Each float32 is widened to
// float64, so the only float32 rounding is the final one and neither
// denormal results nor overflow need special paths; e^(-a²) is
//
//	y = clamp(-a², -110, 110)        (NaN passes through)
//	n = round(y/ln2), r = y - n*ln2  (|r| <= ln2/2)
//	q = r*P(r) ≈ e^r - 1             (relative error < 1e-11)
//	e^y = 2^n*q + 2^n
//
// with 2^n built from the bits of y/ln2 + shift. AVX2 does eight elements
// per step as two halves of four float64 lanes, the last len%8 with masked
// loads and stores; AVX-512 sixteen as two halves of eight, the last
// len%16 under an opmask, with the constants broadcast from their first
// float64. Both compute the same operations in the same order, so they
// give the same bits.
//
// Registers: half h uses (Y|Z)(5h)..(5h+4) and 12, 13 as scratch; 14, 15
// hold the clamps, Y10 the AVX2 tail mask, Y11 (Z16 with AVX-512) the
// tail's g; R8 points at transConst<>.
func genGelu(kind string, avx512 bool) {
	name, v, w := kind+"F32AVX2", "Y", 8
	if avx512 {
		name, v, w = kind+"F32AVX512", "Z", 16
	}
	c := func(off int) string { return fmt.Sprintf("%d(R8)", off) }
	y := func(i int) string { return fmt.Sprintf("%s%d", v, i) }
	// op emits an instruction; with AVX-512 a constant operand (R8) is
	// broadcast: VMOVUPD becomes VBROADCASTSD, the others take .BCST.
	op := func(ins string, args ...string) {
		if avx512 && strings.Contains(strings.Join(args, ","), "(R8)") {
			if ins == "VMOVUPD" {
				ins = "VBROADCASTSD"
			} else {
				ins += ".BCST"
			}
		}
		p("\t%s %s", ins, strings.Join(args, ", "))
	}
	body := func(h int) string {
		x, a, s, q, t := y(5*h), y(5*h+1), y(5*h+2), y(5*h+3), y(5*h+4)
		s12, s13 := y(12), y(13)
		// u is x, or x clamped to ±geluClamp for the derivative (which
		// then turns x into x - x, 0 or NaN, to add at the end); 13 =
		// t = 1/(1 + a/2) with a = |u|/√2, and the exponent below is -a².
		u := x
		if kind != "gelu" {
			u = t
			op("VMOVUPD", c(tcGeluLo), s12)
			op("VMAXPD", x, s12, u)
			op("VMOVUPD", c(tcGeluHi), s12)
			op("VMINPD", u, s12, u)
			op("VSUBPD", x, x, x)
		}
		op("VANDPD", c(tcAbs), u, a)
		op("VMULPD", c(tcInvSqrt2), a, a)
		op("VMULPD", c(tcHalf), a, s13)
		op("VADDPD", c(tcOne), s13, s13)
		op("VMOVUPD", c(tcOne), s12)
		op("VDIVPD", s13, s12, s13)
		op("VMULPD", a, a, a)
		op("VXORPD", c(tcSign), a, a)
		// The input is the first operand of VMAXPD/VMINPD, which they
		// return when either source is NaN.
		op("VMAXPD", a, y(14), a)
		op("VMINPD", a, y(15), a)
		op("VMULPD", c(tcLog2e), a, s)
		op("VADDPD", c(tcShift), s, s)
		op("VSUBPD", c(tcShift), s, q)
		op("VFNMADD231PD", c(tcLn2), q, a)
		op("VPSLLQ", "$52", s, s)
		op("VMOVUPD", c(tcPoly), q)
		for i := 1; i <= polyDeg; i++ {
			op("VFMADD213PD", c(tcPoly+32*i), a, q)
		}
		op("VMULPD", a, q, q)
		// s = e^(-a²); q = h = e^(-a²)·t·P(t)/2 = erfc(a)/2;
		// a = Φ(u) = u < 0 ? h : 1 - h.
		// P(t) = E(t²) + t·O(t²), two Horner chains of half the
		// length (the latency of one chain was the limit).
		op("VFMADD231PD", q, s, s)
		op("VMULPD", s13, s13, a)
		op("VMOVUPD", c(tcGeluPoly), q)
		op("VMOVUPD", c(tcGeluPoly+32), s12)
		for i := 2; i < len(geluPoly); i++ {
			r := q
			if i%2 == 1 {
				r = s12
			}
			op("VFMADD213PD", c(tcGeluPoly+32*i), a, r)
		}
		op("VFMADD231PD", s12, s13, q)
		op("VMULPD", s13, q, q)
		op("VMULPD", s, q, q)
		op("VMULPD", c(tcHalf), q, q)
		op("VMOVUPD", c(tcOne), a)
		op("VSUBPD", q, a, a)
		if avx512 {
			op("VCMPPD", "$1", c(tcZero), u, "K2")
			op("VBLENDMPD", q, a, "K2", a)
		} else {
			op("VCMPPD", "$1", c(tcZero), u, s12)
			op("VBLENDVPD", s12, q, a, a)
		}
		if kind == "gelu" {
			op("VMULPD", x, a, a)
			return a
		}
		// Φ(u) + u·φ(u) + (x - x).
		op("VMULPD", c(tcInvSqrt2Pi), s, s)
		op("VFMADD231PD", u, s, a)
		op("VADDPD", x, a, a)
		return a
	}
	half := map[bool]int{false: 16, true: 32}[avx512] // bytes of float32 per half
	narrow := func(r string) string {                 // the register of r's float32 half
		if avx512 {
			return "Y" + r[1:]
		}
		return "X" + r[1:]
	}
	cvt := "VCVTPD2PSY"
	if avx512 {
		cvt = "VCVTPD2PS"
	}
	args := "48"
	if kind == "geluGrad" {
		args = "72"
	}
	p("// func %s(dst, %sx []float32)", name, map[bool]string{true: "g, "}[kind == "geluGrad"])
	p("TEXT ·%s(SB), NOSPLIT, $0-%s", name, args)
	p("\tMOVQ dst_base+0(FP), DI")
	p("\tMOVQ dst_len+8(FP), CX")
	if kind == "geluGrad" {
		p("\tMOVQ g_base+24(FP), DX")
		p("\tMOVQ x_base+48(FP), SI")
	} else {
		p("\tMOVQ x_base+24(FP), SI")
	}
	p("\tLEAQ transConst<>(SB), R8")
	op("VMOVUPD", c(tcLo), y(14))
	op("VMOVUPD", c(tcHi), y(15))
	p("\tXORQ AX, AX")
	p("\tMOVQ CX, BX")
	p("\tSHRQ $%d, BX", map[int]int{8: 3, 16: 4}[w])
	p("\tJZ %s_tail", name)
	p("%s_loop:", name)
	for h := 0; h < 2; h++ {
		p("\tVCVTPS2PD %d(SI)(AX*4), %s", half*h, y(5*h))
		r := body(h)
		if kind == "geluGrad" {
			p("\tVCVTPS2PD %d(DX)(AX*4), %s", half*h, y(12))
			p("\tVMULPD %s, %s, %s", y(12), r, r)
		}
		p("\t%s %s, %s", cvt, r, narrow(r))
		p("\tVMOVUPS %s, %d(DI)(AX*4)", narrow(r), half*h)
	}
	p("\tADDQ $%d, AX", w)
	p("\tDECQ BX")
	p("\tJNZ %s_loop", name)
	p("%s_tail:", name)
	p("\tANDQ $%d, CX", w-1)
	p("\tJZ %s_done", name)
	if avx512 {
		p("\tMOVL $1, BX")
		p("\tSHLL CX, BX")
		p("\tDECL BX")
		p("\tKMOVW BX, K1")
		p("\tVMOVUPS.Z (SI)(AX*4), K1, Z11")
		p("\tVCVTPS2PD Y11, Z0")
		p("\tVEXTRACTF64X4 $1, Z11, Y11")
		p("\tVCVTPS2PD Y11, Z5")
		if kind == "geluGrad" {
			p("\tVMOVUPS.Z (DX)(AX*4), K1, Z16")
		}
	} else {
		p("\tNEGQ CX")
		p("\tADDQ $8, CX")
		p("\tLEAQ elemMask<>(SB), BX")
		p("\tVMOVUPS (BX)(CX*4), Y10")
		p("\tVMASKMOVPS (SI)(AX*4), Y10, Y11")
		p("\tVCVTPS2PD X11, Y0")
		p("\tVEXTRACTF128 $1, Y11, X11")
		p("\tVCVTPS2PD X11, Y5")
		if kind == "geluGrad" {
			p("\tVMASKMOVPS (DX)(AX*4), Y10, Y11")
		}
	}
	r0 := body(0)
	r1 := body(1)
	if kind == "geluGrad" {
		gt := "Y11"
		if avx512 {
			gt = "Z16"
		}
		p("\tVCVTPS2PD %s, %s", narrow(gt), y(12))
		p("\tVMULPD %s, %s, %s", y(12), r0, r0)
		if avx512 {
			p("\tVEXTRACTF64X4 $1, Z16, Y12")
		} else {
			p("\tVEXTRACTF128 $1, Y11, X12")
		}
		p("\tVCVTPS2PD %s, %s", narrow(y(12)), y(12))
		p("\tVMULPD %s, %s, %s", y(12), r1, r1)
	}
	if avx512 {
		p("\tVCVTPD2PS %s, Y11", r0)
		p("\tVCVTPD2PS %s, Y12", r1)
		p("\tVINSERTF64X4 $1, Y12, Z11, Z11")
		p("\tVMOVUPS Z11, K1, (DI)(AX*4)")
	} else {
		p("\tVCVTPD2PSY %s, X11", r0)
		p("\tVCVTPD2PSY %s, X12", r1)
		p("\tVINSERTF128 $1, X12, Y11, Y11")
		p("\tVMASKMOVPS Y11, Y10, (DI)(AX*4)")
	}
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// genAdam emits adamF32AVX2, one Adam update over len(p) elements:
//
//	for i := range p {
//		d := g[i]
//		mi := m[i]*c.B1 + c.C1*d
//		vi := v[i]*c.B2 + c.C2*d*d
//		m[i], v[i] = mi, vi
//		p[i] += c.NegStep * (mi / (sqrt(vi)/c.BC2 + c.Eps))
//	}
//
// Every operation is a separately rounded IEEE one (no FMA), in the order
// of the loop, so the result matches the scalar loop bit for bit. The
// coefficients, read from *c, sit broadcast in Y9-Y15; each vector uses
// Y0-Y3 (register renaming keeps the unrolled copies independent).
func genAdam() {
	const (
		rB1, rB2, rC1, rC2, rBC2, rEps, rStep = 9, 10, 11, 12, 13, 14, 15
	)
	p("// func adamF32AVX2(p, g, m, v []float32, c *AdamF32Coefs)")
	p("TEXT ·adamF32AVX2(SB), NOSPLIT, $0-104")
	p("\tMOVQ p_base+0(FP), DI")
	p("\tMOVQ p_len+8(FP), CX")
	p("\tMOVQ g_base+24(FP), SI")
	p("\tMOVQ m_base+48(FP), DX")
	p("\tMOVQ v_base+72(FP), R8")
	p("\tMOVQ c+96(FP), R9")
	for i, r := range []int{rB1, rB2, rC1, rC2, rBC2, rEps, rStep} {
		p("\tVBROADCASTSS %d(R9), Y%d", 4*i, r)
	}
	// body computes one vector (Y registers) or one element (X registers,
	// SS instructions).
	body := func(off string, y string, sfx string, mov string) {
		r := func(i int) string { return fmt.Sprintf("%s%d", y, i) }
		p("\t%s %s, %s", mov, at(off, "SI"), r(0))
		p("\t%s %s, %s", mov, at(off, "DX"), r(1))
		p("\t%s %s, %s", mov, at(off, "R8"), r(2))
		p("\tVMUL%s %s, %s, %s", sfx, r(rB1), r(1), r(1))
		p("\tVMUL%s %s, %s, %s", sfx, r(0), r(rC1), r(3))
		p("\tVADD%s %s, %s, %s", sfx, r(3), r(1), r(1))
		p("\t%s %s, %s", mov, r(1), at(off, "DX"))
		p("\tVMUL%s %s, %s, %s", sfx, r(rB2), r(2), r(2))
		p("\tVMUL%s %s, %s, %s", sfx, r(0), r(rC2), r(3))
		p("\tVMUL%s %s, %s, %s", sfx, r(0), r(3), r(3))
		p("\tVADD%s %s, %s, %s", sfx, r(3), r(2), r(2))
		p("\t%s %s, %s", mov, r(2), at(off, "R8"))
		if sfx == "PS" {
			p("\tVSQRTPS %s, %s", r(2), r(3))
		} else {
			p("\tVSQRTSS %s, %s, %s", r(2), r(2), r(3))
		}
		p("\tVDIV%s %s, %s, %s", sfx, r(rBC2), r(3), r(3))
		p("\tVADD%s %s, %s, %s", sfx, r(rEps), r(3), r(3))
		p("\tVDIV%s %s, %s, %s", sfx, r(3), r(1), r(1))
		p("\tVMUL%s %s, %s, %s", sfx, r(rStep), r(1), r(1))
		if sfx == "PS" {
			p("\tVADDPS %s, %s, %s", at(off, "DI"), r(1), r(1))
		} else {
			p("\tVMOVSS %s, X0", at(off, "DI"))
			p("\tVADDSS X0, X1, X1")
		}
		p("\t%s %s, %s", mov, r(1), at(off, "DI"))
	}
	mapLoops("adamF32AVX2", 4, func(_ int, off string) {
		body(off, "Y", "PS", "VMOVUPS")
	}, func(off string) {
		body(off, "X", "SS", "VMOVSS")
	})
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// reduceLoops is mapLoops for reductions: the 8-element loop uses
// accumulator 0 only, and reduce runs between the vector and scalar loops.
func reduceLoops(name string, body func(r int, off string), reduce func(), scalar func(off string)) {
	p("\tXORQ AX, AX")
	p("\tMOVQ CX, BX")
	p("\tSHRQ $5, BX")
	p("\tJZ %s_tail8", name)
	p("%s_loop32:", name)
	for u := 0; u < 4; u++ {
		body(u, fmt.Sprintf("%d(%%s)(AX*4)", 32*u))
	}
	p("\tADDQ $32, AX")
	p("\tDECQ BX")
	p("\tJNZ %s_loop32", name)
	p("%s_tail8:", name)
	p("\tMOVQ CX, BX")
	p("\tANDQ $31, BX")
	p("\tSHRQ $3, BX")
	p("\tJZ %s_reduce", name)
	p("%s_loop8:", name)
	body(0, "(%s)(AX*4)")
	p("\tADDQ $8, AX")
	p("\tDECQ BX")
	p("\tJNZ %s_loop8", name)
	p("%s_reduce:", name)
	reduce()
	p("\tANDQ $7, CX")
	p("\tJZ %s_done", name)
	p("%s_loop1:", name)
	scalar("(%s)(AX*4)")
	p("\tINCQ AX")
	p("\tDECQ CX")
	p("\tJNZ %s_loop1", name)
	p("%s_done:", name)
}

// genTranspose emits transpose<rows>x8F32, which packs rows (8 or 4) rows
// of a matrix transposed, eight columns at a time:
//
//	for p := 0; p < n; p++ { // n is a multiple of 8
//		for r := 0; r < rows; r++ {
//			dst[p*w+r] = src[r*ld+p]
//		}
//	}
//
// An 8×8 block is loaded as four registers holding rows r and r+4 of
// columns p..p+3 in their two halves and four holding columns p+4..p+7;
// a 4×4 transpose within each 128-bit lane then leaves column q of all
// eight rows in one register. With four rows, each register holds rows
// 0-3 of columns q and q+4 in its halves.
//
// Registers: SI and R10 walk rows 0-3 and 4-7 of src, R8/R9 are ld and
// 3*ld in bytes; DI walks dst, R11/R12 are w and 3*w in bytes and DX is
// DI + 4*w bytes; CX counts blocks.
func genTranspose(rows int) {
	name := fmt.Sprintf("transpose%dx8F32", rows)
	p("// func %s(dst *float32, w int, src *float32, ld int, n int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ w+8(FP), R11")
	p("\tSHLQ $2, R11")
	p("\tLEAQ (R11)(R11*2), R12")
	p("\tLEAQ (DI)(R11*4), DX")
	p("\tMOVQ src+16(FP), SI")
	p("\tMOVQ ld+24(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tLEAQ (R8)(R8*2), R9")
	p("\tLEAQ (SI)(R8*4), R10")
	p("\tMOVQ n+32(FP), CX")
	p("\tSHRQ $3, CX")
	p("\tJZ %s_done", name)
	// src(r) addresses row r of the block: rows 0-3 from SI, 4-7 from R10.
	src := func(r int) string {
		b := "SI"
		if r >= 4 {
			b, r = "R10", r-4
		}
		return fmt.Sprintf([...]string{"(%s)", "(%s)(R8*1)", "(%s)(R8*2)", "(%s)(R9*1)"}[r], b)
	}
	off := func(o int, m string) string {
		if o == 0 {
			return m
		}
		return fmt.Sprintf("%d%s", o, m)
	}
	dstRow := func(q int) string {
		// Rows 0-3 of the block from DI, rows 4-7 from DX.
		b := "DI"
		if q >= 4 {
			b, q = "DX", q-4
		}
		return fmt.Sprintf([...]string{"(%s)", "(%s)(R11*1)", "(%s)(R11*2)", "(%s)(R12*1)"}[q], b)
	}
	// lane4x4 transposes, within each 128-bit lane, the 4×4 blocks of
	// Y(a)..Y(a+3) into Y(a+4)..Y(a+7) (Y(a+8)..Y(a+11) scratch).
	lane4x4 := func(a int) {
		y := func(i int) string { return fmt.Sprintf("Y%d", a+i) }
		p("\tVUNPCKLPS %s, %s, %s", y(1), y(0), y(8))
		p("\tVUNPCKHPS %s, %s, %s", y(1), y(0), y(9))
		p("\tVUNPCKLPS %s, %s, %s", y(3), y(2), y(10))
		p("\tVUNPCKHPS %s, %s, %s", y(3), y(2), y(11))
		p("\tVUNPCKLPD %s, %s, %s", y(10), y(8), y(4))
		p("\tVUNPCKHPD %s, %s, %s", y(10), y(8), y(5))
		p("\tVUNPCKLPD %s, %s, %s", y(11), y(9), y(6))
		p("\tVUNPCKHPD %s, %s, %s", y(11), y(9), y(7))
	}
	p("%s_loop:", name)
	if rows == 8 {
		for half := 0; half < 2; half++ {
			for i := 0; i < 4; i++ {
				p("\tVMOVUPS %s, X%d", off(16*half, src(i)), i)
				p("\tVINSERTF128 $1, %s, Y%d, Y%d", off(16*half, src(i+4)), i, i)
			}
			lane4x4(0)
			for q := 0; q < 4; q++ {
				p("\tVMOVUPS Y%d, %s", 4+q, off(0, dstRow(4*half+q)))
			}
		}
	} else {
		for i := 0; i < 4; i++ {
			p("\tVMOVUPS %s, Y%d", src(i), i)
		}
		lane4x4(0)
		for q := 0; q < 4; q++ {
			p("\tVMOVUPS X%d, %s", 4+q, dstRow(q))
			p("\tVEXTRACTF128 $1, Y%d, %s", 4+q, dstRow(4+q))
		}
	}
	p("\tADDQ $32, SI")
	p("\tADDQ $32, R10")
	p("\tLEAQ (DI)(R11*8), DI")
	p("\tLEAQ (DX)(R11*8), DX")
	p("\tDECQ CX")
	p("\tJNZ %s_loop", name)
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// genHalfFile writes halfconv_amd64.s, the conversions between float32 and
// the 16-bit formats (see halfconv.go): float16 with F16C's VCVTPH2PS and
// VCVTPS2PH, bfloat16 with integer operations, 8 lanes with AVX2 and 16
// with AVX-512. Each converts the whole vectors of its input, which the
// caller has cut to a multiple of the width; internal/half converts the
// rest.
func genHalfFile() {
	out.Reset()
	p("// Code generated by mkasm.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	for _, zmm := range []bool{false, true} {
		genHalfConv("widenF16", zmm)
		genHalfConv("narrowF16", zmm)
		genHalfConv("widenBF16", zmm)
		genHalfConv("narrowBF16", zmm)
	}
	if err := os.WriteFile("halfconv_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}

// genHalfConv emits one conversion kernel, kind one of widenF16,
// narrowF16, widenBF16 or narrowBF16, with the signature
//
//	func kindAVX2(dst []float32, src []uint16)   (widen)
//	func kindAVX2(dst []uint16, src []float32)   (narrow)
//
// converting len(src) elements, a multiple of the vector width (8, or 16 for
// the AVX512 variant). The bfloat16 ones do what internal/half's scalar
// code does:
//
//	widen:  b = h<<16; if b&0x7fffffff > 0x7f800000 { b |= 0x400000 }  (quiet NaN)
//	narrow: if b&0x7fffffff > 0x7f800000 { h = b>>16 | 0x40 }           (quiet NaN)
//	        else { h = (b + 0x7fff + (b>>16)&1) >> 16 }                (nearest even)
//
// The float16 ones round to nearest even (VCVTPS2PH's immediate 0), and
// quiet a NaN keeping its payload's top bits, as the scalar code does.
func genHalfConv(kind string, zmm bool) {
	name, v, w := kind+"AVX2", "Y", 8
	if zmm {
		name, v, w = kind+"AVX512", "Z", 16
	}
	r := func(i int) string { return fmt.Sprintf("%s%d", v, i) }
	widen := kind == "widenF16" || kind == "widenBF16"
	dstT, srcT := "[]uint16", "[]float32"
	if widen {
		dstT, srcT = "[]float32", "[]uint16"
	}
	// bcast sets register i to the 32-bit constant c in every lane.
	bcast := func(c uint32, i int) {
		p("\tMOVL $0x%08x, R8", c)
		p("\tVMOVD R8, X%d", i)
		p("\tVPBROADCASTD X%d, %s", i, r(i))
	}
	p("// func %s(dst %s, src %s)", name, dstT, srcT)
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	p("\tMOVQ dst_base+0(FP), DI")
	p("\tMOVQ src_base+24(FP), SI")
	p("\tMOVQ src_len+32(FP), CX")
	switch kind {
	case "widenBF16":
		bcast(0x7fffffff, 10) // |b|
		bcast(0x7f800000, 11) // +Inf: a larger |b| is a NaN
		bcast(0x00400000, 12) // the quiet bit
	case "narrowBF16":
		bcast(0x7fffffff, 10)
		bcast(0x7f800000, 11)
		bcast(0x00000040, 12) // the quiet bit of a bfloat16
		bcast(0x00000001, 13)
		bcast(0x00007fff, 14)
	}
	p("\tXORQ AX, AX")
	p("\tTESTQ CX, CX")
	p("\tJZ %s_done", name)
	p("%s_loop:", name)
	switch kind {
	case "widenF16":
		p("\tVCVTPH2PS (SI)(AX*2), %s", r(0))
		p("\tVMOVUPS %s, (DI)(AX*4)", r(0))
	case "narrowF16":
		p("\tVMOVUPS (SI)(AX*4), %s", r(0))
		p("\tVCVTPS2PH $0, %s, (DI)(AX*2)", r(0))
	case "widenBF16":
		p("\tVPMOVZXWD (SI)(AX*2), %s", r(0))
		p("\tVPSLLD $16, %s, %s", r(0), r(0))
		if zmm {
			p("\tVPANDD %s, %s, %s", r(10), r(0), r(1))
			p("\tVPCMPGTD %s, %s, K1", r(11), r(1))
			p("\tVPORD %s, %s, K1, %s", r(12), r(0), r(0))
		} else {
			p("\tVPAND %s, %s, %s", r(10), r(0), r(1))
			p("\tVPCMPGTD %s, %s, %s", r(11), r(1), r(1))
			p("\tVPAND %s, %s, %s", r(12), r(1), r(1))
			p("\tVPOR %s, %s, %s", r(1), r(0), r(0))
		}
		p("\tVMOVUPS %s, (DI)(AX*4)", r(0))
	case "narrowBF16":
		p("\tVMOVDQU%s (SI)(AX*4), %s", map[bool]string{true: "32", false: ""}[zmm], r(0))
		and, or, add := "VPAND", "VPOR", "VPADDD"
		if zmm {
			and, or = "VPANDD", "VPORD"
		}
		// r1 = (b + 0x7fff + (b>>16)&1) >> 16, the rounded value.
		p("\tVPSRLD $16, %s, %s", r(0), r(1))
		p("\t%s %s, %s, %s", and, r(13), r(1), r(1))
		p("\t%s %s, %s, %s", add, r(14), r(1), r(1))
		p("\t%s %s, %s, %s", add, r(0), r(1), r(1))
		p("\tVPSRLD $16, %s, %s", r(1), r(1))
		// r2 = b>>16 | 0x40, the quiet NaN, where |b| > +Inf.
		p("\tVPSRLD $16, %s, %s", r(0), r(2))
		p("\t%s %s, %s, %s", or, r(12), r(2), r(2))
		p("\t%s %s, %s, %s", and, r(10), r(0), r(3))
		if zmm {
			p("\tVPCMPGTD %s, %s, K1", r(11), r(3))
			p("\tVMOVDQA32 %s, K1, %s", r(2), r(1))
			p("\tVPMOVDW %s, (DI)(AX*2)", r(1))
		} else {
			p("\tVPCMPGTD %s, %s, %s", r(11), r(3), r(3))
			p("\tVPBLENDVB %s, %s, %s, %s", r(3), r(2), r(1), r(1))
			// Pack the eight 32-bit results (each < 2^16) into 16 bits.
			p("\tVEXTRACTI128 $1, Y1, X2")
			p("\tVPACKUSDW X2, X1, X1")
			p("\tVMOVDQU X1, (DI)(AX*2)")
		}
	}
	p("\tADDQ $%d, AX", w)
	p("\tCMPQ AX, CX")
	p("\tJLT %s_loop", name)
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}
