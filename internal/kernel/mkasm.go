// Copyright 2025 The nabla Authors. All rights reserved.

//go:build ignore

// mkasm generates gemm_amd64.s, the register-blocked GEMM micro-kernels.
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
}
