// Copyright 2025 The nabla Authors. All rights reserved.

//go:build ignore

// mkasm generates gemm_amd64.s, the register-blocked GEMM micro-kernels,
// and elem_amd64.s, the AVX2 elementwise kernels.
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
	"os"
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
	} {
		gen(k)
	}
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
		genGemvT(true, mr)
	}
	for mr := 1; mr <= 2; mr++ {
		genGemvT(false, mr)
	}
	if err := os.WriteFile("gemv_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
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
func genGemvT(zmm bool, mr int) {
	name := fmt.Sprintf("gemvTF32x%dAVX2", mr)
	vw := 8
	if zmm {
		name = fmt.Sprintf("gemvTF32x%dAVX512", mr)
		vw = 16
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
		p("\tADDQ $%d, DI", 4*vw)
		p("\tDECQ BX")
		p("\tJNZ %s_%sloop", name, l)
		p("%s_%stail:", name, l)
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

	p("// func %s(k int, a *float32, lda int, b *float32, ldb int, n int, c *float32, ldc int, alpha, beta float32)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("\tMOVQ a+8(FP), R12")
	p("\tMOVQ lda+16(FP), R10")
	p("\tSHLQ $2, R10")
	p("\tLEAQ (R10)(R10*2), R11")
	p("\tMOVQ b+24(FP), R13")
	p("\tMOVQ ldb+32(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tLEAQ (R8)(R8*2), R9")
	p("\tMOVQ c+48(FP), DX")
	p("\tMOVQ k+0(FP), CX")
	p("\tANDQ $%d, CX", vw-1)
	if zmm {
		p("\tMOVL $1, AX")
		p("\tSHLL CX, AX")
		p("\tDECL AX")
		p("\tKMOVW AX, K1")
	} else {
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
