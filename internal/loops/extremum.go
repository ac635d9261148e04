package loops

import "math"

// ExtremumShare writes, for each slice along the middle axis of (outer, n,
// inner) data x whose extremum (max or min) is m (shape (outer, 1, inner)),
// the share of the gradient each element gets: 1/k where x equals m (k
// such elements, ties split evenly) and 0 elsewhere. A slice with no
// element equal to m (its extremum is NaN) gets NaN everywhere, 0/0.
func ExtremumShare[T Float](share, x, m []T, outer, n, inner int) {
	size := outer * n * inner
	share, x, m = share[:size], x[:size], m[:outer*inner]
	if inner == 1 {
		// Rows are independent: split between the workers (see eachRows).
		eachRows(outer, n, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				shareRow(share[o*n:(o+1)*n], x[o*n:(o+1)*n], m[o])
			}
		})
		return
	}
	count := make([]int, inner)
	for o := 0; o < outer; o++ {
		blk, sh, mo := x[o*n*inner:(o+1)*n*inner], share[o*n*inner:(o+1)*n*inner], m[o*inner:(o+1)*inner]
		clear(count)
		for i := 0; i < n; i++ {
			for j, v := range blk[i*inner : (i+1)*inner] {
				if v == mo[j] {
					count[j]++
				}
			}
		}
		for i := 0; i < n; i++ {
			row := sh[i*inner : (i+1)*inner]
			for j, v := range blk[i*inner : (i+1)*inner] {
				switch {
				case count[j] == 0:
					row[j] = T(math.NaN())
				case v == mo[j]:
					row[j] = 1 / T(count[j])
				default:
					row[j] = 0
				}
			}
		}
	}
}

// shareRow is ExtremumShare of one row whose extremum is mo.
func shareRow[T Float](sh, row []T, mo T) {
	k := 0
	for _, v := range row {
		if v == mo {
			k++
		}
	}
	if k == 0 {
		nan := T(math.NaN())
		for i := range sh {
			sh[i] = nan
		}
		return
	}
	w := 1 / T(k)
	sh = sh[:len(row)]
	for i, v := range row {
		var s T
		if v == mo {
			s = w
		}
		sh[i] = s
	}
}
