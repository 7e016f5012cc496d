package tasks

import (
	"encoding/binary"
	"image"
	"image/color"
)

// DefaultThumbnailMaxDecodeBytes bounds the memory that decoding one source
// image of "image.thumbnail" may take, as decodeCost reckons it, so that a
// small file whose format is costly per pixel (a progressive CMYK JPEG
// takes 24 bytes a pixel) is refused before it is decoded.
const DefaultThumbnailMaxDecodeBytes = 256 << 20

// decodeCost is about how many bytes the standard library allocates to
// decode an image of format ("png" or "jpeg") whose header is data and
// whose configuration is cfg, and what kind of image makes it so (for
// error messages). It follows what image/png and image/jpeg allocate:
//   - PNG: the image in its colour model (1 byte a pixel for paletted and
//     grey, 2 for 16-bit grey, 4 for 8-bit colour, 8 for 16-bit colour),
//     twice that when interlaced (each pass is decoded into an image of
//     its own before being copied into the result).
//   - JPEG: a plane per component at its sampling; a progressive JPEG
//     keeps every DCT coefficient of every component until the end, 4 bytes
//     each (256 bytes per 8×8 block); a CMYK (4-component) JPEG is then
//     converted into an image.CMYK of 4 bytes a pixel.
//
// Unknown details count as the worst case.
func decodeCost(format string, data []byte, cfg image.Config) (int64, string) {
	px := int64(cfg.Width) * int64(cfg.Height)
	if format == formatJPEG {
		return jpegDecodeCost(data, px)
	}
	var perPixel int64
	kind := "PNG"
	switch cfg.ColorModel {
	case color.GrayModel:
		perPixel, kind = 1, "grey PNG"
	case color.Gray16Model:
		perPixel, kind = 2, "16-bit grey PNG"
	case color.RGBA64Model, color.NRGBA64Model:
		perPixel, kind = 8, "16-bit colour PNG"
	default:
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			perPixel, kind = 1, "paletted PNG"
		} else {
			perPixel, kind = 4, "colour PNG"
		}
	}
	// IHDR: signature (8), length and type (8), then width, height, bit
	// depth, colour type, compression, filter, interlace (byte 28).
	if len(data) <= 28 || data[28] != 0 {
		perPixel, kind = 2*perPixel, "interlaced "+kind
	}
	return px * perPixel, kind
}

// jpegDecodeCost reads the frame header (SOFn) of a JPEG to reckon the
// memory image/jpeg needs for px pixels; see decodeCost.
func jpegDecodeCost(data []byte, px int64) (int64, string) {
	worst := 24 * px // progressive CMYK at full sampling
	sof, ok := jpegFrame(data)
	if !ok {
		return worst, "JPEG"
	}
	progressive := sof.marker == 0xc2
	height, width := int64(binary.BigEndian.Uint16(sof.body[1:])), int64(binary.BigEndian.Uint16(sof.body[3:]))
	n := int(sof.body[5])
	if n == 0 || len(sof.body) < 6+3*n {
		return worst, "JPEG"
	}
	var hmax, vmax int64 = 1, 1
	for i := range n {
		hv := sof.body[6+3*i+1]
		hmax, vmax = max(hmax, int64(hv>>4)), max(vmax, int64(hv&0x0f))
	}
	mxx, myy := (width+8*hmax-1)/(8*hmax), (height+8*vmax-1)/(8*vmax)
	var blocks int64 // 8×8 blocks over all components
	for i := range n {
		hv := sof.body[6+3*i+1]
		blocks += mxx * myy * max(1, int64(hv>>4)) * max(1, int64(hv&0x0f))
	}
	cost := 64 * blocks // the planes
	kind := "JPEG"
	if progressive {
		cost += 256 * blocks // coefficients, [64]int32 a block
		kind = "progressive JPEG"
	}
	if n == 4 {
		cost += 4 * width * height
		kind = "CMYK " + kind
	}
	return max(cost, px), kind
}

type jpegSOF struct {
	marker byte
	body   []byte // after the length: precision, height, width, components...
}

// jpegFrame finds the first frame header (SOF0 to SOF15 but DHT, JPG and
// DAC) of a JPEG, walking its segments.
func jpegFrame(data []byte) (jpegSOF, bool) {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return jpegSOF{}, false
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			return jpegSOF{}, false
		}
		m := data[i+1]
		if m == 0xff { // fill byte
			i++
			continue
		}
		if m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7) { // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return jpegSOF{}, false
		}
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			body := data[i+4 : i+2+n]
			if len(body) < 6 {
				return jpegSOF{}, false
			}
			return jpegSOF{marker: m, body: body}, true
		}
		if m == 0xda || m == 0xd9 { // scan or end before a frame
			return jpegSOF{}, false
		}
		i += 2 + n
	}
	return jpegSOF{}, false
}
