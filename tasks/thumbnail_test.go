package tasks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	archivist "github.com/rpg-archivist/archivist"
)

// testImage draws a w×h gradient with a diagonal stripe, so that a bad
// resample shows; with alpha set, the left half fades out.
func testImage(w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(255 * x / max(1, w-1)), uint8(255 * y / max(1, h-1)), 90, 255}
			if (x+y)%40 < 8 {
				c = color.NRGBA{250, 250, 250, 255}
			}
			if alpha && x < w/2 {
				c.A = uint8(255 * x / max(1, w/2))
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeader returns the start of a PNG that claims to be w×h: enough for
// image.DecodeConfig, nothing more.
func pngHeader(w, h uint32) []byte {
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	out := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	out = append(out, ihdr[:]...)
	crc := crc32.NewIEEE()
	crc.Write([]byte("IHDR"))
	crc.Write(ihdr[:])
	return binary.BigEndian.AppendUint32(out, crc.Sum32())
}

// pngHeader16 is pngHeader for 16-bit RGBA.
func pngHeader16(w, h uint32) []byte {
	out := pngHeader(w, h)
	out[24] = 16
	crc := crc32.NewIEEE()
	crc.Write(out[12:29])
	return binary.BigEndian.AppendUint32(out[:29], crc.Sum32())
}

// thumbInput returns an input with data as the image and the other fields
// given.
func thumbInput(t testing.TB, data []byte, more map[string]any) string {
	t.Helper()
	in := map[string]any{"image": base64.StdEncoding.EncodeToString(data)}
	for k, v := range more {
		in[k] = v
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runThumbnail(t testing.TB, h *ThumbnailHandler, input string) ThumbnailResult {
	t.Helper()
	raw, err := h.Handle(context.Background(), newJob(input, 1, nil))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var res ThumbnailResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// checkThumbnail decodes th and checks its format, size and aspect ratio
// against a srcW×srcH source.
func checkThumbnail(t testing.TB, th Thumbnail, data []byte, srcW, srcH int) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("thumbnail %d does not decode: %v", th.Size, err)
	}
	if format != th.Format || len(data) != th.Bytes {
		t.Errorf("thumbnail %d is %s of %d bytes, the result says %s of %d", th.Size, format, len(data), th.Format, th.Bytes)
	}
	b := img.Bounds()
	if b.Dx() != th.Width || b.Dy() != th.Height {
		t.Errorf("thumbnail %d is %v, the result says %d×%d", th.Size, b.Size(), th.Width, th.Height)
	}
	if max(th.Width, th.Height) > max(th.Size, max(srcW, srcH)) {
		t.Errorf("thumbnail %d is %d×%d", th.Size, th.Width, th.Height)
	}
	// The aspect ratio is kept to within the rounding of a pixel.
	if got, want := float64(th.Width)/float64(th.Height), float64(srcW)/float64(srcH); math.Abs(got-want) > want/float64(min(th.Width, th.Height)) {
		t.Errorf("thumbnail %d: aspect ratio %.3f, want %.3f", th.Size, got, want)
	}
	return img
}

func TestThumbnailBase64(t *testing.T) {
	t.Parallel()
	h := NewThumbnailHandler(ThumbnailConfig{})
	landscape := encodePNG(t, testImage(640, 400, false))
	portrait := encodeJPEG(t, testImage(300, 600, false), 90)
	tests := []struct {
		name       string
		data       []byte
		more       map[string]any
		srcW, srcH int
		srcFormat  string
		want       [][3]int // size, width, height
		format     string
	}{
		{"default size", landscape, nil, 640, 400, "png", [][3]int{{256, 256, 160}}, "png"},
		{"sizes, never larger", landscape, map[string]any{"sizes": []int{128, 256, 128, 1000}}, 640, 400, "png",
			[][3]int{{128, 128, 80}, {256, 256, 160}, {1000, 640, 400}}, "png"},
		{"upscale", landscape, map[string]any{"sizes": []int{800}, "upscale": true}, 640, 400, "png",
			[][3]int{{800, 800, 500}}, "png"},
		{"jpeg stays jpeg", portrait, map[string]any{"sizes": []int{100, 1}}, 300, 600, "jpeg",
			[][3]int{{100, 50, 100}, {1, 1, 1}}, "jpeg"},
		{"jpeg to png", portrait, map[string]any{"sizes": []int{64}, "format": "PNG"}, 300, 600, "jpeg",
			[][3]int{{64, 32, 64}}, "png"},
		{"png to jpg", landscape, map[string]any{"sizes": []int{64}, "format": "jpg", "quality": 40}, 640, 400, "png",
			[][3]int{{64, 64, 40}}, "jpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runThumbnail(t, h, thumbInput(t, tt.data, tt.more))
			if res.Source != (ThumbnailSource{tt.srcW, tt.srcH, tt.srcFormat}) {
				t.Errorf("source %+v", res.Source)
			}
			if len(res.Thumbnails) != len(tt.want) {
				t.Fatalf("%d thumbnails, want %d", len(res.Thumbnails), len(tt.want))
			}
			for i, th := range res.Thumbnails {
				if got := [3]int{th.Size, th.Width, th.Height}; got != tt.want[i] || th.Format != tt.format || th.Path != "" {
					t.Errorf("thumbnail %d: %v %s %q, want %v %s", i, got, th.Format, th.Path, tt.want[i], tt.format)
				}
				data, err := base64.StdEncoding.DecodeString(th.Data)
				if err != nil {
					t.Fatal(err)
				}
				checkThumbnail(t, th, data, tt.srcW, tt.srcH)
			}
		})
	}
}

// TestThumbnailImageTypes runs images that decode to each of the decoders'
// image types.
func TestThumbnailImageTypes(t *testing.T) {
	t.Parallel()
	src := testImage(60, 40, true)
	b := src.Bounds()
	rgba64 := image.NewNRGBA64(b)
	gray := image.NewGray(b)
	gray16 := image.NewGray16(b)
	pal := image.NewPaletted(b, color.Palette{color.Black, color.White, color.NRGBA{200, 30, 30, 255}, color.Transparent})
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := src.At(x, y)
			rgba64.Set(x, y, c)
			gray.Set(x, y, c)
			gray16.Set(x, y, c)
			pal.Set(x, y, c)
		}
	}
	h := NewThumbnailHandler(ThumbnailConfig{})
	for name, data := range map[string][]byte{
		"16-bit png": encodePNG(t, rgba64), "grey png": encodePNG(t, gray), "16-bit grey png": encodePNG(t, gray16),
		"paletted png": encodePNG(t, pal), "grey jpeg": encodeJPEG(t, gray, 90),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := runThumbnail(t, h, thumbInput(t, data, map[string]any{"sizes": []int{30}}))
			th := res.Thumbnails[0]
			out, _ := base64.StdEncoding.DecodeString(th.Data)
			checkThumbnail(t, th, out, 60, 40)
			if th.Width != 30 || th.Height != 20 {
				t.Errorf("%d×%d, want 30×20", th.Width, th.Height)
			}
		})
	}
}

func TestThumbnailLooksRight(t *testing.T) {
	t.Parallel()
	h := NewThumbnailHandler(ThumbnailConfig{})
	src := testImage(640, 400, false)
	res := runThumbnail(t, h, thumbInput(t, encodePNG(t, src), map[string]any{"sizes": []int{160}}))
	data, _ := base64.StdEncoding.DecodeString(res.Thumbnails[0].Data)
	img := checkThumbnail(t, res.Thumbnails[0], data, 640, 400)
	// Each thumbnail pixel is close to the average of the 4×4 block it
	// came from.
	var worst float64
	for y := range 100 {
		for x := range 160 {
			var sum [3]float64
			for dy := range 4 {
				for dx := range 4 {
					c := src.NRGBAAt(4*x+dx, 4*y+dy)
					sum[0], sum[1], sum[2] = sum[0]+float64(c.R), sum[1]+float64(c.G), sum[2]+float64(c.B)
				}
			}
			r, g, b, _ := img.At(x, y).RGBA()
			for i, v := range []uint32{r, g, b} {
				worst = max(worst, math.Abs(float64(v>>8)-sum[i]/16))
			}
		}
	}
	if worst > 1 {
		t.Errorf("a thumbnail pixel is %.1f off the average of its block", worst)
	}
	// The same input gives the same bytes.
	again := runThumbnail(t, h, thumbInput(t, encodePNG(t, src), map[string]any{"sizes": []int{160}}))
	if again.Thumbnails[0].Data != res.Thumbnails[0].Data {
		t.Error("two runs gave different thumbnails")
	}
}

func TestResize(t *testing.T) {
	t.Parallel()
	// A 1-pixel checkerboard halves to even grey; a 2-pixel one to black
	// and white.
	for _, tt := range []struct {
		cell int
		want []uint8
	}{{1, []uint8{128, 128, 128, 128}}, {2, []uint8{0, 255, 255, 0}}} {
		src := image.NewGray(image.Rect(0, 0, 4, 4))
		for y := range 4 {
			for x := range 4 {
				if (x/tt.cell+y/tt.cell)%2 == 1 {
					src.SetGray(x, y, color.Gray{255})
				}
			}
		}
		dst, err := resize(context.Background(), src, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint8
		for i := 0; i < len(dst.Pix); i += 4 {
			got = append(got, dst.Pix[i])
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("cell %d: %v, want %v", tt.cell, got, tt.want)
		}
	}
	// Averaging an opaque red pixel with a transparent black one gives half
	// transparent red, not dark red.
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	src.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	dst, err := resize(context.Background(), src, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := color.NRGBAModel.Convert(dst.At(0, 0)).(color.NRGBA); got.R < 254 || got.G != 0 || got.A != 128 {
		t.Errorf("red and transparent make %v, want {255 0 0 128}", got)
	}
	// Enlarging interpolates.
	line := image.NewGray(image.Rect(0, 0, 2, 1))
	line.SetGray(1, 0, color.Gray{200})
	dst, err = resize(context.Background(), line, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := []uint8{dst.Pix[0], dst.Pix[4], dst.Pix[8], dst.Pix[12]}; !bytes.Equal(got, []uint8{0, 50, 150, 200}) {
		t.Errorf("enlarged line %v, want [0 50 150 200]", got)
	}
	// Any size of any source: weights sum to 1.
	for _, n := range [][2]int{{1, 1}, {7, 3}, {3, 7}, {1000, 1}, {1, 1000}, {999, 1000}} {
		for _, c := range contribs(n[0], n[1]) {
			var sum float64
			for _, w := range c.weights {
				sum += float64(w)
			}
			if math.Abs(sum-1) > 1e-5 || c.start < 0 || c.start+len(c.weights) > n[0] {
				t.Fatalf("contribs(%d, %d): %+v sums to %v", n[0], n[1], c, sum)
			}
		}
	}
}

func TestThumbnailTransparentToJPEG(t *testing.T) {
	t.Parallel()
	h := NewThumbnailHandler(ThumbnailConfig{})
	// Fully transparent: a JPEG of it is white, a PNG keeps it clear.
	data := encodePNG(t, image.NewNRGBA(image.Rect(0, 0, 50, 50)))
	res := runThumbnail(t, h, thumbInput(t, data, map[string]any{"sizes": []int{10}, "format": "jpeg"}))
	jpg, _ := base64.StdEncoding.DecodeString(res.Thumbnails[0].Data)
	img := checkThumbnail(t, res.Thumbnails[0], jpg, 50, 50)
	if r, g, b, _ := img.At(5, 5).RGBA(); r>>8 < 250 || g>>8 < 250 || b>>8 < 250 {
		t.Errorf("transparent became %d,%d,%d in JPEG, want white", r>>8, g>>8, b>>8)
	}
	res = runThumbnail(t, h, thumbInput(t, encodePNG(t, testImage(64, 64, true)), map[string]any{"sizes": []int{16}}))
	pngData, _ := base64.StdEncoding.DecodeString(res.Thumbnails[0].Data)
	img = checkThumbnail(t, res.Thumbnails[0], pngData, 64, 64)
	if _, _, _, a := img.At(0, 8).RGBA(); a>>8 > 40 {
		t.Errorf("the transparent edge has alpha %d", a>>8)
	}
}

func TestThumbnailFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := NewThumbnailHandler(ThumbnailConfig{Folder: dir})
	if h.Folder() != dir {
		t.Fatalf("Folder() = %q, want %q", h.Folder(), dir)
	}
	data := encodePNG(t, testImage(300, 200, false))
	res := runThumbnail(t, h, thumbInput(t, data, map[string]any{"sizes": []int{128, 64}, "output": "folder", "name": "handout-3"}))
	for i, want := range []string{"handout-3-128.png", "handout-3-64.png"} {
		th := res.Thumbnails[i]
		if th.Path != filepath.Join(dir, want) || th.Data != "" {
			t.Errorf("thumbnail %d: path %q, data %d bytes; want %q and no data", i, th.Path, len(th.Data), filepath.Join(dir, want))
		}
		b, err := os.ReadFile(th.Path)
		if err != nil {
			t.Fatal(err)
		}
		checkThumbnail(t, th, b, 300, 200)
	}
	// Without a name, the task id names the files; JPEGs end in .jpg. A
	// second run replaces the files.
	for range 2 {
		raw, err := h.Handle(context.Background(), newJob(thumbInput(t, data, map[string]any{"sizes": []int{32}, "output": "folder", "format": "jpeg"}), 1, nil))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), `"path":"`+filepath.Join(dir, "t1-32.jpg")+`"`) {
			t.Errorf("result %s does not name t1-32.jpg", raw)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "handout-3-128.png handout-3-64.png t1-32.jpg" {
		t.Errorf("folder holds %v", names)
	}
	// The folder is made when it is missing.
	deep := NewThumbnailHandler(ThumbnailConfig{Folder: filepath.Join(dir, "a", "b")})
	res = runThumbnail(t, deep, thumbInput(t, data, map[string]any{"output": "folder", "name": "x"}))
	if _, err := os.Stat(res.Thumbnails[0].Path); err != nil {
		t.Error(err)
	}
}

func TestDefaultThumbnailName(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{"01hx7k": "01hx7k", "../../etc/passwd": "-..-etc-passwd", "": "thumbnail", "...": "thumbnail", "a b/c": "a-b-c"} {
		if got := defaultThumbnailName(id); got != want || checkThumbnailName(got) != nil {
			t.Errorf("defaultThumbnailName(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestThumbnailValidation(t *testing.T) {
	t.Parallel()
	withFolder := NewThumbnailHandler(ThumbnailConfig{Folder: t.TempDir(), MaxPixels: 1_000_000})
	small := encodePNG(t, testImage(40, 30, false))
	smallB64 := base64.StdEncoding.EncodeToString(small)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, testImage(10, 10, false), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		h       *ThumbnailHandler
		input   string
		wantErr string
	}{
		{"ok", withFolder, thumbInput(t, small, nil), ""},
		{"all fields", withFolder, thumbInput(t, small, map[string]any{"sizes": []int{1, 4096}, "format": "jpeg", "quality": 100,
			"output": "folder", "name": "Map_v2.final-1", "upscale": false}), ""},
		{"data URL", withFolder, `{"image": "data:image/png;base64,` + smallB64 + `"}`, ""},
		{"unpadded, wrapped", withFolder, `{"image": "` + strings.TrimRight(smallB64[:40]+`\r\n`+smallB64[40:], "=") + `"}`, ""},
		{"dedup", withFolder, thumbInput(t, small, map[string]any{"sizes": []int{8, 8}}), ""},

		{"no image", withFolder, `{"sizes": [8]}`, "image is required"},
		{"empty image", withFolder, `{"image": ""}`, "image must not be empty"},
		{"not base64", withFolder, `{"image": "%%%"}`, "image is not valid base64"},
		{"not an image", withFolder, thumbInput(t, []byte("hello, world"), nil), "image is not a PNG or JPEG image"},
		{"gif", withFolder, thumbInput(t, gifBuf.Bytes(), nil), "image is a GIF image; only PNG and JPEG"},
		{"bad data URL", withFolder, `{"image": "data:image/png,abc"}`, "not a base64 one"},
		{"too many pixels", withFolder, thumbInput(t, pngHeader(2000, 1000), nil), "image is 2000×1000 pixels (2.0 megapixels); the limit is 1.0 megapixels"},
		{"16-bit", withFolder, thumbInput(t, pngHeader16(1000, 600), nil), "(0.6 megapixels); the limit for 16-bit colour is 0.5 megapixels"},
		{"decompression bomb", NewThumbnailHandler(ThumbnailConfig{}), thumbInput(t, pngHeader(100000, 100000), nil), "(10000.0 megapixels); the limit is 40.0"},
		{"zero size", withFolder, thumbInput(t, pngHeader(0, 10), nil), "image is not a PNG or JPEG image"},
		{"sizes not array", withFolder, thumbInput(t, small, map[string]any{"sizes": 128}), "sizes must be an array"},
		{"sizes empty", withFolder, thumbInput(t, small, map[string]any{"sizes": []int{}}), "sizes must list 1 to 8 sizes, got 0"},
		{"sizes too many", withFolder, thumbInput(t, small, map[string]any{"sizes": []int{1, 2, 3, 4, 5, 6, 7, 8, 9}}), "got 9"},
		{"size 0", withFolder, thumbInput(t, small, map[string]any{"sizes": []int{64, 0}}), "sizes[1] must be between 1 and 4096, got 0"},
		{"size too big", withFolder, thumbInput(t, small, map[string]any{"sizes": []int{4097}}), "sizes[0] must be between 1 and 4096"},
		{"size fraction", withFolder, thumbInput(t, small, map[string]any{"sizes": []float64{1.5}}), "sizes[0] must be an integer"},
		{"size null", withFolder, thumbInput(t, small, map[string]any{"sizes": []any{nil}}), "sizes[0] must be an integer"},
		{"format", withFolder, thumbInput(t, small, map[string]any{"format": "webp"}), `format must be "png" or "jpeg", got "webp"`},
		{"quality", withFolder, thumbInput(t, small, map[string]any{"quality": 0}), "quality must be between 1 and 100"},
		{"output", withFolder, thumbInput(t, small, map[string]any{"output": "s3"}), `output must be "base64" or "folder"`},
		{"no folder", NewThumbnailHandler(ThumbnailConfig{}), thumbInput(t, small, map[string]any{"output": "folder"}), "set ARCHIVIST_THUMBNAIL_DIR"},
		{"upscale", withFolder, thumbInput(t, small, map[string]any{"upscale": "yes"}), "upscale must be true or false"},
		{"unknown field", withFolder, thumbInput(t, small, map[string]any{"size": 128}), `unknown field "size"`},
	}
	for _, name := range []string{"../escape", "a/b", `a\b`, "..", ".hidden", "with space", "ünï", strings.Repeat("x", 101), ""} {
		tests = append(tests, struct {
			name    string
			h       *ThumbnailHandler
			input   string
			wantErr string
		}{"name " + name, withFolder, thumbInput(t, small, map[string]any{"output": "folder", "name": name}), "name "})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.h.ValidateInput(json.RawMessage(tt.input))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr == "":
				return
			case err == nil:
				t.Fatalf("accepted, want an error mentioning %q", tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
			// What validation refuses, Handle fails permanently.
			if _, err := tt.h.Handle(context.Background(), newJob(tt.input, 1, nil)); !archivist.IsPermanent(err) {
				t.Fatalf("Handle = %v, want a permanent error", err)
			}
		})
	}
	// Nothing was written outside the folder.
	if _, err := os.Stat(filepath.Join(withFolder.Folder(), "..", "escape-256.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file escaped the folder: %v", err)
	}
}

func TestThumbnailCorruptImage(t *testing.T) {
	t.Parallel()
	// The header decodes; the pixels do not.
	data := encodePNG(t, testImage(100, 100, false))
	data = data[:len(data)/2]
	h := NewThumbnailHandler(ThumbnailConfig{})
	if err := h.ValidateInput(json.RawMessage(thumbInput(t, data, nil))); err != nil {
		t.Fatalf("a truncated PNG with a good header refused at submit time: %v", err)
	}
	_, err := h.Handle(context.Background(), newJob(thumbInput(t, data, nil), 1, nil))
	if err == nil || !archivist.IsPermanent(err) || !strings.Contains(err.Error(), "decode png") {
		t.Fatalf("Handle = %v, want a permanent decode error", err)
	}
}

func TestThumbnailResultLimit(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("megapixels of noise take long under the race detector, and the handler runs in one goroutine")
	}
	// Noise does not compress: one 1200×1200 thumbnail of it is over the
	// result limit in base64. (The source is over the task input limit too,
	// but the handler leaves that to submission.)
	r := rand.New(rand.NewPCG(5, 6))
	noise := image.NewGray(image.Rect(0, 0, 1200, 1200))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(r.Uint32())
	}
	input := thumbInput(t, encodePNG(t, noise), map[string]any{"sizes": []int{1200}})
	_, err := NewThumbnailHandler(ThumbnailConfig{}).Handle(context.Background(), newJob(input, 1, nil))
	if err == nil || !archivist.IsPermanent(err) || !strings.Contains(err.Error(), `output "folder"`) {
		t.Fatalf("Handle = %v, want a permanent error suggesting folder output", err)
	}
}

// bigPNG is a 36-megapixel PNG (6 under the race detector) that
// compresses to little: slow to decode and resize, quick to send.
func bigPNG(t testing.TB) []byte {
	t.Helper()
	side := 6000
	if raceEnabled {
		side = 2500
	}
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = uint8(i / side / 24)
	}
	return encodePNG(t, img)
}

func TestThumbnailEnds(t *testing.T) {
	t.Parallel()
	input := thumbInput(t, bigPNG(t), map[string]any{"sizes": []int{512, 256}})
	h := NewThumbnailHandler(ThumbnailConfig{})
	t.Run("progress", func(t *testing.T) {
		t.Parallel()
		var progress progressLog
		res, err := h.Handle(context.Background(), newJob(input, 1, &progress))
		if err != nil {
			t.Fatal(err)
		}
		if reports := progress.fractions(); len(reports) != 3 || reports[0] != 0 || math.Abs(reports[1]-0.2) > 1e-9 || math.Abs(reports[2]-0.6) > 1e-9 {
			t.Errorf("progress reports %v, want [0 0.2 0.6]", reports)
		}
		if !strings.Contains(string(res), `"width":512,"height":512`) {
			t.Errorf("result %.200s", res)
		}
	})
	// Each cancellation comes from a progress report, which Handle makes
	// synchronously at a known point of its work, so it is always still
	// working when its context ends, however fast the machine: before it
	// starts, before decoding (first report), before resizing (second) and
	// between the two sizes (third). The 5s allowed to end count from then.
	for _, tt := range []struct {
		name     string
		atReport int // cancel at this progress report; -1: before Handle
	}{{"cancelled before", -1}, {"cancelled decoding", 1}, {"cancelled resizing", 2}, {"cancelled between sizes", 3}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			job := newJob(input, 1, nil)
			if tt.atReport < 0 {
				cancel()
			} else {
				job = cancelAtReport(input, tt.atReport, cancel)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := h.Handle(ctx, job)
				errc <- err
			}()
			var err error
			select {
			case err = <-errc:
			case <-ctx.Done():
				select {
				case err = <-errc:
				case <-time.After(5 * time.Second):
					t.Fatal("Handle still running 5s after its context ended")
				}
			case <-time.After(time.Minute):
				t.Fatalf("Handle made no progress report %d within a minute", tt.atReport)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Handle = %v, want context.Canceled", err)
			}
		})
	}
	t.Run("resize", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := resize(ctx, image.NewGray(image.Rect(0, 0, 100, 1000)), 10, 100); !errors.Is(err, context.Canceled) {
			t.Fatalf("resize = %v, want context.Canceled", err)
		}
	})
}

// cancelAtReport returns a job for input that calls cancel at its nth
// progress report (from 1).
func cancelAtReport(input string, n int, cancel context.CancelFunc) *archivist.Job {
	var reports atomic.Int32
	return archivist.NewJob(&archivist.Task{ID: "t1", Type: "test", Attempt: 1, Input: json.RawMessage(input)},
		func(float64, string) {
			if reports.Add(1) == int32(n) {
				cancel()
			}
		})
}

func FuzzThumbnail(f *testing.F) {
	var buf bytes.Buffer
	_ = png.Encode(&buf, testImage(12, 7, true))
	f.Add(buf.Bytes(), 5)
	buf.Reset()
	_ = jpeg.Encode(&buf, testImage(9, 16, false), nil)
	f.Add(buf.Bytes(), 300)
	f.Add(pngHeader(1<<30, 1<<30), 1)
	h := NewThumbnailHandler(ThumbnailConfig{MaxPixels: 1 << 16})
	f.Fuzz(func(t *testing.T, data []byte, size int) {
		size = 1 + abs(size)%64
		input := json.RawMessage(thumbInput(t, data, map[string]any{"sizes": []int{size}}))
		if h.ValidateInput(input) != nil {
			return
		}
		raw, err := h.Handle(context.Background(), newJob(string(input), 1, nil))
		if err != nil {
			if !archivist.IsPermanent(err) {
				t.Fatalf("Handle = %v, want a permanent error for a bad image", err)
			}
			return
		}
		var res ThumbnailResult
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
		th := res.Thumbnails[0]
		data, _ = base64.StdEncoding.DecodeString(th.Data)
		checkThumbnail(t, th, data, res.Source.Width, res.Source.Height)
	})
}
