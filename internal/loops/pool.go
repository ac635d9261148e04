package loops

// MaxPoolValues writes the maximum of every window of img into out as
// MaxPool does, the same values bit for bit, without the indices: for a
// forward pass whose backward never runs (inference). Without dilation it
// is separable: the maximum of each window's columns is taken once per
// input row, and shared by the windows that overlap it vertically (3×3
// windows at stride 2 read every row's maxima from two windows), then the
// rows' maxima are combined down each window.
func MaxPoolValues[T Float](out, img []T, g Window) {
	if g.DH != 1 || g.DW != 1 {
		idx := make([]int32, len(out))
		MaxPool(out, idx, img, g)
		return
	}
	hw, L := g.H*g.W, g.OH*g.OW
	planes := g.N * g.C
	parallelFor(planes, planes*(hw+L), func(lo, hi int) {
		rows := getBuf[T](g.H * g.OW)
		for p := lo; p < hi; p++ {
			maxPoolValuesPlane(out[p*L:(p+1)*L], img[p*hw:(p+1)*hw], rows, &g)
		}
		putBuf(rows)
	})
}

// pick is one step of max pooling's scan: v replaces the running maximum m
// when it is larger or a NaN, so that a scan in row-major order ends at
// the first maximum or the last NaN, as PyTorch's max_pool2d. A scan of a
// run of elements is a scan of its parts: pick(scan(a), scan(b)) is
// scan(a then b), which lets MaxPoolValues combine rows' maxima.
func pick[T Float](m, v T) T {
	// (A branch: a select on the bits measured slower on ResNet's
	// post-ReLU planes, where the comparisons are predictable.)
	if v > m || v != v {
		return v
	}
	return m
}

// maxPoolValuesPlane is MaxPoolValues on one plane of an undilated
// geometry; rows holds H·OW scratch elements.
func maxPoolValuesPlane[T Float](out, plane, rows []T, g *Window) {
	ow := g.OW
	// the windows whose columns lie inside the plane: ox in [xlo, xhi)
	xlo := min((g.PW+g.SW-1)/g.SW, ow)
	xhi := xlo
	if r := g.W - g.KW + g.PW; r >= 0 {
		xhi = max(xlo, min(ow, r/g.SW+1))
	}
	rows = rows[:g.H*ow]
	for y := 0; y < g.H; y++ {
		line := plane[y*g.W : (y+1)*g.W]
		hr := rows[y*ow : (y+1)*ow]
		edge := func(ox int) {
			x0 := ox*g.SW - g.PW
			xa, xb := max(x0, 0), min(x0+g.KW, g.W)
			m := line[xa]
			for _, v := range line[xa+1 : xb] {
				m = pick(m, v)
			}
			hr[ox] = m
		}
		for ox := 0; ox < xlo; ox++ {
			edge(ox)
		}
		switch {
		case g.KW == 3 && g.SW == 2:
			x := xlo*2 - g.PW
			for ox := xlo; ox < xhi; ox++ {
				w := (*[3]T)(line[x:])
				hr[ox] = pick(pick(w[0], w[1]), w[2])
				x += 2
			}
		case g.KW == 2 && g.SW == 2:
			x := xlo*2 - g.PW
			for ox := xlo; ox < xhi; ox++ {
				w := (*[2]T)(line[x:])
				hr[ox] = pick(w[0], w[1])
				x += 2
			}
		default:
			for ox := xlo; ox < xhi; ox++ {
				edge(ox)
			}
		}
		for ox := xhi; ox < ow; ox++ {
			edge(ox)
		}
	}
	for oy := 0; oy < g.OH; oy++ {
		y0 := oy*g.SH - g.PH
		ya, yb := max(y0, 0), min(y0+g.KH, g.H)
		o := out[oy*ow : (oy+1)*ow]
		copy(o, rows[ya*ow:(ya+1)*ow])
		for y := ya + 1; y < yb; y++ {
			r := rows[y*ow : (y+1)*ow]
			for i, v := range r {
				o[i] = pick(o[i], v)
			}
		}
	}
}
