package tasks

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"strings"
	"testing"

	archivist "github.com/rpg-archivist/archivist"
)

// jpegHeader returns the start of a JPEG that claims to be w×h with the
// given frame marker (0xc0 baseline, 0xc2 progressive) and components,
// each given as its sampling factors (0x11, 0x22...): enough for
// image.DecodeConfig, nothing more.
func jpegHeader(marker byte, w, h uint16, sampling ...byte) []byte {
	out := []byte{0xff, 0xd8, 0xff, marker}
	out = binary.BigEndian.AppendUint16(out, uint16(8+3*len(sampling)))
	out = append(out, 8)
	out = binary.BigEndian.AppendUint16(out, h)
	out = binary.BigEndian.AppendUint16(out, w)
	out = append(out, byte(len(sampling)))
	for i, s := range sampling {
		out = append(out, byte(i+1), s, 0)
	}
	// image/jpeg reads up to the first scan header for the configuration.
	return append(out, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0)
}

// TestThumbnailDecodeCost checks that a source image is bounded by what
// decoding it costs in its format, not by its pixels alone: a progressive
// CMYK JPEG of 36 megapixels (under the pixel limit) takes about 860 MB to
// decode and is refused, while a baseline YCbCr JPEG of the same size (54
// MB) is not.
func TestThumbnailDecodeCost(t *testing.T) {
	t.Parallel()
	h := NewThumbnailHandler(ThumbnailConfig{})
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"baseline 4:2:0", jpegHeader(0xc0, 6000, 6000, 0x22, 0x11, 0x11), ""},
		{"baseline grey", jpegHeader(0xc0, 6000, 6000, 0x11), ""},
		{"progressive 4:2:0", jpegHeader(0xc2, 3000, 3000, 0x22, 0x11, 0x11), ""},
		{"progressive CMYK", jpegHeader(0xc2, 6000, 6000, 0x11, 0x11, 0x11, 0x11),
			"image is a 6000×6000 CMYK progressive JPEG, which takes about 823 MiB to decode; the limit is 256 MiB"},
		{"progressive 4:4:4", jpegHeader(0xc2, 6000, 6000, 0x11, 0x11, 0x11),
			"image is a 6000×6000 progressive JPEG, which takes about 514 MiB to decode"},
		{"interlaced 16-bit PNG", interlaced(pngHeader16(6000, 3000)), "image is a 6000×3000 interlaced 16-bit colour PNG, which takes about 274 MiB"},
		{"RGBA PNG", pngHeader(6000, 6000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := thumbInput(t, tt.data, nil)
			err := h.ValidateInput(json.RawMessage(input))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if _, err := h.Handle(context.Background(), newJob(input, 1, nil)); !archivist.IsPermanent(err) {
				t.Fatalf("Handle = %v, want a permanent error", err)
			}
		})
	}
}

// interlaced sets the interlace byte of a PNG header (and its CRC).
func interlaced(b []byte) []byte {
	b = bytes.Clone(b[:29])
	b[28] = 1
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[12:29]))
}

// TestDecodeCostMatchesDecoder checks decodeCost against what the
// standard decoders allocate, for the formats image/jpeg and image/png can
// write: within a fifth, never far under.
func TestDecodeCostMatchesDecoder(t *testing.T) {
	// Not parallel: it measures allocations.
	const w, h = 1200, 900
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	gray := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			rgba.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
			gray.SetGray(x, y, color.Gray{uint8(x + y)})
		}
	}
	var grayJPEG, colourJPEG, colourPNG, grayPNG bytes.Buffer
	for _, enc := range []error{
		jpeg.Encode(&grayJPEG, gray, nil),
		jpeg.Encode(&colourJPEG, rgba, nil),
		png.Encode(&colourPNG, rgba),
		png.Encode(&grayPNG, gray),
	} {
		if enc != nil {
			t.Fatal(enc)
		}
	}
	for _, tc := range []struct {
		name, format string
		data         []byte
	}{
		{"grey JPEG", formatJPEG, grayJPEG.Bytes()},
		{"colour JPEG", formatJPEG, colourJPEG.Bytes()},
		{"colour PNG", formatPNG, colourPNG.Bytes()},
		{"grey PNG", formatPNG, grayPNG.Bytes()},
	} {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(tc.data))
		if err != nil {
			t.Fatal(err)
		}
		cost, _ := decodeCost(tc.format, tc.data, cfg)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := decodeImage(context.Background(), tc.data, tc.format); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		got := int64(after.TotalAlloc - before.TotalAlloc)
		t.Logf("%s: reckoned %d bytes, allocated %d", tc.name, cost, got)
		if cost < got*4/5 || cost > got*6/5+64<<10 {
			t.Errorf("%s: decodeCost = %d bytes, the decoder allocated %d", tc.name, cost, got)
		}
	}
}
