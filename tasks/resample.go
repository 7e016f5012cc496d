package tasks

import (
	"context"
	"image"
	"image/draw"
	"math"
)

// resampleCheckRows is how many source rows are resampled between checks
// of the context.
const resampleCheckRows = 32

// contrib is how one output pixel (of a row or a column) is made: a
// weighted sum of the input pixels from start on.
type contrib struct {
	start   int
	weights []float32
}

// contribs returns the contributions of srcN input pixels to each of dstN
// output pixels. When shrinking, each output pixel averages the input area
// it covers (a box filter that weighs the pixels cut at its edges by the
// part they cover), which keeps fine detail from aliasing in thumbnails.
// When enlarging, it interpolates linearly between the two nearest input
// pixels. The weights of each output pixel sum to 1.
func contribs(srcN, dstN int) []contrib {
	out := make([]contrib, dstN)
	scale := float64(srcN) / float64(dstN)
	if dstN <= srcN {
		for i := range out {
			x0, x1 := float64(i)*scale, float64(i+1)*scale
			j0, j1 := int(x0), min(int(math.Ceil(x1)), srcN)
			ws := make([]float32, j1-j0)
			for j := j0; j < j1; j++ {
				ws[j-j0] = float32((min(x1, float64(j+1)) - max(x0, float64(j))) / scale)
			}
			out[i] = contrib{start: j0, weights: ws}
		}
		return out
	}
	for i := range out {
		c := (float64(i)+0.5)*scale - 0.5
		j := int(math.Floor(c))
		f := c - float64(j)
		switch {
		case j < 0:
			out[i] = contrib{start: 0, weights: []float32{1}}
		case j >= srcN-1:
			out[i] = contrib{start: srcN - 1, weights: []float32{1}}
		default:
			out[i] = contrib{start: j, weights: []float32{float32(1 - f), float32(f)}}
		}
	}
	return out
}

// resize returns src scaled to w×h pixels (see contribs). It works on
// colours premultiplied by alpha, so transparent pixels do not darken
// their neighbours, one source row at a time, so that it needs little
// memory beyond the output. It returns ctx.Err() if ctx ends first.
func resize(ctx context.Context, src image.Image, w, h int) (*image.RGBA, error) {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	xs, ys := contribs(sw, w), contribs(sh, h)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// row holds one source row, converted to premultiplied RGBA by draw,
	// which has fast paths for the decoders' image types.
	row := image.NewRGBA(image.Rect(0, 0, sw, 1))
	// window holds source rows from winStart on, each resampled to w
	// pixels of 4 float32 channels; rows no longer needed are reused.
	var window, spare [][]float32
	winStart, done := 0, 0
	load := func(y int) []float32 {
		draw.Draw(row, row.Rect, src, image.Pt(b.Min.X, b.Min.Y+y), draw.Src)
		var out []float32
		if n := len(spare); n > 0 {
			out, spare = spare[n-1], spare[:n-1]
		} else {
			out = make([]float32, 4*w)
		}
		for x, c := range xs {
			var r, g, bl, a float32
			p := row.Pix[4*c.start:]
			for k, wt := range c.weights {
				r += wt * float32(p[4*k])
				g += wt * float32(p[4*k+1])
				bl += wt * float32(p[4*k+2])
				a += wt * float32(p[4*k+3])
			}
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = r, g, bl, a
		}
		return out
	}
	acc := make([]float32, 4*w)
	for y, c := range ys {
		// Drop the rows above this output row's first; load those it needs.
		for winStart < c.start && len(window) > 0 {
			spare = append(spare, window[0])
			window, winStart = window[1:], winStart+1
		}
		if len(window) == 0 {
			winStart = c.start
		}
		for winStart+len(window) < c.start+len(c.weights) {
			if done++; done%resampleCheckRows == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			window = append(window, load(winStart+len(window)))
		}
		clear(acc)
		for k, wt := range c.weights {
			src := window[c.start-winStart+k]
			for i, v := range src {
				acc[i] += wt * v
			}
		}
		pix := dst.Pix[y*dst.Stride:]
		for x := range w {
			a := clampByte(acc[4*x+3])
			pix[4*x+3] = a
			// Premultiplied: no channel may exceed alpha.
			for ch := range 3 {
				pix[4*x+ch] = min(clampByte(acc[4*x+ch]), a)
			}
		}
	}
	return dst, ctx.Err()
}

func clampByte(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// flatten paints img over white, in place, so that it can be stored as a
// JPEG, which has no transparency.
func flatten(img *image.RGBA) {
	for i := 0; i < len(img.Pix); i += 4 {
		a := img.Pix[i+3]
		if a == 255 {
			continue
		}
		// Premultiplied colour over white: c + (255 - a).
		for ch := range 3 {
			img.Pix[i+ch] += 255 - a
		}
		img.Pix[i+3] = 255
	}
}
