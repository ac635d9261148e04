package data_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nabla-go/nabla/data"
)

// TestLoaderShard checks that the shards of an epoch are equal in length,
// cover every sample, overlap only in the wrapped padding, and that
// together batch b of all shards holds the samples of batch b of the
// unsharded loader at size times the batch size.
func TestLoaderShard(t *testing.T) {
	for _, c := range []struct{ n, size, batch int }{{103, 2, 8}, {103, 3, 5}, {100, 4, 5}, {2, 3, 1}} {
		t.Run(fmt.Sprintf("n%d/size%d", c.n, c.size), func(t *testing.T) {
			ds := indexDataset(t, c.n)
			full := data.NewLoader(ds, data.LoaderConfig{BatchSize: c.batch * c.size, Shuffle: true, Seed: 3})
			per := (c.n + c.size - 1) / c.size
			for epoch := range 2 {
				shards := make([][][]int, c.size)
				seen := make([]int, c.n)
				for r := range c.size {
					l := data.NewLoader(ds, data.LoaderConfig{BatchSize: c.batch, Shuffle: true, Seed: 3}).Shard(r, c.size)
					if want := (per + c.batch - 1) / c.batch; l.Len() != want {
						t.Fatalf("rank %d: Len %d, want %d", r, l.Len(), want)
					}
					shards[r] = collect(t, l, epoch)
					k := 0
					for _, b := range shards[r] {
						for _, i := range b {
							seen[i]++
							k++
						}
					}
					if k != per {
						t.Errorf("rank %d: %d samples, want %d", r, k, per)
					}
				}
				pad := per*c.size - c.n
				extra := 0
				for i, s := range seen {
					if s == 0 {
						t.Errorf("epoch %d: sample %d on no rank", epoch, i)
					}
					extra += s - 1
				}
				if extra != pad {
					t.Errorf("epoch %d: %d repeated samples, want the %d of the padding", epoch, extra, pad)
				}
				if pad > 0 {
					continue // the last batches differ by the padding
				}
				fb := collect(t, full, epoch)
				for b := range fb {
					var got []int
					for r := range c.size {
						got = append(got, shards[r][b]...)
					}
					slices.Sort(got)
					want := slices.Sorted(slices.Values(fb[b]))
					if !slices.Equal(got, want) {
						t.Fatalf("epoch %d batch %d: shards hold %v, unsharded %v", epoch, b, got, want)
					}
				}
			}
		})
	}
}

func TestLoaderShardPanics(t *testing.T) {
	l := data.NewLoader(indexDataset(t, 4), data.LoaderConfig{BatchSize: 2})
	for _, c := range [][2]int{{2, 2}, {-1, 2}, {0, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Shard(%d, %d) did not panic", c[0], c[1])
				}
			}()
			l.Shard(c[0], c[1])
		}()
	}
}
