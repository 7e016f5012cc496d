package tasks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	archivist "github.com/rpg-archivist/archivist"
)

// ThumbnailDirEnv names the environment variable that Register reads for
// the folder "image.thumbnail" writes to (ThumbnailConfig.Folder).
const ThumbnailDirEnv = "ARCHIVIST_THUMBNAIL_DIR"

// Limits and defaults of "image.thumbnail".
const (
	// DefaultThumbnailSize is the size made when the input names none.
	DefaultThumbnailSize = 256
	// MaxThumbnailSize is the largest size, in pixels of the longer edge.
	MaxThumbnailSize = 4096
	// MaxThumbnailSizes is the most sizes one task may ask for.
	MaxThumbnailSizes = 8
	// DefaultThumbnailQuality is the JPEG quality when the input gives none.
	DefaultThumbnailQuality = 85
	// DefaultThumbnailMaxPixels bounds width × height of a source image, so
	// that a small file that decodes to a huge image (a decompression bomb)
	// is refused before it is decoded. Decoding takes up to 4 bytes a pixel;
	// 16-bit colour takes 8, so such images may have half as many.
	DefaultThumbnailMaxPixels = 40_000_000
	// MaxThumbnailNameLen bounds "name".
	MaxThumbnailNameLen = 100
)

// ThumbnailConfig configures "image.thumbnail". The zero value makes base64
// thumbnails only.
type ThumbnailConfig struct {
	// Folder is where thumbnails asked for with "output": "folder" are
	// written; it is created if need be. Empty: such tasks are refused.
	Folder string
	// MaxPixels bounds width × height of a source image (half that for
	// 16-bit colour). 0 means DefaultThumbnailMaxPixels.
	MaxPixels int
	// MaxDecodeBytes bounds the memory decoding a source image takes, by
	// the cost per pixel of its format (see decodeCost). 0 means
	// DefaultThumbnailMaxDecodeBytes.
	MaxDecodeBytes int64
}

// ThumbnailHandler runs "image.thumbnail": it resizes a PNG or JPEG image to
// one or more sizes, returned in base64 or written to a folder. Make it with
// NewThumbnailHandler.
type ThumbnailHandler struct {
	folder         string
	maxPixels      int
	maxDecodeBytes int64
}

// NewThumbnailHandler returns a handler configured by cfg. A relative
// folder is made absolute, so that results give absolute paths.
func NewThumbnailHandler(cfg ThumbnailConfig) *ThumbnailHandler {
	h := &ThumbnailHandler{folder: cfg.Folder, maxPixels: cfg.MaxPixels, maxDecodeBytes: cfg.MaxDecodeBytes}
	if h.folder != "" {
		if abs, err := filepath.Abs(h.folder); err == nil {
			h.folder = abs
		}
	}
	if h.maxPixels <= 0 {
		h.maxPixels = DefaultThumbnailMaxPixels
	}
	if h.maxDecodeBytes <= 0 {
		h.maxDecodeBytes = DefaultThumbnailMaxDecodeBytes
	}
	return h
}

// Folder returns the folder thumbnails are written to, or "" if none.
func (h *ThumbnailHandler) Folder() string { return h.folder }

// ThumbnailResult is the result of "image.thumbnail".
type ThumbnailResult struct {
	// Source describes the input image.
	Source ThumbnailSource `json:"source"`
	// Thumbnails are in the order of the sizes asked for.
	Thumbnails []Thumbnail `json:"thumbnails"`
}

// ThumbnailSource describes the input image of "image.thumbnail".
type ThumbnailSource struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
}

// Thumbnail is one image made by "image.thumbnail".
type Thumbnail struct {
	// Size is the size asked for: the longer edge, in pixels.
	Size   int    `json:"size"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
	// Bytes is the size of the encoded image.
	Bytes int `json:"bytes"`
	// Data is the image in standard base64, for "output": "base64".
	Data string `json:"data,omitempty"`
	// Path is the file written, for "output": "folder".
	Path string `json:"path,omitempty"`
}

// Output formats and destinations.
const (
	formatPNG    = "png"
	formatJPEG   = "jpeg"
	outputBase64 = "base64"
	outputFolder = "folder"
)

type thumbnailInput struct {
	data          []byte
	format        string // of the source
	width, height int
	sizes         []int
	outFormat     string
	quality       int
	output        string
	name          string // "" for the task id
	upscale       bool
}

const thumbnailExample = `{"image": "<base64 PNG or JPEG>", "sizes": [128, 256]}`

func (h *ThumbnailHandler) parseInput(input json.RawMessage) (thumbnailInput, error) {
	var in thumbnailInput
	f, err := decodeFields(input, thumbnailExample, "image", "sizes", "format", "quality", "output", "name", "upscale")
	if err != nil {
		return in, err
	}
	enc, ok, err := f.string("image")
	if err != nil {
		return in, err
	}
	if !ok {
		return in, fmt.Errorf("image is required: a PNG or JPEG image in base64, such as %s", thumbnailExample)
	}
	if in.data, err = decodeBase64Image(enc); err != nil {
		return in, err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(in.data))
	if err != nil {
		return in, fmt.Errorf("image is not a PNG or JPEG image: %v", err)
	}
	if format != formatPNG && format != formatJPEG {
		return in, fmt.Errorf("image is a %s image; only PNG and JPEG are supported", strings.ToUpper(format))
	}
	in.format, in.width, in.height = format, cfg.Width, cfg.Height
	if in.width <= 0 || in.height <= 0 {
		return in, fmt.Errorf("image is %d×%d pixels: it has no pixels", in.width, in.height)
	}
	// 16-bit colour decodes to 8 bytes a pixel, twice the usual 4.
	limit, kind := int64(h.maxPixels), ""
	if cfg.ColorModel == color.RGBA64Model || cfg.ColorModel == color.NRGBA64Model {
		limit, kind = limit/2, "for 16-bit colour "
	}
	if px := int64(in.width) * int64(in.height); px > limit {
		return in, fmt.Errorf("image is %d×%d pixels (%.1f megapixels); the limit %sis %.1f megapixels",
			in.width, in.height, float64(px)/1e6, kind, float64(limit)/1e6)
	}
	// Pixels alone undercount: a progressive CMYK JPEG takes 24 bytes a
	// pixel to decode, six times an RGBA PNG.
	if cost, kind := decodeCost(format, in.data, cfg); cost > h.maxDecodeBytes {
		return in, fmt.Errorf("image is a %d×%d %s, which takes about %d MiB to decode; the limit is %d MiB",
			in.width, in.height, kind, cost>>20, h.maxDecodeBytes>>20)
	}
	if in.sizes, err = parseSizes(f); err != nil {
		return in, err
	}
	in.outFormat = in.format
	if s, ok, err := f.string("format"); err != nil {
		return in, err
	} else if ok {
		switch strings.ToLower(s) {
		case "png":
			in.outFormat = formatPNG
		case "jpeg", "jpg":
			in.outFormat = formatJPEG
		default:
			return in, fmt.Errorf(`format must be "png" or "jpeg", got %q`, s)
		}
	}
	q, ok, err := f.int("quality", 1, 100)
	if err != nil {
		return in, err
	}
	in.quality = DefaultThumbnailQuality
	if ok {
		in.quality = int(q)
	}
	in.output = outputBase64
	if s, ok, err := f.string("output"); err != nil {
		return in, err
	} else if ok {
		switch s {
		case outputBase64, outputFolder:
			in.output = s
		default:
			return in, fmt.Errorf(`output must be "base64" or "folder", got %q`, s)
		}
	}
	if in.output == outputFolder && h.folder == "" {
		return in, fmt.Errorf(`output "folder" needs a thumbnail folder, and none is configured: set %s on the nodes`, ThumbnailDirEnv)
	}
	if name, ok, err := f.string("name"); err != nil {
		return in, err
	} else if ok {
		if err := checkThumbnailName(name); err != nil {
			return in, err
		}
		in.name = name
	}
	if in.upscale, err = f.bool("upscale"); err != nil {
		return in, err
	}
	return in, nil
}

// decodeBase64Image decodes an image given in base64, padded or not, in the
// standard or the URL alphabet, optionally as a data URL
// ("data:image/png;base64,...").
func decodeBase64Image(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:") {
		header, payload, ok := strings.Cut(s, ",")
		if !ok || !strings.HasSuffix(header, ";base64") {
			return nil, errors.New(`image is a data URL but not a base64 one ("data:image/png;base64,...")`)
		}
		s = payload
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, errors.New("image must not be empty")
	}
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("image is not valid base64: %v", firstErr)
}

// parseSizes reads "sizes": an array of 1 to MaxThumbnailSizes integers
// from 1 to MaxThumbnailSize. Repeated sizes are made once.
func parseSizes(f fields) ([]int, error) {
	if !f.has("sizes") {
		return []int{DefaultThumbnailSize}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(f["sizes"], &raws); err != nil {
		return nil, fmt.Errorf("sizes must be an array of sizes in pixels such as [128, 256], got %s", describeJSON(f["sizes"]))
	}
	if len(raws) == 0 || len(raws) > MaxThumbnailSizes {
		return nil, fmt.Errorf("sizes must list 1 to %d sizes, got %d", MaxThumbnailSizes, len(raws))
	}
	var sizes []int
	for i, raw := range raws {
		name := fmt.Sprintf("sizes[%d]", i)
		n, ok, err := fields{name: raw}.int(name, 1, MaxThumbnailSize)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%s must be an integer between 1 and %d, got null", name, MaxThumbnailSize)
		}
		if !slices.Contains(sizes, int(n)) {
			sizes = append(sizes, int(n))
		}
	}
	return sizes, nil
}

// checkThumbnailName allows names that are safe as the start of a file name
// on any system: letters, digits, ".", "_" and "-", not starting with a dot.
func checkThumbnailName(name string) error {
	switch {
	case name == "":
		return errors.New("name must not be empty; leave it out to use the task id")
	case len(name) > MaxThumbnailNameLen:
		return fmt.Errorf("name is %d characters long; the limit is %d", len(name), MaxThumbnailNameLen)
	case name[0] == '.' || strings.IndexFunc(name, func(r rune) bool { return !isNameRune(r) }) >= 0:
		return fmt.Errorf(`name %q may hold only letters, digits, ".", "_" and "-", and must not start with "."`, name)
	}
	return nil
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// defaultThumbnailName makes a file name from a task id.
func defaultThumbnailName(id string) string {
	name := strings.TrimLeft(strings.Map(func(r rune) rune {
		if isNameRune(r) {
			return r
		}
		return '-'
	}, id), ".")
	if name == "" {
		return "thumbnail"
	}
	return name[:min(len(name), MaxThumbnailNameLen)]
}

// ValidateInput decodes the image's header (not its pixels) and checks
// every field; see the package documentation.
func (h *ThumbnailHandler) ValidateInput(input json.RawMessage) error {
	_, err := h.parseInput(input)
	return err
}

// thumbnailSize returns the size of a w×h image scaled so that its longer
// edge is size, keeping the aspect ratio; an image already within size is
// left as it is unless upscale is set.
func thumbnailSize(w, h, size int, upscale bool) (int, int) {
	if size >= max(w, h) && !upscale {
		return w, h
	}
	if w >= h {
		return size, max(1, (h*size+w/2)/w)
	}
	return max(1, (w*size+h/2)/h), size
}

// thumbnailResultSlack is room in the result for what is not base64.
const thumbnailResultSlack = 200

// Handle makes the thumbnails and returns a ThumbnailResult.
func (h *ThumbnailHandler) Handle(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := h.parseInput(job.Task.Input)
	if err != nil {
		return nil, archivist.Permanent(err)
	}
	name := in.name
	if name == "" {
		name = defaultThumbnailName(job.Task.ID)
	}
	job.ReportProgress(0, fmt.Sprintf("decoding a %d×%d %s image", in.width, in.height, in.format))
	img, err := decodeImage(ctx, in.data, in.format)
	if err != nil {
		return nil, err
	}
	res := ThumbnailResult{
		Source:     ThumbnailSource{Width: in.width, Height: in.height, Format: in.format},
		Thumbnails: make([]Thumbnail, 0, len(in.sizes)),
	}
	// Decoding counts for a fifth of the work, each size for a share of
	// the rest.
	const decodeShare = 0.2
	total := thumbnailResultSlack
	for i, size := range in.sizes {
		job.ReportProgress(decodeShare+(1-decodeShare)*float64(i)/float64(len(in.sizes)),
			fmt.Sprintf("making thumbnail %d of %d (%d px)", i+1, len(in.sizes), size))
		w, ht := thumbnailSize(in.width, in.height, size, in.upscale)
		small, err := resize(ctx, img, w, ht)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if in.outFormat == formatJPEG {
			flatten(small)
			err = jpeg.Encode(&buf, small, &jpeg.Options{Quality: in.quality})
		} else {
			err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, small)
		}
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", in.outFormat, err)
		}
		t := Thumbnail{Size: size, Width: w, Height: ht, Format: in.outFormat, Bytes: buf.Len()}
		if in.output == outputFolder {
			ext := "png"
			if in.outFormat == formatJPEG {
				ext = "jpg"
			}
			if t.Path, err = h.write(fmt.Sprintf("%s-%d.%s", name, size, ext), buf.Bytes()); err != nil {
				return nil, err
			}
		} else {
			t.Data = base64.StdEncoding.EncodeToString(buf.Bytes())
			if total += len(t.Data) + thumbnailResultSlack; total > archivist.MaxResultBytes {
				return nil, archivist.Permanent(fmt.Errorf(
					"the thumbnails come to over %d bytes in base64, the result size limit: ask for smaller or fewer sizes, JPEG, or output \"folder\"",
					archivist.MaxResultBytes))
			}
		}
		res.Thumbnails = append(res.Thumbnails, t)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return marshalResult(res)
}

// decodeImage decodes data, whose header said it is in format. It reads
// through ctx, so that a long decode ends soon after ctx does.
func decodeImage(ctx context.Context, data []byte, format string) (image.Image, error) {
	r := ctxReader{ctx, bytes.NewReader(data)}
	var img image.Image
	var err error
	if format == formatJPEG {
		img, err = jpeg.Decode(r)
	} else {
		img, err = png.Decode(r)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	if err != nil {
		return nil, archivist.Permanent(fmt.Errorf("decode %s: %w", format, err))
	}
	return img, nil
}

// ctxReader reads from r until ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// write stores data as file in the folder and returns its path. It writes
// a temporary file and renames it, so a reader never sees half a
// thumbnail, and works through an os.Root, so nothing is written outside
// the folder whatever the name or the links in it.
func (h *ThumbnailHandler) write(file string, data []byte) (string, error) {
	if h.folder == "" {
		return "", archivist.Permanent(fmt.Errorf(`output "folder" needs a thumbnail folder, and this node has none: set %s`, ThumbnailDirEnv))
	}
	if err := checkThumbnailName(file); err != nil {
		return "", archivist.Permanent(err)
	}
	if err := os.MkdirAll(h.folder, 0o755); err != nil {
		return "", fmt.Errorf("thumbnail folder: %w", err)
	}
	root, err := os.OpenRoot(h.folder)
	if err != nil {
		return "", fmt.Errorf("thumbnail folder: %w", err)
	}
	defer root.Close()
	tmp := fmt.Sprintf(".%s.%016x.tmp", file, rand.Uint64())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("write thumbnail: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, file)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return "", fmt.Errorf("write thumbnail: %w", err)
	}
	return filepath.Join(h.folder, file), nil
}
